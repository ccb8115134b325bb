"""Checks a researcher runs on their own rule pack, and (in :mod:`.strategies`) hypothesis
strategies for property tests of rule sets.

A *rule pack* is a folder with ``rules/`` and ``knowledge/`` (golden cases under
``knowledge/cases/``). :func:`check_rulepack` runs every check painreason has on it: the
schema and references (as :func:`~painreason.load_knowledge`), the static analysis of
``painreason lint``, and the pack's own golden cases. Use it in the pack's test suite::

    from painreason.testing import check_rulepack

    def test_rule_pack():
        check_rulepack("path/to/pack")        # raises KnowledgeError listing every problem

This module never imports hypothesis; :mod:`painreason.testing.strategies` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..engine import Engine
from ..errors import KnowledgeError, PainreasonError, Problem
from ..golden import check, load_golden
from ..lint import LintIssue, LintReport, Severity, lint_loaded
from ..loader import load_partial

__all__ = ["GoldenOutcome", "RulepackReport", "check_rulepack"]

_RANK = {"error": 0, "warning": 1, "info": 2}


class GoldenOutcome(BaseModel):
    """One golden case of the pack: passed, or the expectations it missed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    file: str
    passed: bool
    problems: tuple[str, ...] = ()


class RulepackReport(BaseModel):
    """Everything :func:`check_rulepack` found.

    ``lint`` holds loading problems and static-analysis issues; ``golden_problems`` the
    problems of golden case files (malformed, unknown ids, cases that do not fit the
    vocabulary); ``golden`` each golden case's outcome (empty when the pack does not load).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    fail_on: Severity
    lint: LintReport
    golden_problems: tuple[LintIssue, ...]
    golden: tuple[GoldenOutcome, ...]

    @property
    def failed_golden(self) -> tuple[GoldenOutcome, ...]:
        """The golden cases that did not pass."""
        return tuple(g for g in self.golden if not g.passed)

    @property
    def ok(self) -> bool:
        """No issue at least as severe as ``fail_on``, every golden case loads and passes."""
        return not (self.lint.fails(self.fail_on) or self.golden_problems or self.failed_golden)

    def problems(self) -> list[Problem]:
        """What fails the check, as located problems (golden mismatches: ``golden-mismatch``)."""
        out = [
            Problem(i.code, i.message, i.file, i.line, i.col, i.owner)
            for i in (*self.lint.issues, *self.golden_problems)
            if _RANK[i.severity] <= _RANK[self.fail_on]
        ]
        out += [
            Problem("golden-mismatch", "; ".join(g.problems), file=g.file, rule=f"case {g.id!r}")
            for g in self.failed_golden
        ]
        return out

    def to_text(self) -> str:
        """A summary: the lint report, golden-case problems and failures, the verdict."""
        lines = [self.lint.to_text().rstrip("\n")]
        lines += [str(i) for i in self.golden_problems]
        passed = sum(g.passed for g in self.golden)
        lines.append(f"golden cases: {passed} of {len(self.golden)} passed")
        lines += [f"  {g.file}: case {g.id!r}: {'; '.join(g.problems)}" for g in self.failed_golden]
        lines.append(f"{self.path}: {'ok' if self.ok else 'FAILED'}")
        return "\n".join(lines) + "\n"


def check_rulepack(
    path: str | Path,
    *,
    backend: Literal["auto", "durable", "python"] = "python",
    fail_on: Severity = "error",
    raise_on_failure: bool = True,
) -> RulepackReport:
    """Check a rule pack: schema, references, static analysis and its golden cases.

    Parameters
    ----------
    path : str or Path
        A folder holding ``rules/`` and ``knowledge/``.
    backend : {"python", "durable", "auto"}
        Engine backend for the golden cases.
    fail_on : {"error", "warning", "info"}
        The least severe lint issue that fails the check.
    raise_on_failure : bool
        Raise when the check fails (default); otherwise return the report either way.

    Returns
    -------
    RulepackReport

    Raises
    ------
    KnowledgeError
        When the check fails and ``raise_on_failure``: every problem, located (lint codes in
        ``docs/lint.md``, loading codes in ``docs/errors.md``, ``golden-mismatch`` for a golden
        case whose result misses an expectation).

    Examples
    --------
    >>> from painreason.testing import check_rulepack
    >>> report = check_rulepack("tests/data/good_pack")
    >>> report.ok, len(report.golden)
    (True, 2)
    """
    root = Path(path)
    loaded = load_partial(root / "rules", root / "knowledge")
    report = lint_loaded(loaded)
    golden_problems: list[LintIssue] = []
    outcomes: list[GoldenOutcome] = []
    if not loaded.problems:
        kb = loaded.knowledge
        try:
            cases = load_golden(kb)
        except PainreasonError as exc:
            cases = []
            golden_problems = [
                LintIssue(
                    code=p.code,
                    severity="error",
                    message=p.message,
                    file=p.file,
                    line=p.line,
                    col=p.col,
                    owner=p.rule,
                )
                for p in getattr(exc, "problems", [Problem("bad-golden", str(exc))])
            ]
        engine = Engine(kb, backend=backend)
        for golden in cases:
            missed = check(golden, engine.evaluate(golden.case))
            outcomes.append(
                GoldenOutcome(
                    id=golden.id, file=golden.file, passed=not missed, problems=tuple(missed)
                )
            )
    result = RulepackReport(
        path=str(root),
        fail_on=fail_on,
        lint=report,
        golden_problems=tuple(golden_problems),
        golden=tuple(outcomes),
    )
    if raise_on_failure and not result.ok:
        raise KnowledgeError(result.problems())
    return result
