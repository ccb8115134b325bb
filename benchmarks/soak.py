"""Soak: evaluate many cases in one process and report resident memory as it goes.

Usage (from the project root)::

    python benchmarks/soak.py                                # 1,000,000 evaluations, python
    python benchmarks/soak.py --count 200000 --backend durable
    python benchmarks/soak.py --knowledge bundled --count 50000

Cases are valid random cases over the knowledge's vocabulary: a fixed pool of ``--pool``
cases, cycled. Every result is compared with the first result of its case, so a wrong or
changing answer is counted, not only a crash. One row per ``--every`` evaluations: the count,
wall and CPU seconds so far, evaluations per wall second over that row, and resident memory
(RSS, MiB). ``--json`` prints one JSON
document at the end instead. The exit code is 1 when any result differed, or when RSS grew by
more than ``--max-growth`` MiB between the first row and the last.

``--knowledge mixed`` (the default) is a small synthetic rule pack that uses every rule
construct (tests/_hostile.py), fast enough for a million evaluations in minutes; ``bundled``
is the shipped clinical knowledge (about 3 ms a case on the python backend).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import painreason  # noqa: E402
from tests._hostile import MIXED_RULES, random_cases, rss_kib, write_pack  # noqa: E402


def soak(
    knowledge: painreason.Knowledge,
    backend: str,
    count: int,
    every: int,
    pool: int,
    seed: int,
    on_row: Callable[[dict[str, float]], None] = lambda row: None,
) -> dict[str, Any]:
    """Run the soak; return the rows and the number of results that differed."""
    engine = painreason.Engine(knowledge, backend=backend)  # type: ignore[arg-type]
    cases = random_cases(knowledge, pool, seed=seed, density=0.4)
    expected = [engine.evaluate(c) for c in cases]
    rows: list[dict[str, float]] = []
    mismatches = 0
    start, cpu, last = time.perf_counter(), time.process_time(), (0, 0.0)
    for i in range(1, count + 1):
        k = i % pool
        if engine.evaluate(cases[k]) != expected[k]:
            mismatches += 1
        if i % every == 0 or i == count:
            elapsed = time.perf_counter() - start
            row = {
                "evaluations": i,
                "seconds": round(elapsed, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "per_second": round((i - last[0]) / max(elapsed - last[1], 1e-9)),  # this row's
                "rss_mib": round(rss_kib() / 1024, 1),
            }
            last = (i, elapsed)
            rows.append(row)
            on_row(row)
    growth = rows[-1]["rss_mib"] - rows[0]["rss_mib"]
    return {
        "backend": engine.backend,
        "knowledge": knowledge.version[:12],
        "count": count,
        "pool": pool,
        "mismatches": mismatches,
        "rss_growth_mib": round(growth, 1),
        "rows": rows,
    }


def show(row: dict[str, float]) -> None:
    """Print one row as it comes (a million evaluations take minutes)."""
    print(
        f"{row['evaluations']:>12,} {row['seconds']:>9.1f} {row['cpu_seconds']:>9.1f} "
        f"{row['per_second']:>11,} {row['rss_mib']:>9.1f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--backend", choices=["python", "durable"], default="python")
    parser.add_argument("--knowledge", choices=["mixed", "bundled"], default="mixed")
    parser.add_argument("--pool", type=int, default=1_000, help="distinct cases, cycled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-growth", type=float, default=20.0, help="MiB of RSS growth")
    parser.add_argument("--json", action="store_true", help="one JSON document at the end")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="painreason-soak-") as tmp:
        if args.knowledge == "bundled":
            kb = painreason.load_knowledge()
        else:
            root = write_pack(Path(tmp), MIXED_RULES)
            kb = painreason.load_knowledge(root / "rules", root / "knowledge")
        if not args.json:
            print(
                f"{'evaluations':>12} {'seconds':>9} {'CPU s':>9} {'per second':>11} {'RSS MiB':>9}"
            )
        report = soak(
            kb,
            args.backend,
            args.count,
            args.every,
            args.pool,
            args.seed,
            (lambda row: None) if args.json else show,
        )
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"backend {report['backend']}, knowledge {report['knowledge']}, "
            f"{report['mismatches']} results differed, RSS grew {report['rss_growth_mib']} MiB"
        )
    ok = report["mismatches"] == 0 and report["rss_growth_mib"] <= args.max_growth
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
