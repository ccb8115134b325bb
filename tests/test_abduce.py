"""Three-valued abduction on a synthetic pack: sides, levels, at_least, negated facts,
contradictions, and case-file encoding of the values found."""

from __future__ import annotations

from typing import Any

import pytest

import painreason
from painreason._abduce import encode
from painreason.case import Case
from painreason.testing.strategies import load_pack


def rule(ident: str, when: dict[str, Any], then: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": ident, "title": ident, "sources": ["s0"], "when": when, "then": then}


def propose(cond: str) -> list[dict[str, Any]]:
    return [{"propose": {"condition": cond, "strength": "high"}}]


PACK: dict[str, Any] = {
    "facts": [{"id": "f0", "label": "F0", "definition": "b0 present"}],
    "rules": [
        rule("d0", {"present": "b0"}, [{"derive": "f0"}]),
        # k0: both sides of b2, or levelled b3 on the left at L5
        rule("both_sides", {"present": {"finding": "b2", "side": "bilateral"}}, propose("k0")),
        rule(
            "left_l5", {"present": {"finding": "b3", "side": "left", "level": "L5"}}, propose("k0")
        ),
        rule("out_k0", {"absent": "b1"}, [{"rule_out": {"condition": "k0"}}]),
        # k1: two of three
        rule(
            "two_of_three",
            {
                "at_least": {
                    "k": 2,
                    "of": [{"present": "b0"}, {"present": "b1"}, {"finding": "n0", "gt": 100}],
                }
            },
            propose("k1"),
        ),
        # k2: f0 known false and b1 present; or contradictions no recording can satisfy
        rule("not_f0", {"all": [{"not": {"derived": "f0"}}, {"present": "b1"}]}, propose("k2")),
        rule("never", {"all": [{"present": "b4"}, {"absent": "b4"}]}, propose("k2")),
        rule(
            "never_numeric",
            {"all": [{"finding": "n0", "gt": 150}, {"finding": "n0", "lt": 50}]},
            propose("k2"),
        ),
        rule("ordinal", {"finding": "o0", "side": "right", "le": 3}, propose("k2")),
    ],
}


@pytest.fixture(scope="module")
def engine() -> painreason.Engine:
    return painreason.Engine(load_pack(PACK), backend="python")


def sets(w: painreason.WhyNot) -> dict[tuple[str, ...], dict[str, Any]]:
    return {s.findings: s.record for s in w.smallest}


def test_bilateral_keeps_what_is_recorded(engine: painreason.Engine) -> None:
    w = painreason.why_not({"findings": {"b2": {"left": "present"}}}, "k0", engine=engine)
    found = sets(w)
    assert found[("b2",)] == {"b2": {"left": "present", "right": "present"}}
    assert found[("b3",)] == {"b3": {"left": {"present": True, "levels": ["L5"]}}}


def test_a_documented_negative_blocks(engine: painreason.Engine) -> None:
    w = painreason.why_not({"findings": {"b2": {"left": "absent"}}}, "k0", engine=engine)
    checks = {c.rule: c for c in w.rules}
    assert checks["both_sides"].status == "blocked"
    assert ("b2",) not in sets(w)


def test_contested_condition_gets_its_rule_out_chain_and_no_sets(
    engine: painreason.Engine,
) -> None:
    case = {"findings": {"b2": {"present": True, "side": "bilateral"}, "b1": "absent"}}
    w = painreason.why_not(case, "k0", engine=engine)
    assert w.status == "contested"
    assert w.rule_out is not None
    assert [s.rule for s in w.rule_out.steps] == ["out_k0"]
    assert {c.rule: c.status for c in w.rules} == {"both_sides": "fired", "left_l5": "possible"}
    assert w.smallest == ()  # already in the differential


def test_at_least_lists_each_pair(engine: painreason.Engine) -> None:
    w = painreason.why_not({"findings": {}}, "k1", engine=engine)
    found = sets(w)
    assert set(found) == {("b0", "b1"), ("b0", "n0"), ("b1", "n0")}
    assert found[("b0", "n0")] == {"b0": "present", "n0": 101}
    one = painreason.why_not({"findings": {"n0": 120}}, "k1", engine=engine)
    assert set(sets(one)) == {("b0",), ("b1",)}


def test_negated_fact_needs_its_rules_false(engine: painreason.Engine) -> None:
    w = painreason.why_not({"findings": {}}, "k2", engine=engine)
    found = sets(w)
    assert found[("b0", "b1")] == {"b0": "absent", "b1": "present"}
    assert found[("o0",)] == {"o0": {"right": 3}}
    checks = {c.rule: c for c in w.rules}
    # possible in three-valued logic, yet no recording satisfies them: no set offered
    assert checks["never"].status == "possible"
    assert checks["never"].sets == ()
    assert checks["never_numeric"].sets == ()
    after = painreason.what_if({"findings": {}}, set=found[("b0", "b1")], engine=engine).after
    assert "k2" in after.proposed()


def test_next_findings_on_the_synthetic_pack(engine: painreason.Engine) -> None:
    found = {n.finding: n for n in painreason.next_findings({"findings": {}}, engine=engine)}
    assert {"b2", "b3", "o0"} <= set(found)
    assert "b4" not in found  # only the contradictory rule reads it


@pytest.mark.parametrize(
    ("finding", "slots", "raw"),
    [
        ("b0", {(None, None): True}, "present"),
        ("n0", {(None, None): 101.0}, 101),
        ("n0", {(None, None): 100.5}, 100.5),
        ("c0", {(None, None): "y"}, "y"),
        ("o0", {("right", None): 3.0}, {"right": 3}),
        ("b3", {("left", lv): False for lv in ("L4", "L5", "S1")}, {"left": "absent"}),
        (
            "b3",
            {("left", "L5"): True, ("right", "S1"): False},
            {
                "left": {"present": True, "levels": ["L5"]},
                "right": {"present": False, "levels": ["S1"]},
            },
        ),
        ("b3", {("left", "L5"): True, ("left", "S1"): False}, None),
        ("b4", {(None, "C6"): True}, {"present": True, "levels": ["C6"]}),
        ("b4", {(None, "C6"): False, (None, "C7"): False}, "absent"),
    ],
)
def test_encode_round_trips_through_observe(finding: str, slots: Any, raw: Any) -> None:
    kb = load_pack({"rules": [rule("r", {"present": "b0"}, propose("k0"))]})
    assert encode(kb.findings[finding], slots) == raw
    if raw is not None:
        obs = painreason.case.observe(Case.from_dict({"findings": {finding: raw}}), kb)
        assert dict(obs.slots[finding]) == slots
