"""Hypothesis strategies for rule-set research, and helpers to state rule-set invariants.

Needs hypothesis (``pip install 'painreason[testing]'``); ``import painreason`` never imports
it. Strategies draw:

- :func:`cases`: valid cases over a vocabulary (a :class:`~painreason.Knowledge`'s, or a small
  synthetic one), every finding kind and form (sides, levels, ``absent``);
- :func:`extra_findings`: findings to add to a case, only ids it has not recorded;
- :func:`rule_packs`: random, valid rule files (derived facts without cycles, every action);
- :func:`when_trees`: random condition trees.

Invariant helpers raise ``AssertionError`` with the case that breaks them:
:func:`assert_order_independent` (the order of findings never matters) and
:func:`assert_red_flags_kept` (recording more findings never removes a red flag).

Examples
--------
>>> from hypothesis import given, settings
>>> import painreason
>>> from painreason.testing import strategies as prs
>>> kb = painreason.load_knowledge()
>>> engine = painreason.Engine(kb, backend="python")
>>> @settings(max_examples=5, deadline=None)
... @given(case=prs.cases(kb, max_findings=6), extra=prs.extra_findings(kb, max_size=2))
... def test_red_flags_are_kept(case, extra):
...     prs.assert_red_flags_kept(engine, case, extra)
>>> test_red_flags_are_kept()
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ..engine import Engine
from ..loader import Knowledge, load_knowledge
from ..rules import Flag
from ..vocabulary import FindingDef, FindingKind, Urgency

__all__ = [
    "CONDITIONS",
    "FINDINGS",
    "TESTS",
    "Vocabulary",
    "actions",
    "assert_order_independent",
    "assert_red_flags_kept",
    "case_values",
    "cases",
    "extra_findings",
    "knowledge_files",
    "load_pack",
    "predicates",
    "red_flag_findings",
    "rule_packs",
    "when_trees",
    "write_pack",
]

# --- the synthetic vocabulary ----------------------------------------------------------

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
CONDITIONS = ["k0", "k1", "k2"]
TESTS = ["t0", "t1", "t2"]
N_FACTS = 4


def knowledge_files() -> dict[str, Any]:
    """The synthetic knowledge file: 8 findings of every kind, 3 conditions, 2 red flags,
    3 tests, a test group and a source."""
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


class Vocabulary:
    """What random rules may refer to: findings, conditions, red flags, tests (and groups)
    and sources, from a :class:`~painreason.Knowledge` or the synthetic vocabulary."""

    def __init__(self, knowledge: Knowledge | None = None) -> None:
        if knowledge is None:
            data = knowledge_files()
            self.findings = {f["id"]: FindingDef.model_validate(f) for f in data["findings"]}
            self.conditions = list(CONDITIONS)
            self.red_flags = ["r0", "r1"]
            self.tests = list(TESTS)
            self.advisable = ["g0", "t2"]
            self.sources = ["s0"]
        else:
            self.findings = dict(knowledge.findings)
            self.conditions = sorted(knowledge.conditions)
            self.red_flags = sorted(knowledge.red_flags)
            self.tests = sorted(knowledge.tests)
            self.advisable = sorted({*knowledge.tests, *knowledge.test_groups})
            self.sources = sorted(knowledge.sources)
        self.fact_prefix = "f" if knowledge is None else "random_fact_"


def _vocab(knowledge: Knowledge | Vocabulary | None) -> Vocabulary:
    return knowledge if isinstance(knowledge, Vocabulary) else Vocabulary(knowledge)


# --- cases -----------------------------------------------------------------------------


def _scalar(f: FindingDef) -> st.SearchStrategy[Any]:
    if f.kind is FindingKind.BOOLEAN:
        return st.sampled_from(["present", "absent"])
    if f.kind is FindingKind.CATEGORICAL:
        return st.sampled_from(list(f.values or ()))
    lo, hi = f.bounds or (0.0, 1.0)
    if f.kind is FindingKind.ORDINAL:
        return st.integers(int(lo), int(hi))
    return st.integers(int(lo), int(hi)) | st.floats(lo, hi, allow_nan=False)


def case_values(f: FindingDef) -> st.SearchStrategy[Any]:
    """Valid recorded values of one finding, in every form the case format accepts."""

    @st.composite
    def draw_value(draw: st.DrawFn) -> Any:
        side = st.sampled_from(["left", "right", "bilateral"])
        if f.kind is FindingKind.BOOLEAN and f.levels:
            if draw(st.booleans()):
                return "absent"
            levels = draw(st.lists(st.sampled_from(list(f.levels)), min_size=1, unique=True))
            value: dict[str, Any] = {"present": draw(st.booleans()), "levels": levels}
            if f.lateralised:
                value["side"] = draw(side)
            return value
        if not f.lateralised:
            return draw(_scalar(f))
        if draw(st.booleans()):
            sides = draw(st.lists(st.sampled_from(["left", "right"]), min_size=1, unique=True))
            return {s: draw(_scalar(f)) for s in sides}
        raw = draw(_scalar(f))
        if f.kind is FindingKind.BOOLEAN:
            return {"present": raw == "present", "side": draw(side)}
        return {"value": raw, "side": draw(side)}

    return draw_value()


@st.composite
def cases(
    draw: st.DrawFn,
    knowledge: Knowledge | Vocabulary | None = None,
    *,
    findings: Sequence[str] | None = None,
    max_findings: int | None = None,
) -> dict[str, Any]:
    """A valid case (as a dict) over a vocabulary; any finding may be left out.

    Parameters
    ----------
    knowledge : Knowledge, optional
        Whose vocabulary to draw from; the synthetic vocabulary when omitted.
    findings : sequence of str, optional
        Draw only these finding ids.
    max_findings : int, optional
        At most this many findings a case (default: all of them may appear).
    """
    vocab = _vocab(knowledge)
    ids = sorted(findings if findings is not None else vocab.findings)
    chosen = draw(
        st.lists(st.sampled_from(ids), unique=True, max_size=max_findings or len(ids))
        if ids
        else st.just([])
    )
    return {
        "id": "synthetic",
        "findings": {fid: draw(case_values(vocab.findings[fid])) for fid in sorted(chosen)},
    }


@st.composite
def extra_findings(
    draw: st.DrawFn,
    knowledge: Knowledge | Vocabulary | None = None,
    *,
    findings: Sequence[str] | None = None,
    max_size: int = 3,
) -> dict[str, Any]:
    """Findings with values to add to a case (:func:`assert_red_flags_kept` drops the ids a
    case already records)."""
    vocab = _vocab(knowledge)
    ids = sorted(findings if findings is not None else vocab.findings)
    chosen = draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=max_size))
    return {fid: draw(case_values(vocab.findings[fid])) for fid in sorted(chosen)}


def red_flag_findings(knowledge: Knowledge) -> list[str]:
    """Findings read by rules that raise a red flag (directly or through derived facts)."""
    readers: dict[str, set[str]] = {}
    for rule in knowledge.rules:
        readers[rule.id] = set(rule.reads_findings)
    out: set[str] = set()
    pending = [r for r in knowledge.rules if any(isinstance(a, Flag) for a in r.actions)]
    seen: set[str] = set()
    while pending:
        rule = pending.pop()
        if rule.id in seen:
            continue
        seen.add(rule.id)
        out |= readers[rule.id]
        for fact in rule.reads_facts:
            pending += knowledge.derivers.get(fact, ())
    return sorted(out)


# --- rule packs ------------------------------------------------------------------------


def _side(f: FindingDef) -> st.SearchStrategy[str | None]:
    if f.lateralised:
        return st.sampled_from([None, "left", "right", "bilateral"])
    return st.none()


@st.composite
def predicates(
    draw: st.DrawFn, max_fact: int, knowledge: Knowledge | Vocabulary | None = None
) -> dict[str, Any]:
    """A leaf: a finding predicate of any form, or (when ``max_fact > 0``) a derived fact
    among the first ``max_fact``."""
    vocab = _vocab(knowledge)
    choices = ["finding"] * 4 + (["fact"] if max_fact > 0 else [])
    if draw(st.sampled_from(choices)) == "fact":
        return {"derived": f"{vocab.fact_prefix}{draw(st.integers(0, max_fact - 1))}"}
    f = vocab.findings[draw(st.sampled_from(sorted(vocab.findings)))]
    side = draw(_side(f))
    extra: dict[str, Any] = {"side": side} if side else {}
    if f.kind is FindingKind.BOOLEAN:
        level = draw(st.none() | st.sampled_from(list(f.levels))) if f.levels else None
        if level:
            extra["level"] = level
        key = draw(st.sampled_from(["present", "absent"]))
        return {key: {"finding": f.id, **extra}} if extra else {key: f.id}
    if f.kind is FindingKind.CATEGORICAL:
        values = list(f.values or ())
        op = draw(st.sampled_from(["eq", "ne", "in"]))
        if op == "in":
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
            return {"finding": f.id, "in": chosen}
        return {"finding": f.id, op: draw(st.sampled_from(values))}
    lo, hi = f.bounds or (0.0, 1.0)
    op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge", "between"]))
    if op == "between":
        a, b = sorted(draw(st.lists(st.integers(int(lo), int(hi)), min_size=2, max_size=2)))
        return {"finding": f.id, "between": [a, b], **extra}
    return {"finding": f.id, op: draw(st.integers(int(lo), int(hi))), **extra}


@st.composite
def when_trees(
    draw: st.DrawFn,
    max_fact: int,
    knowledge: Knowledge | Vocabulary | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """A random ``when`` tree (all / any / not / at_least over :func:`predicates`), at most
    three levels deep."""
    if depth >= 2 or draw(st.booleans()):
        return draw(predicates(max_fact, knowledge))
    kind = draw(st.sampled_from(["all", "any", "not", "at_least"]))
    if kind == "not":
        return {"not": draw(when_trees(max_fact, knowledge, depth + 1))}
    children = draw(st.lists(when_trees(max_fact, knowledge, depth + 1), min_size=1, max_size=3))
    if kind == "at_least":
        return {"at_least": {"k": draw(st.integers(1, len(children))), "of": children}}
    return {kind: children}


@st.composite
def actions(
    draw: st.DrawFn, fact: int | None, knowledge: Knowledge | Vocabulary | None = None
) -> list[dict[str, Any]]:
    """A rule's ``then``: ``derive`` fact number ``fact`` (when given) and up to three more
    actions of any kind."""
    vocab = _vocab(knowledge)
    out: list[dict[str, Any]] = []
    if fact is not None:
        out.append({"derive": f"{vocab.fact_prefix}{fact}"})
    pool = ["propose", "rule_out", "flag", "suggest", "advise"]
    if not vocab.conditions:
        pool = [k for k in pool if k not in ("propose", "rule_out")]
    if not vocab.red_flags:
        pool.remove("flag")
    if not vocab.tests:
        pool.remove("suggest")
    if not vocab.advisable:
        pool.remove("advise")
    if not pool:
        return out
    kinds = draw(st.lists(st.sampled_from(pool), min_size=0 if fact is not None else 1, max_size=3))
    for kind in kinds:
        if kind == "propose":
            strength = draw(st.sampled_from(["low", "moderate", "high"]))
            cond = draw(st.sampled_from(vocab.conditions))
            out.append({"propose": {"condition": cond, "strength": strength}})
        elif kind == "rule_out":
            out.append({"rule_out": {"condition": draw(st.sampled_from(vocab.conditions))}})
        elif kind == "flag":
            out.append({"flag": {"red_flag": draw(st.sampled_from(vocab.red_flags))}})
        elif kind == "suggest":
            urgency = draw(st.sampled_from(["emergency", "urgent", "routine"]))
            test = draw(st.sampled_from(vocab.tests))
            out.append({"suggest": {"test": test, "urgency": urgency, "rationale": "synthetic"}})
        else:
            test = draw(st.sampled_from(vocab.advisable))
            out.append({"advise_against": {"test": test, "rationale": "synthetic"}})
    return out


@st.composite
def rule_packs(
    draw: st.DrawFn, knowledge: Knowledge | Vocabulary | None = None, max_rules: int = 6
) -> dict[str, Any]:
    """A random, valid rule file: up to four derived facts, each derived by one or two rules
    reading only earlier facts (so no cycle), and 1 to ``max_rules`` concluding rules."""
    vocab = _vocab(knowledge)
    source = [vocab.sources[0]]
    rules = []
    n_facts = draw(st.integers(0, N_FACTS))
    for k in range(n_facts):
        for j in range(draw(st.integers(1, 2))):
            rules.append(
                {
                    "id": f"d{k}_{j}",
                    "title": "derive",
                    "sources": source,
                    "when": draw(when_trees(k, vocab)),
                    "then": draw(actions(k, vocab)),
                }
            )
    for j in range(draw(st.integers(1, max_rules))):
        then = draw(actions(None, vocab))
        if not then:
            continue
        rules.append(
            {
                "id": f"r{j}",
                "title": "conclude",
                "sources": source,
                "when": draw(when_trees(n_facts, vocab)),
                "then": then,
            }
        )
    facts = [
        {"id": f"{vocab.fact_prefix}{k}", "label": f"F{k}", "definition": "synthetic"}
        for k in range(n_facts)
    ]
    return {"facts": facts, "rules": rules}


def write_pack(rule_file: Mapping[str, Any], root: Path | None = None) -> Path:
    """Write a rule pack (``rules/random.json`` and the synthetic ``knowledge/``) to a folder
    (a new temporary one by default) and return the folder."""
    root = Path(tempfile.mkdtemp(prefix="painreason-pack-")) if root is None else root
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "knowledge").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "random.json").write_text(json.dumps(rule_file))
    (root / "knowledge" / "synthetic.json").write_text(json.dumps(knowledge_files()))
    return root


def load_pack(rule_file: Mapping[str, Any], knowledge: Knowledge | None = None) -> Knowledge:
    """Load a random rule file with the synthetic knowledge, or with ``knowledge``'s folder
    (for rules drawn by ``rule_packs(knowledge)``)."""
    if knowledge is not None:
        root = Path(tempfile.mkdtemp(prefix="painreason-rules-"))
        try:
            (root / "random.json").write_text(json.dumps(rule_file))
            return load_knowledge(root, knowledge.case_root())
        finally:
            shutil.rmtree(root, ignore_errors=True)
    root = write_pack(rule_file)
    try:
        return load_knowledge(root / "rules", root / "knowledge")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- invariants ------------------------------------------------------------------------


def assert_order_independent(
    engine: Engine, case: Mapping[str, Any], shuffles: int = 3, seed: int = 0
) -> None:
    """The Result does not depend on the order in which findings are written.

    Raises
    ------
    AssertionError
        Naming the order that gave a different Result.
    """
    first = engine.evaluate(dict(case))
    rng = random.Random(seed)
    for _ in range(shuffles):
        items = list(case.get("findings", {}).items())
        rng.shuffle(items)
        shuffled = {**case, "findings": dict(items)}
        again = engine.evaluate(shuffled)
        assert again == first, (
            f"finding order changed the result: {[k for k, _ in items]} gave "
            f"{again.summary()}, the written order gave {first.summary()}"
        )


def assert_red_flags_kept(
    engine: Engine, case: Mapping[str, Any], extra: Mapping[str, Any]
) -> None:
    """Recording more findings never removes a red flag nor lowers its urgency.

    ``extra`` findings the case already records are ignored (changing a recorded value is
    not recording more). This holds for every rule set: three-valued evaluation is monotone
    in what is recorded, so a rule that fired still fires.

    Raises
    ------
    AssertionError
        Naming the findings whose recording removed or downgraded a red flag.
    """
    findings = dict(case.get("findings", {}))
    added = {k: v for k, v in extra.items() if k not in findings and k not in ("age", "sex")}
    before = engine.evaluate(dict(case))
    after = engine.evaluate({**case, "findings": {**findings, **added}})
    now = {f.id: Urgency(f.urgency) for f in after.red_flags}
    for flag in before.red_flags:
        assert flag.id in now, f"recording {added} removed red flag {flag.id}"
        assert now[flag.id].rank <= Urgency(flag.urgency).rank, (
            f"recording {added} lowered red flag {flag.id} from {flag.urgency} to "
            f"{now[flag.id].value}"
        )
