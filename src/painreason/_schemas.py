"""JSON Schemas of painreason's files, generated from models of their shape.

Rule files are parsed by hand (:mod:`painreason.rules`), so the models here describe their YAML
shape for schema purposes only; knowledge entries and golden-case expectations reuse the
library's own models. The schemas (Draft 2020-12) ship in ``schemas/`` (in the wheel:
``painreason/_data/schemas``) and every shipped YAML file names its schema on its first line,
``# yaml-language-server: $schema=<relative path>``, so editors check files as they are typed.
A schema accepts every file the loader accepts in shape; cross-file checks (unknown ids, plausible
ranges, cycles) stay with the loader.

Regenerate with ``python -m painreason._schemas schemas`` (``make schemas``); a test keeps the
shipped files equal to what this module generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .golden import Expectation
from .vocabulary import Condition, FindingDef, RedFlag, Source, TestDef, TestGroup

__all__ = ["SCHEMAS", "generate", "schema_for"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, pattern=r"\S")]
Side = Literal["left", "right", "bilateral"]
Number = Annotated[float, Field(allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Ratio = Annotated[float, Field(ge=0)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- rule files ------------------------------------------------------------------------


class FactShape(_Shape):
    """A derived fact declared in a rule file."""

    id: Id
    label: Text
    definition: Text


class FindingRef(_Shape):
    """A finding, optionally on one side (or both) and at one level."""

    finding: Id
    side: Side | None = None
    level: str | None = None


class PresentNode(_Shape):
    """The finding is recorded present."""

    present: Id | FindingRef


class AbsentNode(_Shape):
    """The finding is recorded absent."""

    absent: Id | FindingRef


class DerivedNode(_Shape):
    """A derived fact holds."""

    derived: Id


class AllNode(_Shape):
    """Every child holds."""

    all: list[ConditionTree] = Field(min_length=1)


class AnyNode(_Shape):
    """At least one child holds."""

    any_: list[ConditionTree] = Field(alias="any", min_length=1)


class NotNode(_Shape):
    """The child is known not to hold."""

    not_: ConditionTree = Field(alias="not")


class AtLeastBody(_Shape):
    k: int = Field(ge=1)
    of: list[ConditionTree] = Field(min_length=1)


class AtLeastNode(_Shape):
    """At least k children hold."""

    at_least: AtLeastBody


class _Compare(_Shape):
    finding: Id
    side: Side | None = None
    level: str | None = None


class EqNode(_Compare):
    """The finding equals a number or a category."""

    eq: Number | Text


class NeNode(_Compare):
    """The finding differs from a number or a category."""

    ne: Number | Text


class LtNode(_Compare):
    lt: Number


class LeNode(_Compare):
    le: Number


class GtNode(_Compare):
    gt: Number


class GeNode(_Compare):
    ge: Number


class BetweenNode(_Compare):
    """Inclusive range [low, high]."""

    between: tuple[Number, Number]


class InNode(_Compare):
    """The finding is one of these categories."""

    in_: list[Text] = Field(alias="in", min_length=1)


ConditionTree = Union[  # noqa: UP007 - a recursive alias needs Union here
    AllNode,
    AnyNode,
    NotNode,
    AtLeastNode,
    PresentNode,
    AbsentNode,
    DerivedNode,
    EqNode,
    NeNode,
    LtNode,
    LeNode,
    GtNode,
    GeNode,
    BetweenNode,
    InNode,
]


class ProposeBody(_Shape):
    condition: Id
    strength: Literal["low", "moderate", "high"]


class RuleOutBody(_Shape):
    condition: Id


class FlagBody(_Shape):
    red_flag: Id
    urgency: Literal["emergency", "urgent"] | None = None


class SuggestBody(_Shape):
    test: Id
    urgency: Literal["emergency", "urgent", "routine"]
    rationale: Text


class AdviseBody(_Shape):
    test: Id
    rationale: Text


class DeriveAction(_Shape):
    derive: Id


class ProposeAction(_Shape):
    propose: ProposeBody


class RuleOutAction(_Shape):
    rule_out: Id | RuleOutBody


class FlagAction(_Shape):
    flag: FlagBody


class SuggestAction(_Shape):
    suggest: SuggestBody


class AdviseAgainstAction(_Shape):
    advise_against: AdviseBody


Action = (
    DeriveAction | ProposeAction | RuleOutAction | FlagAction | SuggestAction | AdviseAgainstAction
)
FIGURES = ("sensitivity", "specificity", "lr_positive", "lr_negative", "prevalence")


class EvidenceShape(_Shape):
    """Accuracy figures from a cited source; at least one figure."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"anyOf": [{"required": [f]} for f in FIGURES]}
    )

    about: Text
    source: Id
    note: str | None = None
    sensitivity: Fraction | None = None
    specificity: Fraction | None = None
    lr_positive: Ratio | None = None
    lr_negative: Ratio | None = None
    prevalence: Fraction | None = None


class RuleShape(_Shape):
    """One rule: when its condition holds, its actions apply."""

    id: Id
    title: Text
    description: str | None = None
    when: ConditionTree
    then: list[Action] = Field(min_length=1)
    sources: list[Id] = Field(min_length=1)
    evidence: list[EvidenceShape] | None = None


class RuleFile(_Shape):
    """A painreason rule file (rules/*.yaml): derived facts and rules. See
    docs/rule-language.md."""

    facts: list[FactShape] | None = None
    rules: list[RuleShape]


# --- knowledge files -------------------------------------------------------------------


class KnowledgeFile(_Shape):
    """A painreason knowledge file (knowledge/**/*.yaml): any of these sections. See
    docs/rule-language.md."""

    findings: list[FindingDef] | None = None
    conditions: list[Condition] | None = None
    red_flags: list[RedFlag] | None = None
    tests: list[TestDef] | None = None
    test_groups: list[TestGroup] | None = None
    sources: list[Source] | None = None


# --- case files ------------------------------------------------------------------------

Scalar = bool | Number | str | None
Levels = Annotated[list[str], Field(min_length=1)]


class PresentForm(_Shape):
    """A boolean finding, optionally on a side and at levels."""

    present: bool | Literal["present", "absent", "not_recorded"] | None
    side: Side | None = None
    levels: Levels | None = None


class ValueForm(_Shape):
    """A numeric, ordinal or categorical finding on a side."""

    value: Number | str | None
    side: Side | None = None
    levels: Levels | None = None


class SideForm(_Shape):
    """One side of a lateralised finding."""

    present: bool | Literal["present", "absent", "not_recorded"] | None = None
    value: Number | str | None = None
    levels: Levels | None = None


class BySide(_Shape):
    """A lateralised finding recorded per side."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    left: Scalar | SideForm = None
    right: Scalar | SideForm = None


FindingValue = Scalar | PresentForm | ValueForm | BySide


class PatientShape(_Shape):
    age: Annotated[float, Field(ge=0, le=120)] | None = None
    sex: Literal["female", "male"] | None = None


class CaseFile(_Shape):
    """A painreason case: patient context and recorded findings (a finding left out is not
    recorded). See docs/rule-language.md."""

    id: Annotated[str, Field(max_length=200)] | None = None
    patient: PatientShape | None = None
    findings: dict[Id, FindingValue] | None = Field(
        default=None,
        json_schema_extra={"propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$", "maxLength": 64}},
    )


class GoldenCaseShape(_Shape):
    """A golden case: a case and the conclusions expected of it."""

    id: Id
    description: Text
    kind: Literal["positive", "negative_control", "edge"]
    case: CaseFile
    expect: Expectation


class GoldenCaseFile(_Shape):
    """A painreason golden case file (knowledge/cases/*.yaml). See docs/rule-language.md."""

    cases: list[GoldenCaseShape]


for _model in (AllNode, AnyNode, NotNode, AtLeastBody, AtLeastNode, RuleShape, RuleFile):
    _model.model_rebuild()

#: Schema file name -> (model, title).
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "rules.schema.json": (RuleFile, "painreason rule file"),
    "knowledge.schema.json": (KnowledgeFile, "painreason knowledge file"),
    "case.schema.json": (CaseFile, "painreason case"),
    "golden-cases.schema.json": (GoldenCaseFile, "painreason golden case file"),
    "golden-case.schema.json": (GoldenCaseShape, "painreason golden case (one JSONL line)"),
}


def schema_for(name: str) -> dict[str, Any]:
    """The JSON Schema called ``name`` (a key of :data:`SCHEMAS`)."""
    model, title = SCHEMAS[name]
    body = model.model_json_schema(mode="validation", by_alias=True)
    return {"$schema": DRAFT, "title": title, **{k: v for k, v in body.items() if k != "title"}}


def generate() -> dict[str, str]:
    """Every schema file's name and text (sorted keys, two-space indent, final newline)."""
    return {
        name: json.dumps(schema_for(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name in SCHEMAS
    }


def main(argv: list[str]) -> int:
    """Write the schemas into the folder given (default ``schemas``)."""
    out = Path(argv[0] if argv else "schemas")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in generate().items():
        (out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
