"""Session reuse in the durable adapter (``reuse_sessions=True``): a clean session serves the
next case under a new case number, nothing is retracted, and results equal fresh sessions'."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painreason._durable import _POOL, DurableRuleset, _backend, available

from .test_durable import CLAUSES, _finding, _oracle, _pattern

pytestmark = pytest.mark.skipif(not available(), reason="durable-rules is not importable here")

LONG = {"chain": tuple(_pattern(f"z{i}") for i in range(18))}  # over 16 patterns: chained


@pytest.fixture(scope="module")
def reused() -> DurableRuleset:
    return DurableRuleset({**CLAUSES, **LONG}, reuse_sessions=True)


def _facts(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(rng.randint(0, 25)):
        fact = _finding(i, code=f"c{rng.randint(1, 3)}", v=rng.randint(0, 9))
        if rng.random() < 0.3:
            fact["present"] = rng.random() < 0.5
        out.append(fact)
    if rng.random() < 0.5:  # the chained clause, complete or not
        out += [_finding(100 + i, code=f"z{i}") for i in range(18) if rng.random() < 0.95]
    return out


def _stored(rs: DurableRuleset, sid: str) -> list[dict[str, Any]]:
    """The facts durable holds for ``sid``, less the session sentinels."""
    core = _backend().core
    handles = [rs._host._ruleset_directory[n]._handle for n in rs._names]
    facts = [f for h in handles for f in json.loads(core.get_facts(h, sid))]
    return [f for f in facts if f.get("@pr") != "open"]


@given(seed=st.integers(0, 2**32 - 1))
def test_reused_sessions_give_what_fresh_ones_give(reused: DurableRuleset, seed: int) -> None:
    rng = random.Random(seed)
    clauses = {**CLAUSES, **LONG}
    for _ in range(5):
        facts = _facts(rng)
        with reused.session() as session:
            got = session.assert_facts(facts)
            sid, case = session._sid, session._case
        assert got == _oracle(clauses, facts)
        if sid in reused._live.values():  # not deleted for being full
            stored = [f for f in _stored(reused, sid) if f["@c"] == case]
            # the case's facts stay, under its own number
            assert {f["id"] for f in stored if f.get("@pr") != "chain"} == set(session._user)
    assert len(reused._idle) <= _POOL
    assert len(reused._live) <= _POOL


def test_pooled_sessions_retract_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    core = _backend().core

    def refuse(*args: Any) -> None:
        raise AssertionError("retracted a fact")

    monkeypatch.setattr(core, "retract_fact", refuse)
    monkeypatch.setattr(core, "retract_facts", refuse)
    rs = DurableRuleset({**CLAUSES, **LONG}, reuse_sessions=True)
    rng = random.Random(7)
    for _ in range(30):
        facts = _facts(rng)
        assert rs.run(facts) == _oracle({**CLAUSES, **LONG}, facts)


def test_many_cases_use_one_session() -> None:
    reused = DurableRuleset(CLAUSES, reuse_sessions=True)
    sids = set()
    for i in range(2_000):  # past durable's 1,024 live sessions, within its 2,048 facts
        with reused.session() as session:
            assert session.assert_facts([_finding(1, v=i % 10)]) == (
                [("a_high", ("f1",))] if i % 10 > 5 else []
            )
            sids.add(session._sid)
    assert len(sids) == 1


def test_concurrent_sessions_each_get_their_own_sid(reused: DurableRuleset) -> None:
    with reused.session() as a, reused.session() as b:
        assert a._sid != b._sid
        assert a.assert_facts([_finding(1), _finding(2)]) == [("a_and_b", ("f1", "f2"))]
        assert b.assert_facts([_finding(2)]) == []
    assert len(reused._idle) >= 2


def test_a_session_that_fails_is_deleted_not_pooled() -> None:
    rs = DurableRuleset(CLAUSES, reuse_sessions=True)
    with pytest.raises(KeyError), rs.session():
        raise KeyError("boom")
    assert not rs._idle
    assert not rs._live
    with rs.session() as session:  # noqa: SIM117 - the error must be caught inside the session
        with pytest.raises(ValueError, match="invalid facts"):
            session.assert_facts([{"no id": 1}])
    assert rs._idle  # a refused fact leaves the session clean: it is pooled


def test_without_reuse_every_session_is_deleted() -> None:
    rs = DurableRuleset(CLAUSES)
    for _ in range(3):
        with rs.session() as session:
            session.assert_facts([_finding(1, v=7)])
    assert not rs._idle
    assert not rs._live
