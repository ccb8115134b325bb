"""Conflict semantics of the Result (docs/semantics.md), on a small synthetic rule pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import painreason
from painreason.testing.strategies import knowledge_files

from .conftest import BACKENDS

RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "p_high",
            "title": "b0 proposes k0",
            "when": {"present": "b0"},
            "sources": ["s0"],
            "then": [
                {"propose": {"condition": "k0", "strength": "high"}},
                {"suggest": {"test": "t0", "urgency": "routine", "rationale": "later"}},
            ],
        },
        {
            "id": "p_low",
            "title": "b1 proposes k1",
            "when": {"present": "b1"},
            "sources": ["s0"],
            "then": [
                {"propose": {"condition": "k1", "strength": "low"}},
                {"suggest": {"test": "t0", "urgency": "urgent", "rationale": "sooner"}},
            ],
        },
        {
            "id": "out_k1",
            "title": "no b0 rules out k1",
            "when": {"absent": "b0"},
            "sources": ["s0"],
            "then": [{"rule_out": {"condition": "k1"}}],
        },
        {
            "id": "out_k0",
            "title": "n0 low rules out k0",
            "when": {"finding": "n0", "lt": 10},
            "sources": ["s0"],
            "then": [{"rule_out": "k0"}],
        },
        {
            "id": "flag",
            "title": "n0 high raises r0",
            "when": {"finding": "n0", "gt": 150},
            "sources": ["s0"],
            "then": [{"flag": {"red_flag": "r0"}}],
        },
        {
            "id": "advise",
            "title": "no b1: no imaging",
            "when": {"absent": "b1"},
            "sources": ["s0"],
            "then": [{"advise_against": {"test": "g0", "rationale": "none"}}],
        },
    ]
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, painreason.Engine]:
    root = tmp_path_factory.mktemp("pack")
    (root / "rules").mkdir()
    (root / "knowledge").mkdir()
    (root / "rules" / "r.json").write_text(json.dumps(RULES))
    (root / "knowledge" / "k.json").write_text(json.dumps(knowledge_files()))
    kb = painreason.load_knowledge(root / "rules", root / "knowledge")
    return {b: painreason.Engine(kb, backend=b) for b in BACKENDS}  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, engines: dict[str, painreason.Engine]
) -> painreason.Engine:
    return engines[request.param]


def run(engine: painreason.Engine, **findings: Any) -> painreason.Result:
    return engine.evaluate({"findings": findings})


def test_unknown_is_not_absent(engine: painreason.Engine) -> None:
    result = run(engine, b1="present")
    assert result.summary()["differential"] == {"k1": "proposed"}
    assert result.ruled_out == ()
    assert result.not_indicated == ()


def test_propose_and_rule_out_is_contested(engine: painreason.Engine) -> None:
    result = run(engine, b0="absent", b1="present")
    (k1,) = result.differential
    assert (k1.id, k1.status, k1.supporting, k1.refuting) == (
        "k1",
        "contested",
        ("p_low",),
        ("out_k1",),
    )


def test_rule_out_alone(engine: painreason.Engine) -> None:
    result = run(engine, b0="absent")
    assert [c.id for c in result.ruled_out] == ["k1"]
    assert result.differential == ()


def test_a_red_flag_alone_does_not_propose_its_condition(engine: painreason.Engine) -> None:
    result = run(engine, n0=160)
    assert [(f.id, f.urgency, f.conditions) for f in result.red_flags] == [
        ("r0", "urgent", ("k0",))
    ]
    assert result.differential == ()


def test_rule_out_without_red_flag(engine: painreason.Engine) -> None:
    result = run(engine, n0=5)
    assert [c.id for c in result.ruled_out] == ["k0"]


def test_tests_are_deduplicated_at_the_highest_urgency(engine: painreason.Engine) -> None:
    result = run(engine, b0="present", b1="present")
    (t0,) = result.tests
    assert t0.urgency == "urgent"
    assert [r.rule for r in t0.requested_by] == ["p_low", "p_high"]


def test_advice_against_is_overridden_by_a_suggested_test(engine: painreason.Engine) -> None:
    result = run(engine, b1="absent")
    (advice,) = result.not_indicated
    assert (advice.id, advice.status) == ("g0", "in_force")
    result = run(engine, b1="absent", b0="present")
    (advice,) = result.not_indicated
    assert (advice.status, advice.overridden_by) == ("overridden", ("t0",))


def test_advice_against_is_overridden_by_any_red_flag(engine: painreason.Engine) -> None:
    (advice,) = run(engine, b1="absent", n0=180).not_indicated
    assert advice.overridden_by == ("red_flag:r0",)


def test_differential_is_ranked(engine: painreason.Engine) -> None:
    result = run(engine, b0="present", b1="present")
    assert result.proposed() == ("k0", "k1")


def test_unused_and_unread_findings(engine: painreason.Engine) -> None:
    result = run(engine, b0="present", b2={"present": True, "side": "left"}, c0="x")
    assert result.unused_findings == ("b2", "c0")
    assert result.unread_findings == ("b2", "c0")


def test_result_round_trips_through_json(engine: painreason.Engine) -> None:
    result = run(engine, b0="present", b1="absent", n0=170)
    again = painreason.Result.model_validate_json(result.model_dump_json())
    assert again == result


def test_result_is_frozen(engine: painreason.Engine) -> None:
    result = run(engine, b0="present")
    with pytest.raises(Exception, match="frozen"):
        result.case_id = "x"  # type: ignore[misc]


def test_red_flag_wins_over_rule_out(tmp_path: Path) -> None:
    rules = {
        "rules": [
            {
                "id": "flag",
                "title": "f",
                "when": {"present": "b0"},
                "sources": ["s0"],
                "then": [{"flag": {"red_flag": "r0"}}],
            },
            {
                "id": "out",
                "title": "o",
                "when": {"present": "b0"},
                "sources": ["s0"],
                "then": [{"rule_out": "k0"}],
            },
        ]
    }
    (tmp_path / "rules").mkdir()
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "rules" / "r.json").write_text(json.dumps(rules))
    (tmp_path / "knowledge" / "k.json").write_text(json.dumps(knowledge_files()))
    kb = painreason.load_knowledge(tmp_path / "rules", tmp_path / "knowledge")
    for backend in BACKENDS:
        result = painreason.Engine(kb, backend=backend).evaluate(  # type: ignore[arg-type]
            {"findings": {"b0": "present"}}
        )
        assert [f.id for f in result.red_flags] == ["r0"]
        (k0,) = result.differential
        assert (k0.status, k0.refuting, k0.red_flags) == ("contested", ("out",), ("r0",))
        assert result.ruled_out == ()
