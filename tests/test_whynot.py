"""The one-line form of why_not that the vignette report shows for a conclusion that did not
come: one line a rule, leaves worded and grouped as why_not words them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import painreason
from painreason.case import observe
from painreason.vocabulary import Urgency
from painreason.whynot import _why_condition, _why_missing, why_not

GOOD = Path(__file__).parent / "data" / "good_pack"
SUBFEBRILE = painreason.Case.model_validate(
    {"findings": {"back_pain": "present", "temperature_c": 37.5}}
)
FEVER = painreason.Case.model_validate({"findings": {"back_pain": "present", "fever": "present"}})
_RULE_OUT = """\
  - id: afebrile_back_pain_not_infection
    title: Back pain without fever - not infection
    when:
      all:
        - present: back_pain
        - absent: fever
    then:
      - rule_out: {condition: infection}
    sources: [example_guideline]
"""


@pytest.fixture(scope="module")
def good() -> painreason.Knowledge:
    return painreason.load_knowledge(GOOD / "rules", GOOD / "knowledge")


def test_a_missed_red_flag_or_test_names_each_rule_where_it_is(
    good: painreason.Knowledge,
) -> None:
    obs = observe(SUBFEBRILE, good)
    line = (
        f"possible fever_with_back_pain ({GOOD / 'rules' / 'pack.yaml'}:2): held: back_pain "
        "present | failed: temperature_c ≥ 38 | not recorded: fever present"
    )
    assert _why_missing(good, obs, "red_flag", "infection_flag") == [line]
    assert _why_missing(good, obs, "test", "mri", Urgency("urgent")) == [line]
    assert _why_missing(good, obs, "test", "mri", Urgency("emergency")) == [
        "no rule in this rule set concludes it at emergency or more urgent"
    ]
    assert _why_missing(good, obs, "advice", "mri") == ["no rule in this rule set concludes it"]


def test_a_missed_condition_says_how_each_rule_concludes_it(good: painreason.Knowledge) -> None:
    engine = painreason.Engine(good, backend="python")
    assert _why_condition(engine, SUBFEBRILE, "infection") == [
        "possible fever_with_back_pain (proposes it, strength moderate): held: back_pain present"
        " | failed: temperature_c ≥ 38 | not recorded: fever present",
        "recording fever: present would propose it (via fever_with_back_pain)",
    ]
    # leaves grouped held, failed, not recorded whatever their order in the rule
    assert _why_condition(engine, FEVER, "mechanical") == [
        "blocked back_pain_without_fever (proposes it, strength low): held: back_pain present"
        " | failed: fever absent | not recorded: temperature_c < 38"
    ]


def test_the_lines_agree_with_why_not_leaf_by_leaf(good: painreason.Knowledge) -> None:
    engine = painreason.Engine(good, backend="python")
    for case in (SUBFEBRILE, FEVER):
        for condition in good.conditions:
            w = why_not(case, condition, engine=engine)
            lines = _why_condition(engine, case, condition)
            for check, line in zip(w.rules, lines, strict=False):
                assert line.startswith(f"{check.status} {check.rule} ({check.via}): ")
                for leaf in check.leaves:
                    assert f"{leaf.status.replace('_', ' ')}: " in line
                    assert leaf.needs in line


def test_a_negated_leaf_reads_as_in_why_not(tmp_path: Path) -> None:
    """``absent: fever`` is ``not: {present: fever}``: it reads ``fever absent`` for a rule-out
    as for a condition, not ``not (fever present)``."""
    shutil.copytree(GOOD / "rules", tmp_path / "rules")
    pack = tmp_path / "rules" / "pack.yaml"
    pack.write_text(pack.read_text() + _RULE_OUT)
    kb = painreason.load_knowledge(tmp_path / "rules", GOOD / "knowledge")
    (line,) = _why_missing(kb, observe(FEVER, kb), "rule_out", "infection")
    assert line.startswith("blocked afebrile_back_pain_not_infection (")
    assert line.endswith("pack.yaml:25): held: back_pain present | failed: fever absent")
