"""The reference YAML reader: ruamel.yaml's round-trip loader.

It keeps the line and column of every key and item, speaks YAML 1.2 (``no`` stays a string),
refuses duplicate keys and never constructs Python objects from tags. It reads every file the
fast reader (:mod:`painreason._yaml_fast`) declines, gives every YAML error message, and is
what the fast reader is tested against. Imported only when needed: ruamel takes a while to
import and about 100 us a node to read.
"""

from __future__ import annotations

import datetime
import io
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ._yaml import MAX_DEPTH, MAX_NODES, Document, DocumentError, Loc
from .errors import Problem

__all__ = ["parse", "position"]

_SCALARS = (str, int, float, bool, type(None), datetime.date)
SAFE_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def parse(text: str, path: str) -> Document:
    """Parse YAML (JSON is YAML) text into a :class:`Document` (the text is prechecked).

    Raises
    ------
    DocumentError
        On a syntax error, a duplicate key, a tag that would build an object, an
        oversized or over-deep document.
    """
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
