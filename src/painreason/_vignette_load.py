"""Reading labelled vignettes: folders of golden-case files or JSONL, checked against a
vocabulary with every problem located. Public through :mod:`painreason.vignettes`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import KnowledgeError, Problem
from .golden import GoldenCase, _CaseChecker, _RawCase, _read_case_file, _read_text
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
    raw: list[_RawCase] = []
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
        if shown.endswith(".jsonl"):
            raw += _read_jsonl(shown, entry, problems)
        else:
            raw += _read_case_file(shown, entry, problems)
    checked = _CaseChecker(knowledge).check(raw, problems)
    if problems:
        raise KnowledgeError(problems)
    return [Vignette(golden, it.where) for golden, it in checked]


def _read_jsonl(shown: str, entry: Traversable, problems: list[Problem]) -> list[_RawCase]:
    """The golden cases of a JSONL file, one JSON object a line, unchecked."""
    text = _read_text(shown, entry, problems)
    if text is None:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_RawCase(json.loads(line), shown, None, line=n))
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
    return out
