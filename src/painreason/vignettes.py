"""Evaluate a rule set on labelled vignettes, and compare two rule sets on them.

A *vignette* is a golden case (see ``docs/rule-language.md``): a case and the conclusions a
clinician expects of it. :func:`evaluate_vignettes` runs every vignette and measures, per
condition, sensitivity, specificity, PPV and NPV with their counts; red-flag recall, with the
missed red flags listed first; agreement on suggested tests and their urgency; the rules that
never fired; and, for each mismatch, what was expected, what came and why.
:func:`compare_rule_sets` runs two rule sets on the same vignettes and reports the cases whose
results differ and the change in every metric. ``docs/research.md`` describes both.

Labelling rule (per case and condition ``X``; ``labels="open"``, the default):

- ``X`` is a **positive** label when ``X`` is in ``expect.proposed``;
- a **negative** label when ``X`` is in ``expect.not_proposed`` or ``expect.ruled_out``;
- otherwise ``X`` is unlabelled in that case and not counted.

With ``labels="closed"`` every condition not in ``expect.proposed`` is a negative label (use it
when each vignette lists its whole expected differential). ``X`` is **predicted** positive
when it is in the Result's differential (status ``proposed`` or ``contested``). Red flags are
always closed: ``expect.red_flags`` lists exactly the red flags expected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

from ._vignette_load import Vignette, load_vignettes
from ._vignette_report import (
    CaseDiff,
    CaseOutcome,
    Comparison,
    ConditionMetrics,
    Labels,
    MetricChange,
    Mismatch,
    MismatchKind,
    RedFlagMetrics,
    TestMetrics,
    VignetteReport,
)
from .case import observe
from .engine import Backend, Engine
from .golden import GoldenCase
from .loader import Knowledge
from .results import Result
from .vocabulary import Urgency
from .whatif import diff_results
from .whynot import _why_condition, _why_missing

__all__ = [
    "CaseDiff",
    "CaseOutcome",
    "Comparison",
    "ConditionMetrics",
    "MetricChange",
    "Mismatch",
    "RedFlagMetrics",
    "TestMetrics",
    "Vignette",
    "VignetteReport",
    "compare_rule_sets",
    "evaluate_vignettes",
    "load_vignettes",
]

Progress = Callable[[int, int], None]


# --- evaluation ------------------------------------------------------------------------


def _as_vignettes(
    vignettes: str | Path | Iterable[Vignette | GoldenCase], kb: Knowledge
) -> list[Vignette]:
    if isinstance(vignettes, str | Path):
        return load_vignettes(vignettes, kb)
    return [
        v if isinstance(v, Vignette) else Vignette(v, v.file or "<vignettes>") for v in vignettes
    ]


def evaluate_vignettes(
    vignettes: str | Path | Iterable[Vignette | GoldenCase],
    knowledge: Knowledge | None = None,
    *,
    backend: Backend = "auto",
    labels: Labels = "open",
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> VignetteReport:
    """Run a rule set on labelled vignettes and measure it.

    Parameters
    ----------
    vignettes : path, or iterable of Vignette or GoldenCase
        A folder of golden-case files, one such file, or a JSONL file (see
        :func:`load_vignettes`); or cases already loaded.
    knowledge : Knowledge, optional
        The rule set; the bundled one when omitted.
    backend : {"auto", "durable", "python"}
    labels : {"open", "closed"}
        How conditions are labelled (module docstring).
    progress : callable, optional
        Called as ``progress(done, total)`` after each case.
    engine : Engine, optional
        Use this engine (and its knowledge) instead of building one.

    Returns
    -------
    VignetteReport

    Examples
    --------
    >>> from painreason.golden import load_golden
    >>> from painreason.loader import load_knowledge
    >>> kb = load_knowledge()
    >>> report = evaluate_vignettes(load_golden(kb)[:5], kb, backend="python")
    >>> report.n_correct == report.n_cases == 5
    True
    """
    engine = engine or Engine(knowledge, backend=backend)
    cases = _as_vignettes(vignettes, engine.knowledge)
    return _run(cases, engine, labels, progress)[0]


def _run(
    cases: Sequence[Vignette], engine: Engine, labels: Labels, progress: Progress | None
) -> tuple[VignetteReport, list[Result]]:
    if labels not in ("open", "closed"):
        raise ValueError(f"labels must be 'open' or 'closed' (got {labels!r})")
    kb = engine.knowledge
    results: list[Result] = []
    outcomes: list[CaseOutcome] = []
    for n, v in enumerate(cases, 1):
        result = engine.evaluate(v.golden.case)
        results.append(result)
        mismatches = _mismatches(v, result, engine, labels)
        outcomes.append(
            CaseOutcome(
                id=v.golden.id,
                where=v.where,
                kind=v.golden.kind,
                correct=not mismatches,
                mismatches=tuple(mismatches),
                fired=tuple(f.rule for f in result.firings),
            )
        )
        if progress is not None:
            progress(n, len(cases))
    firings = Counter(r for o in outcomes for r in o.fired)
    report = VignetteReport(
        knowledge_version=kb.version,
        rules_dir=kb.rules_dir,
        knowledge_dir=kb.knowledge_dir,
        labels=labels,
        backend=engine.backend,
        cases=tuple(outcomes),
        red_flags=_flag_metrics(cases, results, kb),
        conditions=_condition_metrics(cases, results, kb, labels),
        tests=_test_metrics(cases, results, kb),
        rule_firings={r.id: firings.get(r.id, 0) for r in kb.rules},
    )
    return report, results


def _mismatches(v: Vignette, result: Result, engine: Engine, labels: Labels) -> list[Mismatch]:
    kb = engine.knowledge
    g = v.golden
    exp = g.expect
    flags = {f.id for f in result.red_flags}
    proposed = {c.id: c for c in result.differential}
    ruled_out = {c.id for c in result.ruled_out}
    tests = {t.id: t for t in result.tests}
    advice = {n.id: n for n in result.not_indicated}
    out: list[Mismatch] = []
    obs = None

    def add(kind: MismatchKind, target: str, expected: str, got: str, why: Sequence[str]) -> None:
        out.append(
            Mismatch(
                case=g.id,
                where=v.where,
                kind=kind,
                target=target,
                expected=expected,
                got=got,
                why=tuple(why),
            )
        )

    def missing(kind: str, target: str, urgency: Urgency | None = None) -> list[str]:
        nonlocal obs
        obs = obs or observe(g.case, kb)
        return _why_missing(kb, obs, kind, target, urgency)

    def fired(kind: str, target: str) -> list[str]:
        return _why_present(result, kind, target)

    for flag in exp.red_flags:
        if flag not in flags:
            add("missed_red_flag", flag, "raised", "not raised", missing("red_flag", flag))
    for flag in sorted(flags - set(exp.red_flags)):
        add("unexpected_red_flag", flag, "not raised", "raised", fired("red_flag", flag))
    for cond in exp.proposed:
        if cond not in proposed:
            got = "ruled out" if cond in ruled_out else "not proposed"
            add("missed_condition", cond, "proposed", got, _why_condition(engine, g.case, cond))
    negatives = set(exp.not_proposed)
    if labels == "closed":
        negatives |= set(proposed) - set(exp.proposed)
    for cond in sorted(negatives & set(proposed)):
        add(
            "unexpected_condition",
            cond,
            "not proposed",
            proposed[cond].status,
            fired("condition", cond),
        )
    for cond in exp.ruled_out:
        if cond not in ruled_out:
            got = proposed[cond].status if cond in proposed else "not ruled out"
            add("not_ruled_out", cond, "ruled out", got, missing("rule_out", cond))
    for test, urgency in exp.tests.items():
        if test not in tests:
            add(
                "missed_test",
                test,
                urgency,
                "not suggested",
                missing("test", test, Urgency(urgency)),
            )
        elif tests[test].urgency != urgency:
            got = tests[test].urgency
            why = fired("test", test)
            if Urgency(got).rank > Urgency(urgency).rank:  # less urgent than expected
                why = why + missing("test", test, Urgency(urgency))
            add("test_urgency", test, urgency, got, why)
    for test in exp.not_suggested:
        if test in tests:
            add("unexpected_test", test, "not suggested", tests[test].urgency, fired("test", test))
    for target in exp.not_indicated:
        item = advice.get(target)
        if item is None or item.status != "in_force":
            got = "overridden" if item is not None else "not advised"
            why = (
                [f"overridden by {', '.join(item.overridden_by)}"]
                if item is not None
                else missing("advice", target)
            )
            add("advice_not_in_force", target, "in force", got, why)
    return out


def _why_present(result: Result, kind: str, target: str) -> list[str]:
    if kind == "red_flag":
        rules = next(f.raised_by for f in result.red_flags if f.id == target)
    elif kind == "condition":
        rules = next(c.supporting for c in result.differential if c.id == target)
    else:
        rules = tuple(r.rule for t in result.tests if t.id == target for r in t.requested_by)
    firings = {f.rule: f for f in result.firings}
    lines = []
    for rule in dict.fromkeys(rules):
        firing = firings[rule]
        held = "; ".join(m.predicate if m.holds else f"not ({m.predicate})" for m in firing.matched)
        lines.append(f"fired {rule}: {held}")
    if kind == "condition":
        flags = [f.id for f in result.red_flags if target in f.conditions]
        if flags and not rules:
            lines.append(f"kept by red flag {', '.join(flags)} despite a rule-out")
    return lines


def _flag_metrics(
    cases: Sequence[Vignette], results: Sequence[Result], kb: Knowledge
) -> tuple[RedFlagMetrics, ...]:
    counts: dict[str, Counter[str]] = {f: Counter() for f in kb.red_flags}
    for v, r in zip(cases, results, strict=True):
        raised = {f.id for f in r.red_flags}
        expected = set(v.golden.expect.red_flags)
        for flag, c in counts.items():
            c[_cell(flag in expected, flag in raised)] += 1
    return tuple(
        RedFlagMetrics(id=f, label=kb.red_flags[f].label, **_as_counts(c))
        for f, c in sorted(counts.items())
    )


def _condition_metrics(
    cases: Sequence[Vignette], results: Sequence[Result], kb: Knowledge, labels: Labels
) -> tuple[ConditionMetrics, ...]:
    counts: dict[str, Counter[str]] = {c: Counter() for c in kb.conditions}
    for v, r in zip(cases, results, strict=True):
        exp = v.golden.expect
        predicted = set(r.proposed())
        positive = set(exp.proposed)
        negative = (
            set(kb.conditions) - positive
            if labels == "closed"
            else (set(exp.not_proposed) | set(exp.ruled_out)) - positive
        )
        for cond in positive | negative:
            counts[cond][_cell(cond in positive, cond in predicted)] += 1
    return tuple(
        ConditionMetrics(id=c, label=kb.conditions[c].label, **_as_counts(n))
        for c, n in sorted(counts.items())
        if sum(n.values())
    )


def _test_metrics(
    cases: Sequence[Vignette], results: Sequence[Result], kb: Knowledge
) -> tuple[TestMetrics, ...]:
    rows: dict[str, Counter[str]] = {t: Counter() for t in kb.tests}
    for v, r in zip(cases, results, strict=True):
        exp = v.golden.expect
        got = {t.id: t.urgency for t in r.tests}
        for test, urgency in exp.tests.items():
            rows[test]["expected"] += 1
            if test in got:
                rows[test]["suggested"] += 1
                rows[test]["urgency_agrees"] += got[test] == urgency
        for test in exp.not_suggested:
            rows[test]["unwanted"] += 1
            rows[test]["unwanted_suggested"] += test in got
    keys = ("expected", "suggested", "urgency_agrees", "unwanted", "unwanted_suggested")
    return tuple(
        TestMetrics(id=t, label=kb.tests[t].label, **{k: c[k] for k in keys})
        for t, c in sorted(rows.items())
        if c["expected"] or c["unwanted"]
    )


def _cell(label: bool, predicted: bool) -> str:
    return ("tp" if predicted else "fn") if label else ("fp" if predicted else "tn")


def _as_counts(c: Counter[str]) -> dict[str, int]:
    return {k: c[k] for k in ("tp", "fp", "fn", "tn")}


# --- comparison ------------------------------------------------------------------------


def compare_rule_sets(
    a: Knowledge,
    b: Knowledge,
    vignettes: str | Path | Iterable[Vignette | GoldenCase],
    *,
    backend: Backend = "auto",
    labels: Labels = "open",
    progress: Progress | None = None,
) -> Comparison:
    """Evaluate two rule sets on the same vignettes and report what differs.

    Vignettes are read (and checked) against ``a`` and must also fit ``b``'s vocabulary.

    Examples
    --------
    >>> from painreason.golden import load_golden
    >>> from painreason.loader import load_knowledge
    >>> kb = load_knowledge()
    >>> same = compare_rule_sets(kb, kb, load_golden(kb)[:3], backend="python")
    >>> same.cases, same.metric_changes
    ((), ())
    """
    cases = _as_vignettes(vignettes, a)
    for v in cases:
        observe(v.golden.case, b)
    total = 2 * len(cases)

    def half(offset: int) -> Progress | None:
        if progress is None:
            return None
        return lambda done, _n: progress(done + offset, total)

    ra, results_a = _run(cases, Engine(a, backend=backend), labels, half(0))
    rb, results_b = _run(cases, Engine(b, backend=backend), labels, half(len(cases)))
    diffs = []
    for v, ca, cb, res_a, res_b in zip(
        cases, ra.cases, rb.cases, results_a, results_b, strict=True
    ):
        changes = diff_results(res_a, res_b).changes()
        if not changes and ca.correct == cb.correct:
            continue
        diffs.append(
            CaseDiff(
                case=v.golden.id,
                where=v.where,
                changes=changes,
                fired_only_in_a=tuple(r for r in ca.fired if r not in cb.fired),
                fired_only_in_b=tuple(r for r in cb.fired if r not in ca.fired),
                correct_a=ca.correct,
                correct_b=cb.correct,
            )
        )
    diffs.sort(key=lambda d: (not any(c.kind == "red_flag" for c in d.changes), d.where))
    ids_a, ids_b = set(a.rule_index), set(b.rule_index)
    return Comparison(
        a=ra,
        b=rb,
        rules_only_in_a=tuple(r.id for r in a.rules if r.id not in ids_b),
        rules_only_in_b=tuple(r.id for r in b.rules if r.id not in ids_a),
        cases=tuple(diffs),
        metric_changes=_metric_changes(ra, rb),
    )


def _metric_changes(a: VignetteReport, b: VignetteReport) -> tuple[MetricChange, ...]:
    out = []
    for metric in ("n_correct", "red_flag_recall", "test_recall", "urgency_agreement"):
        va, vb = getattr(a, metric), getattr(b, metric)
        if va != vb:
            out.append(MetricChange(table="overall", id="all", metric=metric, a=va, b=vb))
    tables: tuple[Literal["red_flags", "conditions", "tests"], ...] = (
        "red_flags",
        "conditions",
        "tests",
    )
    for table in tables:
        rows_a = {r["id"]: r for r in a.rows(table)}
        rows_b = {r["id"]: r for r in b.rows(table)}
        for ident in sorted(set(rows_a) | set(rows_b)):
            ra, rb = rows_a.get(ident, {}), rows_b.get(ident, {})
            for metric in [k for k in {**ra, **rb} if k not in ("id", "label")]:
                if ra.get(metric) != rb.get(metric):
                    out.append(
                        MetricChange(
                            table=table,
                            id=ident,
                            metric=metric,
                            a=ra.get(metric),
                            b=rb.get(metric),
                        )
                    )
    return tuple(out)
