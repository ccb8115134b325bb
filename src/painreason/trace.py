"""The trace: how every conclusion of a Result was reached, as a networkx graph.

Nodes are ``finding:<id>``, ``rule:<id>``, ``fact:<id>`` (a derived fact that holds),
``fact:!<id>`` (a derived fact known to be false), ``condition:<id>``, ``red_flag:<id>``,
``test:<id>`` and ``advice:<id>`` (a test or group advised against). Each node has a
``kind`` and a ``label``. Edges have a ``relation``:

========== =========================================================================
matched    a finding or fact made a rule's condition hold (``holds`` False: known false)
derived    a rule derived a fact
supports   a rule proposed a condition (or a red flag points at a condition)
refutes    a rule ruled a condition out
raises     a rule raised a red flag
suggests   a rule suggested a test
advises    a rule advised against a test or group
========== =========================================================================

Every input finding is a node (``used`` says whether a conclusion rests on it), and every
conclusion has a path back to at least one finding.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from .errors import UnknownTargetError
from .results import Match, Result

__all__ = ["Trace"]

CONCLUSION_KINDS = ("condition", "red_flag", "test", "advice", "ruled_out")
PREFIXES = ("condition", "red_flag", "test", "advice", "fact", "rule", "finding")


class Trace:
    """An explanation graph; build it with :meth:`from_result` (or ``result.trace``).

    Examples
    --------
    >>> from painreason import evaluate
    >>> r = evaluate({"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}},
    ...              backend="python")
    >>> sub = r.trace.explain("cauda_equina_syndrome")
    >>> "finding:saddle_anaesthesia" in sub.graph
    True
    """

    def __init__(self, graph: nx.DiGraph[str]) -> None:
        self.graph = graph

    def __repr__(self) -> str:
        return f"Trace({self.graph.number_of_nodes()} nodes, {self.graph.number_of_edges()} edges)"

    @classmethod
    def from_result(cls, result: Result) -> Trace:
        """Build the trace graph of a result."""
        g: nx.DiGraph[str] = nx.DiGraph(
            case_id=result.case_id, knowledge_version=result.knowledge_version
        )
        unused = set(result.unused_findings)
        for fid, observed in result.findings.items():
            g.add_node(
                f"finding:{fid}",
                kind="finding",
                label=fid,
                observed=observed,
                used=fid not in unused,
            )

        def link(m: Match, target: str) -> None:
            src = (
                f"finding:{m.id}"
                if m.kind == "finding"
                else (f"fact:{m.id}" if m.holds else f"fact:!{m.id}")
            )
            if src not in g:
                g.add_node(
                    src, kind="fact", label=m.id if m.holds else f"not {m.id}", holds=m.holds
                )
            g.add_edge(src, target, relation="matched", holds=m.holds, predicate=m.predicate)

        for firing in result.firings:
            node = f"rule:{firing.rule}"
            g.add_node(node, kind="rule", label=firing.title, sources=list(firing.sources))
            for m in firing.matched:
                link(m, node)
        for fact, matches in result.false_facts.items():
            node = f"fact:!{fact}"
            g.add_node(node, kind="fact", label=f"not {fact}", holds=False)
            for m in matches:
                link(m, node)
        for fact in result.derived_facts:
            g.add_node(f"fact:{fact}", kind="fact", label=fact, holds=True)
        for flag in result.red_flags:
            node = f"red_flag:{flag.id}"
            g.add_node(node, kind="red_flag", label=flag.label, urgency=flag.urgency)
            for rule in flag.raised_by:
                g.add_edge(f"rule:{rule}", node, relation="raises")
        for cond in result.differential:
            node = f"condition:{cond.id}"
            g.add_node(
                node, kind="condition", label=cond.label, status=cond.status, strength=cond.strength
            )
            for rule in cond.supporting:
                g.add_edge(f"rule:{rule}", node, relation="supports")
            for rule in cond.refuting:
                g.add_edge(f"rule:{rule}", node, relation="refutes")
            for flag_id in cond.red_flags:
                g.add_edge(f"red_flag:{flag_id}", node, relation="supports")
        for out in result.ruled_out:
            node = f"condition:{out.id}"
            g.add_node(node, kind="condition", label=out.label, status="ruled_out")
            for rule in out.refuting:
                g.add_edge(f"rule:{rule}", node, relation="refutes")
        for test in result.tests:
            node = f"test:{test.id}"
            g.add_node(node, kind="test", label=test.label, urgency=test.urgency)
            for req in test.requested_by:
                g.add_edge(
                    f"rule:{req.rule}",
                    node,
                    relation="suggests",
                    urgency=req.urgency,
                    rationale=req.rationale,
                )
        for advice in result.not_indicated:
            node = f"advice:{advice.id}"
            g.add_node(
                node, kind="advice", label=f"{advice.label}: not indicated", status=advice.status
            )
            for rule in advice.advised_by:
                g.add_edge(f"rule:{rule}", node, relation="advises")
        for firing in result.firings:
            for fact in firing.derives:
                g.add_edge(f"rule:{firing.rule}", f"fact:{fact}", relation="derived")
        return cls(g)

    def node_id(self, target: str) -> str:
        """Resolve ``target`` (``'cauda_equina_syndrome'`` or ``'condition:...'``) to a node."""
        if target in self.graph:
            return target
        for prefix in PREFIXES:
            node = f"{prefix}:{target}"
            if node in self.graph:
                return node
        raise UnknownTargetError("conclusion", target, self.graph.nodes)

    def explain(self, target: str) -> Trace:
        """The sub-graph of everything ``target`` rests on, back to the input findings."""
        node = self.node_id(target)
        keep = nx.ancestors(self.graph, node) | {node}
        return Trace(self.graph.subgraph(keep).copy())

    def conclusions(self) -> list[str]:
        """Node ids of conditions, red flags, tests and advice, sorted."""
        return sorted(n for n, d in self.graph.nodes(data=True) if d["kind"] in CONCLUSION_KINDS)

    def findings(self) -> list[str]:
        """Node ids of the input findings."""
        return sorted(n for n, d in self.graph.nodes(data=True) if d["kind"] == "finding")

    def to_node_link(self) -> dict[str, Any]:
        """Node-link data (``edges`` key), ready for ``json.dumps``."""
        data: dict[str, Any] = nx.node_link_data(self.graph, edges="edges")
        return data

    def to_json(self, indent: int | None = None) -> str:
        """Node-link JSON text."""
        return json.dumps(self.to_node_link(), indent=indent, sort_keys=True)

    def to_graphml(self) -> str:
        """GraphML text (see :mod:`painreason.export`)."""
        from .export import to_graphml

        return to_graphml(self)

    def to_dot(self) -> str:
        """Graphviz DOT text with safe node ids (see :mod:`painreason.export`)."""
        from .export import to_dot

        return to_dot(self)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (see :mod:`painreason.export`)."""
        from .export import to_mermaid

        return to_mermaid(self)

    def to_svg(self) -> str | None:
        """SVG text rendered by graphviz, or ``None`` when graphviz is not available."""
        from .export import render

        data = render(self, "svg")
        return None if data is None else data.decode("utf-8")

    def to_png(self) -> bytes | None:
        """PNG bytes rendered by graphviz, or ``None`` when graphviz is not available."""
        from .export import render

        return render(self, "png")

    def to_frame(self, what: str = "edges") -> Any:
        """A pandas DataFrame of the edges (or ``what="nodes"``); needs the ``pandas`` extra."""
        from ._display import trace_frame

        return trace_frame(self, what)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ._display import trace_bundle

        return trace_bundle(self)

    def _repr_html_(self) -> str:
        from ._display import trace_html

        return trace_html(self)
