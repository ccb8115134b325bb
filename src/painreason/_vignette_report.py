"""The models of a vignette evaluation and of a rule-set comparison. Public through
:mod:`painreason.vignettes`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from .whatif import Change

__all__ = [
    "CaseDiff",
    "CaseOutcome",
    "Comparison",
    "ConditionMetrics",
    "Labels",
    "MetricChange",
    "Mismatch",
    "MismatchKind",
    "RedFlagMetrics",
    "TestMetrics",
    "VignetteReport",
]

Labels = Literal["open", "closed"]
MismatchKind = Literal[
    "missed_red_flag",
    "unexpected_red_flag",
    "missed_condition",
    "unexpected_condition",
    "not_ruled_out",
    "missed_test",
    "test_urgency",
    "unexpected_test",
    "advice_not_in_force",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


class _Counts(_Frozen):
    tp: int
    fp: int
    fn: int
    tn: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sensitivity(self) -> float | None:
        """TP / (TP + FN); ``None`` with no positive label."""
        return _ratio(self.tp, self.tp + self.fn)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def specificity(self) -> float | None:
        """TN / (TN + FP); ``None`` with no negative label."""
        return _ratio(self.tn, self.tn + self.fp)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ppv(self) -> float | None:
        """TP / (TP + FP); ``None`` when never predicted."""
        return _ratio(self.tp, self.tp + self.fp)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def npv(self) -> float | None:
        """TN / (TN + FN); ``None`` when never predicted negative on a labelled case."""
        return _ratio(self.tn, self.tn + self.fn)


class ConditionMetrics(_Counts):
    """Counts and accuracy for one condition (see the labelling rule in the module doc)."""

    id: str
    label: str


class RedFlagMetrics(_Counts):
    """Counts and recall for one red flag (labels from ``expect.red_flags``: exact)."""

    id: str
    label: str


class TestMetrics(_Frozen):
    """Agreement on one test: ``expected`` cases asked for it, ``suggested`` of those got it,
    ``urgency_agrees`` of those at the expected urgency; ``unwanted`` cases said it must not
    be suggested and ``unwanted_suggested`` of those got it anyway."""

    __test__ = False

    id: str
    label: str
    expected: int
    suggested: int
    urgency_agrees: int
    unwanted: int
    unwanted_suggested: int


class Mismatch(_Frozen):
    """One expectation a case did not meet: what was expected, what came, and why."""

    case: str
    where: str
    kind: MismatchKind
    target: str
    expected: str
    got: str
    why: tuple[str, ...] = ()

    def to_text(self) -> str:
        head = (
            f"{self.case} ({self.where}): {self.kind.replace('_', ' ')} {self.target}: "
            f"expected {self.expected}, got {self.got}"
        )
        return "\n".join([head, *(f"    {line}" for line in self.why)])


class CaseOutcome(_Frozen):
    """One vignette's verdict: correct when it has no mismatch."""

    id: str
    where: str
    kind: str
    correct: bool
    mismatches: tuple[Mismatch, ...]
    fired: tuple[str, ...]


class VignetteReport(_Frozen):
    """The evaluation of one rule set on a set of vignettes.

    Tables (``rows(name)`` or ``to_frame(name)``): ``conditions``, ``red_flags``, ``tests``,
    ``mismatches``, ``rules``.
    """

    knowledge_version: str
    rules_dir: str
    knowledge_dir: str
    labels: Labels
    backend: str
    cases: tuple[CaseOutcome, ...]
    red_flags: tuple[RedFlagMetrics, ...]
    conditions: tuple[ConditionMetrics, ...]
    tests: tuple[TestMetrics, ...]
    rule_firings: dict[str, int]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_cases(self) -> int:
        return len(self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_correct(self) -> int:
        return sum(c.correct for c in self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def red_flag_recall(self) -> float | None:
        """Raised / expected, over every expected red flag of every case."""
        tp = sum(f.tp for f in self.red_flags)
        return _ratio(tp, tp + sum(f.fn for f in self.red_flags))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def test_recall(self) -> float | None:
        """Expected tests that were suggested (at any urgency) / expected tests."""
        return _ratio(sum(t.suggested for t in self.tests), sum(t.expected for t in self.tests))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def urgency_agreement(self) -> float | None:
        """Suggested expected tests at exactly the expected urgency / suggested expected tests."""
        return _ratio(
            sum(t.urgency_agrees for t in self.tests), sum(t.suggested for t in self.tests)
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rules_never_fired(self) -> tuple[str, ...]:
        return tuple(r for r, n in self.rule_firings.items() if n == 0)

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        """Every mismatch, missed red flags first, then by case."""
        every = [m for c in self.cases for m in c.mismatches]
        return tuple(sorted(every, key=lambda m: m.kind != "missed_red_flag"))

    @property
    def missed_red_flags(self) -> tuple[Mismatch, ...]:
        """The red flags a case expected and did not get."""
        return tuple(m for m in self.mismatches if m.kind == "missed_red_flag")

    def rows(self, table: str = "conditions") -> list[dict[str, Any]]:
        """A table as a list of dicts (one per row), JSON-ready."""
        if table == "rules":
            return [{"rule": r, "cases_fired": n} for r, n in self.rule_firings.items()]
        if table == "mismatches":
            return [m.model_dump() for m in self.mismatches]
        if table not in ("conditions", "red_flags", "tests"):
            raise ValueError(
                f"table must be conditions, red_flags, tests, mismatches or rules (got {table!r})"
            )
        rows = [row.model_dump() for row in getattr(self, table)]
        return [{"id": r["id"], "label": r["label"], **r} for r in rows]

    def to_frame(self, table: str = "conditions") -> Any:
        """A table as a pandas DataFrame (needs the ``pandas`` extra)."""
        return _frame(self.rows(table))

    def to_json(self) -> str:
        """The whole report as JSON."""
        return self.model_dump_json(indent=2) + "\n"

    def to_text(self) -> str:
        """A readable report: red flags first (missed ones listed), then the rest."""
        from ._vignette_text import report_text

        return report_text(self)


def _frame(rows: list[dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_frame() needs pandas: pip install 'painreason[pandas]' (rows() gives the "
            "same table as a list of dicts)"
        ) from None
    return pd.DataFrame(rows)


class CaseDiff(_Frozen):
    """A vignette whose results differ between rule set A and rule set B."""

    case: str
    where: str
    changes: tuple[Change, ...]
    fired_only_in_a: tuple[str, ...]
    fired_only_in_b: tuple[str, ...]
    correct_a: bool
    correct_b: bool


class MetricChange(_Frozen):
    """One metric that differs between A and B (``table`` ``overall`` for the summary)."""

    table: Literal["overall", "red_flags", "conditions", "tests"]
    id: str
    metric: str
    a: float | int | None
    b: float | int | None


class Comparison(_Frozen):
    """Two rule sets on the same vignettes: differing cases (red-flag changes first) and
    changed metrics."""

    a: VignetteReport
    b: VignetteReport
    rules_only_in_a: tuple[str, ...]
    rules_only_in_b: tuple[str, ...]
    cases: tuple[CaseDiff, ...]
    metric_changes: tuple[MetricChange, ...]

    def to_json(self) -> str:
        """The comparison as JSON, with both full reports."""
        return self.model_dump_json(indent=2) + "\n"

    def to_text(self) -> str:
        """A readable comparison: rules, metric changes, then each differing case."""
        from ._vignette_text import comparison_text

        return comparison_text(self)
