"""The shipped JSON Schemas are fresh, valid Draft 2020-12, accept every shipped file (and
every random valid rule pack and case) and reject malformed ones; every shipped YAML file
names its schema on its first line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

import painreason
from painreason._schemas import SCHEMAS, generate
from painreason._yaml import parse
from painreason.testing import strategies as prs

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "schemas"


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text()))


def schema_of(rel: Path) -> str:
    if rel.parts[0] == "rules":
        return "rules.schema.json"
    if "cases" in rel.parts:
        return "golden-cases.schema.json"
    if "examples" in rel.parts:
        return "case.schema.json"
    return "knowledge.schema.json"


SHIPPED = sorted(
    p.relative_to(ROOT)
    for folder in ("rules", "knowledge")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".yaml", ".yml", ".json")
)


def test_shipped_schemas_are_fresh() -> None:
    expected = generate()
    shipped = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert shipped == expected, "schemas/ is stale: run `make schemas`"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_there_are_shipped_files_of_every_kind() -> None:
    kinds = {schema_of(p) for p in SHIPPED}
    assert kinds == set(SCHEMAS) - {"golden-case.schema.json"}
    assert len(SHIPPED) > 50


@pytest.mark.parametrize("rel", SHIPPED, ids=str)
def test_shipped_file_validates_and_names_its_schema(rel: Path) -> None:
    text = (ROOT / rel).read_text()
    data = parse(text, str(rel)).data
    errors = list(validator(schema_of(rel)).iter_errors(data))
    assert not errors, f"{rel}: {errors[0].message} at {list(errors[0].absolute_path)}"
    first = text.splitlines()[0]
    target = "../" * (len(rel.parts) - 1) + f"schemas/{schema_of(rel)}"
    assert first == f"# yaml-language-server: $schema={target}"
    assert ((ROOT / rel).parent / target).resolve() == (SCHEMA_DIR / schema_of(rel)).resolve()


def rule(**over: Any) -> dict[str, Any]:
    base = {
        "id": "x",
        "title": "t",
        "when": {"present": "a"},
        "then": [{"propose": {"condition": "k", "strength": "low"}}],
        "sources": ["s"],
    }
    return {"rules": [{**base, **over}]}


@pytest.mark.parametrize(
    "data",
    [
        {"rulez": []},
        rule(when={"present": "a", "absent": "b"}),
        rule(when={"finding": "hr", "gt": 1, "lt": 2}),
        rule(when={"finding": "hr"}),
        rule(when={"all": []}),
        rule(when={"present": "L5-pattern"}),
        rule(when={"present": {"finding": "a", "side": "up"}}),
        rule(when={"finding": "hr", "between": [1]}),
        rule(when={"finding": "hr", "gt": True}),
        rule(when={"finding": "c", "in": []}),
        rule(when={"at_least": {"k": 0, "of": [{"present": "a"}]}}),
        rule(sources=[]),
        rule(then=[]),
        rule(then=[{"propse": {"condition": "k", "strength": "low"}}]),
        rule(then=[{"propose": {"condition": "k", "strength": "huge"}}]),
        rule(then=[{"suggest": {"test": "t", "urgency": "soon", "rationale": "r"}}]),
        rule(then=[{"suggest": {"test": "t", "urgency": "urgent"}}]),
        rule(evidence=[{"about": "x", "source": "s"}]),
        rule(evidence=[{"about": "x", "source": "s", "sensitivity": 1.4}]),
        rule(evidence=[{"about": "x", "sensitivity": 0.4}]),
        rule(whne={"present": "a"}),
        {"facts": [{"id": "f"}], "rules": []},
    ],
)
def test_rule_schema_rejects_malformed(data: dict[str, Any]) -> None:
    assert not validator("rules.schema.json").is_valid(data)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("knowledge.schema.json", {"findingz": []}),
        (
            "knowledge.schema.json",
            {"findings": [{"id": "a", "label": "A", "section": "x", "kind": "boolean"}]},
        ),
        ("knowledge.schema.json", {"sources": [{"key": "s", "citation": "c", "kind": "blog"}]}),
        ("knowledge.schema.json", {"red_flags": [{"id": "r", "label": "R", "urgency": "routine"}]}),
        ("case.schema.json", {"findings": {"a": {"present": True, "sidee": "left"}}}),
        ("case.schema.json", {"findings": {"a": {"left": {"presnt": True}}}}),
        ("case.schema.json", {"findings": {"a": {}}}),
        ("case.schema.json", {"findings": {"Heart-Rate": 80}}),
        ("case.schema.json", {"patient": {"age": 200}}),
        ("case.schema.json", {"patient": {"sex": "m"}}),
        ("case.schema.json", {"finding": {}}),
        ("golden-cases.schema.json", {"cases": [{"id": "x", "description": "d"}]}),
        (
            "golden-cases.schema.json",
            {
                "cases": [
                    {"id": "x", "description": "d", "kind": "positive", "case": {}, "expect": {}}
                ]
            },
        ),
        (
            "golden-case.schema.json",
            {
                "id": "x",
                "description": "d",
                "kind": "positive",
                "case": {},
                "expect": {"red_flags": [], "tests": {"mri": "asap"}},
            },
        ),
    ],
)
def test_other_schemas_reject_malformed(name: str, data: dict[str, Any]) -> None:
    assert not validator(name).is_valid(data)


def test_golden_case_schema_accepts_one_line_of_jsonl() -> None:
    line = {
        "id": "x",
        "description": "d",
        "kind": "edge",
        "case": {"patient": {"age": 40}, "findings": {"fever": "present"}},
        "expect": {"red_flags": [], "tests": {"mri_lumbar": "urgent"}},
    }
    assert validator("golden-case.schema.json").is_valid(line)


KB = painreason.load_knowledge()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pack=prs.rule_packs(),
    case=prs.cases(),
    bundled_pack=prs.rule_packs(KB, max_rules=3),
    bundled_case=prs.cases(KB, max_findings=8),
)
def test_random_valid_rule_packs_and_cases_validate(
    pack: dict[str, Any],
    case: dict[str, Any],
    bundled_pack: dict[str, Any],
    bundled_case: dict[str, Any],
) -> None:
    for rules in (pack, bundled_pack):
        assert validator("rules.schema.json").is_valid(rules), rules
    for c in (case, bundled_case):
        assert validator("case.schema.json").is_valid(c), c
    assert validator("knowledge.schema.json").is_valid(prs.knowledge_files())
