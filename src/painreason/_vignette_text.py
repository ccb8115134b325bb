"""Text rendering of vignette reports and rule-set comparisons (``painreason evaluate`` and
``painreason compare``). Red flags come first, as everywhere."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .vignettes import Comparison, VignetteReport

__all__ = ["comparison_text", "report_text"]


def _num(x: float | int | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def _pct(num: int, den: int) -> str:
    return f"{num} of {den} ({100 * num / den:.1f}%)" if den else f"{num} of {den}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    cells = [[_num(c) if not isinstance(c, str) else c for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    fmt = indent + "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*headers), *(fmt.format(*r) for r in cells)]


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def report_text(r: VignetteReport) -> str:
    """A vignette report as text."""
    lines = [
        f"Vignettes: {_pct(r.n_correct, r.n_cases)} correct - rules {r.rules_dir}, knowledge "
        f"{r.knowledge_version[:12]}, labels {r.labels}, backend {r.backend}",
        "",
        "RED FLAGS",
    ]
    expected = sum(f.tp + f.fn for f in r.red_flags)
    raised = sum(f.tp for f in r.red_flags)
    unexpected = sum(f.fp for f in r.red_flags)
    lines.append(
        f"  recall {_num(r.red_flag_recall)}: {raised} of {expected} expected red flags raised; "
        f"{unexpected} raised unexpectedly"
    )
    missed = r.missed_red_flags
    if missed:
        lines.append(f"  MISSED RED FLAGS ({len(missed)})")
        for m in missed:
            lines += _mismatch(m.to_text(), "    ")
    flags = [f for f in r.red_flags if f.tp + f.fn + f.fp]
    if flags:
        lines += _table(
            ("red flag", "TP", "FN", "FP", "recall", "PPV"),
            [(f.id, f.tp, f.fn, f.fp, f.sensitivity, f.ppv) for f in flags],
        )
    lines += ["", f"CONDITIONS (labels {r.labels}; predicted = in the differential)"]
    if r.conditions:
        lines += _table(
            ("condition", "TP", "FP", "FN", "TN", "sens", "spec", "PPV", "NPV"),
            [
                (c.id, c.tp, c.fp, c.fn, c.tn, c.sensitivity, c.specificity, c.ppv, c.npv)
                for c in r.conditions
            ],
        )
    else:
        lines.append("  no labelled condition")
    lines += ["", "TESTS"]
    asked = sum(t.expected for t in r.tests)
    got = sum(t.suggested for t in r.tests)
    agree = sum(t.urgency_agrees for t in r.tests)
    unwanted = sum(t.unwanted for t in r.tests)
    bad = sum(t.unwanted_suggested for t in r.tests)
    lines.append(
        f"  suggested {_pct(got, asked)} expected tests; urgency agrees on {_pct(agree, got)}; "
        f"{bad} of {unwanted} unwanted tests suggested"
    )
    if r.tests:
        lines += _table(
            ("test", "expected", "suggested", "urgency ok", "unwanted", "unwanted suggested"),
            [
                (t.id, t.expected, t.suggested, t.urgency_agrees, t.unwanted, t.unwanted_suggested)
                for t in r.tests
            ],
        )
    never = r.rules_never_fired
    lines += [
        "",
        f"RULES: {len(r.rule_firings) - len(never)} of {len(r.rule_firings)} fired on "
        f"some case; {len(never)} never fired",
    ]
    if never:
        lines += _wrap(", ".join(never), "  ")
    rest = [m for m in r.mismatches if m.kind != "missed_red_flag"]
    lines += ["", f"MISMATCHES ({len(rest)} besides missed red flags)"]
    if not rest:
        lines.append("  none")
    for m in rest:
        lines += _mismatch(m.to_text(), "  ")
    return "\n".join(lines) + "\n"


def _mismatch(text: str, indent: str) -> list[str]:
    out = []
    for line in text.splitlines():
        out += _wrap(line.strip(), indent + ("    " if line.startswith(" ") else ""))
    return out


def comparison_text(c: Comparison) -> str:
    """A comparison of two rule sets as text."""
    a, b = c.a, c.b
    lines = [
        f"A: rules {a.rules_dir} ({a.knowledge_version[:12]}): {_pct(a.n_correct, a.n_cases)} "
        "correct",
        f"B: rules {b.rules_dir} ({b.knowledge_version[:12]}): {_pct(b.n_correct, b.n_cases)} "
        "correct",
    ]
    if c.rules_only_in_a:
        lines += _wrap("rules only in A: " + ", ".join(c.rules_only_in_a), "")
    if c.rules_only_in_b:
        lines += _wrap("rules only in B: " + ", ".join(c.rules_only_in_b), "")
    lines += ["", f"METRIC CHANGES ({len(c.metric_changes)})"]
    if not c.metric_changes:
        lines.append("  none")
    else:
        lines += _table(
            ("table", "id", "metric", "A", "B"),
            [(m.table, m.id, m.metric, m.a, m.b) for m in c.metric_changes],
        )
    lines += ["", f"CASES WHOSE RESULTS DIFFER ({len(c.cases)})"]
    if not c.cases:
        lines.append("  none")
    mark = {"added": "+", "removed": "-", "changed": "~"}
    for d in c.cases:
        verdict = (
            "correct in A and B"
            if d.correct_a and d.correct_b
            else f"{'correct' if d.correct_a else 'wrong'} in A, "
            f"{'correct' if d.correct_b else 'wrong'} in B"
        )
        lines.append(f"  {d.case} ({d.where}): {verdict}")
        for ch in d.changes:
            state = (
                f"{ch.before} -> {ch.after}"
                if ch.change == "changed"
                else (ch.after if ch.change == "added" else f"was {ch.before}")
            )
            lines.append(f"    {mark[ch.change]} {ch.kind.replace('_', ' ')} {ch.id}: {state}")
        if d.fired_only_in_a:
            lines += _wrap("fired only in A: " + ", ".join(d.fired_only_in_a), "    ")
        if d.fired_only_in_b:
            lines += _wrap("fired only in B: " + ", ".join(d.fired_only_in_b), "    ")
    return "\n".join(lines) + "\n"
