"""Notebook display of Results and Traces, and pandas tables.

Jupyter calls ``_repr_mimebundle_`` on the last value of a cell. A Result shows red flags
first, then the differential, ruled-out conditions, tests, advice and (when computed) the
findings to check next, then its trace graph; a Trace shows its graph. Graphs are SVG when
graphviz renders (the ``viz`` extra and ``dot``), else Mermaid text: display never fails
because a renderer is missing.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from .export import svg_text, to_mermaid

if TYPE_CHECKING:
    from .results import Result
    from .trace import Trace

__all__ = [
    "differential_frame",
    "result_bundle",
    "result_html",
    "trace_bundle",
    "trace_frame",
    "trace_html",
]

DISCLAIMER = (
    "painreason is decision support: it does not replace clinical judgement. "
    "Red flags are listed first."
)
_TABLE = 'style="border-collapse:collapse;text-align:left"'
_CELL = 'style="border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top"'


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = [f"<table {_TABLE}><thead><tr>"]
    out += [f"<th {_CELL}>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td {_CELL}>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def trace_html(trace: Trace) -> str:
    """The trace graph as inline SVG, or as Mermaid text in a ``<pre class="mermaid">``."""
    svg = svg_text(trace)
    if svg is not None:
        return f'<div class="painreason-trace">{svg}</div>'
    return f'<pre class="mermaid">{escape(to_mermaid(trace))}</pre>'


def trace_bundle(trace: Trace) -> dict[str, str]:
    """MIME bundle of a trace: ``image/svg+xml`` when graphviz renders, else Mermaid."""
    bundle = {"text/plain": repr(trace)}
    svg = svg_text(trace)
    if svg is not None:
        bundle["image/svg+xml"] = svg
    else:
        bundle["text/markdown"] = f"```mermaid\n{to_mermaid(trace)}```\n"
    return bundle


def result_html(result: Result, graph: bool = True) -> str:
    """A Result as HTML: red flags first, then tables, then the trace graph."""
    parts = [f"<div class='painreason-result'><p><em>{escape(DISCLAIMER)}</em></p>"]
    parts.append(
        f"<p>Case {escape(result.case_id or '(no id)')} - knowledge "
        f"{escape(result.knowledge_version[:12])}</p>"
    )
    parts.append("<h4>Red flags</h4>")
    if result.red_flags:
        items = "".join(
            f"<li style='color:#a00000'><strong>{escape(f.urgency.upper())}</strong>: "
            f"{escape(f.label)} [{escape(f.id)}] - raised by {escape(', '.join(f.raised_by))}"
            "</li>"
            for f in result.red_flags
        )
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append("<p>none raised</p>")
    parts.append("<h4>Differential</h4>")
    if result.differential:
        rows = [
            [
                str(n),
                c.label,
                c.id,
                c.status,
                c.strength or "",
                ", ".join(c.red_flags),
                ", ".join(c.supporting),
                ", ".join(c.refuting),
            ]
            for n, c in enumerate(result.differential, 1)
        ]
        head = ["#", "condition", "id", "status", "strength", "red flags", "supported by"]
        parts.append(_table([*head, "refuted by"], rows))
    else:
        parts.append("<p>no condition proposed</p>")
    if result.ruled_out:
        parts.append("<h4>Ruled out</h4>")
        rows = [[o.label, o.id, ", ".join(o.refuting)] for o in result.ruled_out]
        parts.append(_table(["condition", "id", "ruled out by"], rows))
    parts.append("<h4>Suggested tests</h4>")
    if result.tests:
        rows = [
            [t.urgency, t.label, t.id, ", ".join(r.rule for r in t.requested_by)]
            for t in result.tests
        ]
        parts.append(_table(["urgency", "test", "id", "asked by"], rows))
    else:
        parts.append("<p>none</p>")
    if result.not_indicated:
        parts.append("<h4>Not indicated</h4>")
        rows = [
            [n.label, n.id, n.status.replace("_", " "), ", ".join(n.overridden_by)]
            for n in result.not_indicated
        ]
        parts.append(_table(["tests", "id", "status", "overridden by"], rows))
    if result.next_findings:
        parts.append("<h4>Findings to check next</h4>")
        rows = []
        for nf in result.next_findings[:15]:
            top = nf.impacts[0]
            need = f" (with {', '.join(top.together_with)})" if top.together_with else ""
            rows.append(
                [nf.label, nf.finding, f"{top.effect} {top.target}{need}", str(len(nf.impacts))]
            )
        parts.append(_table(["finding", "id", "could", "changes"], rows))
    if graph:
        parts.append("<details open><summary>Trace graph</summary>")
        parts.append(trace_html(result.trace))
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def result_text(result: Result) -> str:
    """A short plain-text summary (red flags first)."""
    flags = ", ".join(f"{f.id} ({f.urgency})" for f in result.red_flags) or "none"
    diff = ", ".join(f"{c.id} ({c.status})" for c in result.differential) or "none"
    tests = ", ".join(f"{t.id} ({t.urgency})" for t in result.tests) or "none"
    return (
        f"Result(case={result.case_id!r})\n  red flags: {flags}\n"
        f"  differential: {diff}\n  tests: {tests}"
    )


def result_bundle(result: Result) -> dict[str, str]:
    """MIME bundle of a Result: HTML and plain text."""
    return {"text/html": result_html(result), "text/plain": result_text(result)}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("DataFrames need pandas: pip install 'painreason[pandas]'") from exc
    return pandas


def differential_frame(result: Result) -> Any:
    """The differential (and ruled-out conditions) as a DataFrame, one row per condition."""
    pd = _pandas()
    rows: list[dict[str, Any]] = []
    for n, c in enumerate(result.differential, 1):
        rows.append(
            {
                "rank": n,
                "id": c.id,
                "label": c.label,
                "status": c.status,
                "strength": c.strength,
                "red_flags": list(c.red_flags),
                "supporting": list(c.supporting),
                "refuting": list(c.refuting),
                "category": c.category,
                "region": c.region,
                "icd10cm": list(c.icd10cm),
            }
        )
    for o in result.ruled_out:
        rows.append(
            {
                "rank": None,
                "id": o.id,
                "label": o.label,
                "status": "ruled_out",
                "strength": None,
                "red_flags": [],
                "supporting": [],
                "refuting": list(o.refuting),
                "category": None,
                "region": None,
                "icd10cm": [],
            }
        )
    columns = [
        "rank",
        "id",
        "label",
        "status",
        "strength",
        "red_flags",
        "supporting",
        "refuting",
        "category",
        "region",
        "icd10cm",
    ]
    return pd.DataFrame(rows, columns=columns)


def trace_frame(trace: Trace, what: str = "edges") -> Any:
    """The trace as a DataFrame: one row per edge (``"edges"``) or per node (``"nodes"``)."""
    pd = _pandas()
    g = trace.graph
    if what == "nodes":
        rows: list[dict[str, Any]] = []
        for node in sorted(g.nodes):
            rows.append({"node": node, **g.nodes[node]})
        return pd.DataFrame(rows)
    if what != "edges":
        raise ValueError(f"what must be 'edges' or 'nodes' (got {what!r})")
    edge_rows = [
        {
            "source": a,
            "target": b,
            "relation": data.get("relation"),
            "source_kind": g.nodes[a].get("kind"),
            "target_kind": g.nodes[b].get("kind"),
            "holds": data.get("holds"),
            "predicate": data.get("predicate"),
        }
        for a, b, data in sorted(g.edges(data=True), key=lambda e: (e[0], e[1]))
    ]
    columns = ["source", "target", "relation", "source_kind", "target_kind", "holds", "predicate"]
    return pd.DataFrame(edge_rows, columns=columns)
