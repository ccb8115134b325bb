"""Golden cases: cases with the conclusions a clinician expects of them.

Golden case files live in ``knowledge/cases/``. Each case states the red flags it expects
(exactly), conditions that must and must not be proposed, conditions ruled out, tests with
their urgency, tests that must not be suggested and advice against tests that must be in
force. :func:`check` compares a Result with those expectations.

The vignette reader (:func:`painreason.vignettes.load_vignettes`), which takes golden cases
from any folder or file, JSONL included, reads and checks them with this module's private
helpers, so that a golden case means the same, and fails the same way, wherever it is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._yaml import Document, DocumentError, parse
from .case import Case, observe
from .errors import CaseError, KnowledgeError, Problem, did_you_mean
from .loader import Knowledge, iter_files
from .results import Result

__all__ = ["Expectation", "GoldenCase", "check", "load_golden"]

UrgencyName = Literal["emergency", "urgent", "routine"]


class Expectation(BaseModel):
    """What a golden case expects of the Result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    red_flags: tuple[str, ...]
    proposed: tuple[str, ...] = ()
    not_proposed: tuple[str, ...] = ()
    ruled_out: tuple[str, ...] = ()
    tests: dict[str, UrgencyName] = Field(default_factory=dict)
    not_suggested: tuple[str, ...] = ()
    not_indicated: tuple[str, ...] = ()


class GoldenCase(BaseModel):
    """A case and what it should conclude."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    kind: Literal["positive", "negative_control", "edge"]
    case: Case
    expect: Expectation
    file: str = ""


def load_golden(kb: Knowledge) -> list[GoldenCase]:
    """Load and check every golden case under the knowledge folder's ``cases/``.

    Raises
    ------
    KnowledgeError
        For malformed files, duplicate ids, unknown references in expectations,
        expectations that contradict each other, and cases whose findings do not fit the
        vocabulary.
    """
    root = kb.case_root()
    if root is None or not (root / "cases").is_dir():
        return []
    problems: list[Problem] = []
    checker = _CaseChecker(kb)
    out: list[GoldenCase] = []
    for rel, entry in iter_files(root / "cases"):
        raw = _read_case_file(f"{kb.knowledge_dir}/cases/{rel}", entry, problems)
        out += [golden for golden, _ in checker.check(raw, problems)]
    if problems:
        raise KnowledgeError(problems)
    return out


def _read_text(shown: str, entry: Traversable, problems: list[Problem]) -> str | None:
    """The text of a UTF-8 file, or None with the problem recorded in ``problems``."""
    try:
        return entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("unreadable-file", f"cannot read file ({exc})", file=shown))
        return None


def _read_case_file(shown: str, entry: Traversable, problems: list[Problem]) -> list[_RawCase]:
    """The cases of a golden case file ``{cases: [...]}`` (YAML or JSON), unchecked; what is
    wrong with the file itself goes to ``problems``, located in ``shown``."""
    text = _read_text(shown, entry, problems)
    if text is None:
        return []
    try:
        doc = parse(text, shown)
    except DocumentError as exc:
        problems.append(exc.problem)
        return []
    items = case_list(doc, problems)
    if items is None:
        return []
    return [_RawCase(item, shown, doc, ("cases", i)) for i, item in enumerate(items)]


def case_list(doc: Document, problems: list[Problem]) -> list[Any] | None:
    """The cases of a golden case file (its only key, ``cases``), or None with the problem
    recorded in ``problems``."""
    items = doc.data.get("cases") if isinstance(doc.data, dict) else None
    if not isinstance(items, list) or set(doc.data) != {"cases"}:
        problems.append(doc.problem("bad-file", "a golden case file must be {cases: [...]}"))
        return None
    return items


@dataclass(frozen=True, slots=True)
class _RawCase:
    """One golden case as read: from a YAML/JSON document at ``loc``, or from ``line`` of a
    file that holds one case a line (``doc`` None)."""

    data: Any
    shown: str
    doc: Document | None
    loc: tuple[Any, ...] = ()
    line: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` of the case."""
        line = self.line if self.doc is None else self.doc.position(self.loc)[0]
        return f"{self.shown}:{line}"

    def problem(self, code: str, msg: str, sub: Sequence[Any] = (), **extra: Any) -> Problem:
        """A problem located at ``sub`` inside the case (at its line, for a case a line)."""
        if self.doc is not None:
            return self.doc.problem(code, msg, (*self.loc, *sub), **extra)
        return Problem(code, msg, file=self.shown, line=self.line, col=1, **extra)


class _CaseChecker:
    """Checks golden cases against a knowledge base: their format, ids unique across every
    case it has checked, expectations naming known ids and not contradicting each other, and
    findings that fit the vocabulary."""

    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb
        self.known: dict[str, Mapping[str, Any]] = {
            "red_flags": kb.red_flags,
            "proposed": kb.conditions,
            "not_proposed": kb.conditions,
            "ruled_out": kb.conditions,
            "tests": kb.tests,
            "not_suggested": kb.tests,
            "not_indicated": {**kb.tests, **kb.test_groups},
        }
        self.seen: dict[str, str] = {}

    def check(
        self, raw: Sequence[_RawCase], problems: list[Problem]
    ) -> list[tuple[GoldenCase, _RawCase]]:
        """The cases that pass, each with where it was read; the problems of the others (all
        of them, in order) go to ``problems``."""
        out = []
        for it in raw:
            golden = self._check(it, problems)
            if golden is not None:
                out.append((golden, it))
        return out

    def _check(self, it: _RawCase, problems: list[Problem]) -> GoldenCase | None:
        problem, item = it.problem, it.data
        try:
            golden = GoldenCase.model_validate(
                {**item, "file": it.shown} if isinstance(item, dict) else item
            )
        except ValidationError as exc:
            for err in exc.errors():
                at = ".".join(str(p) for p in err["loc"]) or "case"
                problems.append(problem("bad-golden", f"{at}: {err['msg']}", err["loc"]))
            return None
        name = f"case {golden.id!r}"
        if golden.id in self.seen:
            problems.append(
                problem(
                    "duplicate-id",
                    f"golden case id {golden.id!r} is already used at {self.seen[golden.id]}",
                    ("id",),
                )
            )
        self.seen[golden.id] = it.where
        exp = golden.expect
        for key, table in self.known.items():
            for value in getattr(exp, key):
                if value not in table:
                    problems.append(
                        problem(
                            "unknown-reference",
                            f"expect.{key}: unknown id {value!r}",
                            ("expect", key),
                            rule=name,
                            suggestion=did_you_mean(value, table),
                        )
                    )
        both = set(exp.proposed) & (set(exp.not_proposed) | set(exp.ruled_out))
        if both:
            problems.append(
                problem(
                    "bad-golden",
                    f"expect: {', '.join(sorted(both))} both proposed and not proposed",
                    ("expect",),
                    rule=name,
                )
            )
        try:
            observe(golden.case, self.kb)
        except CaseError as exc:
            pos = problem("bad-case", "", ("case",))
            problems += [
                Problem(p.code, p.message, pos.file, pos.line, pos.col, name, p.suggestion)
                for p in exc.problems
            ]
            return None
        return golden


def check(golden: GoldenCase, result: Result) -> list[str]:
    """Differences between a Result and a golden case's expectations (empty: it passes)."""
    exp = golden.expect
    got_flags = {f.id for f in result.red_flags}
    proposed = set(result.proposed())
    ruled_out = {c.id for c in result.ruled_out}
    tests = {t.id: t.urgency for t in result.tests}
    in_force = {n.id for n in result.not_indicated if n.status == "in_force"}
    errors = []
    if got_flags != set(exp.red_flags):
        errors.append(f"red flags: expected {sorted(exp.red_flags)}, got {sorted(got_flags)}")
    errors += [f"expected {c} in the differential" for c in exp.proposed if c not in proposed]
    errors += [f"{c} must not be proposed" for c in exp.not_proposed if c in proposed]
    errors += [f"expected {c} ruled out" for c in exp.ruled_out if c not in ruled_out]
    for test, urgency in exp.tests.items():
        if tests.get(test) != urgency:
            errors.append(f"expected test {test} at {urgency}, got {tests.get(test, 'none')}")
    errors += [f"test {t} must not be suggested" for t in exp.not_suggested if t in tests]
    errors += [
        f"expected advice against {t} in force" for t in exp.not_indicated if t not in in_force
    ]
    return errors
