"""explain and why_not: chains back to findings, leaf-by-leaf checks, smallest finding sets."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

import painreason
from painreason import UnknownTargetError, explain, what_if, why_not
from painreason.explain import Explanation
from painreason.whynot import WhyNot

ROOT = Path(__file__).resolve().parents[1]
SCIATICA = ROOT / "knowledge" / "examples" / "sciatica_l5.yaml"
CES = {"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}}
MYELOPATHY_OUT: dict[str, Any] = {
    "patient": {"age": 40},
    "findings": {
        "neck_pain": "present",
        "gait_disturbance": "absent",
        "hoffmann_sign": "absent",
        "inverted_supinator_sign": "absent",
        "babinski_sign": "absent",
        "clonus": "absent",
        "loss_of_hand_dexterity": "absent",
    },
}


@pytest.fixture(scope="module")
def engine(kb: painreason.Knowledge) -> painreason.Engine:
    return painreason.Engine(kb, backend="python")


@pytest.fixture(scope="module")
def sciatica(engine: painreason.Engine) -> painreason.Result:
    return engine.evaluate(SCIATICA)


@pytest.fixture(scope="module")
def ces(engine: painreason.Engine) -> painreason.Result:
    return engine.evaluate(CES)


# --- explain ---------------------------------------------------------------------------


def test_red_flag_chain_reaches_findings_through_a_derived_fact(
    ces: painreason.Result, kb: painreason.Knowledge
) -> None:
    e = explain(ces, "cauda_equina_red_flag", kb)
    assert e.target == "red_flag:cauda_equina_red_flag"
    assert e.kind == "red_flag"
    assert e.status == "red flag, emergency"
    assert [s.rule for s in e.steps] == ["ces_objective_signs"]
    assert e.findings == ("low_back_pain", "saddle_anaesthesia")
    assert "girft2023" in e.sources
    assert "Getting It Right First Time" in e.citations["girft2023"]
    assert (
        "finding:low_back_pain",
        "rule:ces_context_back_or_leg_pain",
        "fact:back_or_leg_pain",
        "rule:ces_objective_signs",
        "red_flag:cauda_equina_red_flag",
    ) in e.chains()


def test_every_chain_is_a_path_of_the_trace(sciatica: painreason.Result) -> None:
    g = sciatica.trace.graph
    for node in sciatica.trace.conclusions():
        e = explain(sciatica, node)
        assert e.chains(), node
        for chain in e.chains():
            assert chain[0].startswith("finding:")
            assert chain[-1] == node
            assert all(g.has_edge(a, b) for a, b in itertools.pairwise(chain)), chain


def test_condition_explanation_lists_support_and_red_flag(
    ces: painreason.Result, kb: painreason.Knowledge
) -> None:
    e = explain(ces, "cauda_equina_syndrome", kb)
    assert e.status == "proposed, strength high"
    relations = [(s.relation, s.rule, s.via) for s in e.steps]
    assert ("supports", "ces_objective_signs", None) in relations
    assert ("raises", "ces_objective_signs", "red_flag:cauda_equina_red_flag") in relations
    assert (
        "finding:saddle_anaesthesia",
        "rule:ces_objective_signs",
        "red_flag:cauda_equina_red_flag",
        "condition:cauda_equina_syndrome",
    ) in e.chains()


def test_test_explanation_carries_urgency_and_rationale(ces: painreason.Result) -> None:
    e = explain(ces, "mri_lumbar")
    assert e.kind == "test"
    assert e.status == "emergency"
    assert all(s.relation == "suggests" for s in e.steps)
    assert all(s.note and s.note.startswith("emergency: ") for s in e.steps)
    assert not e.citations  # no knowledge given: source keys only
    assert e.sources


def test_not_indicated_explanation_and_text(
    sciatica: painreason.Result, kb: painreason.Knowledge
) -> None:
    e = explain(sciatica, "lumbar_imaging", kb)
    assert e.target == "advice:lumbar_imaging"
    assert e.status == "in force"
    text = e.to_text()
    assert text.startswith("Imaging of the lumbar spine: not indicated [advice:lumbar_imaging]")
    assert "advises <- radiculopathy_early_no_imaging" in text
    # documented negatives read as such, and failed rules are named with knowledge given
    assert "because history_of_cancer absent - recorded: absent" in text
    assert "failed <- vitals_fever: " in text
    assert "[chou2007] Chou R" in text
    assert str(e) == text


def test_overridden_advice_names_what_overrode_it(engine: painreason.Engine) -> None:
    diff = what_if(SCIATICA, set={"saddle_anaesthesia": "present"}, engine=engine)
    e = explain(diff.after, "advice:lumbar_imaging")
    assert e.status == "overridden"
    assert "red_flag:cauda_equina_red_flag" in e.overridden_by
    assert "overridden by: " in e.to_text()


def test_fact_targets_true_and_false(sciatica: painreason.Result) -> None:
    held = explain(sciatica, "fact:l5_radicular_pattern")
    assert held.status == "holds"
    assert [s.relation for s in held.steps] == ["derives"]
    false = explain(sciatica, "fact:!fever")
    assert false.status == "known false"
    assert [s.relation for s in false.steps] == ["failed"]
    assert false.findings == ("temperature_c",)
    assert ("finding:temperature_c", "fact:!fever") in false.chains()


def test_ruled_out_condition(engine: painreason.Engine) -> None:
    result = engine.evaluate(MYELOPATHY_OUT)
    e = explain(result, "degenerative_cervical_myelopathy")
    assert e.status == "ruled out"
    assert [(s.relation, s.rule) for s in e.steps] == [("refutes", "cook_cluster_rule_out")]
    assert "clonus" in e.findings


def test_unknown_targets(ces: painreason.Result, kb: painreason.Knowledge) -> None:
    with pytest.raises(UnknownTargetError, match="did you mean 'cauda_equina_red_flag'"):
        explain(ces, "cauda_equina_red_flg")
    with pytest.raises(KeyError):
        explain(ces, "rule:ces_objective_signs")
    with pytest.raises(UnknownTargetError) as info:
        explain(ces, "lumbar_radiculopathy", kb)
    assert str(info.value) == (
        "condition 'lumbar_radiculopathy' is not a conclusion of this result "
        "(why_not, or `painreason why-not`, says why)"
    )


def test_knowledge_of_another_version_is_ignored(
    ces: painreason.Result, kb: painreason.Knowledge
) -> None:
    other = painreason.Result.model_validate({**ces.model_dump(), "knowledge_version": "0" * 64})
    assert explain(other, "cauda_equina_red_flag", kb).citations == {}


def test_explanation_round_trips_through_json(sciatica: painreason.Result) -> None:
    e = explain(sciatica, "lumbar_radiculopathy")
    assert Explanation.model_validate_json(e.model_dump_json()) == e
    with pytest.raises(ValueError, match="frozen"):
        e.status = "x"


# --- why_not ---------------------------------------------------------------------------


def test_why_not_cauda_equina_names_the_missing_findings(engine: painreason.Engine) -> None:
    w = why_not(SCIATICA, "cauda_equina_syndrome", engine=engine)
    assert w.status == "not_proposed"
    assert w.rule_out is None
    smallest = {s.findings: s for s in w.smallest}
    assert ("saddle_anaesthesia",) in smallest
    assert ("reduced_anal_tone",) in smallest
    assert smallest[("saddle_anaesthesia",)].record == {"saddle_anaesthesia": "present"}
    assert smallest[("saddle_anaesthesia",)].rules == ("ces_objective_signs",)
    assert all(len(s.findings) == 1 for s in w.smallest)  # nothing larger than a singleton set
    text = w.to_text()
    assert "not recorded saddle_anaesthesia present" in text
    assert "saddle_anaesthesia: present  (via ces_objective_signs)" in text


def test_why_not_keeps_absent_apart_from_not_recorded(engine: painreason.Engine) -> None:
    w = why_not(SCIATICA, "cauda_equina_syndrome", engine=engine)
    checks = {c.rule: c for c in w.rules}
    retention = checks["ces_urinary_retention"]
    assert retention.status == "blocked"
    leaf = {lf.id: lf for lf in retention.leaves}
    assert leaf["urinary_retention"].status == "failed"
    assert leaf["urinary_retention"].observed == "absent"
    assert leaf["back_or_leg_pain"].status == "held"
    objective = checks["ces_objective_signs"]
    assert objective.status == "possible"
    statuses = {lf.id: (lf.status, lf.observed) for lf in objective.leaves}
    assert statuses["saddle_anaesthesia"] == ("not_recorded", None)
    incomplete = {lf.id: lf for lf in checks["ces_incomplete"].leaves}
    assert incomplete["urinary_retention"].needs == "urinary_retention absent"
    assert incomplete["urinary_retention"].status == "held"
    # a fact that failed is unfolded into its deriving rules
    symptoms = {lf.id: lf for lf in checks["ces_suspected_symptoms"].leaves}
    fact = symptoms["ces_sphincter_or_saddle_symptoms"]
    assert fact.status == "failed"
    assert [d.rule for d in fact.derivers] == ["ces_symptom_set"]
    assert {lf.status for lf in fact.derivers[0].leaves} == {"failed"}


def test_every_smallest_set_really_proposes_the_condition(engine: painreason.Engine) -> None:
    w = why_not(SCIATICA, "cauda_equina_syndrome", engine=engine)
    for s in w.smallest:
        after = what_if(SCIATICA, set=s.record, engine=engine).after
        assert "cauda_equina_syndrome" in after.proposed(), s


def test_why_not_for_a_proposed_condition(engine: painreason.Engine) -> None:
    w = why_not(SCIATICA, "lumbar_radiculopathy", engine=engine)
    assert w.status == "proposed"
    assert w.smallest == ()
    assert {c.rule for c in w.rules if c.status == "fired"} >= {
        "l5_radiculopathy",
        "sciatica_positive_slr",
    }


def test_why_not_ruled_out_gives_the_rule_out_chain(engine: painreason.Engine) -> None:
    w = why_not(MYELOPATHY_OUT, "degenerative_cervical_myelopathy", engine=engine)
    assert w.status == "ruled_out"
    assert w.rule_out is not None
    assert [s.rule for s in w.rule_out.steps] == ["cook_cluster_rule_out"]
    assert "ruled out by:" in w.to_text()
    # the rule-in rules are blocked by the documented negatives
    assert all(c.status == "blocked" for c in w.rules if c.rule.startswith("cook_cluster_rule_in"))


def test_why_not_bound_is_reported(engine: painreason.Engine) -> None:
    case = {"findings": {"low_back_pain": "present"}}
    small = why_not(case, "cauda_equina_syndrome", engine=engine, max_size=1)
    assert not small.complete
    assert "search bounded at 1 findings" in small.to_text()
    assert all(len(s.findings) == 1 for s in small.smallest)
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        why_not(case, "cauda_equina_syndrome", engine=engine, max_size=0)


def test_why_not_unknown_condition(engine: painreason.Engine) -> None:
    with pytest.raises(UnknownTargetError, match="did you mean 'cauda_equina_syndrome'"):
        why_not(SCIATICA, "cauda_equina_syndrom", engine=engine)


def test_why_not_round_trips_and_uses_the_bundled_engine_by_default() -> None:
    w = why_not(CES, "cauda_equina_syndrome")
    assert w.status == "proposed"
    assert WhyNot.model_validate_json(w.model_dump_json()) == w
