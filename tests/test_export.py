"""Exports (DOT, Mermaid, GraphML), graphviz rendering and its fallback, notebook display,
DataFrames, and the walkthrough notebook's rendered graph."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

import painreason
from painreason import _display, cli, export
from painreason.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "walkthrough.ipynb"
CES = {
    "id": "ces",
    "findings": {"low_back_pain": "present", "saddle_anaesthesia": "present", "heart_rate": 80},
}
HAS_DOT = export.can_render()
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="graphviz (package and dot) not installed")


@pytest.fixture(scope="module")
def result() -> painreason.Result:
    return painreason.evaluate(CES, backend="python")


def nasty_trace() -> Trace:
    """Labels with every character DOT, Mermaid and HTML treat specially."""
    g: nx.DiGraph[str] = nx.DiGraph(case_id=None, knowledge_version="v")
    g.add_node("finding:a", kind="finding", label='a "quoted" \\ back', observed="<1 | #2>")
    g.add_node("rule:r", kind="rule", label="r: title; {braces} [x]", sources=["s0", "s1"])
    g.add_node("condition:c", kind="condition", label="C & D", status="contested", strength=None)
    g.add_edge("finding:a", "rule:r", relation="matched", holds=False, predicate="a present")
    g.add_edge("rule:r", "condition:c", relation="refutes")
    return Trace(g)


def test_dot_uses_safe_ids_and_keeps_every_node_and_edge(result: painreason.Result) -> None:
    dot = result.trace.to_dot()
    g = result.trace.graph
    nodes = re.findall(r"^  (n\d+) \[", dot, flags=re.M)
    edges = re.findall(r"^  (n\d+) -> (n\d+) \[", dot, flags=re.M)
    assert len(nodes) == len(set(nodes)) == g.number_of_nodes()
    assert len(edges) == g.number_of_edges()
    tooltips = set(re.findall(r'tooltip="([^"]+)"', dot))
    assert tooltips == set(g.nodes)  # the real id of every node is kept
    assert 'label="RED FLAG\\nFeatures of cauda equina syndrome\\nemergency"' in dot
    assert dot == result.trace.to_dot()  # deterministic


def test_dot_escapes_labels() -> None:
    dot = nasty_trace().to_dot()
    assert 'label="a \\"quoted\\" \\\\ back\\n<1 | #2>"' in dot
    assert 'label="known false", style="dashed"' in dot


@needs_dot
def test_dot_output_parses_with_graphviz() -> None:
    out = subprocess.run(
        ["dot", "-Tplain"], input=nasty_trace().to_dot(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert sum(line.startswith("node ") for line in out.stdout.splitlines()) == 3


def test_mermaid(result: painreason.Result) -> None:
    text = result.trace.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    g = result.trace.graph
    edges = [line for line in lines if "-->" in line or "-.->" in line]
    assert len(edges) == g.number_of_edges()
    assert not any(":" in line.split("[")[0].split("(")[0] for line in lines[1:] if "-->" in line)
    assert "classDef red_flag" in text


def test_mermaid_escapes_labels() -> None:
    text = nasty_trace().to_mermaid()
    assert 'n0(["a #quot;quoted#quot; \\ back<br/>#lt;1 #124; #35;2#gt;"])' in text
    assert "n0 -.->|known false| n1" in text
    assert "n1 -.->|refutes| n2" in text
    assert "class n2 condition_contested" in text


def test_graphml_round_trips(result: painreason.Result) -> None:
    g = nx.read_graphml(io.BytesIO(result.trace.to_graphml().encode()))
    src = result.trace.graph
    assert set(g.nodes) == set(src.nodes)
    assert set(g.edges) == set(src.edges)
    rule = g.nodes["rule:ces_objective_signs"]
    assert rule["sources"] == "; ".join(src.nodes["rule:ces_objective_signs"]["sources"])
    assert g.nodes["finding:heart_rate"]["used"] is False
    assert g.graph["knowledge_version"] == result.knowledge_version
    assert "case_id" in g.graph


def test_graphml_drops_none(result: painreason.Result) -> None:
    g = nx.read_graphml(io.BytesIO(nasty_trace().to_graphml().encode()))
    assert "strength" not in g.nodes["condition:c"]
    assert "case_id" not in g.graph


@needs_dot
def test_render_svg_and_png(result: painreason.Result) -> None:
    svg = result.trace.to_svg()
    assert svg is not None
    assert "<svg" in svg
    assert "Features of cauda equina syndrome" in svg
    png = result.trace.to_png()
    assert png is not None
    assert png.startswith(b"\x89PNG")
    bundle = result.trace._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg")
    assert result.trace._repr_html_().startswith('<div class="painreason-trace"><svg')


def test_render_degrades_without_graphviz(
    result: painreason.Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # the viz extra is not installed
    assert export.can_render() is False
    assert result.trace.to_svg() is None
    assert result.trace.to_png() is None
    bundle = result.trace._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert bundle["text/markdown"].startswith("```mermaid\nflowchart LR\n")
    assert '<pre class="mermaid">flowchart LR' in result._repr_html_()
    assert result.trace._repr_html_().startswith('<pre class="mermaid">flowchart LR')


def test_render_degrades_without_dot(
    result: painreason.Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert export.render(result.trace) is None


@needs_dot
def test_render_never_raises_when_dot_fails(
    result: painreason.Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphviz

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise graphviz.CalledProcessError(1, ["dot"], b"", b"boom")

    monkeypatch.setattr(graphviz.Source, "pipe", broken)
    assert export.render(result.trace) is None
    assert "text/markdown" in result.trace._repr_mimebundle_()
    with pytest.raises(ValueError, match="format must be 'svg' or 'png'"):
        export.render(result.trace, "pdf")  # type: ignore[arg-type]


def test_result_html_lists_red_flags_first(result: painreason.Result) -> None:
    html = result._repr_html_()
    assert html.index("decision support") < html.index("<h4>Red flags</h4>")
    assert html.index("<h4>Red flags</h4>") < html.index("<h4>Differential</h4>")
    assert html.index("<h4>Differential</h4>") < html.index("<h4>Suggested tests</h4>")
    assert "<strong>EMERGENCY</strong>: Features of cauda equina syndrome" in html
    assert "Trace graph" in html
    bundle = result._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"].splitlines()[1] == (
        "  red flags: cauda_equina_red_flag (emergency)"
    )


def test_result_html_escapes_and_shows_next_findings(result: painreason.Result) -> None:
    full = result.with_next_findings(CES)
    html = _display.result_html(full, graph=False)
    assert "<h4>Findings to check next</h4>" in html
    assert "Trace graph" not in html
    empty = painreason.evaluate({"id": "<b>x</b>", "findings": {}}, backend="python")
    page = _display.result_html(empty, graph=False)
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "none raised" in page


def test_display_disclaimer_matches_the_cli() -> None:
    assert _display.DISCLAIMER == cli.DISCLAIMER


def test_data_frames(result: painreason.Result) -> None:
    pytest.importorskip("pandas")
    diff = result.to_frame()
    assert list(diff["id"]) == [c.id for c in result.differential]
    assert diff.loc[0, "status"] == "proposed"
    assert list(diff.loc[0, "red_flags"]) == ["cauda_equina_red_flag"]
    edges = result.trace.to_frame()
    assert len(edges) == result.trace.graph.number_of_edges()
    assert set(edges["relation"]) >= {"matched", "raises", "supports", "suggests"}
    nodes = result.trace.to_frame("nodes")
    assert len(nodes) == result.trace.graph.number_of_nodes()
    with pytest.raises(ValueError, match="what must be"):
        result.trace.to_frame("both")


def test_data_frames_need_pandas(
    result: painreason.Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"painreason\[pandas\]"):
        result.to_frame()


def test_walkthrough_notebook_shows_a_rendered_graph() -> None:
    """Run the notebook and check its graph cell: SVG when dot exists, else Mermaid."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    stored = nbformat.read(NOTEBOOK, as_version=4)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in stored.cells
        if c.cell_type == "code"
    ), "the notebook must be stored without outputs"
    client = nbclient.NotebookClient(
        stored,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK.parent}},
    )
    client.execute()
    (graph,) = [c for c in stored.cells if "graph" in c.metadata.get("tags", [])]
    (shown,) = [o for o in graph.outputs if "data" in o]
    if HAS_DOT:
        assert shown["data"]["image/svg+xml"].startswith("<svg")
    else:
        assert shown["data"]["text/markdown"].startswith("```mermaid")
