"""Errors raised by painreason.

Every error the library raises on purpose derives from :class:`PainreasonError`.
Leaves also inherit the builtin that fits, so ``except ValueError`` keeps working::

    PainreasonError
    ├── KnowledgeError (ValueError)     a rule or knowledge file is wrong; carries ``problems``
    ├── CaseError (ValueError)          a case is wrong; carries ``problems``
    ├── UnknownTargetError (KeyError)   a query names a condition, flag, test or fact not known
    └── EngineError (RuntimeError)      the engine could not evaluate
        ├── BackendUnavailableError     the requested backend cannot be imported here
        └── CapacityError               a rule set exceeds a limit of the durable-rules core

A :class:`Problem` is one located message. Its text is in compiler form::

    rules/lumbar.yaml:14:9: rule 'l5_pattern': unknown finding 'straight_leg_rise'
    (did you mean 'straight_leg_raise'?) [unknown-finding]

Error codes are stable; ``docs/errors.md`` lists each with an example and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BackendUnavailableError",
    "CapacityError",
    "CaseError",
    "EngineError",
    "KnowledgeError",
    "PainreasonError",
    "Problem",
    "UnknownTargetError",
    "did_you_mean",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in an input.

    Parameters
    ----------
    code : str
        Stable, documented error code such as ``"unknown-finding"``.
    message : str
        What is wrong, in the form "must be X (got Y)" where that fits.
    file : str or None
        The file, as the user named it, or ``None`` for in-memory input.
    line, col : int or None
        1-based position in ``file``.
    rule : str or None
        The id of the rule (or case, or vocabulary entry) the problem is in.
    suggestion : str or None
        A did-you-mean candidate.
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    rule: str | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}:{self.col or 1}"
        text = f"{where}: "
        if self.rule:
            text += f"{self.rule}: "
        text += self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return f"{text} [{self.code}]"


class PainreasonError(Exception):
    """Root of every error painreason raises on purpose."""


class _ProblemsError(PainreasonError, ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def codes(self) -> list[str]:
        """The codes of all problems, in order."""
        return [p.code for p in self.problems]


class KnowledgeError(_ProblemsError):
    """A rule file or knowledge file is malformed or inconsistent.

    ``problems`` holds every problem found, each with file, line and column.
    """


class CaseError(_ProblemsError):
    """A case is malformed: unknown finding, impossible value, wrong kind, contradiction."""


class UnknownTargetError(PainreasonError, KeyError):
    """A query names something the knowledge does not define."""

    def __init__(self, kind: str, target: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.target = target
        self.suggestion = did_you_mean(target, known)
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        super().__init__(f"unknown {kind} {target!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class EngineError(PainreasonError, RuntimeError):
    """The engine failed to evaluate a case."""


class BackendUnavailableError(EngineError):
    """The requested engine backend cannot be used in this environment."""


class CapacityError(EngineError):
    """A rule set exceeds a hard limit of the durable-rules core; raised when compiling."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """Return the closest candidate to ``word``, or ``None`` when nothing is close.

    Examples
    --------
    >>> did_you_mean("straight_leg_rise", ["straight_leg_raise", "fever"])
    'straight_leg_raise'
    >>> did_you_mean("zzz", ["fever"]) is None
    True
    """
    cutoff = 0.5 if len(word) <= 4 else 0.6  # short ids differ by a larger share per typo
    options = list(candidates)
    # a word over 3x the longest candidate cannot reach the cutoff (ratio <= 2m / (m + 3m));
    # skipping it keeps a megabyte of input from costing difflib seconds
    if len(word) > 3 * max(map(len, options), default=0):
        return None
    matches = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return matches[0] if matches else None
