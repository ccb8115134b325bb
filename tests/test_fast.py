"""The fast python backend against the reference evaluator (the oracle): equal outcomes,
support sets included, and equal Results, on the golden cases and random rule sets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import painreason
from painreason import _fastcompile, _fastresult, _reference
from painreason._compiler import negated_facts as compiler_negated
from painreason._fast import FastEvaluator
from painreason._fastcompile import _Source, negated_facts
from painreason._outcome import Outcome
from painreason.case import Case, observe
from painreason.errors import CaseError
from painreason.golden import load_golden
from painreason.results import build_result

from .properties.strategies import cases, load_pack, rule_packs


def _expected(kb: painreason.Knowledge, outcome: Outcome) -> Outcome:
    """The reference outcome with false facts kept only where their falsity can matter."""
    keep = negated_facts(kb)
    false = {f: s for f, s in outcome.false_facts.items() if f in keep}
    return Outcome(outcome.fired, outcome.true_facts, false)


def _check(kb: painreason.Knowledge, fast: FastEvaluator, case: Case) -> None:
    obs = observe(case, kb)
    reference = _reference.evaluate(kb, obs)
    entries = fast.observe(case)
    assert fast.observations(entries) == obs
    outcome = fast.run(entries)
    assert outcome == _expected(kb, reference)
    assert fast.run(fast.entries(obs)) == outcome
    expected = build_result(kb, case, obs, reference)
    result = fast.result(case, entries, outcome)
    assert result == expected
    assert result.model_dump_json() == expected.model_dump_json()
    assert repr(result) == repr(expected)
    assert result.model_fields_set == expected.model_fields_set
    assert result.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)


@pytest.fixture(scope="module")
def golden(kb: painreason.Knowledge) -> list[Case]:
    return [g.case for g in load_golden(kb)]


@pytest.mark.parametrize("generate", [True, False], ids=["generated", "closures"])
def test_golden_cases_match_the_reference(
    kb: painreason.Knowledge, golden: list[Case], generate: bool
) -> None:
    fast = FastEvaluator(kb, generate=generate)
    for case in golden:
        _check(kb, fast, case)
    for case in golden:  # again, from the caches
        _check(kb, fast, case)


def test_python_backend_uses_the_fast_path_and_reference_stays_reachable(
    kb: painreason.Knowledge, golden: list[Case]
) -> None:
    python = painreason.Engine(kb, backend="python")
    reference = painreason.Engine(kb, backend="reference")
    assert reference.backend == "reference"
    for case in golden[:40]:
        assert python.evaluate(case) == reference.evaluate(case)
        obs = observe(case, kb)
        assert python.outcome(obs) == _expected(kb, reference.outcome(obs))


def test_negated_facts_match_the_compilers(kb: painreason.Knowledge) -> None:
    assert negated_facts(kb) == compiler_negated(kb)


@given(pack=rule_packs(), batch=st.lists(cases(), min_size=1, max_size=4))
def test_random_rule_sets_match_the_reference(
    pack: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    kb = load_pack(pack)
    generated, closures = FastEvaluator(kb), FastEvaluator(kb, generate=False)
    for raw in batch:
        case = Case.from_dict(raw)
        _check(kb, generated, case)
        _check(kb, closures, case)


def test_bad_cases_raise_what_observe_raises(kb: painreason.Knowledge) -> None:
    fast = FastEvaluator(kb)
    bad = [
        {"findings": {"heart_rate": 900}},
        {"findings": {"heart_rate": True}},
        {"findings": {"low_back_pian": "present"}},
        {"patient": {"age": 40}, "findings": {"age": 41}},
    ]
    fast.observe(Case.from_dict({"findings": {"pain_duration_weeks": 1}}))
    bad.append({"findings": {"pain_duration_weeks": True}})  # True == 1: not the cached 1
    for raw in bad:
        case = Case.from_dict(raw)
        with pytest.raises(CaseError) as want:
            observe(case, kb)
        with pytest.raises(CaseError) as got:
            fast.observe(case)
        assert str(got.value) == str(want.value)


def test_values_equal_across_types_are_told_apart(kb: painreason.Knowledge) -> None:
    fast = FastEvaluator(kb)
    for raw in ({"findings": {"age": 50}}, {"findings": {"age": 50.0}}, {"patient": {"age": 50}}):
        _check(kb, fast, Case.from_dict(raw))
    _check(kb, fast, Case.from_dict({"patient": {"age": 50}, "findings": {"age": 50}}))


def test_the_two_zeros_are_told_apart(kb: painreason.Knowledge) -> None:
    fast = FastEvaluator(kb)  # -0.0 == 0.0, but the Result shows "-0" and "0"
    for zero in (0.0, -0.0, 0.0):
        _check(kb, fast, Case.from_dict({"findings": {"pain_score": zero}}))
        _check(kb, fast, Case.from_dict({"findings": {"elbow_flexion_strength": {"left": zero}}}))
        _check(kb, fast, Case.from_dict({"patient": {"age": zero}}))
        obs = observe(Case.from_dict({"findings": {"abi_value": zero}}), kb)
        assert fast.observations(fast.entries(obs)) == obs
        assert fast.entries(obs)[0].shown.split()[0] == ("-0" if str(zero) == "-0.0" else "0")


def test_caches_stay_bounded(
    kb: painreason.Knowledge, golden: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fastresult, "CACHE_LIMIT", 8)
    fast = FastEvaluator(kb)
    for i, case in enumerate(golden[:60]):
        varied = case.model_copy(update={"patient": painreason.Patient(age=float(20 + i % 50))})
        _check(kb, fast, varied)
    built = fast.builder
    caches = (fast._entries, fast._by_slots, fast._activations, built._shapes, built._matches)
    caches += (built._conclusions,)
    assert all(len(c) <= 8 for c in (*caches, built._models))
    assert all(len(s.firings) <= _fastresult.FIRINGS_PER_SHAPE for s in built._shapes.values())


def test_a_rule_python_cannot_compile_keeps_its_closures(
    kb: painreason.Knowledge, golden: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Source, "fire", lambda self: ("f0", "def (:", {}))
    monkeypatch.setattr(_Source, "false", lambda self: ("x0", "def (:", {}))
    fast = FastEvaluator(kb)
    for case in golden[:20]:
        _check(kb, fast, case)


def test_generated_source_holds_no_text_from_rule_files(kb: painreason.Knowledge) -> None:
    for i, rule in enumerate(kb.rules):
        gids = tuple(range(len(rule.atoms)))
        text = _Source(i, rule, gids, int).fire()[1] + _Source(i, rule, gids, int).false()[1]
        for atom in rule.atoms:
            name = atom.finding if hasattr(atom, "finding") else atom.fact  # type: ignore[union-attr]
            assert name not in text
        assert rule.id not in text


def test_a_rule_gives_one_support_object_per_distinct_support(
    kb: painreason.Knowledge, golden: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = FastEvaluator(kb)
    first = [fast.run(fast.observe(c)).fired for c in golden]
    again = [fast.run(fast.observe(c)).fired for c in golden]
    assert all(a[r] is b[r] for a, b in zip(first, again, strict=True) for r in a)
    monkeypatch.setattr(_fastcompile, "SUPPORTS_PER_RULE", 0)  # none kept: still equal
    fresh = FastEvaluator(kb)
    for case in golden[:40]:
        _check(kb, fresh, case)
