"""Export a trace graph: GraphML, DOT, Mermaid, and SVG or PNG through graphviz.

Node ids of the trace (``finding:x``, ``rule:y``) contain ``:``, which graphviz reads as a
port; DOT and Mermaid output therefore names nodes ``n0``, ``n1``, ... (in sorted order of the
trace ids, so the output is deterministic) and shows the real name in the label.

Rendering to SVG or PNG needs the ``viz`` extra (``pip install 'painreason[viz]'``, the
graphviz Python package) and graphviz's ``dot`` program. When either is missing,
:func:`render` returns ``None`` and displays fall back to Mermaid text: exporting never fails
because a renderer is missing.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

if TYPE_CHECKING:
    from .trace import Trace

__all__ = ["can_render", "render", "to_dot", "to_graphml", "to_mermaid"]

KIND_ORDER = ("finding", "fact", "rule", "red_flag", "condition", "test", "advice")
_FILL = {
    "finding": "#e8f0fe",
    "fact": "#f3e8fd",
    "rule": "#f5f5f5",
    "red_flag": "#f8d7da",
    "test": "#d1ecf1",
    "advice": "#eeeeee",
}
_CONDITION_FILL = {"proposed": "#d4edda", "contested": "#fff3cd", "ruled_out": "#e2e3e5"}
_DOT_SHAPE = {
    "finding": "ellipse",
    "fact": "hexagon",
    "rule": "box",
    "red_flag": "octagon",
    "condition": "box",
    "test": "note",
    "advice": "note",
}


def _ids(g: nx.DiGraph[str]) -> dict[str, str]:
    order = sorted(g.nodes, key=lambda n: (_rank(g.nodes[n].get("kind")), n))
    return {node: f"n{i}" for i, node in enumerate(order)}


def _rank(kind: Any) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def node_text(data: dict[str, Any], node: str) -> list[str]:
    """The lines shown for a node: its name and the state that matters for its kind."""
    kind = data.get("kind")
    label = str(data.get("label", node))
    if kind == "finding":
        lines = [label]
        if data.get("observed"):
            lines.append(str(data["observed"]))
        if data.get("used") is False:
            lines.append("(not used)")
        return lines
    if kind == "rule":
        ident = node.partition(":")[2]
        return [ident, *textwrap.wrap(label, 40, max_lines=3, placeholder=" ...")]
    if kind == "red_flag":
        return ["RED FLAG", label, str(data.get("urgency", ""))]
    if kind == "condition":
        state = str(data.get("status", "")).replace("_", " ")
        if data.get("strength"):
            state += f", {data['strength']}"
        return [label, state]
    if kind == "test":
        return [label, str(data.get("urgency", ""))]
    if kind == "advice":
        return [label, str(data.get("status", "")).replace("_", " ")]
    return [label]


def _fill(data: dict[str, Any]) -> str:
    if data.get("kind") == "condition":
        return _CONDITION_FILL.get(str(data.get("status")), "#d4edda")
    return _FILL.get(str(data.get("kind")), "#ffffff")


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def to_dot(trace: Trace, *, rankdir: Literal["LR", "TB"] = "LR") -> str:
    """The trace in graphviz DOT, with safe node ids and the trace id in each ``tooltip``.

    Examples
    --------
    >>> from painreason import evaluate
    >>> r = evaluate({"findings": {"low_back_pain": "present",
    ...                            "saddle_anaesthesia": "present"}}, backend="python")
    >>> dot = r.trace.to_dot()
    >>> dot.startswith("digraph trace {") and "finding:" not in dot.split("tooltip")[0]
    True
    """
    g = trace.graph
    ids = _ids(g)
    lines = [
        "digraph trace {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=10, style=filled];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    for node, safe in ids.items():
        data = g.nodes[node]
        kind = data.get("kind")
        style = "filled"
        if kind == "condition" or kind == "fact":
            style = "rounded,filled"
        if (kind == "finding" and data.get("used") is False) or (
            kind == "fact" and data.get("holds") is False
        ):
            style += ",dashed"
        attrs = {
            "label": "\n".join(node_text(data, node)),
            "shape": _DOT_SHAPE.get(str(kind), "box"),
            "fillcolor": _fill(data),
            "style": style,
            "tooltip": node,
        }
        if kind == "red_flag":
            attrs["color"] = "#c00000"
            attrs["penwidth"] = "2"
        body = ", ".join(f"{k}={_dot_quote(v)}" for k, v in attrs.items())
        lines.append(f"  {safe} [{body}];")
    for src, dst, data in sorted(g.edges(data=True), key=lambda e: (ids[e[0]], ids[e[1]])):
        relation = str(data.get("relation", ""))
        attrs = {"label": relation}
        if relation == "matched" and data.get("holds") is False:
            attrs["label"] = "known false"
            attrs["style"] = "dashed"
        elif relation == "refutes":
            attrs["color"] = "#a00000"
            attrs["style"] = "dashed"
        elif relation == "raises":
            attrs["color"] = "#c00000"
        body = ", ".join(f"{k}={_dot_quote(v)}" for k, v in attrs.items())
        lines.append(f"  {ids[src]} -> {ids[dst]} [{body}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    out = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
    return out.replace(">", "#gt;").replace("|", "#124;")


_MERMAID_SHAPE = {
    "finding": ('(["', '"])'),
    "fact": ('{{"', '"}}'),
    "rule": ('["', '"]'),
    "red_flag": ('[["', '"]]'),
    "condition": ('("', '")'),
    "test": ('[/"', '"/]'),
    "advice": ('>"', '"]'),
}


def to_mermaid(trace: Trace, *, direction: Literal["LR", "TD"] = "LR") -> str:
    """The trace as a Mermaid flowchart (renders in mkdocs-material, git forges, JupyterLab).

    Examples
    --------
    >>> from painreason import evaluate
    >>> r = evaluate({"findings": {"low_back_pain": "present",
    ...                            "saddle_anaesthesia": "present"}}, backend="python")
    >>> print(r.trace.to_mermaid().splitlines()[0])
    flowchart LR
    """
    g = trace.graph
    ids = _ids(g)
    lines = [f"flowchart {direction}"]
    classes: dict[str, list[str]] = {}
    for node, safe in ids.items():
        data = g.nodes[node]
        kind = str(data.get("kind"))
        left, right = _MERMAID_SHAPE.get(kind, ('["', '"]'))
        text = "<br/>".join(_mermaid_text(line) for line in node_text(data, node))
        lines.append(f"  {safe}{left}{text}{right}")
        cls = kind
        if kind == "condition":
            cls = f"condition_{data.get('status')}"
        elif (kind == "finding" and data.get("used") is False) or (
            kind == "fact" and data.get("holds") is False
        ):
            cls = f"{kind}_off"
        classes.setdefault(cls, []).append(safe)
    for src, dst, data in sorted(g.edges(data=True), key=lambda e: (ids[e[0]], ids[e[1]])):
        relation = str(data.get("relation", ""))
        if relation == "matched" and data.get("holds") is False:
            lines.append(f"  {ids[src]} -.->|known false| {ids[dst]}")
        elif relation == "refutes":
            lines.append(f"  {ids[src]} -.->|refutes| {ids[dst]}")
        else:
            lines.append(f"  {ids[src]} -->|{relation}| {ids[dst]}")
    styles = {
        **{k: f"fill:{v},stroke:#555" for k, v in _FILL.items()},
        **{f"condition_{k}": f"fill:{v},stroke:#555" for k, v in _CONDITION_FILL.items()},
        "red_flag": f"fill:{_FILL['red_flag']},stroke:#c00000,stroke-width:2px",
        "finding_off": f"fill:{_FILL['finding']},stroke:#999,stroke-dasharray:4",
        "fact_off": f"fill:{_FILL['fact']},stroke:#999,stroke-dasharray:4",
    }
    for cls, members in sorted(classes.items()):
        if cls in styles:
            lines.append(f"  classDef {cls} {styles[cls]}")
            lines.append(f"  class {','.join(members)} {cls}")
    return "\n".join(lines) + "\n"


def _graphml_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def to_graphml(trace: Trace) -> str:
    """The trace as GraphML (node ids kept; list attributes joined with ``"; "``).

    Examples
    --------
    >>> import io, networkx as nx
    >>> from painreason import evaluate
    >>> r = evaluate({"findings": {"low_back_pain": "present"}}, backend="python")
    >>> g = nx.read_graphml(io.StringIO(r.trace.to_graphml()))
    >>> sorted(g.nodes) == sorted(r.trace.graph.nodes)
    True
    """
    src = trace.graph
    g: nx.DiGraph[str] = nx.DiGraph()
    g.graph.update({k: _graphml_value(v) for k, v in src.graph.items() if v is not None})
    for node, data in src.nodes(data=True):
        g.add_node(node, **{k: _graphml_value(v) for k, v in data.items() if v is not None})
    for a, b, data in src.edges(data=True):
        g.add_edge(a, b, **{k: _graphml_value(v) for k, v in data.items() if v is not None})
    return "\n".join(nx.generate_graphml(g)) + "\n"


def can_render() -> bool:
    """Whether :func:`render` can run: the graphviz package imports and ``dot`` is on PATH."""
    import shutil

    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def render(trace: Trace, format: Literal["svg", "png"] = "svg") -> bytes | None:
    """Render the trace with graphviz ``dot``; ``None`` when graphviz is not available.

    Needs the ``viz`` extra and the ``dot`` program. Never raises for a missing renderer.
    """
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png' (got {format!r})")
    if not can_render():
        return None
    import graphviz

    try:
        out = graphviz.Source(to_dot(trace)).pipe(format=format, quiet=True)
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError, RuntimeError):
        return None
    return out if isinstance(out, bytes) else None


def svg_text(trace: Trace) -> str | None:
    """The rendered SVG as text from its ``<svg`` element on (fit to embed in HTML)."""
    data = render(trace, "svg")
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace")
    start = text.find("<svg")
    return text[start:] if start >= 0 else None
