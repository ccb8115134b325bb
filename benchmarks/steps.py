"""Before/after figures for each optimisation, and how the cost grows with rules and findings.

Usage (from the project root)::

    python benchmarks/steps.py            # about five minutes
    python benchmarks/steps.py --quick

Every variant runs on the same distinct cases in the same process, interleaved slice by
slice (see measure.compared), after checking that its Results equal the reference's:

- python backend, one step at a time on the shipped knowledge: the reference evaluator and
  ``build_result``; the fast evaluator with closures; with generated rule functions; with
  the cached Result builder (the python backend as shipped);
- durable backend: a durable session per case (as before) against reused sessions;
- growth: synthetic rule sets of 150 to 3,000 rules (hand-written vs python), and cases of
  5 to 80 findings on 500 rules.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import compared, table  # noqa: E402
from streams import shipped_cases  # noqa: E402
from synthetic import RuleSet  # noqa: E402

import painreason  # noqa: E402
from painreason import _reference  # noqa: E402
from painreason._fast import FastEvaluator  # noqa: E402
from painreason.case import observe  # noqa: E402
from painreason.results import build_result  # noqa: E402


def python_steps(kb: painreason.Knowledge, n: int, repeat: int) -> dict[str, Any]:
    cases = list(shipped_cases(kb, n + 500, seed=3))
    warm, timed = cases[:500], cases[500:]
    closures, generated = FastEvaluator(kb, generate=False), FastEvaluator(kb)

    def reference(case: Any) -> Any:
        obs = observe(case, kb)
        return build_result(kb, case, obs, _reference.evaluate(kb, obs))

    def fast_then_build_result(fast: FastEvaluator) -> Any:
        def run(case: Any) -> Any:
            entries = fast.observe(case)
            obs = fast.observations(entries)
            return build_result(kb, case, obs, fast.run(entries))

        return run

    def shipped(case: Any) -> Any:
        entries = generated.observe(case)
        return generated.result(case, entries, generated.run(entries))

    variants = {
        "reference + build_result": reference,
        "fast (closures) + build_result": fast_then_build_result(closures),
        "fast (generated) + build_result": fast_then_build_result(generated),
        "fast + cached Result parts (shipped)": shipped,
    }
    for fn in variants.values():
        for case in warm:
            fn(case)
    for case in timed[:200]:
        want = reference(case)
        assert all(fn(case) == want for fn in variants.values()), case.id
    return compared(variants, dict.fromkeys(variants, timed), repeat)


def durable_steps(kb: painreason.Knowledge, n: int, repeat: int) -> dict[str, Any]:
    from painreason import _durable

    cases = list(shipped_cases(kb, n + 20, seed=4))
    per_case = painreason.Engine(kb, backend="durable")
    reused = painreason.Engine(kb, backend="durable")
    runner = per_case._durable()
    runner.ruleset = _durable.DurableRuleset(runner.compiled.clauses)  # no session reuse
    for case in cases[:20]:
        assert per_case.evaluate(case) == reused.evaluate(case)
    timed = cases[20:]
    variants = {"session per case (before)": per_case.evaluate, "reused sessions": reused.evaluate}
    few = {"session per case (before)": timed[: max(repeat, n // 10)], "reused sessions": timed}
    return compared(variants, few, repeat)


def growth(sizes: list[int], noises: list[int], n: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rules": {}, "findings": {}}
    for rules in sizes:
        out["rules"][rules] = _synthetic(RuleSet(rules), n, repeat, (4, 8))
    base = RuleSet(500)
    for extra in noises:
        out["findings"][extra] = _synthetic(base, n, repeat, (extra, extra))
    return out


def _synthetic(rs: RuleSet, n: int, repeat: int, noise: tuple[int, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        kb = painreason.load_knowledge(*rs.write(Path(tmp)))
    engine = painreason.Engine(kb, backend="python")
    hand = rs.handwritten()
    raw = rs.cases(n + 300, seed=9, noise=noise)
    cases = [painreason.Case.from_dict(c) for c in raw]
    for c in cases[:300]:
        engine.evaluate(c)
    row = compared(
        {"hand-written": hand, "python": engine.evaluate},
        {"hand-written": [c["findings"] for c in raw[300:]], "python": cases[300:]},
        repeat,
    )
    row["findings_per_case"] = sum(len(c["findings"]) for c in raw) / len(raw)  # type: ignore[assignment]
    return row


def _show(name: str, variants: dict[str, Any]) -> None:
    rows = [
        [k, v["cases_per_s"], v[next(x for x in v if x.startswith("time_vs"))]]
        for k, v in variants.items()
    ]
    print(f"\n{name}\n" + table(rows, ["variant", "cases/s", "time vs first"]), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path, default=HERE / "results" / "steps.json")
    args = p.parse_args()
    q = args.quick
    repeat = 2 if q else 5
    kb = painreason.load_knowledge()
    report: dict[str, Any] = {"python": python_steps(kb, 300 if q else 3_000, repeat)}
    _show("python", report["python"])
    if painreason.engine._durable_available():
        report["durable"] = durable_steps(kb, 40 if q else 500, repeat)
        _show("durable", report["durable"])
    report["growth"] = growth(
        [60, 120] if q else [150, 500, 1500, 3000],
        [5, 20] if q else [5, 10, 20, 40, 80],
        200 if q else 2_000,
        repeat,
    )
    for axis, label in (("rules", "rules"), ("findings", "extra findings (500 rules)")):
        rows = [
            [
                k,
                r["hand-written"]["cases_per_s"],
                r["python"]["cases_per_s"],
                r["python"]["time_vs_hand-written"],
                r["findings_per_case"],
            ]
            for k, r in report["growth"][axis].items()
        ]
        head = [label, "hand-written/s", "python/s", "python time ratio", "findings/case"]
        print("\n" + table(rows, head))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
