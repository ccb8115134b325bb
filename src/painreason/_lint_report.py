"""Lint codes and the models of a lint report. Public through :mod:`painreason.lint`."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["CODES", "RANK", "LintIssue", "LintReport", "Severity"]

Severity = Literal["error", "warning", "info"]
RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

#: Every lint code with its severity and a one-line meaning (docs/lint.md has the detail).
CODES: dict[str, tuple[Severity, str]] = {
    "derivation-cycle": ("error", "derived facts depend on themselves"),
    "present-and-absent": ("error", "a rule needs a finding both present and absent"),
    "contradictory-condition": (
        "error",
        "a rule needs comparisons or facts that exclude each other",
    ),
    "impossible-threshold": ("error", "a rule needs a comparison no plausible value meets"),
    "dead-fact": ("error", "a rule needs a derived fact that no rule can derive"),
    "threshold-out-of-range": ("warning", "a threshold outside the plausible range"),
    "duplicate-rule": ("warning", "two rules with equivalent conditions and conclusions"),
    "subsumed-rule": ("warning", "a rule whose conclusions another rule always draws too"),
    "conflicting-rules": ("warning", "a proposal and a rule-out of one condition that always meet"),
    "unproposed-condition": ("warning", "a condition no rule can propose"),
    "unraised-red-flag": ("warning", "a red flag no rule can raise"),
    "unsuggested-test": ("warning", "a test no rule can suggest"),
    "evidence-not-read": ("warning", "evidence about a finding the rule never reads"),
    "unread-finding": ("info", "a finding no rule reads"),
    "unread-fact": ("info", "a derived fact no rule reads"),
    "uncited-source": ("info", "a source no rule cites"),
    "unverified-sources-only": ("info", "a rule citing only unverified sources"),
    "not-analysed": ("info", "a condition too large to analyse"),
}


class LintIssue(BaseModel):
    """One lint finding, located as ``file:line:col``.

    ``code`` is stable; ``owner`` names the rule or knowledge entry; ``related`` lists other
    places involved (``file:line: rule 'id'``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    owner: str | None = None
    related: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """``file:line:col`` (or as much of it as is known)."""
        where = self.file or "<knowledge>"
        if self.line is not None:
            where += f":{self.line}:{self.col or 1}"
        return where

    def __str__(self) -> str:
        owner = f"{self.owner}: " if self.owner else ""
        return f"{self.location}: {self.severity}: {owner}{self.message} [{self.code}]"


class LintReport(BaseModel):
    """Every issue of one rule pack, errors first, then by position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules_dir: str
    knowledge_dir: str
    issues: tuple[LintIssue, ...]

    def count(self, severity: Severity) -> int:
        """Number of issues of one severity."""
        return sum(i.severity == severity for i in self.issues)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and infos allowed)."""
        return self.count("error") == 0

    def fails(self, fail_on: Severity = "error") -> bool:
        """True when an issue is at least as severe as ``fail_on``."""
        return any(RANK[i.severity] <= RANK[fail_on] for i in self.issues)

    def codes(self) -> list[str]:
        """The codes of all issues, in report order."""
        return [i.code for i in self.issues]

    def to_text(self) -> str:
        """One line per issue in compiler form, then a count."""
        lines = [str(i) for i in self.issues]
        lines.append(
            f"{self.rules_dir}, {self.knowledge_dir}: {self.count('error')} errors, "
            f"{self.count('warning')} warnings, {self.count('info')} notes"
        )
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """The report as JSON (``painreason lint --format json``)."""
        data = self.model_dump(mode="json")
        data["counts"] = {s: self.count(s) for s in ("error", "warning", "info")}
        return json.dumps(data, indent=2) + "\n"
