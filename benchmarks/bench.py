"""Benchmark painreason against the speed of light: a hand-written evaluation of the rules.

Usage (from the project root; ``make benchmark`` runs the first)::

    python benchmarks/bench.py                 # everything: about 10 minutes
    python benchmarks/bench.py --quick         # tiny sizes, a smoke test (CI)
    python benchmarks/bench.py --sizes 150,500 --skip batch

One run measures, after checking that every engine gives the same answers on the cases it
times:

- the shipped knowledge: load + compile time (in a fresh interpreter), cases/s and p50/p99
  latency of the python and durable backends on distinct cases shaped like the golden ones,
  raw durable-rules on the same compiled ruleset, peak memory and memory over 100,000 cases;
- seeded synthetic rule sets of 150 / 500 / 1,500 rules with matching cases: the hand-written
  plain-Python evaluation (the speed of light), the python backend, the durable backend and
  raw durable-rules;
- batches: :func:`painreason.evaluate_many` on 2 processes and the Dask helpers on a local
  cluster, checked equal to serial results on the golden cases x 1,000;

then prints each target of issue 6 as PASS or FALL SHORT with the measured figure, prints
the tables and writes everything as JSON to ``benchmarks/results/`` (not committed; the
summary lives in docs/performance.md). Exit code 1 when engines disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import itertools
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import (  # noqa: E402
    compared,
    cpu_seconds,
    latency,
    peak_mib,
    rss_mib,
    table,
    throughput,
)
from rawdurable import RawDurable, Recorder, compare_reused  # noqa: E402
from streams import shipped_cases  # noqa: E402
from synthetic import RuleSet  # noqa: E402

import painreason  # noqa: E402
from painreason.golden import load_golden  # noqa: E402

DURABLE = painreason.engine._durable_available()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.report: dict[str, Any] = {"meta": _meta(args)}
        self.disagreements: list[str] = []
        self.targets: list[dict[str, Any]] = []

    def say(self, text: str) -> None:
        print(text, flush=True)

    def target(self, name: str, ok: bool | None, measured: str) -> None:
        status = "PASS" if ok else "N/A" if ok is None else "FALL SHORT"
        self.targets.append({"target": name, "status": status, "measured": measured})

    def agree(self, what: str, ok: bool, detail: str = "") -> None:
        if not ok:
            self.disagreements.append(f"{what}: {detail}")
            self.say(f"  !! DISAGREE {what}: {detail}")

    # -- the shipped knowledge ----------------------------------------------------------------

    def shipped(self) -> None:
        a = self.args
        self.say("shipped knowledge")
        out: dict[str, Any] = {"load": _load_times(1 if self.quick else 3)}
        load = out["load"]
        self.say(f"  load {load['load_s'] * 1e3:.0f} ms, compile {load['python_s'] * 1e3:.0f} ms")
        kb = painreason.load_knowledge()
        python = painreason.Engine(kb, backend="python")
        reference = painreason.Engine(kb, backend="reference")
        # every timed case is new to the engine timing it: checks and warm-up use their own
        n_check, n_py = (60, 600) if self.quick else (400, 6_000)
        n_d = 100 if self.quick else 1_000
        n_cmp = 60 if self.quick else 600
        sizes = [n_check, a.warm, n_py, n_py // 2, n_py // 2, n_d, n_d // 2, n_cmp]
        cases = list(shipped_cases(kb, sum(sizes), seed=a.seed))
        check, warm, timed, lat, dict_part, dtimed, dlat, cmp = _cut(cases, sizes)
        self.agree(
            "shipped python vs reference",
            all(python.evaluate(c) == reference.evaluate(c) for c in check),
            "Results differ",
        )
        for c in warm:
            python.evaluate(c)
        rss0 = rss_mib()
        rows = {"python": throughput(python.evaluate, timed, a.repeat)}
        rows["python"].update(latency(python.evaluate, lat))
        dicts = [c.model_dump(exclude_defaults=True) for c in dict_part]
        rows["python, from dicts"] = throughput(python.evaluate, dicts, a.repeat)
        if DURABLE:
            durable = painreason.Engine(kb, backend="durable")
            for c in warm[:50]:
                durable.evaluate(c)
            rec = Recorder(durable)
            recorded = [rec.record(c) for c in check]
            self.agree(
                "shipped durable vs python",
                all(r == python.evaluate(c) for (r, _, _), c in zip(recorded, check, strict=True)),
                "Results differ",
            )
            rows["durable"] = throughput(durable.evaluate, dtimed, a.repeat)
            rows["durable"].update(latency(durable.evaluate, dlat))
            rows.update(self._raw(durable, rec.rs, recorded, check, cmp, "shipped"))
        out["engines"] = rows
        out["rss_after_engines_mib"] = rss_mib() - rss0
        out["memory"] = self._soak(python, kb, a.soak, "python")
        if DURABLE:
            out["memory_durable"] = self._soak(durable, kb, a.soak_durable, "durable")
        self.report["shipped"] = out
        self._print_engines("shipped knowledge (cases/s: median of CPU-time repeats)", rows)

    def _raw(
        self,
        durable: Any,
        rs: Any,
        recorded: list[tuple[Any, Any, frozenset[int]]],
        seen: list[Any],
        new: list[Any],
        where: str,
    ) -> dict[str, Any]:
        """Raw durable-rules on the backend's compiled rulesets: a session per case (what a
        plain durable-rules program does), and one reused session timed against the backend
        on the same ``new`` cases, slice by slice in turn, with gc frozen after a warm-up on the
        ``seen`` ones, whose runs are ``recorded`` (:func:`rawdurable.compare_reused`)."""
        raw = RawDurable(rs)
        n_fresh = 10 if self.quick else 40
        fresh = [raw.run_fresh(calls) for _, calls, _ in recorded[:n_fresh]]
        reused = [raw.run_reused(calls) for _, calls, _ in recorded]
        self.agree(
            f"{where} raw durable vs backend",
            fresh == [f for _, _, f in recorded[:n_fresh]] and reused == [f for *_, f in recorded],
            "fired rules differ",
        )
        calls = [c for _, c, _ in recorded]
        repeat = 3 if self.quick else 15
        pair = compare_reused(durable, new, repeat, warm=seen, freeze=True)
        self.agree(f"{where} raw durable, one session, vs backend", pair["agree"], "differ")
        one = pair["raw durable, one session"]
        one.update({k: pair[k] for k in ("time_vs_raw", "ratio_min", "ratio_max", "repeats")})
        one["durable, same cases"] = pair["durable"]["cases_per_s"]
        return {
            "raw durable, session per case": throughput(raw.run_fresh, calls[:n_fresh], 2),
            "raw durable, one session": one,
        }

    def _soak(self, engine: Any, kb: Any, count: int, name: str) -> dict[str, Any]:
        """Resident memory, and cases per CPU second, every tenth of ``count`` distinct
        cases (each tenth is made before it is timed)."""
        if count <= 0:
            return {}
        step = max(1, count // 10)
        marks, rates = [], []
        start = time.process_time()
        stream = shipped_cases(kb, count, seed=self.args.seed + 7)
        while part := list(itertools.islice(stream, step)):
            rates.append(len(part) / cpu_seconds(engine.evaluate, part))
            marks.append(round(rss_mib(), 1))
        growth = marks[-1] - marks[1] if len(marks) > 2 else 0.0
        half = rates[len(rates) // 2 :]  # the caches have filled: a long run's speed
        self.say(
            f"  {name}: {count:,} cases, RSS {marks[0]} -> {marks[-1]} MiB, "
            f"{statistics.median(half):,.0f} cases/s over the second half"
        )
        return {
            "cases": count,
            "rss_mib": marks,
            "growth_mib_after_first_tenth": round(growth, 1),
            "cases_per_s_by_tenth": [round(r) for r in rates],
            "steady_cases_per_s": statistics.median(half),
            "steady_min": min(half),
            "steady_max": max(half),
            "cache_items": _cache_items(engine),
            "cpu_s": time.process_time() - start,
        }

    # -- synthetic rule sets --------------------------------------------------------------------

    def synthetic(self, n_rules: int) -> None:
        a = self.args
        self.say(f"synthetic, {n_rules} rules")
        rs = RuleSet(n_rules, seed=a.seed)
        out: dict[str, Any] = {"rules": n_rules, "findings": len(rs.findings)}
        with tempfile.TemporaryDirectory(prefix="painreason-bench-") as tmp:
            rules_dir, knowledge_dir = rs.write(Path(tmp))
            start = time.perf_counter()
            kb = painreason.load_knowledge(rules_dir, knowledge_dir)
            out["load_s"] = time.perf_counter() - start
        start = time.perf_counter()
        python = painreason.Engine(kb, backend="python")
        out["compile_python_s"] = time.perf_counter() - start
        handwritten = rs.handwritten()
        # every timed case is new to the engine timing it: checks and warm-up use their own
        n = 400 if self.quick else 3_000
        n_check = 100 if self.quick else 500
        n_d = 40 if self.quick else (300 if n_rules < 1000 else 100)
        n_cmp = 60 if self.quick else 600
        sizes = [n_check, a.warm, n, n // 2, n_d, n_d, n_cmp]
        raw_cases = rs.cases(sum(sizes), seed=a.seed + n_rules)
        cases = [painreason.Case.from_dict(c) for c in raw_cases]
        findings = [c["findings"] for c in raw_cases]
        check, warm, timed, lat, dtimed, dlat, cmp = _cut(cases, sizes)
        f_check, _, f_timed, f_lat, *_ = _cut(findings, sizes)
        results = [python.evaluate(c) for c in check]
        self.agree(
            f"synthetic {n_rules}: python vs hand-written",
            all(_same(r, handwritten(f)) for r, f in zip(results, f_check, strict=True)),
            "fired rules or conclusions differ",
        )
        reference = painreason.Engine(kb, backend="reference")
        self.agree(
            f"synthetic {n_rules}: python vs reference",
            all(python.evaluate(c) == reference.evaluate(c) for c in check[:200]),
            "Results differ",
        )
        out["fired_per_case"] = sum(len(r.firings) for r in results) / len(results)
        for c in warm:
            python.evaluate(c)
        rows = compared(
            {"hand-written": handwritten, "python": python.evaluate},
            {"hand-written": f_timed, "python": timed},
            a.repeat,
        )
        rows["python"].update(latency(python.evaluate, lat))
        rows["hand-written"].update(latency(handwritten, f_lat))
        if DURABLE:
            rows.update(
                self._synthetic_durable(kb, check[:n_d], results, dtimed, dlat, cmp, n_rules, out)
            )
        out["engines"] = rows
        self.report.setdefault("synthetic", {})[str(n_rules)] = out
        self._print_engines(
            f"synthetic {n_rules} rules ({out['fired_per_case']:.1f} rules fire a case; "
            f"load {out['load_s']:.1f} s, compile {out['compile_python_s'] * 1e3:.0f} ms)",
            rows,
        )

    def _synthetic_durable(
        self,
        kb: Any,
        check: list[Any],
        results: list[Any],
        timed: list[Any],
        lat: list[Any],
        new: list[Any],
        n_rules: int,
        out: dict[str, Any],
    ) -> dict[str, Any]:
        probe = _probe_durable(kb, check[:5], timeout=900)
        out["durable_build"] = probe
        if probe["status"] != "ok":
            self.say(f"  durable: {probe['status']}: {probe.get('message', '')[:300]}")
            return {}
        durable = painreason.Engine(kb, backend="durable")
        rec = Recorder(durable)
        recorded = [rec.record(c) for c in check]
        self.agree(
            f"synthetic {n_rules}: durable vs python",
            all(r == p for (r, _, _), p in zip(recorded, results, strict=False)),
            "Results differ",
        )
        rows = {"durable": throughput(durable.evaluate, timed, self.args.repeat)}
        rows["durable"].update(latency(durable.evaluate, lat))
        rows.update(self._raw(durable, rec.rs, recorded, check, new, f"synthetic {n_rules}"))
        return rows

    # -- batches --------------------------------------------------------------------------------

    def batch(self) -> None:
        a = self.args
        self.say(f"batches: golden cases x {a.factor:,}")
        kb = painreason.load_knowledge()
        golden = [g.case for g in load_golden(kb)]
        engine = painreason.Engine(kb, backend="python")
        expected = [engine.evaluate(c) for c in golden]
        out: dict[str, Any] = {"cases": len(golden) * a.factor, "workers": a.workers}
        stream = (c for _ in range(a.factor) for c in golden)
        start = time.perf_counter()
        same = sum(engine.evaluate(c) == expected[i % len(golden)] for i, c in enumerate(stream))
        out["serial_s"] = time.perf_counter() - start
        self.agree("serial loop", same == out["cases"], f"{out['cases'] - same} differ")
        stream = (c for _ in range(a.factor) for c in golden)
        start = time.perf_counter()
        same = count = 0
        many = painreason.batch.iter_evaluate
        for count, result in enumerate(
            many(stream, workers=a.workers, knowledge=kb, backend="python"), 1
        ):
            same += result == expected[(count - 1) % len(golden)]
        out["evaluate_many_s"] = time.perf_counter() - start
        out["evaluate_many_equal"] = same == count == out["cases"]
        self.agree("evaluate_many", out["evaluate_many_equal"], f"{count - same} of {count} differ")
        # reduced in the workers: a summary dict crosses the process boundary, not a Result
        summaries = [r.summary() for r in expected]
        stream = (c for _ in range(a.factor) for c in golden)
        start = time.perf_counter()
        same = count = 0
        reduced = many(
            stream,
            workers=a.workers,
            knowledge=kb,
            backend="python",
            then=painreason.Result.summary,
        )
        for count, summary in enumerate(reduced, 1):
            same += summary == summaries[(count - 1) % len(golden)]
        out["evaluate_many_summary_s"] = time.perf_counter() - start
        out["evaluate_many_summary_equal"] = same == count == out["cases"]
        self.agree("evaluate_many, then=Result.summary", out["evaluate_many_summary_equal"], "")
        out["dask"] = _dask_check(golden, expected, kb, a.factor, a.workers)
        if out["dask"].get("status") == "ok":
            self.agree("dask bag", out["dask"]["equal"], "hashes differ")
        self.report["batch"] = out
        self.say(
            f"  serial {out['serial_s']:.1f} s, evaluate_many on {a.workers} processes "
            f"{out['evaluate_many_s']:.1f} s (equal: {out['evaluate_many_equal']}), "
            f"with then=Result.summary {out['evaluate_many_summary_s']:.1f} s, "
            f"dask: {out['dask'].get('status')} {out['dask'].get('seconds', 0):.1f} s "
            f"(equal: {out['dask'].get('equal')})"
        )

    # -- targets --------------------------------------------------------------------------------

    def judge(self) -> None:
        r = self.report
        for size, s in sorted(r.get("synthetic", {}).items(), key=lambda kv: int(kv[0])):
            e = s["engines"]
            ratio = e["python"]["time_vs_hand-written"]
            self.target(
                f"python within 2x of hand-written, {size} rules (trace kept)",
                ratio <= 2,
                f"{ratio:.2f}x ({e['python']['cases_per_s']:,.0f} vs "
                f"{e['hand-written']['cases_per_s']:,.0f} cases/s)",
            )
            build = s.get("durable_build", {})
            if "durable" in e:
                raw = e["raw durable, session per case"]["cases_per_s"]
                one = e["raw durable, one session"]
                mine = e["durable"]["cases_per_s"]
                self.target(
                    f"durable within 1.3x of raw durable-rules, {size} rules",
                    raw / mine <= 1.3,
                    f"{raw / mine:.2f}x ({mine:,.0f} vs {raw:,.0f} cases/s, a session per case)",
                )
                ratio = one["time_vs_raw"]
                self.target(
                    f"  ... and of the C engine alone (one reused session), {size} rules",
                    ratio <= 1.3,
                    f"{ratio:.2f}x ({one['ratio_min']:.2f}-{one['ratio_max']:.2f}; "
                    f"{one['durable, same cases']:,.0f} vs {one['cases_per_s']:,.0f} cases/s, "
                    "same new cases in turn, gc frozen)",
                )
            if int(size) >= 1500 and build:
                ok = build["status"] in ("ok", "refused")
                self.target(
                    f"durable works at {size} rules (or refuses at compile time)",
                    ok if DURABLE else None,
                    f"{build['status']} in {build.get('seconds', 0):.1f} s"
                    + (f": {build.get('message', '')[:120]}" if build["status"] != "ok" else ""),
                )
        shipped = r.get("shipped")
        if shipped:
            e = shipped["engines"]
            for engine, soak_key, floor in (
                ("python", "memory", 50_000),
                ("durable", "memory_durable", 1_500),
            ):
                if engine not in e:
                    continue
                rate = e[engine]["cases_per_s"]
                self.target(
                    f"shipped: {engine} >= {floor:,} cases/s per core",
                    rate >= floor,
                    f"{rate:,.0f}",
                )
                soak = shipped.get(soak_key, {})
                if soak:
                    steady = soak["steady_cases_per_s"]
                    self.target(
                        "  ... in a long run (second half of the memory run)",
                        steady >= floor,
                        f"{steady:,.0f} ({soak['steady_min']:,.0f}-{soak['steady_max']:,.0f}) "
                        f"over cases {soak['cases'] // 2:,}-{soak['cases']:,}",
                    )
            load = shipped["load"]
            total = (load["load_s"] + load["python_s"]) * 1e3
            self.target(
                "shipped: load + compile < 300 ms",
                total < 300,
                f"{total:.0f} ms (load {load['load_s'] * 1e3:.0f}, compile "
                f"{load['python_s'] * 1e3:.0f}; import {load['import_s'] * 1e3:.0f} not counted)",
            )
            for key, name in (("memory", "python"), ("memory_durable", "durable")):
                m = shipped.get(key)
                if m:
                    flat = m["growth_mib_after_first_tenth"] < max(10.0, 0.05 * m["rss_mib"][1])
                    self.target(
                        f"memory flat over {m['cases']:,} cases ({name})",
                        flat,
                        f"RSS {m['rss_mib'][1]} -> {m['rss_mib'][-1]} MiB after the first tenth",
                    )
        batch = r.get("batch")
        if batch:
            self.target(
                f"evaluate_many = serial on golden x {self.args.factor:,}",
                batch["evaluate_many_equal"],
                f"{batch['cases']:,} cases, {batch['evaluate_many_s']:.1f} s on "
                f"{batch['workers']} processes (serial {batch['serial_s']:.1f} s; "
                f"summaries reduced in the workers {batch['evaluate_many_summary_s']:.1f} s)",
            )
            dask = batch["dask"]
            self.target(
                f"dask bag = serial on golden x {self.args.factor:,}",
                dask.get("equal") if dask.get("status") == "ok" else None,
                f"{dask.get('status')}, {dask.get('seconds', 0):.1f} s",
            )
        self.report["targets"] = self.targets
        self.report["peak_rss_mib"] = peak_mib()
        self.report["disagreements"] = self.disagreements

    def _print_engines(self, title: str, rows: dict[str, dict[str, Any]]) -> None:
        head = ["engine", "cases/s", "min", "max", "p50 us", "p99 us", "time ratio"]
        body = [
            [
                name,
                row["cases_per_s"],
                row.get("min"),
                row.get("max"),
                row.get("p50_us"),
                row.get("p99_us"),
                next((f"{v:.2f}x" for k, v in row.items() if k.startswith("time_vs")), None),
            ]
            for name, row in rows.items()
        ]
        self.say(f"\n{title}\n{table(body, head)}\n")

    def print_targets(self) -> None:
        rows = [[t["status"], t["target"], t["measured"]] for t in self.targets]
        self.say("\nTARGETS\n" + table(rows, ["status", "target", "measured"]))
        load = self.report.get("shipped", {}).get("load", {})
        if "python_mib" in load:
            with_durable = load.get("with_durable_mib")
            extra = f", {with_durable:.0f} MiB with durable too" if with_durable else ""
            self.say(
                f"peak RSS of a process that loads the shipped knowledge and evaluates: "
                f"{load['python_mib']:.0f} MiB (python){extra}"
            )
        self.say(f"peak RSS of this benchmark: {self.report['peak_rss_mib']:.0f} MiB")
        if self.disagreements:
            self.say("\nDISAGREEMENTS\n  " + "\n  ".join(self.disagreements))


def _cache_items(engine: Any) -> dict[str, int]:
    """Items in the python backend's caches (empty for the durable backend)."""
    fast = engine._fast
    return {
        "entries": len(fast._entries),
        "shapes": len(fast.builder._shapes),
        "firings": sum(len(s.firings) for s in fast.builder._shapes.values()),
        "matches": len(fast.builder._matches),
        "conclusions": len(fast.builder._conclusions),
        "models": len(fast.builder._models),
        "activations": len(fast._activations),
    }


def _cut(items: list[Any], sizes: list[int]) -> list[list[Any]]:
    """Consecutive slices of ``items`` of the given sizes."""
    out, start = [], 0
    for size in sizes:
        out.append(items[start : start + size])
        start += size
    return out


def _same(result: Any, hand: tuple[list[str], list[str], Any]) -> bool:
    fired, facts, (flags, proposed, ruled_out, tests) = hand
    return (
        sorted(fired) == [f.rule for f in result.firings]
        and sorted(facts) == list(result.derived_facts)
        and flags == {f.id for f in result.red_flags}
        and proposed == {c.id for c in result.differential if c.supporting}
        and ruled_out == {c.id for c in result.ruled_out}
        and tests == {t.id: t.urgency for t in result.tests}
    )


_LOAD = textwrap.dedent(
    """
    import json, resource, time
    t0 = time.perf_counter()
    import painreason
    t1 = time.perf_counter()
    kb = painreason.load_knowledge()
    t2 = time.perf_counter()
    case = {"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}}
    painreason.Engine(kb, backend="python").evaluate(case)
    t3 = time.perf_counter()
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"import_s": t1 - t0, "load_s": t2 - t1, "python_s": t3 - t2, "python_mib": peak()}
    if painreason.engine._durable_available():
        painreason.Engine(kb, backend="durable").evaluate(case)
        out["durable_s"] = time.perf_counter() - t3
        out["with_durable_mib"] = peak()
    print(json.dumps(out))
    """
)


def _load_times(runs: int) -> dict[str, Any]:
    """Import, load and compile times in fresh interpreters: medians of ``runs``."""
    got = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True, timeout=600
        )
        got.append(json.loads(done.stdout))
    keys = got[0].keys()
    return {k: sorted(g[k] for g in got)[len(got) // 2] for k in keys} | {"runs": runs}


_PROBE = textwrap.dedent(
    """
    import pickle, sys, time
    import painreason
    from painreason.errors import CapacityError
    kb, cases = pickle.load(open(sys.argv[1], "rb"))
    t = time.perf_counter()
    try:
        engine = painreason.Engine(kb, backend="durable")
        for case in cases:
            engine.evaluate(case)
    except CapacityError as exc:
        print("refused", time.perf_counter() - t, str(exc), sep="\\n")
    else:
        print("ok", time.perf_counter() - t, "", sep="\\n")
    """
)


def _probe_durable(kb: Any, cases: list[Any], timeout: float) -> dict[str, Any]:
    """Build the durable backend in a child process: ok, refused (CapacityError), or a hang
    (timeout) or crash (a signal) that would otherwise take the benchmark down with it."""
    with tempfile.NamedTemporaryFile(suffix=".pickle") as fh:
        pickle.dump((kb, cases), fh)
        fh.flush()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _PROBE, fh.name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"status": "hang", "seconds": timeout}
    if done.returncode != 0:
        return {"status": "crash", "message": f"exit {done.returncode}: {done.stderr[-500:]}"}
    status, seconds, message = done.stdout.split("\n", 2)
    return {"status": status, "seconds": float(seconds), "message": message.strip()}


def _dask_check(
    golden: list[Any], expected: list[Any], kb: Any, factor: int, workers: int
) -> dict[str, Any]:
    """evaluate_bag on a local cluster; results compared by SHA-256 of their JSON."""
    try:
        import dask.bag as db
        from distributed import Client, LocalCluster
    except ImportError:
        return {"status": "not installed"}
    from painreason.batch import evaluate_bag

    want = [_digest(r) for r in expected]
    start = time.perf_counter()
    with (
        open(os.devnull, "w") as quiet,
        contextlib.redirect_stderr(quiet),  # distributed logs its start and stop
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        dumps = [c.model_dump() for c in golden]
        total = len(golden) * factor
        cases = db.range(total, npartitions=max(2, workers * 8)).map(_nth, dumps)
        got = evaluate_bag(cases, kb, backend="python").map(_digest).compute()
    seconds = time.perf_counter() - start
    equal = got == [want[i % len(golden)] for i in range(len(golden) * factor)]
    return {"status": "ok", "seconds": seconds, "equal": equal, "cases": len(got)}


def _nth(i: int, items: list[Any]) -> Any:
    return items[i % len(items)]


def _digest(result: Any) -> str:
    return hashlib.sha256(result.model_dump_json().encode()).hexdigest()


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "painreason": painreason.__version__,
        "durable": DURABLE,
        "args": vars(args),
    }


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--sizes", type=_sizes, help="synthetic rule counts (default 150,500,1500)")
    p.add_argument("--repeat", type=int, help="repetitions per measurement (default 5)")
    p.add_argument("--warm", type=int, help="warm-up cases per engine (default 500)")
    p.add_argument("--soak", type=int, help="cases for python memory (default 100,000)")
    p.add_argument("--soak-durable", type=int, help="cases for durable memory (default 20,000)")
    p.add_argument("--factor", type=int, help="golden cases x factor for batches (1,000)")
    p.add_argument("--workers", type=int, default=2, help="processes for batches (default 2)")
    p.add_argument("--skip", default="", help="comma-separated: shipped,synthetic,batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="where to write the JSON (default: results/)")
    args = p.parse_args(argv)
    quick = args.quick
    for name, full, small in (
        ("sizes", [150, 500, 1500], [30, 60]),
        ("repeat", 5, 2),
        ("warm", 500, 40),
        ("soak", 100_000, 2_000),
        ("soak_durable", 20_000, 200),
        ("factor", 1_000, 2),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    skip = set(filter(None, args.skip.split(",")))
    bench = Bench(args)
    if "shipped" not in skip:
        bench.shipped()
    if "synthetic" not in skip:
        for n in args.sizes:
            bench.synthetic(n)
    if "batch" not in skip:
        bench.batch()
    bench.judge()
    bench.print_targets()
    path = args.json or HERE / "results" / (
        f"{'quick' if quick else 'bench'}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bench.report, indent=1, default=str))
    print(f"wrote {path}")
    return 1 if bench.disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
