"""Invariants over random rule sets and cases: backend agreement, determinism, order
independence, trace reachability."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import painreason
from painreason.errors import CapacityError
from painreason.testing.strategies import cases, load_pack, rule_packs

from ..conftest import BACKENDS

PAIRS = {"count": 0}


@given(pack=rule_packs(), batch=st.lists(cases(), min_size=1, max_size=4))
def test_python_backend_is_deterministic_and_order_independent(
    pack: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    kb = load_pack(pack)
    engine = painreason.Engine(kb, backend="python")
    for case in batch:
        first = engine.evaluate(case)
        items = list(case["findings"].items())
        random.Random(7).shuffle(items)
        shuffled = {**case, "findings": dict(items)}
        assert engine.evaluate(shuffled) == first
        assert engine.evaluate(case) == first
        assert painreason.Result.model_validate_json(first.model_dump_json()) == first


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
@given(pack=rule_packs(), batch=st.lists(cases(), min_size=1, max_size=4))
def test_backends_agree(pack: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    kb = load_pack(pack)
    python = painreason.Engine(kb, backend="python")
    try:
        durable = painreason.Engine(kb, backend="durable")
        durable.evaluate(batch[0])
    except CapacityError:
        return  # refused at compile time with a clear error: allowed by contract
    for case in batch:
        assert durable.evaluate(case) == python.evaluate(case)
        PAIRS["count"] += 1


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
def test_enough_pairs_were_compared() -> None:
    """The issue asks for agreement on >= 300 rule-set x case pairs under the ci profile."""
    if settings().max_examples >= 300:
        assert PAIRS["count"] >= 300, PAIRS


@given(pack=rule_packs(), case=cases())
def test_every_conclusion_reaches_an_input_finding(
    pack: dict[str, Any], case: dict[str, Any]
) -> None:
    kb = load_pack(pack)
    result = painreason.Engine(kb, backend="python").evaluate(case)
    trace = result.trace
    g = trace.graph
    findings = set(trace.findings())
    assert {f"finding:{f}" for f in result.findings} == findings
    assert nx.is_directed_acyclic_graph(g)
    for node in trace.conclusions():
        assert nx.ancestors(g, node) & findings, f"{node} does not reach a finding"
    for node, data in g.nodes(data=True):
        if data["kind"] == "rule":
            assert nx.ancestors(g, node) & findings
