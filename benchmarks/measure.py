"""Timing and memory helpers for the benchmarks.

Throughput is counted in CPU seconds of this process (``time.process_time``), so other jobs
on a shared machine slow a run less than they would a wall clock; latency is wall time per
call (``time.perf_counter``). Every figure is a median over repetitions, each on cases of
its own.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def rss_mib() -> float:
    """Resident set size now, MiB (Linux); the peak elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_mib()


def peak_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """CPU seconds to call ``fn`` on each item."""
    gc.collect()
    start = time.process_time()
    for item in items:
        fn(item)
    return max(time.process_time() - start, 1e-9)


def slices(items: Sequence[Any], repeat: int) -> list[Sequence[Any]]:
    """``repeat`` disjoint slices of ``items``."""
    size = max(1, len(items) // repeat)
    return [items[i * size : (i + 1) * size] for i in range(repeat)]


def throughput(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> dict[str, Any]:
    """Cases per CPU second: median and spread over ``repeat`` disjoint slices."""
    rates = [len(part) / cpu_seconds(fn, part) for part in slices(items, repeat) if part]
    return {
        "cases_per_s": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "repeats": len(rates),
        "cases": len(items),
    }


def compared(
    fns: dict[str, Callable[[Any], Any]], items: dict[str, Sequence[Any]], repeat: int
) -> dict[str, dict[str, Any]]:
    """Throughput of several engines, interleaved slice by slice (so that load on the machine
    hits them alike), with the per-slice time ratio of each engine to the first."""
    names = list(fns)
    parts = {n: slices(items[n], repeat) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        for n in names:
            times[n].append(cpu_seconds(fns[n], parts[n][r]) / max(1, len(parts[n][r])))
    first = names[0]
    out = {}
    for n in names:
        per_case = times[n]
        ratios = [t / b for t, b in zip(per_case, times[first], strict=True)]
        rates = [1 / t for t in per_case]
        out[n] = {
            "cases_per_s": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "repeats": repeat,
            "cases": len(items[n]),
            f"time_vs_{first}": statistics.median(ratios),
        }
    return out


def latency(fn: Callable[[Any], Any], items: Sequence[Any]) -> dict[str, float]:
    """p50 and p99 wall time per call, microseconds."""
    gc.collect()
    spent = []
    clock = time.perf_counter
    for item in items:
        start = clock()
        fn(item)
        spent.append(clock() - start)
    spent.sort()
    pick = lambda q: spent[min(len(spent) - 1, int(q * len(spent)))] * 1e6  # noqa: E731
    return {"p50_us": pick(0.50), "p99_us": pick(0.99), "calls": len(spent)}


def table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    """A plain text table."""
    cells = [[str(c) for c in head]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
