"""Cases: structure, vocabulary checks, slots, and the unknown-is-not-absent rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import painreason
from painreason.case import Case, _plain, observe
from painreason.errors import CaseError


def errors(
    kb: painreason.Knowledge, findings: dict[str, object], patient: dict[str, object] | None = None
) -> list[str]:
    case = Case.from_dict({"patient": patient or {}, "findings": findings})
    with pytest.raises(CaseError) as info:
        observe(case, kb)
    return [str(p) for p in info.value.problems]


def test_impossible_heart_rate(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"heart_rate": 900})
    assert "finding 'heart_rate': must be a number from" in msg
    assert "(got 900)" in msg
    assert msg.endswith("[out-of-range]")


def test_mrc_grade_seven(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"great_toe_extension_strength": {"left": 7}})
    assert "must be a whole number from 0 to 5" in msg
    assert "(got 7)" in msg


def test_fractional_mrc_grade(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"great_toe_extension_strength": {"left": 4.5}})
    assert msg.endswith("[out-of-range]")


def test_nan_is_refused_when_the_case_is_built() -> None:
    with pytest.raises(CaseError, match="finite"):
        Case.from_dict({"findings": {"heart_rate": math.nan}})


def test_unknown_finding_with_did_you_mean(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"saddle_anesthesia": "present"})
    assert "unknown finding 'saddle_anesthesia' (did you mean 'saddle_anaesthesia'?)" in msg


def test_wrong_kind(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"heart_rate": "present"})
    assert msg.endswith("[wrong-kind]")
    (msg,) = errors(kb, {"low_back_pain": 3})
    assert "must be present, absent, true, false or not_recorded (got 3)" in msg


def test_lateralised_finding_needs_a_side(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"babinski_sign": "present"})
    assert msg.endswith("[missing-side]")


def test_levelled_finding_needs_levels(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"dermatomal_sensory_loss": {"present": True, "side": "left"}})
    assert msg.endswith("[missing-level]")
    (msg,) = errors(
        kb, {"dermatomal_sensory_loss": {"present": True, "side": "left", "levels": ["L6"]}}
    )
    assert "level 'L6'" in msg
    assert "[bad-level]" in msg


def test_contradicting_age(kb: painreason.Knowledge) -> None:
    (msg,) = errors(kb, {"age": 40}, {"age": 50})
    assert msg.endswith("[contradiction]")


def test_all_problems_at_once(kb: painreason.Knowledge) -> None:
    msgs = errors(kb, {"heart_rate": 900, "fevr": "present", "onset": "slow"})
    assert len(msgs) == 3


def test_unknown_keys_in_case() -> None:
    with pytest.raises(CaseError, match="unknown key") as info:
        Case.from_dict({"patient": {"agee": 4}, "findings": {}})
    assert "did you mean 'age'" in str(info.value)


def test_case_file_errors_are_located(tmp_path: Path, kb: painreason.Knowledge) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("patient: {age: 50}\nfindings:\n  low_back_pain: present\n  heart_rate: 900\n")
    case = Case.from_file(path)
    with pytest.raises(CaseError) as info:
        observe(case, kb)
    assert str(info.value.problems[0]).startswith(f"{path}:4:")


def test_yaml_one_point_two_keeps_no_as_text(tmp_path: Path, kb: painreason.Knowledge) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("findings:\n  low_back_pain: no\n")
    with pytest.raises(CaseError, match="got 'no'"):
        observe(Case.from_file(path), kb)


def test_slots_of_lateralised_and_levelled_findings(kb: painreason.Knowledge) -> None:
    case = Case.from_dict(
        {
            "findings": {
                "dermatomal_sensory_loss": {"present": True, "side": "bilateral", "levels": ["L5"]},
                "ankle_reflex": {"value": 1, "side": "left"},
                "great_toe_extension_strength": {"left": 4, "right": 5},
                "saddle_anaesthesia": "absent",
                "low_back_pain": "not_recorded",
            }
        }
    )
    obs = observe(case, kb)
    assert obs.slots["dermatomal_sensory_loss"] == {("left", "L5"): True, ("right", "L5"): True}
    assert obs.slots["ankle_reflex"] == {("left", None): 1.0}
    assert obs.slots["great_toe_extension_strength"] == {("left", None): 4.0, ("right", None): 5.0}
    assert obs.slots["saddle_anaesthesia"] == {(None, None): False}
    assert "low_back_pain" not in obs.slots


def test_patient_fills_demographic_findings(kb: painreason.Knowledge) -> None:
    obs = observe(Case.from_dict({"patient": {"age": 70, "sex": "female"}}), kb)
    assert obs.slots["age"] == {(None, None): 70.0}
    assert obs.slots["sex"] == {(None, None): "female"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_scalars = st.none() | st.booleans() | st.integers(-5, 200) | st.floats() | st.text(max_size=4)
_patients = st.dictionaries(
    st.sampled_from(["age", "sex"]),
    _scalars | st.sampled_from(["female", "male"]) | st.integers(10**300, 10**300 + 1),
)
_raw_cases = st.fixed_dictionaries(
    {},
    optional={
        "id": st.none() | st.text(max_size=4) | st.text(min_size=199, max_size=201) | _scalars,
        "patient": _patients | _patients.map(lambda p: {**p, "weight": 70}) | _scalars,
        "findings": st.dictionaries(st.text(max_size=4) | st.integers(0, 3), _json, max_size=4)
        | _scalars,
        "notes": _scalars,
    },
)


@given(data=_raw_cases)
def test_plain_cases_are_built_as_validation_builds_them(data: dict[str, object]) -> None:
    quick = _plain(data)
    try:
        want = Case.model_validate(data)
    except ValidationError:
        assert quick is None
        return
    got = Case.from_dict(data)
    for case in (got, quick) if quick is not None else (got,):
        assert case == want
        assert repr(case) == repr(want)
        assert case.__dict__ == want.__dict__
        assert case.model_fields_set == want.model_fields_set
        assert case.patient.model_fields_set == want.patient.model_fields_set
        assert case.model_dump(exclude_unset=True) == want.model_dump(exclude_unset=True)
        assert case.model_dump_json() == want.model_dump_json()
        assert case.__pydantic_private__ == want.__pydantic_private__
        assert hash(case.patient) == hash(want.patient)


def test_usual_cases_take_the_plain_path() -> None:
    data = {
        "id": "c1",
        "patient": {"age": 45, "sex": "male"},
        "findings": {"low_back_pain": "present", "heart_rate": 80.5, "sciatica": {"left": True}},
    }
    case = _plain(data)
    assert case is not None
    assert case.patient.age == 45.0
    assert type(case.patient.age) is float
    assert case.findings == data["findings"]
    assert case.findings is not data["findings"]
    assert _plain({"findings": {"x": math.nan}}) is None
    assert _plain({"patient": {"age": True}}) is None
