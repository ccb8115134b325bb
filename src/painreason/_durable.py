"""Typed adapter over the durable-rules 2.0.28 C engine; the only module that imports durable.

It knows nothing of clinical rules: it runs *clauses* (conjunctions of patterns over flat facts)
and reports which facts satisfied each one. Every limit and trap of the C core is handled here,
so callers get correct firings or a :class:`~painreason.errors.CapacityError` /
:class:`~painreason.errors.EngineError`, never a hang, a crash or a raw durable exception.

Semantics (the python backend must match them):

- A test ``(field, op, value)`` holds when the fact has ``field``, its value is of the same kind
  as ``value`` -- str, number (int or float) or bool: ``True`` never equals ``1`` nor ``"1"``
  equals ``1`` -- and ``fact[field] <op> value``. A missing field or another kind makes every
  test on it false, ``ne`` included. ``lt``/``le``/``gt``/``ge`` take numbers only.
- A clause fires once per ordered combination of *distinct* facts, one per pattern (durable's
  default ``dist``: one fact never fills two patterns of one firing). Facts are never retracted,
  so firings do not depend on the order facts are asserted in.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import math
import re
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii as _quote  # json.dumps(str), without its overhead
from types import SimpleNamespace, TracebackType
from typing import Any, Literal

from painreason.errors import (
    BackendUnavailableError,
    CapacityError,
    EngineError,
    PainreasonError,
)

__all__ = [
    "Clause",
    "DurableRuleset",
    "DurableSession",
    "Firing",
    "Op",
    "Pattern",
    "Test",
    "available",
]

Op = Literal["eq", "ne", "lt", "le", "gt", "ge"]
Test = tuple[str, Op, str | int | float | bool]
Pattern = tuple[Test, ...]
Clause = tuple[Pattern, ...]
Firing = tuple[str, tuple[str, ...]]
_T = tuple[str, str, Any]  # an encoded test: (durable property, op, canonical value)
_Pat = tuple[_T, ...]
# an encoded fact: id, content (field -> kind, value), fields per ruleset, problems, tested count
_Encoded = tuple[str, dict[str, tuple[str, Any]], list[str], list[str], int]

# Limits of the C core (src/rules/*.h, *.c), each probed on 2.0.28.
_MAX_FRAMES = 16  # MAX_MESSAGE_FRAMES: facts one rule joins (error 304, at assert time only)
_MAX_CHILDREN = 511  # NEXT_BUCKET_LENGTH 512 slots: 512 tests hang every assert, 513 the build
_MAX_STACK = 64  # MAX_STACK_SIZE: alpha nodes one fact keeps pending at once (error 303)
# BETA_LIST_LENGTH 256: rules sharing one identical pattern. The list needs a 0 after its last
# entry: a 256th is accepted (257 give error 108), but then every fact reaching the pattern
# runs on into the next list in durable's pool and joins as another pattern (wrong firings)
_MAX_BETA = 255
_MAX_ACTIONS = 4096  # MAX_ACTIONS: rules in one ruleset (error 106)
_MAX_SESSIONS = 1024  # MAX_STATE_INDEX_LENGTH: live sids; the next is a MemoryError, then crashes
_MAX_FIELDS = 250  # MAX_OBJECT_PROPERTIES is 255, id and sid included (error 302)
_MAX_STRING = 65_534  # strings are compared with 16-bit lengths: longer ones compare wrongly
_MAX_INT = 2**53  # ints are compared with floats as doubles: exact up to 2**53
_POOL = 4  # idle sessions a ruleset keeps for reuse (reuse_sessions=True)
# Facts (with chain facts and sentinels) a reused session may hold; the next case starts a
# new one. Each costs durable about 9 kB (a message node of 255 property slots).
_SID_FACTS = 2048
_CASE = "@c"  # the case number within a session, on every fact: rules join only on equal ones
_LEASE = 10  # seconds an action may run before durable's own loop gives it up
_CACHE = 65_536  # encoded facts a ruleset keeps (cleared when full)
_FANOUT = 16  # more 'eq' values than this on one property get a bucket test in front

_OPS = {"eq": "", "ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SENTINEL: _Pat = (("@pr", "eq", "open"),)
_CODES = {  # durable's rules.h: the codes that could still surface through this adapter
    int(line[:3]): line[4:]
    for line in """\
101 out of memory, or more than 1,024 live sessions
106 more than 4,096 rules, or 512 tests under one alpha node
108 more than 256 rules share one pattern
112 more than 131,072 rulesets in this process
204 JSON not parsed
302 more than 255 properties in one fact
303 one fact matched more than 64 alpha tests at once
304 more than 16 facts joined by one rule
307 node deleted while in use
309 unknown session id
314 value larger than 16 MiB""".splitlines()
}
_CAPACITY_CODES = {101, 106, 107, 108, 112, 113, 302, 303, 304, 313, 314}
_ruleset_numbers = itertools.count()
_PLAIN = frozenset({str, int, float, bool})
_ALIASES = tuple(f"p{i}" for i in range(_MAX_FRAMES))
_ALIAS_NUMBERS = tuple(str(i) for i in range(_MAX_FRAMES))
_FRAME_IDS = re.compile(r'"p(\d+)":\{"sid":"[^"]*","id":"([^"]*)"')


def available() -> bool:
    """Return whether durable-rules can be imported here (it cannot on Python 3.13).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return _backend() is not None


@functools.cache
def _backend() -> Any:
    """Import durable on first use (never at import time); ``None`` when it cannot be imported."""
    try:
        from durable import engine
    except ImportError:  # 3.13: "undefined symbol: PyEval_CallObject"
        return None
    core = engine.durable_rules_engine
    # Leases are timed with datetime.utcfromtimestamp: deprecated in 3.12 (an error under
    # -W error), and a wall clock, so a DST or clock step during an action silently drops the
    # case's remaining actions. Only differences are taken: a monotonic clock is a safe swap.
    engine._unix_now = time.monotonic

    class Ruleset(engine.Ruleset):  # type: ignore[misc]
        def __init__(self, name: str, host: Any, definition: dict[str, Any]) -> None:
            # Not super().__init__: it json.dumps the definition, and the C parser rejects
            # the floats json writes without a '.', such as 1e-07 (error 204).
            self._name, self._host, self._definition = name, host, definition
            self._actions = {}
            for key, rule in definition.items():
                self._actions[key] = engine.Promise(host.get_action(rule["run"]))
            rules = {key: {"all": rule["all"]} for key, rule in definition.items()}
            self._handle = core.create_ruleset(name, _json(rules))
            # durable never frees a C ruleset (~1.7 MB each, 131,072 at most per process),
            # nor the state of sessions still open when it goes: free the pooled ones first
            weakref.finalize(self, _free_ruleset, core, self._handle, host._painreason_idle)

    class Host(engine.Host):  # type: ignore[misc]
        def __init__(
            self,
            actions: Mapping[str, Callable[[Any], None]],
            idle: list[Any] | None = None,
            quick: Mapping[str, Firing] | None = None,
        ) -> None:
            self._painreason_actions = actions
            self._painreason_idle = [] if idle is None else idle  # the pooled sessions
            # actions that only report their clause, once a session: done in the loop below,
            # into (fired, new) of the session asserting (None: every action is called)
            self._painreason_quick = {} if quick is None else quick
            self._painreason_seen: tuple[set[Firing], list[Firing]] | None = None
            super().__init__()

        def _run(self) -> None:
            """Start no threads: durable's two everlasting timer threads run actions off the
            caller's thread and race delete_state (error 307). Here actions run in assert_json."""

        def get_action(self, name: str) -> Callable[[Any], None]:
            return self._painreason_actions[name]

        def register_rulesets(self, definitions: dict[str, Any]) -> list[str]:
            for name, definition in definitions.items():
                if name in self._ruleset_directory:
                    raise EngineError(f"durable ruleset {name!r} is already registered")
                self._ruleset_directory[name] = Ruleset(name, self, definition)
                self._ruleset_list.append(self._ruleset_directory[name])
            return list(definitions)

        def assert_json(self, name: str, text: str) -> tuple[int, Any]:
            """Assert one fact, run its actions now; return (durable result code, state).

            Not durable's ``do_actions``: per action, it parses the session state, wraps it
            and the frames in a Closure and a Promise, then serialises the state back and
            re-asserts it (``update_state``), although no action here reads or changes it.
            This loop makes the same C calls to start and complete each action, and hands the
            action durable's text of the matched frames, unparsed.
            """
            handle = self._ruleset_directory[name]._handle
            many = text[0] == "["  # a JSON list of facts: 1 when any of them matched nothing
            code, state_handle = (core.assert_facts if many else core.assert_fact)(handle, text)
            if code != 0 and (code != 1 or not many):  # 1: matched nothing (normal), 2: already
                return code, None  # observed, 3: deferred
            started = core.start_action_for_state(handle, state_handle)
            messages = started[1] if started else None
            actions, quick, seen = self._painreason_actions, self._painreason_quick, None
            if quick:
                seen = self._painreason_seen
            while messages:
                # '{"<action>":{"p0":{<fact as sent>},...}}': one action per call, as
                # durable's own loop takes (its first entry); action names hold no quote
                name = messages[2 : messages.index('"', 2)]
                if seen is not None and (firing := quick.get(name)) is not None:
                    if firing not in seen[0]:  # no code of ours runs: no lease to watch
                        seen[0].add(firing)
                        seen[1].append(firing)
                    messages = core.complete_and_start_action(handle, state_handle)
                    continue
                begun = time.monotonic()
                try:
                    actions[name](messages)
                except BaseException:
                    core.abandon_action(handle, state_handle)
                    raise
                if time.monotonic() - begun > _LEASE:  # durable may have handed it on
                    core.abandon_action(handle, state_handle)
                    raise EngineError("durable-rules abandoned an action (lease expired)")
                messages = core.complete_and_start_action(handle, state_handle)
            return code, None

    return SimpleNamespace(core=core, Host=Host)


def _free_ruleset(core: Any, handle: int, idle: list[tuple[str, ...]]) -> None:
    """Free a C ruleset, after the state of its pooled sessions (each holds its cases' facts).

    A finalizer: it must hold no reference to the ruleset or its host, only the list of idle
    sessions they share; every shard's finalizer frees the idle sessions of its own handle.
    """
    for sid, *_ in idle:
        with contextlib.suppress(Exception):  # a finalizer cannot report; the ruleset goes
            core.delete_state(handle, sid)
    core.delete_ruleset(handle)


def _matched_ids(message: str, count: int) -> list[str]:
    """The durable ids of the facts an action matched, in pattern order.

    ``message`` is durable's ``{"<action>":{"p0":{<fact>},"p1":...}}``, each fact the text
    this adapter sent, which starts with its sid and id. In a JSON text ``"p<n>":{"sid":"``
    can only open a frame (quotes inside strings are escaped); anything else is parsed.
    """
    found = _FRAME_IDS.findall(message)
    if tuple(alias for alias, _ in found) == _ALIAS_NUMBERS[:count]:
        return [mid for _, mid in found]
    frames = next(iter(json.loads(message).values()))
    return [frames[alias]["id"] for alias in _ALIASES[:count]]


def _fnv1a32(text: str) -> int:
    """durable tells sids, fact ids and property names apart by this 32-bit hash alone."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def _kind(value: object) -> str:
    """The kind suffix of a value ('s', 'n', 'b'), or '' when durable cannot hold it exactly."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "n" if abs(value) <= _MAX_INT else ""
    if isinstance(value, float):
        return "n" if math.isfinite(value) else ""
    return "s" if isinstance(value, str) else ""


def _json(value: Any) -> str:
    """JSON as durable's C parser reads it: ASCII, and floats always with a '.' (1.0e-07)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        mantissa, exp, power = repr(value).partition("e")
        return f"{mantissa}.0e{power}" if exp and "." not in mantissa else repr(value)
    return int.__repr__(value) if isinstance(value, int) else _quote(value)


def _show(tests: Sequence[_T]) -> str:
    return " and ".join(f"{p.rpartition('@')[0] or p} {op} {v!r}" for p, op, v in tests) or "root"


def _translate(exc: Exception, doing: str) -> EngineError:
    """Turn what durable raised (``... error code: N``, MemoryError for 101, ...) into ours."""
    found = re.search(r"error code: (\d+)", str(exc))
    if not found and not isinstance(exc, MemoryError):
        return EngineError(f"durable-rules failed while {doing}: {exc!r}")
    code = int(found[1]) if found else 101
    kind = CapacityError if code in _CAPACITY_CODES else EngineError
    return kind(f"durable-rules error {code} ({_CODES.get(code, 'see rules.h')}) while {doing}")


def _test_problem(field: Any, op: Any, value: Any) -> str:
    if not isinstance(field, str) or not _FIELD.fullmatch(field):
        return f"field must be an identifier (got {field!r})"
    if op not in _OPS:
        return f"op must be one of {sorted(_OPS)} (got {op!r})"
    if not _kind(value):
        return f"value must be a str, bool, finite float or int within 2**53 (got {value!r:.40})"
    if op not in ("eq", "ne") and _kind(value) != "n":  # durable orders strings wrongly
        return f"{op!r} needs an int or float (got {value!r:.40})"
    if field == "id" and not isinstance(value, str):
        return f"'id' is the fact id, a str (got {value!r})"
    return ""


def _encode(key: Any, clause: Any, problems: list[str]) -> tuple[_Pat, ...]:
    """Validate one clause and encode its tests; append what is wrong to ``problems``."""
    if not isinstance(key, str) or not isinstance(clause, Sequence) or not clause:
        problems.append(f"clause {key!r}: must map a str key to a non-empty sequence of patterns")
        return ()
    patterns = []
    for i, pattern in enumerate(clause):
        tests: list[_T] = []
        for test in pattern if isinstance(pattern, Sequence) else ():
            ok = isinstance(test, Sequence) and not isinstance(test, str) and len(test) == 3
            problem = _test_problem(*test) if ok else f"a test is (field, op, value), not {test!r}"
            if problem:
                problems.append(f"clause {key!r}, pattern {i}: {problem}")
                continue
            field, op, value = test
            prop = f"{field}@{_kind(value)}"
            if prop[-1] == "n" and float(value).is_integer() and abs(value) <= _MAX_INT:
                value = int(value)  # 1.0 and 1 would be two alpha nodes that one fact matches
            tests.append((prop, op, value))
        if not isinstance(pattern, Sequence) or not pattern:
            problems.append(f"clause {key!r}, pattern {i}: must be a non-empty sequence of tests")
        patterns.append(tuple(tests))
    return tuple(patterns)


def _buckets(patterns: Iterable[_Pat]) -> dict[str, dict[Any, int]]:
    """Bucket numbers for the values of properties tested 'eq' against many values.

    durable-rules keeps a node's successor tests in one open-addressed table of 512 slots
    hashed by property name alone: the 'eq' tests of one property all probe the same chain,
    which every fact walks, comparing each value. Hundreds of findings after one
    discriminator cost ~20 us a fact, and over 511 hang durable. A bucket test in front of
    each such 'eq' test (``n@s@b`` = a number the value determines) splits one long chain
    into two of about the square root of its length: both cheap, and far from the limit.
    """
    values: defaultdict[str, dict[Any, None]] = defaultdict(dict)
    for pattern in patterns:
        for prop, op, value in pattern:
            if op == "eq" and prop[0] != "@":
                values[prop][value] = None
    buckets = {}
    for prop, seen in values.items():
        if len(seen) > _FANOUT:
            size = math.isqrt(len(seen) - 1) + 1
            buckets[prop] = {v: i // size for i, v in enumerate(seen)}
    return buckets


def _with_buckets(pats: tuple[_Pat, ...], buckets: dict[str, dict[Any, int]]) -> tuple[_Pat, ...]:
    """``pats`` with each bucketed 'eq' test preceded by its bucket test."""
    out = []
    for pattern in pats:
        tests: list[_T] = []
        for prop, op, value in pattern:
            if op == "eq" and prop in buckets:
                tests.append((f"{prop}@b", "eq", buckets[prop][value]))
            tests.append((prop, op, value))
        out.append(tuple(tests))
    return tuple(out)


def _check_alpha(patterns: Sequence[tuple[str, _Pat]]) -> dict[_Pat, int]:
    """Refuse, before durable sees them, alpha networks that would hang or overflow its stack;
    return, per pattern, how many join tests could follow it before the stack overflows."""
    children: defaultdict[_Pat, set[_T]] = defaultdict(set)
    owners: defaultdict[_Pat, set[str]] = defaultdict(set)
    for key, pattern in patterns:  # durable shares identical test prefixes: a trie
        for depth, test in enumerate(pattern):
            children[pattern[:depth]].add(test)
            owners[pattern[:depth]].add(key)
            if isinstance(test[2], str) and len(json.dumps(test[2])) - 2 > _MAX_STRING:
                raise CapacityError(
                    f"clause {key!r}: a test value of {len(test[2]):,} characters is over "
                    f"{_MAX_STRING:,} bytes escaped (durable-rules compares strings with 16-bit "
                    "lengths; its own limit is 16 MiB); fix: keep free text out of clauses"
                )

    def who(node: _Pat) -> str:
        return ", ".join(repr(k) for k in sorted(owners[node] - {""})[:5])  # "": internal

    for node, tests in children.items():
        if len(tests) > _MAX_CHILDREN:
            raise CapacityError(
                f"clauses {who(node)}: {len(tests)} distinct tests follow '{_show(node)}' (limit "
                f"{_MAX_CHILDREN}: durable-rules hangs with more); fix: start every pattern "
                "with an 'eq' discriminator so that no test has over 511 successors"
            )
    height, width = _stack(children)
    # Tests still pending when a fact reaches a node: each ancestor's other children it may
    # satisfy. At a pattern's last test the fact also pushes that node's children and joins.
    pending: dict[_Pat, int] = {(): 0}
    for node in sorted(children, key=len):
        for test in children[node]:
            pending[(*node, test)] = pending[node] + width[node] - 1
    # 2 spare: the bound is derived from durable's source, not from durable's own count
    room = {p: _MAX_STACK - 2 - pending[p] - width.get(p, 0) for _, p in patterns}
    if height.get((), 0) > _MAX_STACK:
        node = max(width, key=lambda n: (width[n], -len(n)))
        raise CapacityError(
            f"clauses {who(node)}: one fact could satisfy {height[()]} alpha tests at once "
            f"(limit {_MAX_STACK}, durable-rules error 303), {width[node]} of them right after "
            f"'{_show(node)}'; fix: use 'eq' discriminators, fewer non-'eq' tests per path"
        )
    return room


def _stack(children: Mapping[_Pat, set[_T]]) -> tuple[dict[_Pat, int], dict[_Pat, int]]:
    """Per node of an alpha trie, the most nodes a fact can have pending at once from there,
    and how many of its children one fact can satisfy.

    A fact pops a node and pushes each child it satisfies (durable's ``handleAlpha`` keeps a
    stack of 64): per property at most one 'eq' value can hold, every other op may. Internal
    facts ('@' properties) never meet user tests, so those do not add up; a join test
    (op ``"join"``) is pushed for every fact that has the property, so each one does.
    """
    height: dict[_Pat, int] = {}
    width: dict[_Pat, int] = {}
    for node in sorted(children, key=len, reverse=True):
        ops = [(p, op) for p, op, _ in children[node] if p[0] != "@" or op == "join"]
        width[node] = len({p for p, op in ops if op == "eq"}) + sum(op != "eq" for _, op in ops)
        deepest = max(height.get((*node, t), 0) for t in children[node])
        height[node] = width[node] - 1 + max(1, deepest)
    return height, width


class DurableRuleset:
    """Clauses compiled into durable-rules rulesets, ready to run cases.

    Parameters
    ----------
    clauses : Mapping[str, Clause]
        Clause key -> patterns. Each pattern is a tuple of ``(field, op, value)`` tests that
        one fact must all satisfy, discriminator first, such as ``("t", "eq", "f")``.
        A clause may have any number of patterns (over 16 are chained internally).
    reuse_sessions : bool
        Keep up to 4 durable sessions open between cases: a session that ends cleanly serves
        the next case, whose facts carry a new case number that every rule joins on (nothing
        is retracted: durable-rules reads freed memory when it retracts a fact an action saw).
        durable-rules sets up per-session memory sized by the whole ruleset on a session's
        first fact (about 40 ms with the bundled knowledge) and frees it in ``delete_state``;
        reuse pays that once per 2,048 facts instead of once a case, about 60 times faster
        with the bundled knowledge. A session that fails is deleted as without reuse.
    ids : bool
        Report which facts each firing matched. With ``False`` a clause's firings are one
        ``(key, ())`` the first time it fires in a session: its matched facts are not read
        (clauses over 16 patterns still read them, to keep one fact per pattern).

    Raises
    ------
    BackendUnavailableError
        durable-rules cannot be imported here.
    CapacityError
        The clauses exceed a limit of the C core that sharding cannot lift.
    ValueError
        A clause is malformed (every problem is listed).

    Examples
    --------
    >>> fever = ((("t", "eq", "f"), ("id", "eq", "temp"), ("v", "ge", 38.0)),)
    >>> rs = DurableRuleset({"fever": fever})
    >>> rs.run([{"id": "temp", "t": "f", "v": 38.5}, {"id": "hr", "t": "f", "v": 80}])
    [('fever', ('temp',))]
    """

    def __init__(
        self, clauses: Mapping[str, Clause], *, reuse_sessions: bool = False, ids: bool = True
    ) -> None:
        backend = _backend()
        if backend is None:
            raise BackendUnavailableError("durable-rules cannot be imported on this Python")
        problems: list[str] = []
        # Durable rules, numbered: (clause key, patterns, starts with a chain fact?, final?).
        # Over 16 patterns: the first 16, then a chain fact and 15 more per stage.
        self._rules: list[tuple[str, tuple[_Pat, ...], bool, bool]] = []
        sizes = []
        encoded = [(key, _encode(key, clause, problems)) for key, clause in clauses.items()]
        # A pattern after a rule's first carries a join test, an alpha node of that rule's own
        # (see _pattern_json): each rule leads with its most shared pattern, which then needs
        # none. Per permuted rule, where each pattern of the clause went (firings keep the
        # clause's order).
        uses = Counter(p for _, pats in encoded for p in pats)
        self._order: dict[int, tuple[int, ...]] = {}
        for key, pats in encoded:
            if 1 < len(pats) <= _MAX_FRAMES:
                lead = max(range(len(pats)), key=lambda i: (uses[pats[i]], -i))
                if lead:
                    moved = (lead, *(i for i in range(len(pats)) if i != lead))
                    self._order[len(self._rules)] = tuple(map(moved.index, range(len(pats))))
                    pats = tuple(pats[i] for i in moved)
            cuts = [0, *range(_MAX_FRAMES, len(pats), _MAX_FRAMES - 1), len(pats)]
            for stage, (start, end) in enumerate(itertools.pairwise(cuts)):
                chain = ((("@pr", "eq", "chain"), ("@st", "eq", len(self._rules))),)
                final = end == len(pats)
                self._rules.append(
                    (key, (*chain[: bool(stage)], *pats[start:end]), stage > 0, final)
                )
            sizes.append(len(cuts) - 1)
        if problems:
            raise ValueError("invalid clauses:\n  " + "\n  ".join(problems))
        self._buckets = _buckets(p for r in self._rules for p in r[1])
        if self._buckets:
            self._rules = [
                (k, _with_buckets(ps, self._buckets), c, f) for k, ps, c, f in self._rules
            ]
        # A join test (see _pattern_json) is an alpha node of its rule's own under the pattern
        # it follows: durable shares none, and a fact that reaches the pattern pushes them all
        # on top of the tests still pending (error 303). Bounded per pattern and ruleset by
        # sharding; joins of patterns that extend one another add up, hence the check after.
        self._room = _check_alpha(
            [("", _SENTINEL)] + [(r[0], p) for r in self._rules for p in r[1]]
        )
        self._thin = 1  # each pattern's room is divided by this
        self._shard_of = self._shard(sizes)
        while (deepest := self._deepest_stack()) > _MAX_STACK:
            if max(self._room.values()) // self._thin <= 1:
                raise CapacityError(
                    f"one fact could have {deepest} alpha tests pending at once with the join "
                    f"tests (limit {_MAX_STACK}, durable-rules error 303); fix: fewer non-'eq' "
                    "tests per pattern, or fewer patterns that extend one another"
                )
            self._thin *= 2
            self._shard_of = self._shard(sizes)
        # Per ruleset, the properties some test reads -> longest str value tested on it
        self._tested: list[dict[str, int]] = [{} for _ in range(max(self._shard_of, default=0) + 1)]
        for (_, pats, _, _), shard in zip(self._rules, self._shard_of, strict=True):
            for prop, _, value in (t for p in pats for t in p if t[0][0] != "@"):
                if prop.endswith("@b") and prop[:-2] in self._buckets:
                    continue  # a bucket: the adapter computes it from the value
                size = len(json.dumps(value)) - 2 if isinstance(value, str) else 0
                self._tested[shard][prop] = max(size, self._tested[shard].get(prop, 0))
        props = {"id", "sid", "$s", "@pr", "@st", _CASE}.union(*self._tested)
        props.update(f"{p}@b" for p in self._buckets)
        hashes = {_fnv1a32(p): p for p in sorted(props)}
        if len(hashes) < len(props):  # durable would read the two fields as one
            clash = sorted(props - set(hashes.values())) + sorted(set(hashes.values()))
            raise CapacityError(f"fields share durable's 32-bit name hash among {clash}: rename")
        number = next(_ruleset_numbers)  # unique per instance: durable registries refuse repeats
        self._names = [f"painreason_{number}_{s}" for s in range(len(self._tested))]
        sentinel = {"all": [{"p0": {"@pr": "open"}}], "run": "open"}
        self._definition: dict[str, dict[str, Any]] = {n: {"open": sentinel} for n in self._names}
        actions = {"open": self._action(-1)}
        for index, (_, pats, _, _) in enumerate(self._rules):
            rule = [{f"p{i}": _pattern_json(p, joined=i > 0)} for i, p in enumerate(pats)]
            name = self._names[self._shard_of[index]]
            self._definition[name][f"r{index}"] = {"all": rule, "run": f"r{index}"}
            actions[f"r{index}"] = self._action(index)
        self._encoded: dict[Any, _Encoded] = {}  # fact items and their types -> encoding
        self._lock = threading.Lock()  # one C call at a time, so actions know their session
        self._sink: DurableSession | None = None
        self._live: dict[int, str] = {}  # hash -> sid of the open sessions (idle ones too)
        self._sids = itertools.count()
        self._reuse = reuse_sessions
        self._ids = ids
        # pooled sessions: sid, shards opened, next fact id, hashes in use, last case number
        self._idle: list[tuple[str, int, int, set[int], int]] = []
        self._mid_seq: list[tuple[str, int]] = []  # fact ids "0", "1", ... and their hashes
        quick = {  # what _fire does for these, without calling it
            f"r{index}": (key, ())
            for index, (key, _, chained, final) in enumerate(self._rules)
            if final and not chained and not ids
        }
        self._host = backend.Host(actions, self._idle, quick)
        try:  # set_rulesets deletes "run" from what it is given: keep ours intact
            self._host.set_rulesets(copy.deepcopy(self._definition))
        except PainreasonError:
            raise
        except Exception as exc:
            raise _translate(exc, "building the ruleset") from exc

    def _shard(self, sizes: list[int]) -> list[int]:
        """Place each clause's rules in the first ruleset with room: for their rules (error
        106), for rules on one pattern (108) and for join tests after one pattern (303)."""
        loads: list[tuple[Counter[_Pat], Counter[_Pat], list[int]]] = []
        placed: list[int] = []
        for size in sizes:
            rules = self._rules[len(placed) : len(placed) + size]
            need = Counter(p for r in rules for p in r[1])
            joins = Counter(p for r in rules for p in r[1][1:])
            if max(need.values()) > _MAX_BETA or size >= _MAX_ACTIONS:  # +1: the sentinel
                raise CapacityError(
                    f"clause {rules[0][0]!r}: {max(need.values())} uses of one pattern or "
                    f"{size} rules exceed durable-rules' {_MAX_BETA} / {_MAX_ACTIONS - 1} "
                    "(errors 108, 106); fix: split the clause"
                )
            tight = [p for p, n in joins.items() if n > self._joins(p)]
            if tight:
                raise CapacityError(
                    f"clause {rules[0][0]!r}: '{_show(tight[0])}' is followed by "
                    f"{joins[tight[0]]} join tests, {self._joins(tight[0])} fit on durable-rules' "
                    "stack of pending alpha tests (error 303); fix: split the clause"
                )
            loads.append((Counter({_SENTINEL: 1}), Counter(), [1]))  # a fresh one, if needed
            fits = (
                count[0] + size <= _MAX_ACTIONS
                and all(used[p] + n <= _MAX_BETA for p, n in need.items())
                and all(joined[p] + n <= self._joins(p) for p, n in joins.items())
                for used, joined, count in loads
            )
            shard = next(s for s, ok in enumerate(fits) if ok)
            if shard < len(loads) - 1:
                loads.pop()
            loads[shard][0].update(need)
            loads[shard][1].update(joins)
            loads[shard][2][0] += size
            placed += [shard] * size
        return placed

    def _joins(self, pattern: _Pat) -> int:
        """How many join tests may follow ``pattern`` in one ruleset."""
        return self._room[pattern] // self._thin

    def _deepest_stack(self) -> int:
        """The most alpha nodes one fact can have pending in any ruleset, join tests counted."""
        shards = max(self._shard_of, default=0) + 1
        tries: list[defaultdict[_Pat, set[_T]]] = [defaultdict(set) for _ in range(shards)]
        placed = zip(self._rules, self._shard_of, strict=True)
        for index, ((_, pats, _, _), shard) in enumerate(placed):
            children = tries[shard]
            for position, pattern in enumerate(pats):
                for depth, test in enumerate(pattern):
                    children[pattern[:depth]].add(test)
                if position:  # see _pattern_json: one node of its own per rule and pattern
                    children[pattern].add((_CASE, "join", (index, position)))
        return max((_stack(children)[0].get((), 0) for children in tries), default=0)

    def _action(self, index: int) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            session = self._sink
            try:
                self._fire(index, c)
            except BaseException as exc:  # durable swallows it: keep it, re-raise after the call
                if session is not None:
                    session._errors.append(exc)

        return action

    def _fire(self, index: int, c: Any) -> None:
        session = self._sink
        if session is None:
            raise EngineError("a durable action ran outside an assert call")
        if index < 0:
            session._opened += 1
            return
        key, pats, chained, final = self._rules[index]
        if final and not chained and not self._ids:  # which clause, not which facts
            if (key, ()) not in session._fired:
                session._fired.add((key, ()))
                session._new.append((key, ()))
            return
        mids = _matched_ids(c, len(pats))
        ids = tuple(session._user[m] for m in mids[chained:])
        if (where := self._order.get(index)) is not None:  # back in the clause's order
            ids = tuple(ids[j] for j in where)
        if chained:
            ids = session._chains[mids[0]] + ids
            if len(set(ids)) < len(ids):  # one fact per pattern holds across stages too
                return
        if not final:  # hand the combination on to the next stage as a chain fact
            mid = session._new_mid()
            session._chains[mid] = ids
            fact = (
                f'{{"sid":"{session._sid}","id":"{mid}","{_CASE}":{session._case},'
                f'"@pr":"chain","@st":{index + 1}}}'
            )
            session._pending.append((self._shard_of[index + 1], fact))
        elif (firing := (key, ids if self._ids else ())) not in session._fired:
            session._fired.add(firing)
            session._new.append(firing)

    def encode(self, fact: Mapping[str, Any]) -> _Encoded:
        """Check and encode one fact for :meth:`DurableSession.assert_encoded`.

        Raises
        ------
        ValueError
            The fact is malformed (every problem is listed).
        """
        problems: list[str] = []
        hit = self._lookup(0, fact, problems)
        if hit is None or problems:
            raise ValueError("invalid facts:\n  " + "\n  ".join(problems))
        return hit

    def _lookup(self, i: int, fact: Any, problems: list[str]) -> _Encoded | None:
        """Fact ``i`` encoded, from the cache when seen before; None if it has no str id."""
        cache = self._encoded
        try:  # the types too: True == 1 == 1.0, and each is sent as its own kind
            key: Any = (tuple(fact.items()), tuple(map(type, fact.values())))
            hit = cache.get(key)
        except (AttributeError, TypeError):  # not a mapping, or an unhashable value
            key, hit = None, None
        if hit is None:
            uid = fact.get("id") if isinstance(fact, Mapping) else None
            if not isinstance(uid, str):
                problems.append(f"fact {i}: must be a mapping with a str 'id' (got {fact!r:.60})")
                return None
            hit = self._encode_fact(uid, fact)
            if hit[3]:
                problems.extend(f"fact {i} ({uid!r}): {bad}" for bad in hit[3])
            elif key is not None and _PLAIN.issuperset(key[1]):  # no subclass: exact ==
                if len(cache) >= _CACHE:
                    cache.clear()
                cache[key] = hit
        return hit

    def _encode_fact(self, uid: str, fact: Mapping[str, Any]) -> _Encoded:
        """A fact's content (field -> kind, value), its fields as each ruleset reads them
        (JSON, buckets included), what is wrong with it, and how many fields are tested."""
        content = {name: (_kind(value), value) for name, value in fact.items()}
        bad = [
            f"bad field {name!r}: {value!r:.40}"
            for name, (kind, value) in content.items()
            if not isinstance(name, str) or not _FIELD.fullmatch(name) or not kind
        ]
        props = [(f"{n}@{k}", v) for n, (k, v) in content.items()]
        texts = [[_field_json(p, v, t[p]) for p, v in props if p in t] for t in self._tested]
        for p, v in props:  # a value no test reads 'eq' gets no bucket: none holds
            if (bucket := self._buckets.get(p, {}).get(v)) is not None:
                for t, chosen in zip(self._tested, texts, strict=True):
                    if p in t:
                        chosen.append(f'"{p}@b":{bucket}')
        count = max(map(len, texts))
        return uid, content, [",".join(t) for t in texts], bad, count

    def _send(self, session: DurableSession, shard: int, text: str) -> None:
        code, state = self._host.assert_json(self._names[shard], text)
        if session._errors:
            error = session._errors[0]
            if not isinstance(error, Exception):
                raise error
            raise EngineError(f"a durable action failed: {error!r}") from error
        if code not in (0, 1) or (state is not None and "exception" in state):
            detail = state["exception"] if state else f"result code {code}"
            raise EngineError(f"durable-rules failed on a fact: {detail}")

    def session(self) -> DurableSession:
        """Return a session for one case, to use as a context manager.

        Returns
        -------
        DurableSession
            Opens a durable session (sid) on ``__enter__``; deletes it on ``__exit__``.
        """
        return DurableSession(self)

    def run(self, facts: Sequence[Mapping[str, Any]]) -> list[Firing]:
        """Assert ``facts`` in a fresh session and return every firing, sorted.

        Parameters
        ----------
        facts : Sequence[Mapping[str, Any]]
            Flat facts, each with a unique str ``"id"``; values are str, int, float or bool.

        Returns
        -------
        list[Firing]
            ``(clause key, ids of the matched facts in pattern order)``, sorted.
        """
        with self.session() as session:
            return session.assert_facts(facts)


def _pattern_json(pattern: _Pat, joined: bool = False) -> dict[str, Any]:
    """A pattern as durable JSON; ``joined``: its fact must be of the first pattern's case."""
    # '$and' keeps the given order: the alpha network fans out by the discriminator first
    tests = [{p: v} if op == "eq" else {_OPS[op]: {p: v}} for p, op, v in pattern]
    if joined:  # an equality on an earlier fact: durable hashes its join memories on it
        tests.append({_CASE: {"p0": _CASE}})
    return tests[0] if len(tests) == 1 else {"$and": tests}


def _field_json(prop: str, value: Any, limit: int) -> str:
    """``"property":value`` for durable; ``limit``: the longest str value tested on it."""
    if isinstance(value, str):
        text = _quote(value)
        # Strings compare with 16-bit lengths, so a long one could pass for a short one.
        # Longer than every tested value, it equals none of them, and neither does this:
        return f'"{prop}":{text if len(text) - 2 <= limit else _quote("~" * (limit + 1))}'
    return f'"{prop}":{_json(value)}'


class DurableSession:
    """One case in a :class:`DurableRuleset`: a durable sid, deleted when the block ends.

    Parameters
    ----------
    ruleset : DurableRuleset
        The ruleset to run; get sessions from :meth:`DurableRuleset.session`.
    """

    def __init__(self, ruleset: DurableRuleset) -> None:
        self._rs, self._sid, self._state = ruleset, "", "new"  # -> open -> closed (or failed)
        self._opened = 0  # rulesets whose sentinel action ran: only those may be deleted
        self._facts: dict[str, dict[str, tuple[str, Any]]] = {}  # user id -> kinds and values
        self._user: dict[str, str] = {}  # durable fact id -> user id
        self._hashes: set[int] = set()  # of the durable fact ids in use: durable's identity
        self._next = 0  # the next candidate in the ruleset's sequence of fact ids
        self._case = 0  # this case's number in the sid: sent with every fact, joined on
        self._chains: dict[str, tuple[str, ...]] = {}  # chain fact id -> user ids so far
        self._pending: list[tuple[int, str]] = []
        self._fired: set[Firing] = set()
        self._new: list[Firing] = []
        self._errors: list[BaseException] = []

    def _new_mid(self) -> str:
        """A durable fact id whose hash no other fact of this session has.

        Ids come from one sequence per ruleset, hashed once; a pooled session goes on
        where its earlier case stopped, since that case's facts stay in the session.
        """
        seq, hashes = self._rs._mid_seq, self._hashes
        while True:
            if (n := self._next) == len(seq):
                seq.append((str(n), _fnv1a32(str(n))))
            self._next = n + 1
            mid, key = seq[n]
            if key not in hashes:
                hashes.add(key)
                return mid

    def __enter__(self) -> DurableSession:
        rs = self._rs
        if self._state != "new":
            raise EngineError("a DurableSession can be entered only once")
        with rs._lock:
            if rs._idle:  # a session of an earlier case: no set-up to pay again
                self._sid, self._opened, self._next, self._hashes, case = rs._idle.pop()
                self._case, self._state = case + 1, "open"
                return self
            if len(rs._live) >= _MAX_SESSIONS:
                raise CapacityError(
                    f"{_MAX_SESSIONS} sessions of this ruleset are open, durable-rules' limit "
                    "(more crash it); fix: close sessions, or use one ruleset per 1,024 workers"
                )
            while _fnv1a32(sid := f"@s{next(rs._sids)}") in rs._live:  # sids: hash identity
                pass
            self._sid, rs._live[_fnv1a32(sid)], rs._sink = sid, sid, self
            self._hashes.add(_fnv1a32(f"sid-{sid}"))  # the id of durable's session-state fact
            try:  # delete_state segfaults on a state where no action ever ran: fire one first
                for shard in range(len(rs._names)):
                    rs._send(
                        self, shard, f'{{"sid":"{sid}","id":"{self._new_mid()}","@pr":"open"}}'
                    )
                if self._opened != len(rs._names):
                    raise EngineError("durable-rules did not run the session sentinel rule")
            except BaseException as exc:
                self._close()
                if isinstance(exc, PainreasonError) or not isinstance(exc, Exception):
                    raise
                raise _translate(exc, "opening a session") from exc
            finally:
                rs._sink = None
        self._state = "open"
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._rs._lock:
            if kind is None and self._state == "open" and self._recycle():
                return
            self._close()

    def _recycle(self) -> bool:
        """Pool the session for the next case; False when it cannot be reused.

        The case's facts stay in the session: durable-rules reads freed memory when it
        retracts a fact that an action has seen (``deleteMessageFromFrame`` walks the
        action's frame after ``complete_and_start_action`` freed it; valgrind shows the
        read, and in about 1 run in 20 of the test suite the process died). Rules join
        only facts of one case number, so an earlier case's facts fire nothing again; a
        session holding ``_SID_FACTS`` facts is deleted instead, which bounds its memory.
        """
        rs = self._rs
        if (
            not rs._reuse
            or len(rs._idle) >= _POOL
            or self._opened != len(rs._names)
            or self._next >= _SID_FACTS
        ):
            return False
        rs._idle.append((self._sid, self._opened, self._next, self._hashes, self._case))
        self._state, self._opened = "closed", 0
        return True

    def _close(self) -> None:
        rs, failure = self._rs, None
        for shard in range(self._opened):
            try:
                rs._host.delete_state(rs._names[shard], self._sid)
            except Exception as exc:
                failure = failure or exc
        rs._live.pop(_fnv1a32(self._sid), None)
        self._state, self._opened = "closed", 0
        if failure is not None:
            raise _translate(failure, "deleting a session") from failure

    def assert_facts(self, facts: Sequence[Mapping[str, Any]]) -> list[Firing]:
        """Assert facts and return the firings they caused, sorted, each reported once.

        Parameters
        ----------
        facts : Sequence[Mapping[str, Any]]
            Flat facts, each with a str ``"id"`` unique in the session; other values are str,
            int, float or bool. Re-asserting an identical fact is ignored.

        Returns
        -------
        list[Firing]
            The firings no earlier call of this session returned.

        Raises
        ------
        ValueError
            A fact is malformed or reuses an id with other values (all problems are listed).
        CapacityError
            A fact has more than 250 fields that clauses test.
        EngineError
            durable-rules failed; the session cannot be used after that.
        """
        problems: list[str] = []
        lookup = self._rs._lookup
        hits = ((i, lookup(i, fact, problems)) for i, fact in enumerate(facts))
        return self._assert_hits(hits, problems)

    def assert_encoded(self, facts: Sequence[_Encoded]) -> list[Firing]:
        """:meth:`assert_facts` for facts encoded by :meth:`DurableRuleset.encode`.

        Parameters
        ----------
        facts : Sequence
            Encoded facts; a caller that asserts the same facts case after case keeps
            them encoded, and the adapter reads neither their fields nor their values again.

        Returns
        -------
        list[Firing]
            As :meth:`assert_facts`.
        """
        return self._assert_hits(enumerate(facts), [])

    def _assert_hits(
        self, hits: Iterable[tuple[int, _Encoded | None]], problems: list[str]
    ) -> list[Firing]:
        """Queue the encoded facts (None: a fact whose problem is already in ``problems``)
        and assert them; the session must be open."""
        if self._state != "open":
            raise EngineError(f"session is {self._state}: use 'with ruleset.session() as s:'")
        sends: list[tuple[str, list[str]]] = []
        batch, queued = dict(self._facts), set[str]()
        for i, hit in hits:
            if hit is not None:
                self._queue(i, hit, batch, sends, queued, problems)
        return self._assert(batch, sends, problems)

    def _queue(
        self,
        i: int,
        hit: _Encoded,
        batch: dict[str, Any],
        sends: list[tuple[str, list[str]]],
        queued: set[str],
        problems: list[str],
    ) -> None:
        """Queue fact ``i`` to be sent unless this session has it; report an id reused."""
        uid, content, per_shard, _, count = hit
        if (old := batch.setdefault(uid, content)) is not content and old != content:
            problems.append(f"fact {i} ({uid!r}): differs from the fact asserted with this id")
        elif uid not in self._facts and uid not in queued:
            queued.add(uid)
            sends.append((uid, per_shard))
            if count > _MAX_FIELDS:
                raise CapacityError(
                    f"fact {uid!r} has {count} fields that clauses test (limit {_MAX_FIELDS}:"
                    " durable-rules error 302); fix: split it into smaller facts"
                )

    def _assert(
        self, batch: dict[str, Any], sends: list[tuple[str, list[str]]], problems: list[str]
    ) -> list[Firing]:
        rs = self._rs
        if problems:
            raise ValueError("invalid facts:\n  " + "\n  ".join(problems))
        with rs._lock:
            rs._sink, self._state = self, "failed"
            rs._host._painreason_seen = (self._fired, self._new)
            try:
                groups: list[list[str]] = [[] for _ in rs._names]
                for uid, per_shard in sends:
                    self._facts[uid] = batch[uid]
                    self._user[mid := self._new_mid()] = uid
                    for shard, fields in enumerate(per_shard):
                        if fields:  # a fact no test reads cannot match: spare it
                            groups[shard].append(
                                f'{{"sid":"{self._sid}","id":"{mid}","{_CASE}":{self._case},'
                                f"{fields}}}"
                            )
                while True:  # then chain facts of long clauses, asserted outside actions
                    for shard, group in enumerate(groups):
                        if group:  # one C call per ruleset: firings do not depend on order
                            text = group[0] if len(group) == 1 else f"[{','.join(group)}]"
                            rs._send(self, shard, text)
                    if not self._pending:
                        break
                    groups = [[] for _ in rs._names]
                    for shard, text in self._pending:
                        groups[shard].append(text)
                    self._pending.clear()
            except PainreasonError:
                raise
            except Exception as exc:
                raise _translate(exc, "asserting facts") from exc
            finally:
                rs._sink, rs._host._painreason_seen = None, None
            self._state = "open"
        new, self._new = sorted(self._new), []
        return new
