"""Hypothesis strategies: random rule packs over a small synthetic vocabulary, and cases."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import painreason

FINDINGS: list[dict[str, Any]] = [
    {"id": "b0", "kind": "boolean", "section": "history"},
    {"id": "b1", "kind": "boolean", "section": "history"},
    {"id": "b2", "kind": "boolean", "section": "physical_exam", "lateralised": True},
    {
        "id": "b3",
        "kind": "boolean",
        "section": "neuro_exam",
        "lateralised": True,
        "levels": ["L4", "L5", "S1"],
    },
    {"id": "b4", "kind": "boolean", "section": "neuro_exam", "levels": ["C6", "C7"]},
    {"id": "n0", "kind": "numeric", "section": "vital_signs", "range": [0, 200], "unit": "/min"},
    {"id": "o0", "kind": "ordinal", "section": "neuro_exam", "scale": "mrc", "lateralised": True},
    {"id": "c0", "kind": "categorical", "section": "history", "values": ["x", "y", "z"]},
]
BY_ID = {f["id"]: f for f in FINDINGS}
CONDITIONS = ["k0", "k1", "k2"]
TESTS = ["t0", "t1", "t2"]
N_FACTS = 4


def knowledge_files() -> dict[str, Any]:
    """The fixed knowledge (vocabulary, conditions, red flags, tests, sources)."""
    return {
        "findings": [{"label": f["id"].upper(), "definition": "synthetic", **f} for f in FINDINGS],
        "conditions": [
            {
                "id": c,
                "label": c.upper(),
                "region": "lumbar",
                "category": "specific",
                "description": "synthetic",
            }
            for c in CONDITIONS
        ],
        "red_flags": [
            {
                "id": "r0",
                "label": "R0",
                "urgency": "urgent",
                "description": "s",
                "conditions": ["k0"],
            },
            {"id": "r1", "label": "R1", "urgency": "emergency", "description": "s"},
        ],
        "tests": [
            {"id": t, "label": t.upper(), "kind": "imaging", "description": "s"} for t in TESTS
        ],
        "test_groups": [{"id": "g0", "label": "G0", "tests": ["t0", "t1"]}],
        "sources": [{"key": "s0", "citation": "synthetic", "kind": "study"}],
    }


def _side(f: dict[str, Any]) -> st.SearchStrategy[str | None]:
    if f.get("lateralised"):
        return st.sampled_from([None, "left", "right", "bilateral"])
    return st.none()


@st.composite
def predicates(draw: st.DrawFn, max_fact: int) -> dict[str, Any]:
    choices = ["finding"] * 4 + (["fact"] if max_fact > 0 else [])
    if draw(st.sampled_from(choices)) == "fact":
        return {"derived": f"f{draw(st.integers(0, max_fact - 1))}"}
    f = BY_ID[draw(st.sampled_from(sorted(BY_ID)))]
    side = draw(_side(f))
    extra: dict[str, Any] = {"side": side} if side else {}
    if f["kind"] == "boolean":
        level = draw(st.none() | st.sampled_from(f["levels"])) if f.get("levels") else None
        if level:
            extra["level"] = level
        key = draw(st.sampled_from(["present", "absent"]))
        return {key: {"finding": f["id"], **extra}} if extra else {key: f["id"]}
    if f["kind"] == "categorical":
        op = draw(st.sampled_from(["eq", "ne", "in"]))
        if op == "in":
            return {
                "finding": f["id"],
                "in": draw(
                    st.lists(st.sampled_from(f["values"]), min_size=1, max_size=2, unique=True)
                ),
            }
        return {"finding": f["id"], op: draw(st.sampled_from(f["values"]))}
    hi = 5 if f["kind"] == "ordinal" else 200
    op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge", "between"]))
    if op == "between":
        a, b = sorted(draw(st.lists(st.integers(0, hi), min_size=2, max_size=2)))
        return {"finding": f["id"], "between": [a, b], **extra}
    return {"finding": f["id"], op: draw(st.integers(0, hi)), **extra}


@st.composite
def conditions(draw: st.DrawFn, max_fact: int, depth: int = 0) -> dict[str, Any]:
    if depth >= 2 or draw(st.booleans()):
        return draw(predicates(max_fact))
    kind = draw(st.sampled_from(["all", "any", "not", "at_least"]))
    if kind == "not":
        return {"not": draw(conditions(max_fact, depth + 1))}
    children = draw(st.lists(conditions(max_fact, depth + 1), min_size=1, max_size=3))
    if kind == "at_least":
        return {"at_least": {"k": draw(st.integers(1, len(children))), "of": children}}
    return {kind: children}


@st.composite
def actions(draw: st.DrawFn, fact: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if fact is not None:
        out.append({"derive": f"f{fact}"})
    pool = st.sampled_from(["propose", "rule_out", "flag", "suggest", "advise"])
    for kind in draw(st.lists(pool, min_size=0 if fact is not None else 1, max_size=3)):
        if kind == "propose":
            out.append(
                {
                    "propose": {
                        "condition": draw(st.sampled_from(CONDITIONS)),
                        "strength": draw(st.sampled_from(["low", "moderate", "high"])),
                    }
                }
            )
        elif kind == "rule_out":
            out.append({"rule_out": {"condition": draw(st.sampled_from(CONDITIONS))}})
        elif kind == "flag":
            out.append({"flag": {"red_flag": draw(st.sampled_from(["r0", "r1"]))}})
        elif kind == "suggest":
            out.append(
                {
                    "suggest": {
                        "test": draw(st.sampled_from(TESTS)),
                        "urgency": draw(st.sampled_from(["emergency", "urgent", "routine"])),
                        "rationale": "synthetic",
                    }
                }
            )
        else:
            out.append(
                {
                    "advise_against": {
                        "test": draw(st.sampled_from(["g0", "t2"])),
                        "rationale": "synthetic",
                    }
                }
            )
    return out


@st.composite
def rule_packs(draw: st.DrawFn) -> dict[str, Any]:
    """A random, valid rule file: facts f0..f3 derived in order (no cycles), other rules."""
    rules = []
    n_facts = draw(st.integers(0, N_FACTS))
    for k in range(n_facts):
        for j in range(draw(st.integers(1, 2))):
            rules.append(
                {
                    "id": f"d{k}_{j}",
                    "title": "derive",
                    "sources": ["s0"],
                    "when": draw(conditions(k)),
                    "then": draw(actions(k)),
                }
            )
    for j in range(draw(st.integers(1, 6))):
        rules.append(
            {
                "id": f"r{j}",
                "title": "conclude",
                "sources": ["s0"],
                "when": draw(conditions(n_facts)),
                "then": draw(actions(None)),
            }
        )
    facts = [{"id": f"f{k}", "label": f"F{k}", "definition": "synthetic"} for k in range(n_facts)]
    return {"facts": facts, "rules": rules}


def _value(f: dict[str, Any]) -> st.SearchStrategy[Any]:
    if f["kind"] == "boolean":
        return st.sampled_from(["present", "absent"])
    if f["kind"] == "categorical":
        return st.sampled_from(f["values"])
    hi = 5 if f["kind"] == "ordinal" else 200
    return st.integers(0, hi)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid case over the synthetic vocabulary; any finding may be left out."""
    findings: dict[str, Any] = {}
    for f in FINDINGS:
        if draw(st.integers(0, 3)) == 0:
            continue
        if f.get("lateralised"):
            form = draw(st.sampled_from(["sides", "one"]))
            if f["kind"] == "boolean" and f.get("levels"):
                lv = draw(st.lists(st.sampled_from(f["levels"]), min_size=1, unique=True))
                present = draw(st.booleans())
                value: Any = {
                    "present": present,
                    "side": draw(st.sampled_from(["left", "right", "bilateral"])),
                    "levels": lv,
                }
                if draw(st.booleans()) and not present:
                    value = "absent"
            elif form == "sides":
                value = {
                    s: draw(_value(f))
                    for s in draw(
                        st.lists(st.sampled_from(["left", "right"]), min_size=1, unique=True)
                    )
                }
            else:
                key = "present" if f["kind"] == "boolean" else "value"
                raw = draw(_value(f))
                if f["kind"] == "boolean":
                    raw = raw == "present"
                value = {key: raw, "side": draw(st.sampled_from(["left", "right", "bilateral"]))}
        elif f.get("levels"):
            present = draw(st.booleans())
            value = (
                {
                    "present": True,
                    "levels": draw(st.lists(st.sampled_from(f["levels"]), min_size=1, unique=True)),
                }
                if present
                else "absent"
            )
        else:
            value = draw(_value(f))
        findings[f["id"]] = value
    return {"id": "synthetic", "findings": findings}


def write_pack(rule_file: dict[str, Any], root: Path | None = None) -> Path:
    """Write a rule pack (rules/ and knowledge/) to a folder and return it."""
    root = Path(tempfile.mkdtemp(prefix="painreason-pack-")) if root is None else root
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "knowledge").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "random.json").write_text(json.dumps(rule_file))
    (root / "knowledge" / "synthetic.json").write_text(json.dumps(knowledge_files()))
    return root


def load_pack(rule_file: dict[str, Any]) -> painreason.Knowledge:
    """Write and load a random rule pack."""
    root = write_pack(rule_file)
    try:
        return painreason.load_knowledge(root / "rules", root / "knowledge")
    finally:
        shutil.rmtree(root, ignore_errors=True)
