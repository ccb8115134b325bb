"""The loader reports every problem of a rule pack at once, located, with a fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import painreason
from painreason.errors import KnowledgeError
from painreason.testing.strategies import knowledge_files

GOOD_RULE = """\
facts:
  - {id: f0, label: F0, definition: synthetic}
rules:
  - id: derive_f0
    title: derive
    when: {present: b0}
    then: [{derive: f0}]
    sources: [s0]
  - id: conclude
    title: conclude
    when:
      all:
        - derived: f0
        - {finding: n0, gt: 100}
    then:
      - propose: {condition: k0, strength: high}
    sources: [s0]
"""


def pack(tmp_path: Path, rules: str, name: str = "r.yaml") -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "rules" / name).write_text(rules)
    (tmp_path / "knowledge" / "k.json").write_text(json.dumps(knowledge_files()))
    return tmp_path


def problems(tmp_path: Path, rules: str) -> list[str]:
    root = pack(tmp_path, rules)
    with pytest.raises(KnowledgeError) as info:
        painreason.load_knowledge(root / "rules", root / "knowledge")
    return [str(p) for p in info.value.problems]


def test_good_pack_loads(tmp_path: Path) -> None:
    root = pack(tmp_path, GOOD_RULE)
    kb = painreason.load_knowledge(root / "rules", root / "knowledge")
    assert [r.id for r in kb.rules] == ["derive_f0", "conclude"]
    assert kb.fact_order == ("f0",)
    assert len(kb.version) == 64


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    root = pack(tmp_path, GOOD_RULE)
    a = painreason.load_knowledge(root / "rules", root / "knowledge").version
    (root / "rules" / "r.yaml").write_text(GOOD_RULE.replace("gt: 100", "gt: 101"))
    b = painreason.load_knowledge(root / "rules", root / "knowledge").version
    assert a != b


def test_typo_in_finding_is_located_with_did_you_mean(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("{finding: n0, gt: 100}", "{finding: n9, gt: 100}")
    (msg,) = problems(tmp_path, text)
    assert msg.endswith(
        "r.yaml:14:11: rule 'conclude': unknown finding 'n9' (did you mean 'n0'?) [unknown-finding]"
    )


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        GOOD_RULE.replace("present: b0", "present: bo")
        .replace("condition: k0", "condition: kk0")
        .replace("sources: [s0]\n  - id: conclude", "sources: [s9]\n  - id: conclude")
        .replace("strength: high", "strength: huge")
    )
    codes = [m.rsplit("[", 1)[1].rstrip("]") for m in problems(tmp_path, text)]
    assert sorted(codes) == ["bad-value", "unknown-finding", "unknown-source"]


def test_unknown_keys_and_actions(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("title: conclude", "title: conclude\n    whne: {}").replace(
        "- propose:", "- propse:"
    )
    msgs = problems(tmp_path, text)
    assert any("unknown key 'whne'" in m and "(did you mean 'when'?)" in m for m in msgs)
    assert any("unknown action 'propse'" in m and "(did you mean 'propose'?)" in m for m in msgs)


CYCLE = """\
facts:
  - {id: f0, label: F0, definition: s}
  - {id: f1, label: F1, definition: s}
rules:
  - {id: a, title: a, when: {derived: f1}, then: [{derive: f0}], sources: [s0]}
  - {id: b, title: b, when: {derived: f0}, then: [{derive: f1}], sources: [s0]}
"""


def test_cycle_among_derived_facts_is_refused(tmp_path: Path) -> None:
    msgs = problems(tmp_path, CYCLE)
    assert any("[fact-cycle]" in m and "f0 -> f1 -> f0" in m for m in msgs)


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("{present: n0}", "wrong-kind"),
        ("{finding: b0, gt: 1}", "wrong-kind"),
        ("{finding: c0, eq: w}", "bad-value"),
        ("{present: {finding: b0, side: left}}", "bad-side"),
        ("{present: {finding: b3, level: C5}}", "bad-level"),
        ("{derived: nope}", "unknown-fact"),
        ("{finding: n0, between: [5, 1]}", "bad-value"),
        ("{at_least: {k: 3, of: [{present: b0}]}}", "bad-condition"),
        ("{all: []}", "bad-condition"),
        ("{present: b0, absent: b1}", "bad-condition"),
        ("{finding: n0, gt: .nan}", "bad-value"),
    ],
)
def test_bad_conditions(tmp_path: Path, when: str, code: str) -> None:
    text = f"""\
rules:
  - id: x
    title: x
    when: {when}
    then: [{{propose: {{condition: k0, strength: low}}}}]
    sources: [s0]
"""
    msgs = problems(tmp_path, text)
    assert any(m.endswith(f"[{code}]") and "r.yaml:4:" in m for m in msgs), msgs


def test_rule_without_source_and_figure_without_source(tmp_path: Path) -> None:
    text = """\
rules:
  - id: x
    title: x
    when: {present: b0}
    then: [{propose: {condition: k0, strength: low}}]
    evidence: [{about: b0, sensitivity: 0.5}]
"""
    codes = {m.rsplit("[", 1)[1].rstrip("]") for m in problems(tmp_path, text)}
    assert codes == {"missing-source", "figure-without-source"}


def test_unsafe_yaml_tag_is_refused(tmp_path: Path) -> None:
    msgs = problems(tmp_path, "rules: !!python/object/apply:os.system ['echo hi']\n")
    assert len(msgs) == 1
    assert msgs[0].endswith("[yaml-unsafe-tag]")


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    msgs = problems(tmp_path, "rules: []\nrules: []\n")
    assert msgs[0].endswith("[yaml-duplicate-key]")
    assert ":2:" in msgs[0]


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
            f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        )
    lines.append("rules: []")
    msgs = problems(tmp_path, "\n".join(lines) + "\n")
    assert msgs[0].endswith("[file-too-large]")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="missing-folder"):
        painreason.load_knowledge(tmp_path / "nope", tmp_path)


def test_bundled_knowledge_loads(kb: painreason.Knowledge) -> None:
    assert kb.rules
    assert all(r.sources for r in kb.rules)


FACT_IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@given(
    facts=st.lists(FACT_IDS, unique=True),
    links=st.lists(
        st.tuples(st.lists(FACT_IDS, max_size=2), st.lists(FACT_IDS, max_size=2)), max_size=6
    ),
)
def test_fact_order_is_networkx_lexicographical_topological_order(
    facts: list[str], links: list[tuple[list[str], list[str]]]
) -> None:
    import networkx as nx

    from painreason.loader import _fact_graph, _fact_order

    rules = [
        SimpleNamespace(id=f"r{i}", reads_facts=tuple(r), derives=tuple(d))
        for i, (r, d) in enumerate(links)
    ]
    graph = _fact_graph(rules, facts)  # type: ignore[arg-type]
    got = _fact_order(rules, facts)  # type: ignore[arg-type]
    if nx.is_directed_acyclic_graph(graph):
        assert got == tuple(nx.lexicographical_topological_sort(graph))
    else:
        assert got is None


def test_fact_order_of_partial_knowledge_with_a_cycle_raises_as_networkx_does(
    tmp_path: Path,
) -> None:
    import networkx as nx

    from painreason.loader import load_partial

    root = pack(tmp_path, CYCLE)
    loaded = load_partial(root / "rules", root / "knowledge")
    with pytest.raises(nx.NetworkXUnfeasible):
        _ = loaded.knowledge.fact_order


def test_loading_and_evaluating_never_import_networkx() -> None:
    code = (
        "import sys, painreason\n"
        "kb = painreason.load_knowledge()\n"
        "painreason.Engine(kb, backend='python').evaluate("
        "{'findings': {'low_back_pain': 'present'}})\n"
        "assert 'networkx' not in sys.modules\n"
        "assert painreason.Trace.__module__ == 'painreason.trace'\n"
        "assert 'networkx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
