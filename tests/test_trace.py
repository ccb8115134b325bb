"""The trace graph: nodes, edges, explain, export."""

from __future__ import annotations

import json

import networkx as nx
import pytest

import painreason
from painreason.errors import UnknownTargetError

CES = {"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present", "heart_rate": 80}}


@pytest.fixture(scope="module")
def result() -> painreason.Result:
    return painreason.evaluate(CES, backend="python")


def test_nodes_and_relations(result: painreason.Result) -> None:
    g = result.trace.graph
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"finding", "rule", "condition", "red_flag", "test"} <= kinds
    relations = {d["relation"] for *_, d in g.edges(data=True)}
    assert {"matched", "supports", "raises", "suggests"} <= relations
    assert g.nodes["finding:heart_rate"]["used"] is False
    assert g.nodes["finding:saddle_anaesthesia"]["used"] is True


def test_explain_reaches_back_to_findings(result: painreason.Result) -> None:
    sub = result.trace.explain("cauda_equina_red_flag")
    roots = [n for n in sub.graph if sub.graph.in_degree(n) == 0]
    assert roots
    assert all(n.startswith("finding:") for n in roots)
    assert "finding:saddle_anaesthesia" in roots
    assert "finding:heart_rate" not in sub.graph


def test_explain_unknown_target(result: painreason.Result) -> None:
    with pytest.raises(UnknownTargetError, match="did you mean"):
        result.trace.explain("cauda_equina_syndrom")


def test_node_link_export_round_trips(result: painreason.Result) -> None:
    data = json.loads(result.trace.to_json())
    again = nx.node_link_graph(data, edges="edges")
    assert set(again.nodes) == set(result.trace.graph.nodes)
    assert again.number_of_edges() == result.trace.graph.number_of_edges()


def test_trace_is_cached_and_a_dag(result: painreason.Result) -> None:
    assert result.trace is result.trace
    assert nx.is_directed_acyclic_graph(result.trace.graph)
