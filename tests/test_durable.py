"""Tests of the durable-rules adapter: every trap of durable-rules 2.0.28 has a test here."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import math
import operator
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import painreason
from painreason import _durable
from painreason._durable import DurableRuleset, available
from painreason.errors import BackendUnavailableError, CapacityError, EngineError

pytestmark = pytest.mark.skipif(not available(), reason="durable-rules is not importable here")

_SRC = str(Path(painreason.__file__).resolve().parents[1])
_PY_OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


# --- a brute-force reference of the documented semantics -------------------------------------


def _kind(value: Any) -> str:
    return "b" if isinstance(value, bool) else "n" if isinstance(value, int | float) else "s"


def _holds(fact: Mapping[str, Any], test: tuple[str, str, Any]) -> bool:
    field, op, value = test
    return (
        field in fact
        and _kind(fact[field]) == _kind(value)
        and bool(_PY_OPS[op](fact[field], value))
    )


def _oracle(clauses: Mapping[str, Any], facts: Sequence[Mapping[str, Any]]) -> list[Any]:
    out = set()
    for key, clause in clauses.items():
        candidates = [[f for f in facts if all(_holds(f, t) for t in p)] for p in clause]
        for combo in itertools.product(*candidates):
            ids = tuple(f["id"] for f in combo)
            if len(set(ids)) == len(ids):
                out.add((key, ids))
    return sorted(out)


def _finding(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"f{i}", "t": "f", "code": f"c{i}", **extra}


def _pattern(code: str, *more: tuple[str, str, Any]) -> tuple[Any, ...]:
    return (("t", "eq", "f"), ("code", "eq", code), *more)


def _run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": _SRC}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


CLAUSES = {
    "a_and_b": (_pattern("c1"), _pattern("c2")),
    "a_high": (_pattern("c1", ("v", "gt", 5)),),
    "b_not_3": (_pattern("c2", ("v", "ne", 3)),),
    "pair_of_c3": (_pattern("c3"), _pattern("c3")),
    "flag": ((("t", "eq", "f"), ("present", "eq", True)),),
}


@pytest.fixture(scope="module")
def ruleset() -> DurableRuleset:
    return DurableRuleset(CLAUSES)


# --- basic behaviour ------------------------------------------------------------------------


def test_run_returns_sorted_firings_with_fact_ids_in_pattern_order(ruleset: DurableRuleset) -> None:
    facts = [
        {"id": "b", "t": "f", "code": "c2", "v": 1},
        {"id": "a", "t": "f", "code": "c1", "v": 9, "present": True},
        {"id": "x", "t": "f", "code": "c3"},
        {"id": "y", "t": "f", "code": "c3"},
    ]
    expected = [
        ("a_and_b", ("a", "b")),
        ("a_high", ("a",)),
        ("b_not_3", ("b",)),
        ("flag", ("a",)),
        ("pair_of_c3", ("x", "y")),
        ("pair_of_c3", ("y", "x")),
    ]
    assert ruleset.run(facts) == expected == _oracle(CLAUSES, facts)


def test_session_forward_chains_and_reports_only_new_firings(ruleset: DurableRuleset) -> None:
    with ruleset.session() as session:
        assert session.assert_facts([_finding(1, v=1)]) == []
        assert session.assert_facts([_finding(2, v=3)]) == [("a_and_b", ("f1", "f2"))]
        assert session.assert_facts([_finding(11, code="c1", v=7)]) == [
            ("a_and_b", ("f11", "f2")),
            ("a_high", ("f11",)),
        ]
        assert session.assert_facts([]) == []


def test_a_fact_fills_at_most_one_pattern_of_a_firing(ruleset: DurableRuleset) -> None:
    assert ruleset.run([{"id": "x", "t": "f", "code": "c3"}]) == []


def test_kinds_never_mix_and_tests_on_missing_fields_are_false() -> None:
    clauses = {
        "eq_1": ((("t", "eq", "f"), ("v", "eq", 1)),),
        "eq_true": ((("t", "eq", "f"), ("v", "eq", True)),),
        "eq_str": ((("t", "eq", "f"), ("v", "eq", "1")),),
        "ne_1": ((("t", "eq", "f"), ("v", "ne", 1)),),
        "lt_5": ((("t", "eq", "f"), ("v", "lt", 5)),),
    }
    facts = [
        {"id": "int", "t": "f", "v": 1},
        {"id": "float", "t": "f", "v": 1.0},
        {"id": "bool", "t": "f", "v": True},
        {"id": "str", "t": "f", "v": "1"},
        {"id": "none", "t": "f"},
    ]
    got = DurableRuleset(clauses).run(facts)
    # durable alone says "1" == 1, "1" == 1.5, True == 1 and "a" > 5
    assert got == _oracle(clauses, facts)
    assert got == [
        ("eq_1", ("float",)),
        ("eq_1", ("int",)),
        ("eq_str", ("str",)),
        ("eq_true", ("bool",)),
        ("lt_5", ("float",)),
        ("lt_5", ("int",)),
    ]


def test_names_and_ids_durable_treats_specially_are_plain_data() -> None:
    # durable reserves "sid" and "id", and its session-state fact has the id "sid-<sid>"
    clauses = {"sid": ((("sid", "eq", "x"),),), "id": ((("id", "eq", "sid-@s0"),),)}
    facts = [{"id": "sid-@s0", "sid": "x"}, {"id": "0", "sid": "y"}, {"id": "@s0"}]
    assert DurableRuleset(clauses).run(facts) == [("id", ("sid-@s0",)), ("sid", ("sid-@s0",))]


def test_floats_durable_cannot_parse_are_encoded_with_a_point() -> None:
    # json writes 1e-07 and 1e+16; durable's C parser rejects both (error 204).
    clauses = {
        "tiny": ((("t", "eq", "f"), ("v", "lt", 1e-07)),),
        "huge": ((("t", "eq", "f"), ("v", "ge", 1e16)),),
        "exact": ((("t", "eq", "f"), ("v", "eq", 5e-324)),),
    }
    facts = [
        {"id": "a", "t": "f", "v": 5e-08},
        {"id": "b", "t": "f", "v": 2e16},
        {"id": "c", "t": "f", "v": 5e-324},
        {"id": "d", "t": "f", "v": 1e-07},
    ]
    assert DurableRuleset(clauses).run(facts) == _oracle(clauses, facts)


# --- host, threads, registry ----------------------------------------------------------------


def test_no_background_threads_and_no_global_registry() -> None:
    before = threading.active_count()
    first, second = DurableRuleset(CLAUSES), DurableRuleset(CLAUSES)  # same clauses: no clash
    assert first.run([_finding(1)]) == second.run([_finding(1)]) == []
    assert first._names != second._names
    assert threading.active_count() == before


def test_in_a_fresh_process_no_thread_starts_and_durable_lang_stays_unused() -> None:
    result = _run_python(
        """
        import sys, threading
        from painreason._durable import DurableRuleset
        rs = DurableRuleset({"k": ((("t", "eq", "f"),),)})
        for _ in range(50):
            assert rs.run([{"id": "x", "t": "f"}]) == [("k", ("x",))]
        assert threading.active_count() == 1, threading.enumerate()
        assert "durable.lang" not in sys.modules
        print("ok")
        """
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_set_rulesets_gets_a_copy(ruleset: DurableRuleset) -> None:
    # durable deletes "run" from what it is given
    rules = [rule for definition in ruleset._definition.values() for rule in definition.values()]
    assert rules
    assert all("run" in rule for rule in rules)


def test_actions_are_synchronous_and_use_no_timers(ruleset: DurableRuleset) -> None:
    rulesets = ruleset._host._ruleset_list
    assert all(p._sync and p._next is None for r in rulesets for p in r._actions.values())
    assert "timer" not in str(ruleset._definition)


def test_action_lease_clock_is_monotonic() -> None:
    from durable import engine

    assert engine._unix_now is time.monotonic


def test_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_durable, "_backend", lambda: None)
    assert not _durable.available()
    with pytest.raises(BackendUnavailableError):
        DurableRuleset(CLAUSES)


# --- sessions -------------------------------------------------------------------------------


def test_more_than_1024_sessions_in_a_row(ruleset: DurableRuleset) -> None:
    for i in range(1_100):
        assert ruleset.run([_finding(1, v=6)]) == [("a_high", ("f1",))], i
    assert not ruleset._live


def test_the_1025th_open_session_is_refused_cleanly() -> None:
    rs = DurableRuleset({"k": ((("t", "eq", "f"),),)})
    with contextlib.ExitStack() as stack:
        for _ in range(1_024):
            stack.enter_context(rs.session())
        with pytest.raises(CapacityError, match="1024 sessions"):
            stack.enter_context(rs.session())
    assert rs.run([{"id": "x", "t": "f"}]) == [("k", ("x",))]


def test_session_is_deleted_when_the_block_raises(ruleset: DurableRuleset) -> None:
    with pytest.raises(KeyError), ruleset.session():
        raise KeyError("boom")
    assert not ruleset._live


def test_session_misuse_is_reported(ruleset: DurableRuleset) -> None:
    session = ruleset.session()
    with pytest.raises(EngineError, match="session is new"):
        session.assert_facts([])
    with session:
        pass
    with pytest.raises(EngineError, match="only once"), session:
        pass
    with pytest.raises(EngineError, match="session is closed"):
        session.assert_facts([])


def test_sessions_whose_facts_match_nothing_do_not_crash_delete_state() -> None:
    # Without the sentinel fact, a fresh ruleset whose first case fires no action segfaults.
    result = _run_python(
        """
        from painreason._durable import DurableRuleset
        clauses = {"join": ((("t", "eq", "f"),), (("t", "eq", "g"),))}
        for order in (1, -1):
            rs = DurableRuleset(clauses)
            cases = [
                [{"id": "1", "t": "zzz"}], [{"id": "1", "t": "f"}], [], [{"id": "2", "t": "g"}]
            ]
            for facts in cases[::order] * 3:
                rs.run(facts)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_unmatched_facts_never_break_a_batch(ruleset: DurableRuleset) -> None:
    facts = [
        {"id": "u1", "t": "nothing"},
        _finding(1, v=1),
        {"id": "u2", "t": "f", "code": "c9"},
        {"id": "u3", "other": 1},
        _finding(2, v=1),
        {"id": "u4", "t": "f", "code": "c1", "v": "high"},
    ]
    threads = threading.active_count()
    assert ruleset.run(facts) == [
        ("a_and_b", ("f1", "f2")),
        ("a_and_b", ("u4", "f2")),
        ("b_not_3", ("f2",)),
    ]
    assert threading.active_count() == threads  # nothing left for a background thread


def test_the_facts_of_one_call_go_to_durable_in_one_batch(
    ruleset: DurableRuleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = [_finding(i, v=i + 4) for i in range(4)] + [{"id": "u", "t": "nothing"}]
    with ruleset.session() as session:  # opened before counting: its sentinel is a call
        sent: list[str] = []
        send = ruleset._send

        def spy(s: Any, shard: int, text: str) -> None:
            sent.append(text)
            send(s, shard, text)

        monkeypatch.setattr(ruleset, "_send", spy)
        firings = session.assert_facts(facts)
    assert firings == [("a_and_b", ("f1", "f2")), ("b_not_3", ("f2",))]
    assert len(sent) == 1
    assert sent[0].startswith("[")  # the unmatched fact is in it: the others still fire


# Pairs of strings with equal FNV-1a 32-bit hashes, found by brute force
_SAME_HASH = {"ids": ("f6059", "f264602"), "sids": ("@s412399", "@s1102954")}


def test_the_colliding_pairs_collide() -> None:
    for first, second in _SAME_HASH.values():
        assert _durable._fnv1a32(first) == _durable._fnv1a32(second)


def test_ids_whose_32_bit_hashes_collide_are_still_distinct_facts() -> None:
    # durable identifies facts by fnv1a32(id) alone: raw, the second fact is "already observed".
    first, second = _SAME_HASH["ids"]
    rs = DurableRuleset({"k": ((("t", "eq", "f"),),)})
    facts = [{"id": first, "t": "f"}, {"id": second, "t": "f"}]
    assert rs.run(facts) == sorted([("k", (first,)), ("k", (second,))])


def test_sids_whose_hashes_collide_with_an_open_session_are_skipped() -> None:
    rs = DurableRuleset({"k": ((("t", "eq", "f"),),)})
    first, second = _SAME_HASH["sids"]
    rs._sids = itertools.count(int(first[2:]))
    with rs.session() as open_one:
        open_one.assert_facts([{"id": "a", "t": "f"}])
        rs._sids = itertools.count(int(second[2:]))
        with rs.session() as other:
            assert other._sid != second
            assert other.assert_facts([{"id": "a", "t": "f"}]) == [("k", ("a",))]


def test_reasserted_facts_are_ignored_and_changed_ones_refused(ruleset: DurableRuleset) -> None:
    with ruleset.session() as session:
        assert session.assert_facts([_finding(1, v=6), _finding(1, v=6)]) == [("a_high", ("f1",))]
        assert session.assert_facts([_finding(1, v=6.0)]) == []
        with pytest.raises(ValueError, match="differs from the fact asserted"):
            session.assert_facts([_finding(2), _finding(1, v=7)])
        # nothing of the refused batch was asserted
        assert session.assert_facts([_finding(2, v=1)]) == [
            ("a_and_b", ("f1", "f2")),
            ("b_not_3", ("f2",)),
        ]


def test_invalid_facts_are_all_listed(ruleset: DurableRuleset) -> None:
    facts: list[Any] = [
        {"t": "f"},
        {"id": 3},
        "text",
        {"id": "a", "v": None},
        {"id": "b", "bad-name": 1},
        {"id": "c", "v": float("nan")},
        {"id": "d", "v": 2**60},
    ]
    with ruleset.session() as session, pytest.raises(ValueError, match="invalid facts") as info:
        session.assert_facts(facts)
    assert str(info.value).count("\n") == len(facts)


# --- exceptions inside actions --------------------------------------------------------------


def test_an_exception_in_an_action_is_raised_after_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rs = DurableRuleset(CLAUSES)

    fire = rs._fire

    def boom(index: int, c: Any) -> None:
        if index >= 0:
            raise ZeroDivisionError("in an action")
        fire(index, c)  # the session sentinel

    monkeypatch.setattr(rs, "_fire", boom)
    with rs.session() as session:
        with pytest.raises(EngineError, match="action failed") as info:
            session.assert_facts([_finding(1, v=6)])
        assert isinstance(info.value.__cause__, ZeroDivisionError)
        with pytest.raises(EngineError, match="session is failed"):
            session.assert_facts([])
    monkeypatch.undo()
    assert not rs._live
    assert rs.run([_finding(1, v=6)]) == [("a_high", ("f1",))]


def test_an_exception_reported_in_the_state_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    rs = DurableRuleset(CLAUSES)
    with rs.session() as session:
        monkeypatch.setattr(rs._host, "assert_json", lambda name, text: (0, {"exception": "x"}))
        with pytest.raises(EngineError, match="failed on a fact: x"):
            session.assert_facts([_finding(1)])
        monkeypatch.setattr(rs._host, "assert_json", lambda name, text: (2, None))
        session._state = "open"
        with pytest.raises(EngineError, match="result code 2"):
            session.assert_facts([_finding(2)])
        monkeypatch.setattr(rs._host, "assert_json", lambda name, text: (0, None))
        session._state = "open"
        assert session.assert_facts([_finding(3)]) == []  # None: no action ran, which is fine


def test_actions_get_the_matched_frames_as_durable_wrote_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the adapter's own action loop: no Closure, no session state parsed or re-asserted
    rs = DurableRuleset(CLAUSES)
    seen: list[Any] = []
    fire = rs._fire

    def spy(index: int, c: Any) -> None:
        seen.append(c)
        fire(index, c)

    monkeypatch.setattr(rs, "_fire", spy)
    assert rs.run([_finding(1, v=6)]) == [("a_high", ("f1",))]
    assert all(type(c) is str for c in seen)
    assert any('"code@s":"c1"' in c for c in seen), seen


def test_matched_ids_are_read_from_durables_text_or_parsed() -> None:
    quoted = '{"r3":{"p0":{"sid":"@s0","id":"7","x@s":"\\"p1\\":{\\"sid\\":\\"@s0\\",'
    quoted += '\\"id\\":\\"9\\""},"p1":{"sid":"@s0","id":"8","t@s":"f"}}}'
    assert json.loads(quoted)["r3"]["p0"]["x@s"].startswith('"p1":{"sid":"@s0"')
    assert _durable._matched_ids(quoted, 2) == ["7", "8"]
    swapped = '{"r3":{"p1":{"id":"8","sid":"@s0"},"p0":{"sid":"@s0","id":"7"}}}'
    assert _durable._matched_ids(swapped, 2) == ["7", "8"]  # not the usual shape: parsed


def test_encoded_facts_are_cached_by_value_and_type() -> None:
    # True == 1 == 1.0 and hash alike: the cache must keep them apart
    ruleset = DurableRuleset(CLAUSES)
    for _ in range(2):
        for value in (True, 1, 1.0, "1"):
            fired = ruleset.run([{"id": "x", "t": "f", "present": value}])
            assert fired == ([("flag", ("x",))] if value is True else []), value
    assert sum(k[0][0] == ("id", "x") for k in ruleset._encoded) == 4
    with pytest.raises(ValueError, match="bad field 'v'"):
        ruleset.run([{"id": "y", "t": "f", "v": math.nan}])
    assert not any(k[0][0] == ("id", "y") for k in ruleset._encoded)


def test_an_action_past_its_lease_fails_the_case_not_later_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rs = DurableRuleset(CLAUSES)
    monkeypatch.setattr(_durable, "_LEASE", -1.0)  # every action "outlives" its lease
    with pytest.raises(EngineError, match="lease expired"):
        rs.run([_finding(1, v=6)])
    monkeypatch.undo()
    assert not rs._live
    assert rs.run([_finding(1, v=6)]) == [("a_high", ("f1",))]


def test_durable_errors_are_translated() -> None:
    from durable import engine

    error = engine.durable_rules_engine.error("Could not assert fact, error code: 303")
    assert isinstance(_durable._translate(error, "x"), CapacityError)
    assert "error 303 (one fact matched more than 64" in str(_durable._translate(error, "x"))
    assert "error 101" in str(_durable._translate(MemoryError(), "opening a session"))
    assert type(_durable._translate(RuntimeError("error code: 307"), "x")) is EngineError
    assert "failed while x: KeyError('y')" in str(_durable._translate(KeyError("y"), "x"))


# --- more than 16 patterns ------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 15, 16, 17, 31, 32, 40])
def test_clauses_of_any_length_fire_with_ids_in_pattern_order(width: int) -> None:
    clause = tuple(_pattern(f"c{i}") for i in range(width))
    rs = DurableRuleset({"long": clause})
    assert len(rs._rules) == 1 + max(0, -(-(width - 16) // 15))
    facts = [_finding(i) for i in range(width)]
    expected = [("long", tuple(f"f{i}" for i in range(width)))]
    assert rs.run(facts) == expected
    assert rs.run(facts[::-1]) == expected
    assert rs.run(facts[:-1]) == []


def test_long_clauses_keep_one_fact_per_pattern_across_stages() -> None:
    # patterns 1 and 18 accept the same two facts: durable's own check sees only one stage
    clause = tuple(_pattern("shared" if i in (1, 18) else f"c{i}") for i in range(20))
    facts = [_finding(i) for i in range(20) if i not in (1, 18)]
    facts += [{"id": "s1", "t": "f", "code": "shared"}, {"id": "s2", "t": "f", "code": "shared"}]
    got = DurableRuleset({"k": clause}).run(facts)
    assert got == _oracle({"k": clause}, facts)
    assert len(got) == 2


def test_error_304_still_surfaces_as_capacity_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_durable, "_MAX_FRAMES", 17)  # let a 17-fact rule reach durable
    rs = DurableRuleset({"k": tuple(_pattern(f"c{i}") for i in range(17))})
    with pytest.raises(CapacityError, match="error 304"):
        rs.run([_finding(i) for i in range(17)])
    assert not rs._live


# --- capacity limits checked before durable sees them ---------------------------------------


def test_over_511_tests_under_one_node_are_refused_not_hung() -> None:
    # 512 slots, but lookups stop only at an empty one: 512 tests hang the first assert,
    # 513 the build. The session sentinel takes one of the root's places. Many 'eq' values
    # of one field get bucket tests in front (below); 16 values of each of 32 fields do not.
    result = _run_python(
        """
        from painreason._durable import DurableRuleset
        from painreason.errors import CapacityError
        def clauses(n):
            return {f"k{i}": (((f"x{i // 16}", "eq", f"c{i}"),),) for i in range(n)}
        rs = DurableRuleset(clauses(510))
        assert rs.run([{"id": "x", "x31": "c509"}]) == [("k509", ("x",))]
        try:
            DurableRuleset(clauses(511))
        except CapacityError as exc:
            print(exc)
        """,
        timeout=60,
    )
    assert "'k0', 'k1', 'k10', 'k100', 'k101': 512 distinct tests follow 'root' (limit 511" in (
        result.stdout
    ), result.stderr


def test_many_eq_values_of_one_field_get_bucket_tests_and_work() -> None:
    # durable chains a node's tests on one field in one probe sequence that every fact walks:
    # 2,000 values of 'code' would hang it; buckets split them into two short levels
    result = _run_python(
        """
        from painreason._durable import DurableRuleset
        clauses = {f"k{i}": ((("t", "eq", "f"), ("code", "eq", f"c{i}")),) for i in range(2000)}
        clauses["n"] = ((("t", "eq", "f"), ("code", "ne", "c5")),)
        clauses["num"] = ((("t", "eq", "f"), ("v", "eq", 1.0)),)
        clauses.update({f"v{i}": ((("t", "eq", "f"), ("v", "eq", i + 2)),) for i in range(40)})
        rs = DurableRuleset(clauses)
        assert max(len(b) for b in rs._buckets.values()) > 16
        facts = [{"id": "a", "t": "f", "code": "c1999", "v": 1},
                 {"id": "b", "t": "f", "code": "c5", "v": 3.0},
                 {"id": "c", "t": "f", "code": "c2000", "v": True},
                 {"id": "d", "t": "g", "code": "c7"}]
        print(rs.run(facts))
        """,
        timeout=60,
    )
    expected = "[('k1999', ('a',)), ('k5', ('b',)), ('n', ('a',)), ('n', ('c',)), "
    assert expected + "('num', ('a',)), ('v1', ('b',))]" in result.stdout, result.stderr


def test_alpha_stack_of_64_works_and_65_is_refused() -> None:
    def clauses(n: int) -> dict[str, Any]:
        return {f"k{i}": ((("t", "eq", "f"), ("v", "ne", 1000 + i)),) for i in range(n)}

    assert len(DurableRuleset(clauses(64)).run([{"id": "x", "t": "f", "v": 1}])) == 64
    with pytest.raises(CapacityError, match=r"65 alpha tests at once \(limit 64.*error 303"):
        DurableRuleset(clauses(65))
    # 'eq' values of one field exclude each other: 600 of them are fine under a discriminator
    wide = {f"k{i}": ((("t", "eq", f"g{i % 2}"), ("v", "eq", i)),) for i in range(600)}
    assert DurableRuleset(wide).run([{"id": "x", "t": "g1", "v": 7}]) == [("k7", ("x",))]


def test_more_than_255_clauses_sharing_a_pattern_are_sharded() -> None:
    shared = (("t", "eq", "patient"),)
    assert len(DurableRuleset({f"k{i}": (shared,) for i in range(255)})._names) == 1
    assert len(DurableRuleset({f"k{i}": (shared,) for i in range(256)})._names) == 2
    rs = DurableRuleset({f"k{i}": (shared, _pattern(f"c{i % 3}")) for i in range(600)})
    # each c pattern follows 'shared' in 200 rules, with a join test of each rule's own: as
    # many a ruleset as fit on durable's stack over the tests pending there (error 303)
    c0 = next(r[1][1] for r in rs._rules if r[1][1][1][2] == "c0")
    fits = rs._joins(c0)
    assert 1 < fits < 64
    assert len(rs._names) == -(-200 // fits)
    assert rs._deepest_stack() <= 64
    facts = [{"id": "p", "t": "patient"}, _finding(0), _finding(1)]
    assert len(rs.run(facts)) == 400
    with pytest.raises(CapacityError, match="256 uses of one pattern"):
        DurableRuleset({"k": (shared,) * 256})


def test_a_pattern_shared_by_256_rules_does_not_act_as_another() -> None:
    # durable accepts a 256th rule on one pattern, but its list of rules then has no end
    # marker: a fact of that pattern ran on into the next list in durable's pool (here the
    # list of q's pattern, allocated right after it) and 'victim' fired without q.
    def pattern(name: str, value: Any = True) -> tuple[Any, ...]:
        return (("t", "eq", "f"), ("n", "eq", name), ("v", "eq", value))

    def fact(name: str, value: Any = True) -> dict[str, Any]:
        return {"id": name, "t": "f", "n": name, "v": value}

    clauses: dict[str, Any] = {
        "pre": (pattern("q", "v0"),),
        "k0": (pattern("x"), pattern("q", "v3")),
    }
    clauses.update({f"k{i}": (pattern("x"), pattern(f"y{i}")) for i in range(1, 256)})
    clauses["victim"] = (pattern("a"), pattern("q", "v3"))
    rs = DurableRuleset(clauses)
    assert len(rs._names) == 2
    assert rs.run([fact("a"), fact("x")]) == []
    assert rs.run([fact("a"), fact("q", "v3")]) == [("victim", ("a", "q"))]


def test_more_than_4096_rules_are_sharded() -> None:
    clauses = {f"k{i}": (_pattern(f"c{i % 500}", ("g", "eq", i // 500)),) for i in range(4_200)}
    rs = DurableRuleset(clauses)
    assert len(rs._names) == 2
    assert rs.run([_finding(7, g=8)]) == [("k4007", ("f7",))]


def test_more_than_250_tested_fields_in_one_fact_are_refused() -> None:
    def wide(n: int) -> tuple[Any, ...]:  # tests n + 1 fields
        return (("t", "eq", "f"), *((f"x{i}", "eq", 1) for i in range(n)))

    rs = DurableRuleset({"w249": (wide(249),), "w250": (wide(250),)})
    fact = {"id": "wide", "t": "f", **{f"x{i}": 1 for i in range(249)}}  # 250 tested fields
    untested = {f"note{i}": "free text" for i in range(300)}  # never sent to durable
    assert rs.run([{**fact, **untested}]) == [("w249", ("wide",))]
    with rs.session() as session:
        with pytest.raises(CapacityError, match="'wide' has 251 fields that clauses test"):
            session.assert_facts([{**fact, "x249": 1}])
        assert session.assert_facts([fact]) == [("w249", ("wide",))]  # still usable


def test_string_limits() -> None:
    with pytest.raises(CapacityError, match="over 65,534 bytes escaped"):
        DurableRuleset({"k": ((("note", "eq", "x" * 70_000),),)})
    rs = DurableRuleset({"eq": ((("s", "eq", "abc"),),), "ne": ((("s", "ne", "abc"),),)})
    # durable alone compares lengths modulo 65,536, so it would find this equal to "abc"
    long = "abc" + "x" * 65_536
    assert rs.run([{"id": "x", "s": long}]) == [("ne", ("x",))]
    assert rs.run([{"id": "x", "s": "y" * (17 * 2**20)}]) == [("ne", ("x",))]  # over 16 MiB
    assert rs.run([{"id": "x", "s": "abc"}]) == [("eq", ("x",))]


def test_fields_whose_name_hashes_collide_are_refused() -> None:
    first, second = _SAME_HASH["ids"]  # so are the properties "f6059@s" and "f264602@s"
    clause = ((("t", "eq", "f"), (first, "eq", "a"), (second, "eq", "b")),)
    with pytest.raises(CapacityError, match="32-bit name hash"):
        DurableRuleset({"k": clause})


def test_invalid_clauses_are_all_listed() -> None:
    clauses: dict[Any, Any] = {
        "op": ((("t", "like", "f"),),),
        "str_order": ((("t", "lt", "f"),),),
        "field": ((("bad name", "eq", 1),),),
        "value": ((("t", "eq", None),),),
        "id": ((("id", "eq", 3),),),
        "empty": (),
        "empty_pattern": ((),),
        "shape": (("t", "eq"),),
        7: ((("t", "eq", "f"),),),
    }
    with pytest.raises(ValueError, match="invalid clauses") as info:
        DurableRuleset(clauses)
    assert all(f"clause {key!r}" in str(info.value) for key in clauses)


# --- order independence, threads, memory ----------------------------------------------------

_CODES = [f"c{i}" for i in range(4)]
_RANDOM_CLAUSES = {
    f"k{i}": tuple(_pattern(code, *(() if extra is None else (extra,))) for code, extra in pats)
    for i, pats in enumerate(
        [
            [("c0", None)],
            [("c0", ("v", "ge", 2)), ("c1", None)],
            [("c1", ("v", "lt", 3)), ("c2", ("ok", "eq", True)), ("c0", None)],
            [("c2", ("v", "ne", 1)), ("c2", None)],
            [("c3", ("v", "le", 1.5)), ("c1", ("ok", "ne", False))],
            [("c3", None)] * 3,
        ]
    )
}
_LONG_CODES = [f"c{i % 17}" for i in range(18)]  # c0 twice
_LONG = tuple(_pattern(code) for code in _LONG_CODES)  # chained: 18 patterns
_FACTS = st.lists(
    st.fixed_dictionaries(
        {"t": st.sampled_from(["f", "g"]), "code": st.sampled_from(_CODES)},
        optional={"v": st.integers(0, 4) | st.floats(0, 4), "ok": st.booleans()},
    ),
    max_size=12,
).map(lambda facts: [{"id": f"f{i}", **f} for i, f in enumerate(facts)])


@pytest.fixture(scope="module")
def random_ruleset() -> DurableRuleset:
    return DurableRuleset(_RANDOM_CLAUSES)


@settings(max_examples=150, deadline=None)
@given(facts=_FACTS, seed=st.integers(0, 2**32 - 1), cuts=st.integers(1, 4))
def test_firings_do_not_depend_on_assertion_order(
    random_ruleset: DurableRuleset, facts: list[dict[str, Any]], seed: int, cuts: int
) -> None:
    expected = _oracle(_RANDOM_CLAUSES, facts)
    shuffled = random.Random(seed).sample(facts, len(facts))
    with random_ruleset.session() as session:
        firings = []
        for part in range(cuts):
            firings += session.assert_facts(shuffled[part::cuts])
    assert sorted(firings) == expected == random_ruleset.run(facts)


@pytest.fixture(scope="module")
def long_ruleset() -> DurableRuleset:
    return DurableRuleset({"long": _LONG})


@settings(max_examples=25, deadline=None)
@given(facts=st.lists(st.sampled_from(_LONG_CODES), min_size=17, max_size=22), seed=st.integers())
def test_chained_clauses_do_not_depend_on_assertion_order(
    long_ruleset: DurableRuleset, facts: list[str], seed: int
) -> None:
    rows = [{"id": f"f{i}", "t": "f", "code": code} for i, code in enumerate(facts)]
    shuffled = random.Random(seed).sample(rows, len(rows))
    assert long_ruleset.run(shuffled) == long_ruleset.run(rows) == _oracle({"long": _LONG}, rows)


_TEXTS = [
    "",
    "a",
    "ab",
    "ab ",
    'a"b',
    "a\\b",
    "a\nb",
    "\x00",
    "\u00e9",
    "\U0001f600",
    "\ud800",
    "x" * 300,
]
_TEXT_CLAUSES = {
    f"{op}{i}": ((("s", op, text),),) for i, text in enumerate(_TEXTS) for op in ("eq", "ne")
}


@pytest.fixture(scope="module")
def text_ruleset() -> DurableRuleset:
    return DurableRuleset(_TEXT_CLAUSES)


_TEXT = (
    st.sampled_from(_TEXTS) | st.text(max_size=8) | st.sampled_from(_TEXTS).map(lambda t: t + "a")
)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_string_equality_matches_python_for_any_text(
    text_ruleset: DurableRuleset, text: str
) -> None:
    facts = [{"id": "x", "s": text}]
    assert text_ruleset.run(facts) == _oracle(_TEXT_CLAUSES, facts)


def test_threads_sharing_a_ruleset_get_the_serial_results(random_ruleset: DurableRuleset) -> None:
    rng = random.Random(7)
    cases = [
        [
            {
                "id": f"f{i}",
                "t": "f",
                "code": rng.choice(_CODES),
                "v": rng.randrange(5),
                "ok": rng.random() < 0.5,
            }
            for i in range(rng.randrange(2, 12))
        ]
        for _ in range(40)
    ]
    serial = [random_ruleset.run(facts) for facts in cases]
    results: dict[int, list[Any]] = {}

    def worker(n: int) -> None:
        results[n] = [random_ruleset.run(facts) for facts in cases]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[n] == serial for n in range(8))
    assert serial == [_oracle(_RANDOM_CLAUSES, facts) for facts in cases]


def _sessions(rs: DurableRuleset, count: int) -> float:
    facts = [_finding(i, code=f"c{i % 4}", v=i % 5, ok=True) for i in range(6)]
    for i in range(count):
        rs.run([{**f, "id": f"{f['id']}-{j}"} for j, f in enumerate(facts)] if i % 2 else facts)
    gc.collect()
    return _rss_mib()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_memory_stays_flat_over_1200_sessions(random_ruleset: DurableRuleset) -> None:
    warm = _sessions(random_ruleset, 200)
    assert _sessions(random_ruleset, 1_200) - warm < 8


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_memory_stays_flat_over_10000_sessions(random_ruleset: DurableRuleset) -> None:
    warm = _sessions(random_ruleset, 500)
    assert _sessions(random_ruleset, 10_000) - warm < 8


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_dropped_rulesets_free_their_c_memory() -> None:
    clauses = {f"k{i}": (_pattern(f"c{i}"), _pattern("c0")) for i in range(100)}
    DurableRuleset(clauses).run([_finding(0)])
    gc.collect()
    before = _rss_mib()
    for i in range(60):
        DurableRuleset(clauses).run([_finding(0)])
        if i % 10 == 9:
            gc.collect()  # rulesets sit in reference cycles with their actions
    assert _rss_mib() - before < 20  # about 1 MB each when never freed


def test_the_engine_caches_each_findings_facts_by_its_recorded_slots() -> None:
    from painreason import _compiler
    from painreason.case import observe
    from painreason.golden import load_golden

    kb = painreason.load_knowledge()
    runner = painreason.Engine(kb, backend="durable")._durable()
    for _ in range(2):  # filled, then read back
        for golden in load_golden(kb):
            obs = observe(golden.case, kb)
            every = _compiler.case_facts(kb, obs)
            sent = [runner.ruleset.encode(f) for f in every if runner._read(f)]
            assert runner._case_facts(obs) == sent
    assert runner._facts
    # facts no pattern can match are not sent: a side or level no rule reads, say
    assert runner._reads is not None
    assert not runner._read({"t": "f", "n": "no_such_finding", "s": "-", "l": "-"})
    side_only = {k: v for k, v in runner._reads.items() if None not in {s for s, _ in v}}
    (t, n), wanted = next(iter(side_only.items()))
    assert not runner._read({"t": t, "n": n, "s": "nowhere", "l": "nowhere"})
    assert all(runner._read({"t": t, "n": n, "s": s, "l": lv or "-"}) for s, lv in wanted)


def test_without_ids_each_clause_fires_once_a_session() -> None:
    long = tuple(_pattern(f"c{i}") for i in range(20))  # chained: ids still kept apart
    clauses = {**CLAUSES, "long": long, "long_pair": (*long, _pattern("c0"))}
    facts = [_finding(i, v=6) for i in range(20)] + [{**_finding(3), "id": "g3"}]
    with_ids = DurableRuleset(clauses).run(facts)
    assert len(with_ids) > len({k for k, _ in with_ids})
    assert "long_pair" not in {k for k, _ in with_ids}  # c0 cannot fill two patterns
    bare = DurableRuleset(clauses, ids=False, reuse_sessions=True)
    for _ in range(3):
        assert bare.run(facts) == sorted({(k, ()) for k, _ in with_ids})


def test_encoded_facts_assert_like_the_facts_themselves() -> None:
    rs = DurableRuleset(CLAUSES)
    facts = [_finding(1, v=6), _finding(2), _finding(3), {**_finding(3), "id": "g3"}]
    with rs.session() as session:
        assert session.assert_encoded([rs.encode(f) for f in facts]) == rs.run(facts)
        assert session.assert_encoded([rs.encode(facts[0])]) == []  # already there
        with pytest.raises(ValueError, match="differs from the fact asserted with this id"):
            session.assert_encoded([rs.encode({**facts[0], "v": 7})])
    with pytest.raises(ValueError, match="bad field 'v'"):
        rs.encode({"id": "x", "v": math.inf})
    with pytest.raises(ValueError, match="must be a mapping with a str 'id'"):
        rs.encode({"v": 1})


def test_a_pooled_session_keeps_its_cases_apart_and_is_replaced_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rs = DurableRuleset(CLAUSES, reuse_sessions=True)
    facts = [_finding(1, v=6), _finding(2), _finding(3), {**_finding(3), "id": "g3"}]
    expected, fewer = rs.run(facts), rs.run(facts[1:])
    assert expected != fewer
    assert ("a_and_b", ("f1", "f2")) in expected  # f1 of the first case joins nothing here
    sid = rs._idle[0][0]
    for _ in range(20):
        assert rs.run(facts) == expected
        assert rs.run(facts[1:]) == fewer
        assert rs.run([_finding(1, v=6)]) == [("a_high", ("f1",))]  # no f2 of earlier cases
    assert [entry[0] for entry in rs._idle] == [sid]  # every case ran in the one session
    monkeypatch.setattr(_durable, "_SID_FACTS", rs._idle[0][2] + 8)  # nearly full
    sids = set()
    for _ in range(5):
        with rs.session() as session:
            assert session.assert_facts(facts) == expected
            sids.add(session._sid)
    assert len(sids) == 2  # the full session was deleted, a new one took over
    assert len(rs._live) == len(rs._idle) == 1


def test_join_tests_fill_durable_stack_as_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # n rules of 'anchor' then 'hub' (a tie: the clause's order stays): 'hub' is followed by
    # one join test per rule, and a fact reaching it pushes all n on durable's stack.
    def clauses(n: int) -> dict[str, Any]:
        return {f"k{i}": (_pattern("anchor"), _pattern("hub")) for i in range(n)}

    facts = [{**_finding(0), "code": "anchor"}, {**_finding(1), "code": "hub"}]
    rs = DurableRuleset(clauses(200))
    hub = rs._rules[0][1][1]
    fits = rs._joins(hub)
    assert fits == 62  # nothing else is pending at 'hub': 64, less 2 spare
    assert len(rs._names) == -(-200 // fits)
    assert len(rs.run(facts)) == 200
    # durable's own count, the checks lifted: 64 joins fit, a 65th overflows (error 303)
    monkeypatch.setattr(DurableRuleset, "_deepest_stack", lambda self: 0)
    monkeypatch.setattr(DurableRuleset, "_joins", lambda self, pattern: 1_000)
    one = DurableRuleset(clauses(64))
    assert len(one._names) == 1
    assert len(one.run(facts)) == 64
    with pytest.raises(CapacityError, match="error 303"):
        DurableRuleset(clauses(65)).run(facts)


def test_a_rule_leads_with_its_most_shared_pattern_and_reports_in_clause_order() -> None:
    clauses = {f"k{i}": (_pattern(f"c{i}"), _pattern("common")) for i in range(5)}
    rs = DurableRuleset(clauses)
    assert all(r[1][0] == _encode_one(rs, "common") for r in rs._rules)  # no join on it
    assert set(rs._order) == set(range(5))
    facts = [_finding(0), {**_finding(9), "code": "common"}]
    assert rs.run(facts) == [("k0", ("f0", "f9"))]  # the clause's order, not durable's


def _encode_one(rs: DurableRuleset, code: str) -> Any:
    return next(p for r in rs._rules for p in r[1] if ("code@s", "eq", code) in p)
