"""Reading labelled vignettes: folders of golden-case files or JSONL, checked against a
vocabulary with every problem located. Public through :mod:`painreason.vignettes`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._yaml import Document, DocumentError, parse
from .case import observe
from .errors import CaseError, KnowledgeError, Problem, did_you_mean
from .golden import GoldenCase, case_list
from .loader import Knowledge, iter_files

__all__ = ["Vignette", "load_vignettes"]


@dataclass(frozen=True, slots=True)
class Vignette:
    """A golden case and where it was read (``file:line``)."""

    golden: GoldenCase
    where: str


def load_vignettes(path: str | Path, knowledge: Knowledge) -> list[Vignette]:
    """Read labelled cases from a folder of golden-case files or from a JSONL file.

    Parameters
    ----------
    path : str or Path
        A folder of YAML/JSON files (each ``{cases: [...]}``, searched recursively), one such
        file, or a ``.jsonl`` file holding one golden case (a JSON object) per line.
    knowledge : Knowledge
        Every case is checked against its vocabulary, and expectations against its ids.

    Raises
    ------
    KnowledgeError
        With every problem of every file, each located ``file:line:col``.

    Examples
    --------
    >>> from painreason.loader import data_dir, load_knowledge
    >>> kb = load_knowledge()
    >>> vignettes = load_vignettes(str(data_dir("knowledge") / "cases"), kb)
    >>> vignettes[0].golden.id, vignettes[0].where.endswith("axial_spondyloarthritis.yaml:3")
    ('axspa_young_man_inflammatory_pattern', True)
    """
    root = Path(path)
    problems: list[Problem] = []
    items: list[_Item] = []
    if root.is_dir():
        files = [(str(root / rel), entry) for rel, entry in iter_files(root)]
    elif root.is_file():
        files = [(str(root), root)]
    else:
        raise KnowledgeError(
            [
                Problem(
                    "unreadable-file",
                    "vignettes must be a folder, a YAML/JSON file or a JSONL file "
                    f"(got {str(root)!r}, which does not exist)",
                    file=str(root),
                )
            ]
        )
    for shown, entry in files:
        try:
            text = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem("unreadable-file", f"cannot read file ({exc})", file=shown))
            continue
        if shown.endswith(".jsonl"):
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    items.append(_Item(json.loads(line), shown, None, (), n))
                except json.JSONDecodeError as exc:
                    problems.append(
                        Problem(
                            "yaml-syntax",
                            f"each line must be one JSON object ({exc.msg})",
                            file=shown,
                            line=n,
                            col=exc.colno,
                        )
                    )
            continue
        try:
            doc = parse(text, shown)
        except DocumentError as exc:
            problems.append(exc.problem)
            continue
        raw = case_list(doc, problems)
        if raw is None:
            continue
        items += [_Item(item, shown, doc, ("cases", i), None) for i, item in enumerate(raw)]
    out = _check_items(items, knowledge, problems)
    if problems:
        raise KnowledgeError(problems)
    return out


@dataclass(frozen=True, slots=True)
class _Item:
    """One raw golden case: from a YAML/JSON document at ``loc``, or a JSONL ``line``."""

    data: Any
    shown: str
    doc: Document | None
    loc: tuple[Any, ...]
    line: int | None

    @property
    def where(self) -> str:
        line = self.line if self.doc is None else self.doc.position(self.loc)[0]
        return f"{self.shown}:{line}"

    def problem(self, code: str, msg: str, sub: Sequence[Any] = (), **extra: Any) -> Problem:
        if self.doc is not None:
            return self.doc.problem(code, msg, (*self.loc, *sub), **extra)
        return Problem(code, msg, file=self.shown, line=self.line, col=1, **extra)


def _check_items(items: list[_Item], kb: Knowledge, problems: list[Problem]) -> list[Vignette]:
    known: dict[str, Mapping[str, Any]] = {
        "red_flags": kb.red_flags,
        "proposed": kb.conditions,
        "not_proposed": kb.conditions,
        "ruled_out": kb.conditions,
        "tests": kb.tests,
        "not_suggested": kb.tests,
        "not_indicated": {**kb.tests, **kb.test_groups},
    }
    seen: dict[str, str] = {}
    out = []
    for it in items:
        problem, where, item = it.problem, it.where, it.data
        try:
            golden = GoldenCase.model_validate(
                {**item, "file": it.shown} if isinstance(item, dict) else item
            )
        except ValidationError as exc:
            for err in exc.errors():
                at = ".".join(str(p) for p in err["loc"]) or "case"
                problems.append(problem("bad-golden", f"{at}: {err['msg']}", err["loc"]))
            continue
        name = f"case {golden.id!r}"
        if golden.id in seen:
            problems.append(
                problem(
                    "duplicate-id",
                    f"golden case id {golden.id!r} is already used at {seen[golden.id]}",
                    ("id",),
                )
            )
        seen[golden.id] = where
        exp = golden.expect
        for key, table in known.items():
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
            observe(golden.case, kb)
        except CaseError as exc:
            pos = problem("bad-case", "", ("case",))
            problems += [
                Problem(p.code, p.message, pos.file, pos.line, pos.col, name, p.suggestion)
                for p in exc.problems
            ]
            continue
        out.append(Vignette(golden, where))
    return out
