"""Invariants of explanations over random rule packs and cases.

- the trace is a DAG; every input finding is a node; every conclusion reaches a finding;
- every explanation is non-empty, cites a source, and each of its chains is a path of the
  trace from an input finding to the conclusion;
- what_if with no change (or re-recording what is recorded) is an empty diff;
- why_not is sound: every smallest set, recorded, proposes the condition, and rules it calls
  blocked stay unfired;
- next findings are sound: each change claimed happens when its values are recorded.
"""

from __future__ import annotations

import itertools
from typing import Any

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

import painreason
from painreason import explain, next_findings, what_if, why_not

from .strategies import CONDITIONS, cases, load_pack, rule_packs

# Loading a pack costs ~60 ms and the engine properties already run the full count on the
# trace; why_not and next_findings evaluate many amended cases per example: fewer examples.
_N = settings().max_examples
LIGHT = settings(max_examples=max(20, _N // 2))
HEAVY = settings(max_examples=max(10, _N // 5))


@LIGHT
@given(pack=rule_packs(), case=cases())
def test_trace_explanations_and_empty_what_if(pack: dict[str, Any], case: dict[str, Any]) -> None:
    kb = load_pack(pack)
    engine = painreason.Engine(kb, backend="python")
    result = engine.evaluate(case)
    trace = result.trace
    g = trace.graph
    assert nx.is_directed_acyclic_graph(g)
    findings = set(trace.findings())
    assert findings == {f"finding:{f}" for f in result.findings}
    targets = trace.conclusions() + [f"fact:{f}" for f in result.derived_facts]
    for node in targets:
        assert nx.ancestors(g, node) & findings, f"{node} does not reach a finding"
        e = explain(result, node, kb)
        assert e.target == node
        assert e.steps, node
        assert e.sources, node
        assert e.findings, node
        assert set(e.sources) <= set(kb.sources)
        assert e.to_text().startswith(f"{e.label} [{node}]")
        chains = e.chains()
        assert chains, node
        for chain in chains:
            assert chain[0] in findings
            assert chain[-1] == node
            assert all(g.has_edge(a, b) for a, b in itertools.pairwise(chain)), chain
        assert {c[0] for c in chains} == {f"finding:{f}" for f in e.findings}
    # what_if with no change, or re-recording what is recorded, changes nothing
    assert what_if(case, engine=engine).empty
    again = what_if(case, set=dict(case["findings"]), engine=engine)
    assert again.empty
    assert again.before == again.after


@HEAVY
@given(pack=rule_packs(), case=cases(), condition=st.sampled_from(CONDITIONS))
def test_why_not_is_sound(pack: dict[str, Any], case: dict[str, Any], condition: str) -> None:
    engine = painreason.Engine(load_pack(pack), backend="python")
    w = why_not(case, condition, engine=engine, max_size=2)
    before = engine.evaluate(case)
    in_diff = condition in before.proposed()
    assert (w.status in ("proposed", "contested")) == in_diff
    assert (w.rule_out is not None) == (w.status in ("contested", "ruled_out"))
    fired = {f.rule for f in before.firings}
    blocked = set()
    for check in w.rules:
        assert (check.status == "fired") == (check.rule in fired)
        if check.status == "blocked":
            blocked.add(check.rule)
        if check.status != "possible":
            assert check.sets == ()
    if in_diff:
        assert w.smallest == ()
    for s in w.smallest:
        assert 1 <= len(s.findings) <= 2
        assert set(s.record) == set(s.findings)
        after = what_if(case, set=s.record, engine=engine).after
        assert condition in after.proposed(), s
        assert not blocked & {f.rule for f in after.firings}


@HEAVY
@given(pack=rule_packs(), case=cases())
def test_next_findings_are_sound(pack: dict[str, Any], case: dict[str, Any]) -> None:
    engine = painreason.Engine(load_pack(pack), backend="python")
    found = next_findings(case, engine=engine, max_size=2)
    kinds = [n.impacts[0].kind for n in found]
    assert kinds == sorted(kinds, key=["red_flag", "condition", "test"].index)
    for n in found:
        for imp in n.impacts[:3]:
            assert n.finding in imp.record
            after = what_if(case, set=imp.record, engine=engine).after
            if imp.kind == "red_flag":
                assert imp.target in {f.id for f in after.red_flags}
            elif imp.effect in ("propose", "contest"):
                assert imp.target in after.proposed()
            elif imp.effect == "rule_out":
                assert imp.target in {o.id for o in after.ruled_out} | set(after.proposed())
            elif imp.kind == "test":
                assert imp.target in {t.id for t in after.tests}
