"""The fast YAML reader: libyaml's events (through PyYAML) composed into data and positions.

ruamel.yaml's round-trip loader (:mod:`painreason._yaml_rt`) is the reference; it costs about
100 us a node, some 1.9 s for the bundled knowledge. This reader reads the usual files about
thirty times faster and gives exactly the reference's data and positions. Whatever it cannot
promise that for, it declines (:func:`read` returns ``None``) and the caller uses the
reference, which also gives every error message: a syntax error, a duplicate key, a tag, an
anchor on a scalar or defined twice, a merge key, an empty value (ruamel places it by the
tokens after it), several documents, a ``%YAML`` directive, tabs and other characters the two
parsers may read differently, a key that is not a string, a number or a timestamp in a form
not handled here, too many nodes or too deep a nesting.

Plain scalars are resolved as the reference resolves YAML 1.2: ``true`` and ``false`` in
three spellings, ``null`` and ``~``, decimal integers and floats; ``yes``, ``no``, ``on`` and
``off`` stay strings. Quoted and block scalars are strings. An alias gives a fresh copy of its
anchor's data (as the reference's conversion to plain data does); its position is its
anchor's.

Positions are nested tuples, 0-based like libyaml's marks and ruamel's: a mapping is
``(line, col, {key: (key_line, key_col, value_line, value_col, child)})``, a sequence
``(line, col, [(line, col, child), ...])``, a scalar ``None``.
"""

from __future__ import annotations

import re
from typing import Any

try:  # PyYAML built with libyaml; without it every file goes to the reference reader
    from yaml import YAMLError  # type: ignore[import-untyped]
    from yaml._yaml import CParser  # type: ignore[import-untyped]
    from yaml.events import (  # type: ignore[import-untyped]
        AliasEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )
except ImportError:  # pragma: no cover - exercised by a test that hides the module
    CParser = None

__all__ = ["available", "read"]

# Characters outside YAML's printable set, tabs, the byte-order mark and the line breaks of
# YAML 1.1 (NEL, LS, PS): the two parsers may treat them differently, so they go to ruamel.
# (Listed rather than negated: a negated class over all of Unicode takes ~30 ms to compile.)
_DECLINE_CHARS = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)
# Plain scalars starting with one of these may resolve to something other than a string.
_SPECIAL_START = frozenset("-+.0123456789tTfFnN~<=")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_NULL = frozenset({"null", "Null", "NULL", "~"})
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)")
# Everything the reference may read as a number or a timestamp (a superset of its YAML 1.2
# patterns: underscores, 0b/0o/0x, leading dots, .inf/.nan, dates): declined unless _INT or
# _FLOAT above matched.
_NUMBERISH = re.compile(
    r"[-+]?(?:0b[0-1_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+"
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
    r"|\.(?:inf|Inf|INF|nan|NaN|NAN))"
    r"|[0-9]{4}-[0-9].*",
    re.DOTALL,
)
_MAX_DIGITS = 300  # a longer integer may not fit a float: the reference reports it


class _Decline(Exception):
    """The reference reader must read this text."""


def available() -> bool:
    """True when PyYAML's libyaml parser is installed (else every file goes to ruamel)."""
    return CParser is not None


def read(text: str, max_nodes: int, max_depth: int) -> tuple[Any, Any] | None:
    """``(data, positions)`` of a YAML text, or ``None`` when the reference must read it.

    ``max_nodes`` and ``max_depth`` are the reference's limits (nodes counted as it counts
    them: each value and item, aliases each time); past them this reader declines.

    >>> data, tree = read("a: [1, yes, 2.5]\\n", 100, 10)
    >>> data
    {'a': [1, 'yes', 2.5]}
    >>> tree
    (0, 0, {'a': (0, 0, 0, 3, (0, 3, [(0, 4, None), (0, 7, None), (0, 12, None)]))})
    >>> read("a: !!str 1\\n", 100, 10) is None
    True
    """
    if CParser is None or _DECLINE_CHARS.search(text):
        return None
    try:
        return _Composer(text, max_nodes, max_depth).document()
    except (_Decline, YAMLError, UnicodeError):
        return None


def _scalar(value: str) -> Any:
    """A plain scalar resolved as the reference resolves it (YAML 1.2), or :class:`_Decline`."""
    if not value:
        return None
    if value[0] not in _SPECIAL_START:
        return value
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value in _NULL:
        return None
    if _INT.fullmatch(value):
        if len(value) > _MAX_DIGITS:
            raise _Decline
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if value in ("<<", "=") or _NUMBERISH.fullmatch(value):
        raise _Decline  # a merge key, a value key, a number in another form, a timestamp
    return value


class _Composer:
    """Plain data and positions from one text's events (recursive descent)."""

    __slots__ = ("anchors", "depth_limit", "next", "nodes", "nodes_limit")

    def __init__(self, text: str, max_nodes: int, max_depth: int) -> None:
        self.next = CParser(text).get_event
        self.anchors: dict[str, tuple[Any, Any, int, int]] = {}
        self.nodes = 0
        self.nodes_limit = max_nodes
        self.depth_limit = max_depth

    def document(self) -> tuple[Any, Any]:
        next_event = self.next
        next_event()  # stream start
        event = next_event()
        if type(event) is StreamEndEvent:
            return None, None
        if type(event) is not DocumentStartEvent or event.version or event.tags:
            raise _Decline  # a %YAML or %TAG directive
        event = next_event()
        data, tree = self.node(event, 0)
        next_event()  # document end
        if type(next_event()) is not StreamEndEvent:
            raise _Decline  # several documents: the reference refuses them
        return data, tree

    def node(self, event: Any, depth: int) -> tuple[Any, Any]:
        """Data and positions of the node ``event`` starts, its events consumed."""
        self.nodes += 1
        if self.nodes > self.nodes_limit or depth > self.depth_limit:
            raise _Decline
        kind = type(event)
        data: Any
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Decline
            if event.style:
                return event.value, None
            if not event.value:
                raise _Decline  # an empty value: ruamel places it by the tokens after it
            return _scalar(event.value), None
        if kind is MappingStartEvent:
            data, tree = self.mapping(event, depth)
        elif kind is SequenceStartEvent:
            data, tree = self.sequence(event, depth)
        else:  # an alias where the reference needs it resolved: a key, an unknown anchor
            raise _Decline
        if event.anchor is not None:
            if event.anchor in self.anchors:
                raise _Decline  # an anchor defined twice (the reference warns)
            mark = event.start_mark
            self.anchors[event.anchor] = (data, tree, mark.line, mark.column)
        return data, tree

    def mapping(self, start: Any, depth: int) -> tuple[dict[str, Any], Any]:
        if start.tag is not None:
            raise _Decline
        next_event = self.next
        data: dict[str, Any] = {}
        kids: dict[str, tuple[int, int, int, int, Any]] = {}
        while True:
            event = next_event()
            if type(event) is not ScalarEvent:
                if type(event) is MappingEndEvent:
                    break
                raise _Decline  # a complex key
            if event.anchor is not None or event.tag is not None:
                raise _Decline
            key = event.value
            if not event.style:
                if _scalar(key) is not key:
                    raise _Decline  # a key that is not a string (true, 1, null, ...)
            elif event.style not in ("'", '"'):
                raise _Decline
            if key in data:
                raise _Decline  # a duplicate key: the reference's error
            key_mark = event.start_mark
            event = next_event()
            if type(event) is AliasEvent:
                value, tree, line, col = self.alias(event, depth + 1)
            else:
                mark = event.start_mark
                line, col = mark.line, mark.column
                value, tree = self.node(event, depth + 1)
            data[key] = value
            kids[key] = (key_mark.line, key_mark.column, line, col, tree)
        mark = start.start_mark
        return data, (mark.line, mark.column, kids)

    def sequence(self, start: Any, depth: int) -> tuple[list[Any], Any]:
        if start.tag is not None:
            raise _Decline
        next_event = self.next
        data: list[Any] = []
        kids: list[tuple[int, int, Any]] = []
        while True:
            event = next_event()
            kind = type(event)
            if kind is SequenceEndEvent:
                break
            if kind is AliasEvent:
                value, tree, line, col = self.alias(event, depth + 1)
            else:
                mark = event.start_mark
                line, col = mark.line, mark.column
                value, tree = self.node(event, depth + 1)
            data.append(value)
            kids.append((line, col, tree))
        mark = start.start_mark
        return data, (mark.line, mark.column, kids)

    def alias(self, event: Any, depth: int) -> tuple[Any, Any, int, int]:
        """A fresh copy of an anchor's data, its positions, and its anchor's position."""
        found = self.anchors.get(event.anchor)
        if found is None:
            raise _Decline
        data, tree, line, col = found
        return self.copy(data, depth), tree, line, col

    def copy(self, data: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.nodes_limit or depth > self.depth_limit:
            raise _Decline  # an alias bomb, or aliases nested too deep
        if type(data) is dict:
            return {k: self.copy(v, depth + 1) for k, v in data.items()}
        if type(data) is list:
            return [self.copy(v, depth + 1) for v in data]
        return data
