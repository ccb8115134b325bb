"""Safe YAML and JSON reading with source positions.

Rule, knowledge and case files are data: they are read with ruamel.yaml's round-trip
loader, which keeps the line and column of every key and item, speaks YAML 1.2 (``no``
stays a string), refuses duplicate keys and never constructs Python objects from tags.
Documents are bounded in size and in expanded node count, so an alias bomb is refused
instead of being expanded.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import Problem

# ruamel's round-trip loader costs about 100 us a node and is quadratic on very long
# comments: these bounds keep the worst file to seconds (the bundled knowledge, 25 files,
# has 14,000 nodes, 17 kB in its largest file).
MAX_FILE_BYTES = 1_000_000
MAX_LINE = 100_000
MAX_NODES = 30_000
MAX_DEPTH = 64

Loc = Sequence[str | int]
_SCALARS = (str, int, float, bool, type(None), datetime.date)
SAFE_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
)


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed file: plain Python data plus the round-trip tree for positions."""

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


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def parse(text: str, path: str) -> Document:
    """Parse YAML (JSON is YAML) text into a :class:`Document`.

    Raises
    ------
    DocumentError
        On a syntax error, a duplicate key, a tag that would build an object, an
        oversized or over-deep document.
    """
    _precheck(text, path)
    try:
        tree = _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        code = "yaml-syntax"
        if "constructor" in reason or "tag" in reason:
            code = "yaml-unsafe-tag"
            reason = f"tags that build objects are not allowed ({reason})"
        elif "duplicate key" in reason or "found duplicate" in str(exc):
            code = "yaml-duplicate-key"
            reason = "duplicate key: " + reason
        raise DocumentError(Problem(code, reason, file=path, line=line, col=col)) from None
    except Exception as exc:
        # ruamel's constructors raise AttributeError, IndexError or KeyError on some
        # malformed input ("!!set " alone, "!!int "), a warning under -W error ("&a" twice),
        # RecursionError on deep nesting: whatever it raises, the file is not valid YAML.
        if isinstance(exc, YAMLError | ValueError):
            detail = f"invalid YAML ({str(exc)[:300]})"
        else:
            detail = (
                f"invalid YAML: the parser failed ({type(exc).__name__}); check explicit "
                "tags (!!int, !!set) with no value and anchors (&name) given twice"
            )
        raise DocumentError(Problem("yaml-syntax", detail, file=path)) from None
    counter = [0]
    data = _plain(tree, path, counter, 0)
    return Document(path=path, data=data, tree=tree)


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
    if max(_flow_depth(text), _block_depth(text)) > MAX_DEPTH:
        # ruamel recurses per level: seconds, then a RecursionError
        refuse("file-too-deep", f"nesting must be at most {MAX_DEPTH} levels deep")


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


def _plain(
    node: Any, path: str, counter: list[int], depth: int, at: tuple[int, int] | None = None
) -> Any:
    """Plain data of a round-trip node; ``at`` is its 0-based (line, col) where known."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise DocumentError(
            Problem(
                "file-too-large",
                f"document must expand to at most {MAX_NODES:,} nodes (aliases count each time)",
                file=path,
            )
        )
    if isinstance(node, CommentedMap | CommentedSeq):
        at = (node.lc.line, node.lc.col)
    if depth > MAX_DEPTH:
        _raise_problem(
            "file-too-deep", f"nesting must be at most {MAX_DEPTH} levels deep", path, at
        )
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag is not None and tag not in SAFE_TAGS:
        _raise_problem(
            "yaml-unsafe-tag",
            f"YAML tags are not allowed in painreason files (got {tag!r}); write plain data",
            path,
            at,
        )
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            pos = node.lc.value(k) if isinstance(node, CommentedMap) else at
            if not isinstance(k, _SCALARS):  # a complex key (``? [a, b]``) gives a tuple
                _raise_problem("yaml-syntax", "mapping keys must be plain scalars", path, pos)
            out[k if isinstance(k, str) else str(k)] = _plain(v, path, counter, depth + 1, pos)
        return out
    if isinstance(node, list):
        return [
            _plain(
                v,
                path,
                counter,
                depth + 1,
                node.lc.item(i) if isinstance(node, CommentedSeq) else at,
            )
            for i, v in enumerate(node)
        ]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        try:
            float(node)  # every number is compared as a float later
        except OverflowError:
            digits = int(node.bit_length() * 0.30103) + 1
            _raise_problem(
                "bad-value", f"numbers must be within ±1.8e308 (got ~{digits} digits)", path, at
            )
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str | datetime.date):  # timestamps keep their text
        return str(node)
    # !!binary (bytes), !!set, !!pairs (tuples): standard tags, but not plain data
    _raise_problem(
        "yaml-unsafe-tag",
        f"{type(node).__name__} values are not allowed; write plain data",
        path,
        at,
    )


def _raise_problem(code: str, message: str, path: str, at: tuple[int, int] | None) -> NoReturn:
    line, col = (at[0] + 1, at[1] + 1) if at else (None, None)
    raise DocumentError(Problem(code, message, file=path, line=line, col=col))


def position(tree: Any, loc: Loc) -> tuple[int | None, int | None]:
    """1-based (line, col) of ``loc`` in a round-trip tree; falls back to the nearest parent."""
    node = tree
    pos: tuple[int, int] | None = None
    if isinstance(node, CommentedMap | CommentedSeq):
        pos = (node.lc.line, node.lc.col)
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            child = node[part]
            if isinstance(child, CommentedMap | CommentedSeq) and len(child):
                pos = node.lc.key(part)
            else:
                pos = node.lc.value(part)
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.lc.item(part)
            node = node[part]
        else:
            break
    if pos is None:
        return None, None
    return pos[0] + 1, pos[1] + 1


def json_safe(value: Any) -> bool:
    """True when ``value`` is a finite number (NaN and infinity are refused everywhere)."""
    return not (isinstance(value, float) and not math.isfinite(value))


def dumps(data: Any) -> str:
    """Canonical JSON used for hashing knowledge."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
