"""The bundled knowledge: every rule cited, every conclusion exercised by a golden case."""

from __future__ import annotations

import re

import pytest

import painreason
from painreason.golden import GoldenCase, load_golden

_KB = painreason.load_knowledge()
GOLDEN = load_golden(_KB)


@pytest.fixture(scope="module")
def results() -> dict[str, painreason.Result]:
    engine = painreason.Engine(_KB, backend="python")
    return {g.id: engine.evaluate(g.case) for g in GOLDEN}


def test_every_rule_cites_a_known_source() -> None:
    for rule in _KB.rules:
        assert rule.sources, rule.id
        assert set(rule.sources) <= set(_KB.sources), rule.id


def test_every_figure_has_a_known_source() -> None:
    for rule in _KB.rules:
        for ev in rule.evidence:
            assert ev.source in _KB.sources, (rule.id, ev.about)


def test_at_least_ninety_golden_cases_and_three_per_condition() -> None:
    assert len(GOLDEN) >= 90
    kinds = {(g.kind) for g in GOLDEN}
    assert kinds == {"positive", "negative_control", "edge"}


def test_every_condition_is_proposed_by_some_golden_case(
    results: dict[str, painreason.Result],
) -> None:
    proposed = {c for r in results.values() for c in r.proposed()}
    assert set(_KB.conditions) - proposed == set()


def test_every_red_flag_fires_on_some_golden_case(results: dict[str, painreason.Result]) -> None:
    raised = {f.id for r in results.values() for f in r.red_flags}
    assert set(_KB.red_flags) - raised == set()


def test_every_test_is_suggested_by_some_golden_case(
    results: dict[str, painreason.Result],
) -> None:
    suggested = {t.id for r in results.values() for t in r.tests}
    assert set(_KB.tests) - suggested == set()


def test_every_rule_fires_on_some_golden_case(results: dict[str, painreason.Result]) -> None:
    fired = {f.rule for r in results.values() for f in r.firings}
    assert {r.id for r in _KB.rules} - fired == set()


@pytest.mark.parametrize(
    "golden", [g for g in GOLDEN if g.kind == "negative_control"], ids=lambda g: g.id
)
def test_negative_controls_name_the_look_alike_they_must_not_propose(
    golden: GoldenCase, results: dict[str, painreason.Result]
) -> None:
    assert golden.expect.not_proposed, "a negative control states what it must not propose"
    assert not set(golden.expect.not_proposed) & set(results[golden.id].proposed())


def test_codes_are_well_formed() -> None:
    icd = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
    for cond in _KB.conditions.values():
        for code in cond.icd10cm:
            assert icd.match(code), (cond.id, code)
        for code in cond.snomed:
            assert code.isdigit(), (cond.id, code)
    for finding in _KB.findings.values():
        for code in finding.codes:
            if code.system == "loinc":
                assert re.match(r"^[0-9]{1,7}-[0-9]$", code.code), (finding.id, code)


_PAIN_REGIONS = {
    "low_back_pain": "lumbar",
    "thoracic_back_pain": "thoracic",
    "neck_pain": "cervical",
}


def test_imaging_follows_the_painful_region() -> None:
    # A rule that may fire on pain in one region must not ask for imaging of another: thoracic
    # pain alone once led to lumbar MRI. Rules that fire on more than one region leave the
    # imaging to one rule a region (see rules/spinal_malignancy.yaml).
    region_of = {
        test: group.removesuffix("_imaging")
        for group in ("lumbar_imaging", "thoracic_imaging", "cervical_imaging")
        for test in _KB.test_groups[group].tests
    }
    wrong = []
    for rule in _KB.rules:
        pains = {
            _PAIN_REGIONS[a.finding]
            for a in rule.atoms
            if isinstance(a, painreason.rules.Pred)
            and a.finding in _PAIN_REGIONS
            and a.op == "present"
        }
        imaged = {
            region_of[a.test]
            for a in rule.actions
            if isinstance(a, painreason.rules.Suggest) and a.test in region_of
        }
        if pains and imaged and (len(pains) > 1 or not imaged <= pains):
            wrong.append((rule.id, sorted(pains), sorted(imaged)))
    assert wrong == []
