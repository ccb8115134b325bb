"""Safe YAML and JSON reading with source positions.

Rule, knowledge and case files are data, read as ruamel.yaml's round-trip loader reads them
(:mod:`painreason._yaml_rt`, the reference): with the line and column of every key and item,
in YAML 1.2 (``no`` stays a string), refusing duplicate keys and never constructing Python
objects from tags. Most files are read by a reader built on libyaml's events
(:mod:`painreason._yaml_fast`), about thirty times faster, which gives the same data and
positions and leaves to ruamel every file it cannot promise that for, errors included.
Documents are bounded in size and in expanded node count, so an alias bomb is refused
instead of being expanded.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from . import _yaml_fast
from .errors import Problem

# ruamel's round-trip loader costs about 100 us a node and is quadratic on very long
# comments: these bounds keep the worst file it reads to seconds (the bundled knowledge,
# 35 files, has 9,300 nodes, 17 kB in its largest file).
MAX_FILE_BYTES = 1_000_000
MAX_LINE = 100_000
MAX_NODES = 30_000
MAX_DEPTH = 64

Loc = Sequence[str | int]
_SCALARS = (str, int, float, bool, type(None), datetime.date)


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed file: plain Python data plus a tree of positions (either reader's)."""

    path: str
    data: Any
    tree: Any

    def position(self, loc: Loc) -> tuple[int | None, int | None]:
        """1-based (line, column) of the node at ``loc``, or of its nearest parent."""
        return position(self.tree, loc)

    def problem(self, code: str, message: str, loc: Loc = (), **extra: Any) -> Problem:
        """A :class:`Problem` located at ``loc`` in this document."""
        line, col = self.position(loc)
        return Problem(code=code, message=message, file=self.path, line=line, col=col, **extra)


class DocumentError(Exception):
    """Raised by :func:`parse` with a located problem; callers wrap it in their own error."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def parse(text: str, path: str) -> Document:
    """Parse YAML (JSON is YAML) text into a :class:`Document`.

    The fast reader reads it when it can promise the reference's result; otherwise (and for
    every error) ruamel's round-trip loader does.

    Raises
    ------
    DocumentError
        On a syntax error, a duplicate key, a tag that would build an object, an
        oversized or over-deep document.

    Examples
    --------
    >>> doc = parse("rules:\\n  - id: a\\n    when: {finding: fever, present: yes}\\n", "r.yaml")
    >>> doc.data
    {'rules': [{'id': 'a', 'when': {'finding': 'fever', 'present': 'yes'}}]}
    >>> doc.position(("rules", 0, "when", "present"))
    (3, 37)
    """
    _precheck(text, path)
    fast = _yaml_fast.read(text, MAX_NODES, MAX_DEPTH)
    if fast is not None:
        return Document(path=path, data=fast[0], tree=_Positions(fast[1]))
    from . import _yaml_rt  # ruamel is imported only for the files that need it

    return _yaml_rt.parse(text, path)


def _precheck(text: str, path: str) -> None:
    """Refuse, before ruamel reads it, a text that would take it minutes."""

    def refuse(code: str, message: str, line: int | None = None) -> NoReturn:
        raise DocumentError(Problem(code, message, file=path, line=line, col=1 if line else None))

    # characters first: encoding a huge text to count its bytes would double it in memory
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        refuse(
            "file-too-large",
            f"file must be at most {MAX_FILE_BYTES:,} bytes (got {len(text):,} characters)",
        )
    longest = max(text.split("\n"), key=len)
    if len(longest) > MAX_LINE:
        line = text[: text.index(longest)].count("\n") + 1
        refuse(
            "file-too-large",
            f"lines must be at most {MAX_LINE:,} characters (got {len(longest):,}); "
            "break it, e.g. json.dumps(data, indent=1)",
            line,
        )
    nodes = text.count(",") + text.count("\n") + text.count(":")
    if nodes > MAX_NODES:
        refuse(
            "file-too-large",
            f"file must hold at most {MAX_NODES:,} values (got about {nodes:,}); split it",
        )
    # each exact depth only when a cheap bound of it is over the limit
    if (_flow_bound(text) > MAX_DEPTH and _flow_depth(text) > MAX_DEPTH) or (
        _block_bound(text) > MAX_DEPTH and _block_depth(text) > MAX_DEPTH
    ):
        # ruamel recurses per level: seconds, then a RecursionError
        refuse("file-too-deep", f"nesting must be at most {MAX_DEPTH} levels deep")


# indentation and a leading run of dashes, after each line break (a text is given one first)
_INDENT = re.compile(r"\n *")
_DASHES = re.compile(r"\n *(-[- ]*)")


def _flow_bound(text: str) -> int:
    """At least :func:`_flow_depth`: the number of opening brackets."""
    return text.count("[") + text.count("{")


def _block_bound(text: str) -> int:
    r"""At least :func:`_block_depth`, and cheaper: the number of distinct indentations (its
    stack holds increasing ones) plus the longest run of dashes and spaces opening a line.

    >>> _block_bound("a:\n  b:\n    - - c\n  d: 1\n")
    7
    """
    lines = "\n" + text
    indents = len(set(_INDENT.findall(lines)))
    return indents + max(map(len, _DASHES.findall(lines)), default=0)


def _block_depth(text: str) -> int:
    r"""Deepest nesting of block indentation (each ``- `` opening a line counts too).

    An over-estimate by at most one a line, like :func:`_flow_depth` cheap on large texts:
    more-indented lines push a level, less-indented ones pop back to theirs.

    >>> _block_depth("a:\n  b:\n    - - c\n  d: 1\n")
    5
    """
    stack = [-1]
    deepest = 0
    for line in text.split("\n"):
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        indent = len(line) - len(body)
        while indent < stack[-1]:
            stack.pop()
        if indent > stack[-1]:
            stack.append(indent)
        dashes = len(body) - len(body.lstrip("- ")) if body.startswith("- ") else 0
        deepest = max(deepest, len(stack) - 1 + body[:dashes].count("-"))
    return deepest


_NOT_FLOW = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|(?:^|(?<=\s))#[^\n]*|[^\[\]{}'"#]+|.""")


def _flow_depth(text: str) -> int:
    """Deepest nesting of flow brackets (``[`` ``{``) outside quotes and comments.

    An approximation, cheap on large texts: only used to refuse what ruamel would take
    seconds to refuse.

    >>> _flow_depth("a: [1, {b: '[[[', c: [2]}]  # [[[")
    3
    """
    brackets = "".join(m for m in _NOT_FLOW.findall(text) if m in "[]{}" and len(m) == 1)
    depth = deepest = 0
    for ch in brackets:
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


@dataclass(frozen=True, slots=True)
class _Positions:
    """The fast reader's positions (see :mod:`painreason._yaml_fast`)."""

    root: Any


def position(tree: Any, loc: Loc) -> tuple[int | None, int | None]:
    """1-based (line, col) of ``loc`` in a parsed tree; falls back to the nearest parent.

    A collection's own position when it is a mapping's value is its key's, unless it is empty;
    a scalar's is the value's.
    """
    if not isinstance(tree, _Positions):
        if tree is None or isinstance(tree, _SCALARS):
            return None, None
        from . import _yaml_rt

        return _yaml_rt.position(tree, loc)
    node = tree.root
    if node is None:
        return None, None
    line, col = node[0], node[1]
    for part in loc:
        if node is None:
            break
        kids = node[2]
        if type(kids) is dict:
            entry = kids.get(part) if isinstance(part, str) else None
            if entry is None:
                break
            node = entry[4]
            line, col = (entry[0], entry[1]) if node is not None and node[2] else entry[2:4]
        elif isinstance(part, int) and 0 <= part < len(kids):
            line, col, node = kids[part]
        else:
            break
    return line + 1, col + 1


def json_safe(value: Any) -> bool:
    """True when ``value`` is a finite number (NaN and infinity are refused everywhere)."""
    return not (isinstance(value, float) and not math.isfinite(value))


def dumps(data: Any) -> str:
    """Canonical JSON used for hashing knowledge."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
