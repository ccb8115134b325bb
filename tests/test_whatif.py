"""what_if, diff_results and next_findings."""

from __future__ import annotations

from pathlib import Path

import pytest

import painreason
from painreason import CaseError, ResultDiff, UnknownTargetError, diff_results, what_if
from painreason import next_findings as find_next

from .conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
SCIATICA = ROOT / "knowledge" / "examples" / "sciatica_l5.yaml"


@pytest.fixture(scope="module")
def engine(kb: painreason.Knowledge) -> painreason.Engine:
    return painreason.Engine(kb, backend="python")


def test_saddle_anaesthesia_raises_cauda_equina_and_emergency_mri(
    engine: painreason.Engine,
) -> None:
    d = what_if(SCIATICA, set={"saddle_anaesthesia": "present"}, engine=engine)
    assert not d.empty
    flags = {c.id: c for c in d.red_flags}
    assert flags["cauda_equina_red_flag"].change == "added"
    assert flags["cauda_equina_red_flag"].after == "emergency"
    tests = {c.id: c for c in d.tests}
    assert tests["mri_lumbar"].change == "added"
    assert tests["mri_lumbar"].after == "emergency"
    conds = {c.id: c for c in d.conditions}
    assert conds["cauda_equina_syndrome"].after == "proposed, high"
    advice = {c.id: c for c in d.not_indicated}
    assert (advice["lumbar_imaging"].before, advice["lumbar_imaging"].after) == (
        "in_force",
        "overridden",
    )
    assert d.changes()[0].kind == "red_flag"  # red flags first
    text = d.to_text()
    assert text.startswith("What if saddle_anaesthesia = present:\n  RED FLAGS\n")
    assert "+ MRI lumbar spine without contrast [mri_lumbar]: emergency" in text
    assert "~ Imaging of the lumbar spine [lumbar_imaging]: in_force -> overridden" in text


def test_no_change_is_an_empty_diff(engine: painreason.Engine) -> None:
    d = what_if(SCIATICA, engine=engine)
    assert d.empty
    assert d.changes() == ()
    assert d.before == d.after
    assert "no change to red flags" in d.to_text()
    same = what_if(SCIATICA, set={"leg_pain": "present", "pain_score": 7}, engine=engine)
    assert same.empty


def test_unset_removes_findings_and_patient_context(engine: painreason.Engine) -> None:
    d = what_if(SCIATICA, unset=["leg_pain"], engine=engine)
    removed = {c.id: c for c in d.conditions}
    assert removed["lumbar_radiculopathy"].change == "removed"
    assert removed["lumbar_radiculopathy"].before == "proposed, high"
    assert "leg_pain not recorded" in d.to_text()
    # age lives in the patient block of this case; unset clears it there
    older = what_if(SCIATICA, set={"age": 70}, engine=engine)
    assert older.after.findings["age"] != older.before.findings["age"]
    gone = what_if(SCIATICA, unset=["age"], engine=engine)
    assert "age" not in gone.after.findings


def test_changed_status_and_urgency(engine: painreason.Engine) -> None:
    case = {"findings": {"low_back_pain": "present", "leg_pain": "present"}}
    d = what_if(case, set={"urinary_retention": "present"}, engine=engine)
    assert {c.id for c in d.red_flags} == {"cauda_equina_red_flag"}
    back = diff_results(d.after, d.before)
    assert [(c.id, c.change) for c in back.red_flags] == [("cauda_equina_red_flag", "removed")]
    assert {c.change for c in back.tests} <= {"removed", "changed"}


def test_bad_changes_are_typed_errors(engine: painreason.Engine) -> None:
    with pytest.raises(UnknownTargetError, match="did you mean 'saddle_anaesthesia'"):
        what_if(SCIATICA, set={"saddle_anesthesia": "present"}, engine=engine)
    with pytest.raises(UnknownTargetError, match="unknown finding 'nope'"):
        what_if(SCIATICA, unset=["nope"], engine=engine)
    with pytest.raises(CaseError, match="heart_rate"):
        what_if(SCIATICA, set={"heart_rate": 900}, engine=engine)


def test_diff_round_trips(engine: painreason.Engine) -> None:
    d = what_if(SCIATICA, set={"saddle_anaesthesia": "present"}, engine=engine)
    assert ResultDiff.model_validate_json(d.model_dump_json()) == d


# --- next findings ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def upcoming(engine: painreason.Engine) -> tuple[painreason.NextFinding, ...]:
    return find_next(SCIATICA, engine=engine)


def test_next_findings_rank_red_flags_first(
    upcoming: tuple[painreason.NextFinding, ...],
) -> None:
    assert upcoming
    kinds = [n.impacts[0].kind for n in upcoming]
    first_other = next(i for i, k in enumerate(kinds) if k != "red_flag")
    assert all(k != "red_flag" for k in kinds[first_other:])
    ranked = [n.finding for n in upcoming]
    assert ranked.index("saddle_anaesthesia") < 5
    top = {n.finding: n for n in upcoming}["saddle_anaesthesia"]
    assert (top.impacts[0].kind, top.impacts[0].target, top.impacts[0].effect) == (
        "red_flag",
        "cauda_equina_red_flag",
        "raise",
    )
    assert top.impacts[0].together_with == ()
    assert top.section == "neuro_exam"
    # recorded findings are not suggested unless part of them is unrecorded
    assert "leg_pain" not in ranked


def test_next_findings_are_sound(
    engine: painreason.Engine, upcoming: tuple[painreason.NextFinding, ...]
) -> None:
    for n in upcoming[:10]:
        for imp in n.impacts[:3]:
            after = what_if(SCIATICA, set=imp.record, engine=engine).after
            if imp.kind == "red_flag":
                assert imp.target in {f.id for f in after.red_flags}, imp
            elif imp.kind == "condition" and imp.effect == "propose":
                assert imp.target in after.proposed(), imp
            elif imp.kind == "test":
                assert imp.target in {t.id for t in after.tests}, imp


def test_result_with_next_findings(engine: painreason.Engine) -> None:
    result = engine.evaluate(SCIATICA)
    assert result.next_findings is None
    full = result.with_next_findings(SCIATICA, engine)
    assert full.next_findings
    assert painreason.Result.model_validate_json(full.model_dump_json()) == full
    assert full != result
    assert painreason.Result.model_validate({**full.model_dump(), "next_findings": None}) == result


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
def test_backends_still_agree(kb: painreason.Knowledge) -> None:
    python = painreason.Engine(kb, backend="python").evaluate(SCIATICA)
    durable = painreason.Engine(kb, backend="durable").evaluate(SCIATICA)
    assert python == durable


def test_next_findings_bound(engine: painreason.Engine) -> None:
    with pytest.raises(ValueError, match="max_size"):
        find_next(SCIATICA, engine=engine, max_size=0)
    alone = find_next(SCIATICA, engine=engine, max_size=1)
    assert all(not i.together_with for n in alone for i in n.impacts)
