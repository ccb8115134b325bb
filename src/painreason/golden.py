"""Golden cases: cases with the conclusions a clinician expects of them.

Golden case files live in ``knowledge/cases/``. Each case states the red flags it expects
(exactly), conditions that must and must not be proposed, conditions ruled out, tests with
their urgency, tests that must not be suggested and advice against tests that must be in
force. :func:`check` compares a Result with those expectations.
"""

from __future__ import annotations

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


def case_list(doc: Document, problems: list[Problem]) -> list[Any] | None:
    """The cases of a golden case file (its only key, ``cases``), or None with the problem
    recorded in ``problems``."""
    items = doc.data.get("cases") if isinstance(doc.data, dict) else None
    if not isinstance(items, list) or set(doc.data) != {"cases"}:
        problems.append(doc.problem("bad-file", "a golden case file must be {cases: [...]}"))
        return None
    return items


def load_golden(kb: Knowledge) -> list[GoldenCase]:
    """Load and check every golden case under the knowledge folder's ``cases/``.

    Raises
    ------
    KnowledgeError
        For malformed files, duplicate ids, unknown references in expectations, and cases
        whose findings do not fit the vocabulary.
    """
    root = kb.case_root()
    if root is None or not (root / "cases").is_dir():
        return []
    problems: list[Problem] = []
    out: list[GoldenCase] = []
    seen: dict[str, str] = {}
    known = {
        "red_flags": kb.red_flags,
        "proposed": kb.conditions,
        "not_proposed": kb.conditions,
        "ruled_out": kb.conditions,
        "tests": kb.tests,
        "not_suggested": kb.tests,
        "not_indicated": {**kb.tests, **kb.test_groups},
    }
    for rel, entry in iter_files(root / "cases"):
        shown = f"{kb.knowledge_dir}/cases/{rel}"
        try:
            doc = parse(entry.read_text(encoding="utf-8"), shown)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem("unreadable-file", f"cannot read file ({exc})", file=shown))
            continue
        except DocumentError as exc:
            problems.append(exc.problem)
            continue
        items = case_list(doc, problems)
        if items is None:
            continue
        for i, item in enumerate(items):
            loc = ("cases", i)
            try:
                golden = GoldenCase.model_validate(
                    {**item, "file": shown} if isinstance(item, dict) else item
                )
            except ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"])
                    problems.append(
                        doc.problem("bad-golden", f"{where}: {err['msg']}", (*loc, *err["loc"]))
                    )
                continue
            name = f"case {golden.id!r}"
            if golden.id in seen:
                problems.append(
                    doc.problem(
                        "duplicate-id",
                        f"golden case id {golden.id!r} is already used in {seen[golden.id]}",
                        (*loc, "id"),
                    )
                )
            seen[golden.id] = shown
            for key, table in known.items():
                values = getattr(golden.expect, key)
                for value in values:
                    if value not in table:
                        problems.append(
                            doc.problem(
                                "unknown-reference",
                                f"expect.{key}: unknown id {value!r}",
                                (*loc, "expect", key),
                                rule=name,
                                suggestion=did_you_mean(value, table),
                            )
                        )
            case = Case.model_validate(item["case"])
            case._doc = doc
            try:
                observe(case, kb)
            except CaseError as exc:
                problems.extend(
                    Problem(
                        p.code,
                        p.message,
                        file=shown,
                        line=doc.position((*loc, "case"))[0],
                        col=doc.position((*loc, "case"))[1],
                        rule=name,
                        suggestion=p.suggestion,
                    )
                    for p in exc.problems
                )
                continue
            out.append(golden)
    if problems:
        raise KnowledgeError(problems)
    return out


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
