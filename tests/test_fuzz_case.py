"""Fuzzing the case parser: Case.from_dict, Case.from_text, observe and Engine.evaluate.

Whatever they are given, they return a Case / Result or raise a PainreasonError subclass:
never another exception. Inputs: wrong types, huge and tiny numbers, NaN and infinities,
surrogates, NUL, bidi marks, deep nesting, YAML-ish text with tags, anchors and aliases, and
random edits of valid case files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import painreason
from painreason import Case
from painreason.case import observe

from ._hostile import (
    ODD_CHARS,
    YAML_TOKENS,
    fuzz_settings,
    hostile_keys,
    hostile_scalars,
    hostile_text,
    hostile_values,
    yaml_ish,
)

ROOT = Path(__file__).resolve().parents[1]
KB = painreason.load_knowledge()
ENGINE = painreason.Engine(KB, backend="python")
IDS = sorted(KB.findings)
FUZZ = fuzz_settings(cap=200)


def typed(call: Callable[[], Any]) -> Any:
    """Run ``call``; a PainreasonError is an allowed outcome (returned), anything else fails."""
    try:
        return call()
    except painreason.PainreasonError as exc:
        str(exc)  # the message itself must build
        return exc


def finding_values() -> st.SearchStrategy[Any]:
    keys = hostile_keys(["present", "value", "side", "levels", "left", "right"])
    return hostile_values(keys) | st.fixed_dictionaries(
        {},
        optional={
            "present": hostile_scalars(),
            "value": hostile_scalars(),
            "side": hostile_scalars(),
            "levels": st.lists(st.sampled_from(["L4", "L5", "S1", "C6", "X9"]) | hostile_scalars()),
            "left": hostile_scalars(),
            "right": hostile_scalars(),
        },
    )


def case_shaped() -> st.SearchStrategy[dict[str, Any]]:
    finding_ids = st.sampled_from(IDS) | hostile_text(20)
    return st.fixed_dictionaries(
        {"findings": st.dictionaries(finding_ids, finding_values(), max_size=6)},
        optional={
            "id": hostile_scalars(),
            "patient": hostile_values()
            | st.fixed_dictionaries(
                {}, optional={"age": hostile_scalars(), "sex": hostile_scalars()}
            ),
            "extra": hostile_scalars(),
        },
    )


@FUZZ
@given(data=hostile_values())
def test_from_dict_of_anything_is_a_case_or_a_case_error(data: Any) -> None:
    out = typed(lambda: Case.from_dict(data))
    assert isinstance(out, Case | painreason.CaseError)


@FUZZ
@given(case=case_shaped())
def test_evaluate_of_a_case_shaped_anything_is_a_result_or_a_case_error(case: Any) -> None:
    built = typed(lambda: Case.from_dict(case))
    if isinstance(built, Case):
        obs = typed(lambda: observe(built, KB))
        assert not isinstance(obs, painreason.PainreasonError) or isinstance(
            obs, painreason.CaseError
        )
    out = typed(lambda: ENGINE.evaluate(case))
    assert isinstance(out, painreason.Result | painreason.CaseError)
    if isinstance(out, painreason.Result):
        assert painreason.Result.model_validate_json(out.model_dump_json()) == out


@FUZZ
@given(text=yaml_ish())
def test_from_text_of_yaml_ish_text_is_a_case_or_a_case_error(text: str) -> None:
    out = typed(lambda: Case.from_text(text))
    assert isinstance(out, Case | painreason.CaseError)
    if isinstance(out, Case):
        assert isinstance(
            typed(lambda: ENGINE.evaluate(out)), painreason.Result | painreason.CaseError
        )


EXAMPLES = [p.read_text() for p in sorted((ROOT / "knowledge" / "examples").glob("*.yaml"))]


@st.composite
def edited_examples(draw: st.DrawFn) -> str:
    """A valid example case file with a few characters inserted, deleted or replaced."""
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        what = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(YAML_TOKENS) | st.sampled_from(ODD_CHARS))
        if what == "insert":
            text = text[:at] + piece + text[at:]
        elif what == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


@FUZZ
@given(text=edited_examples())
def test_edited_example_files_give_a_result_or_a_case_error(text: str) -> None:
    out = typed(lambda: Case.from_text(text, source="example.yaml"))
    if isinstance(out, Case):
        out = typed(lambda: ENGINE.evaluate(out))
    assert isinstance(out, painreason.Result | painreason.CaseError)
    if isinstance(out, painreason.CaseError):
        assert all(p.file == "example.yaml" for p in out.problems)


@fuzz_settings(cap=100)
@given(case=case_shaped())
def test_json_text_of_a_case_shaped_anything_is_a_case_or_a_case_error(case: Any) -> None:
    try:
        text = json.dumps(case, allow_nan=True, default=repr)
    except (TypeError, ValueError):  # keys json cannot write
        return
    out = typed(lambda: ENGINE.evaluate(Case.from_text(text)))
    assert isinstance(out, painreason.Result | painreason.CaseError)
