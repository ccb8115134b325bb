"""Load and cross-check rule and knowledge folders into a :class:`Knowledge`.

The bundled folders (top-level ``rules/`` and ``knowledge/`` of the project) ship inside the
wheel as ``painreason/_data/``; an editable install reads the checkout. A user can point
:func:`load_knowledge` at folders of their own.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ._yaml import Document, DocumentError, parse
from .errors import KnowledgeError, Problem, did_you_mean
from .rules import (
    AdviseAgainst,
    Derive,
    FactDef,
    FactRef,
    Flag,
    Pred,
    Propose,
    Rule,
    RuleOut,
    Suggest,
    parse_rule_file,
)
from .vocabulary import (
    Condition,
    FindingDef,
    FindingKind,
    RedFlag,
    Source,
    TestDef,
    TestGroup,
)

__all__ = ["Knowledge", "Loaded", "data_dir", "iter_files", "load_knowledge", "load_partial"]

SKIP_DIRS = ("cases", "examples")
SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "findings": (FindingDef, "id"),
    "conditions": (Condition, "id"),
    "red_flags": (RedFlag, "id"),
    "tests": (TestDef, "id"),
    "test_groups": (TestGroup, "id"),
    "sources": (Source, "key"),
}
PathLike = str | Path | Traversable

if TYPE_CHECKING:
    import networkx as nx


def data_dir(name: str) -> Traversable:
    """The bundled ``rules`` or ``knowledge`` folder.

    Installed wheels carry them as ``painreason/_data/<name>``; an editable install falls
    back to the project checkout.
    """
    packaged = files("painreason") / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise KnowledgeError(
        [Problem("missing-folder", f"bundled folder {name!r} not found; reinstall painreason")]
    )


def _as_dir(path: PathLike, what: str) -> Traversable:
    if isinstance(path, str):
        path = Path(path)
    if not path.is_dir():
        raise KnowledgeError(
            [
                Problem(
                    "missing-folder",
                    f"{what} folder must exist (got {str(path)!r})",
                    file=str(path),
                )
            ]
        )
    return path


def iter_files(
    root: Traversable, prefix: str = "", skip: tuple[str, ...] = ()
) -> Iterator[tuple[str, Traversable]]:
    """Yield ``(relative path, file)`` for YAML and JSON files under ``root``, sorted."""
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name in skip or entry.name.startswith((".", "_")):
                continue
            yield from iter_files(entry, rel + "/", ())
        elif entry.name.endswith((".yaml", ".yml", ".json")):
            yield rel, entry


@dataclass(frozen=True, eq=False)
class Knowledge:
    """A validated, cross-checked rule set and the knowledge it refers to.

    Build it with :func:`load_knowledge`. Everything is read-only.
    """

    findings: Mapping[str, FindingDef]
    conditions: Mapping[str, Condition]
    red_flags: Mapping[str, RedFlag]
    tests: Mapping[str, TestDef]
    test_groups: Mapping[str, TestGroup]
    sources: Mapping[str, Source]
    facts: Mapping[str, FactDef]
    rules: tuple[Rule, ...]
    version: str
    rules_dir: str
    knowledge_dir: str
    _root: Traversable | None = field(default=None, repr=False)

    @cached_property
    def rule_index(self) -> Mapping[str, Rule]:
        """Rules by id."""
        return {r.id: r for r in self.rules}

    @cached_property
    def derivers(self) -> Mapping[str, tuple[Rule, ...]]:
        """For each derived fact, the rules that derive it."""
        out: dict[str, list[Rule]] = {f: [] for f in self.facts}
        for rule in self.rules:
            for fact in rule.derives:
                out[fact].append(rule)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def fact_order(self) -> tuple[str, ...]:
        """Derived facts in dependency order (each after every fact its rules read)."""
        order = _fact_order(self.rules, self.facts)
        if order is None:  # a cycle (knowledge from load_partial): networkx's error
            import networkx as nx

            graph = _fact_graph(self.rules, self.facts)
            return tuple(nx.lexicographical_topological_sort(graph))
        return order

    @cached_property
    def read_findings(self) -> frozenset[str]:
        """Findings some rule reads."""
        return frozenset(f for r in self.rules for f in r.reads_findings)

    def test_targets(self, test_or_group: str) -> tuple[str, ...]:
        """The test ids a test id or a test-group id stands for."""
        if test_or_group in self.test_groups:
            return self.test_groups[test_or_group].tests
        return (test_or_group,)

    def case_root(self) -> Traversable | None:
        """The knowledge folder (golden cases and examples live under it)."""
        return self._root


def _fact_order(rules: Iterable[Rule], facts: Iterable[str]) -> tuple[str, ...] | None:
    """The facts of :func:`_fact_graph` in networkx's lexicographical topological order (of
    the facts ready, the smallest id first), or ``None`` when they form a cycle.

    Plain Python, so that loading and evaluating never import networkx (about 170 ms).

    >>> from types import SimpleNamespace as R
    >>> _fact_order([R(reads_facts=("b",), derives=("a",))], ["a", "b", "c"])
    ('b', 'a', 'c')
    >>> _fact_order([R(reads_facts=("a",), derives=("a",))], ["a"]) is None
    True
    """
    children: dict[str, set[str]] = {f: set() for f in facts}
    for rule in rules:
        for src in rule.reads_facts:
            for dst in rule.derives:
                children.setdefault(src, set()).add(dst)
                children.setdefault(dst, set())
    waiting = dict.fromkeys(children, 0)
    for kids in children.values():
        for kid in kids:
            waiting[kid] += 1
    ready = [f for f, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        fact = heapq.heappop(ready)
        order.append(fact)
        for kid in children[fact]:
            waiting[kid] -= 1
            if waiting[kid] == 0:
                heapq.heappush(ready, kid)
    return tuple(order) if len(order) == len(children) else None


def _fact_graph(rules: Iterable[Rule], facts: Iterable[str]) -> nx.DiGraph[str]:
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(facts)
    for rule in rules:
        for src in rule.reads_facts:
            for dst in rule.derives:
                graph.add_edge(src, dst, rule=rule.id)
    return graph


class _Collector:
    """Accumulates problems across files so every problem is reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256()

    def read(self, rel: str, entry: Traversable, shown: str) -> Document | None:
        """Parse one file; its text also goes into ``self.digest`` (the knowledge version)."""
        self.digest.update(f"{rel}\0".encode())
        if not entry.is_file():
            # a dangling link, a pipe (reading it would block) or a device
            self.problems.append(
                Problem("unreadable-file", "not a regular file (a dangling link?)", file=shown)
            )
            return None
        try:
            text = entry.read_text(encoding="utf-8")
            self.digest.update(text.encode("utf-8"))
        except (UnicodeDecodeError, OSError) as exc:
            self.problems.append(
                Problem("unreadable-file", f"cannot read file ({exc})", file=shown)
            )
            return None
        try:
            return parse(text, shown)
        except DocumentError as exc:
            self.problems.append(exc.problem)
            return None


def _validation_problems(
    doc: Document, exc: ValidationError, base: tuple[Any, ...], entry_id: str | None
) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = (*base, *err["loc"])
        where = ".".join(str(p) for p in err["loc"]) or "entry"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = err.get("input")
        text = f"{where}: {msg}"
        if err["type"] != "missing" and not isinstance(got, dict | list):
            text += f" (got {got!r})"
        out.append(doc.problem("bad-entry", text, loc, rule=entry_id))
    return out


def load_knowledge(rules: PathLike | None = None, knowledge: PathLike | None = None) -> Knowledge:
    """Load, validate and cross-check a rule folder and a knowledge folder.

    Parameters
    ----------
    rules, knowledge : path, optional
        Folders to read. ``None`` means the bundled ones.

    Returns
    -------
    Knowledge

    Raises
    ------
    KnowledgeError
        With every problem of every file, each located as ``file:line:col``.

    Examples
    --------
    >>> kb = load_knowledge()
    >>> "cauda_equina_syndrome" in kb.conditions
    True
    >>> len(kb.version)
    64
    """
    loaded = load_partial(rules, knowledge)
    if loaded.problems:
        raise KnowledgeError(loaded.problems)
    return loaded.knowledge


@dataclass(frozen=True, eq=False)
class Loaded:
    """What :func:`load_partial` read: knowledge built from whatever parsed, every problem,
    and where each rule file and knowledge entry came from (for tools that report positions).

    ``entries[(section, id)]`` is the document and path of a knowledge entry, e.g.
    ``("conditions", "cauda_equina_syndrome")``; ``rule_docs`` maps a rule's ``file``.
    """

    knowledge: Knowledge
    problems: tuple[Problem, ...]
    rule_docs: Mapping[str, Document]
    entries: Mapping[tuple[str, str], tuple[Document, tuple[Any, ...]]]


def load_partial(rules: PathLike | None = None, knowledge: PathLike | None = None) -> Loaded:
    """Like :func:`load_knowledge`, but never raises on bad content.

    With problems, the knowledge holds what could be parsed and may refer to ids that do not
    exist or contain cycles: use it only for analysis (``painreason lint``), never evaluation.
    """
    rules_root = data_dir("rules") if rules is None else _as_dir(rules, "rules")
    know_root = data_dir("knowledge") if knowledge is None else _as_dir(knowledge, "knowledge")
    rules_shown = "rules" if rules is None else str(rules)
    know_shown = "knowledge" if knowledge is None else str(knowledge)
    col = _Collector()

    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    where: dict[tuple[str, str], tuple[Document, tuple[Any, ...]]] = {}
    for rel, entry in iter_files(know_root, skip=SKIP_DIRS):
        shown = f"{know_shown}/{rel}"
        doc = col.read(f"knowledge/{rel}", entry, shown)
        if doc is None:
            continue
        data = doc.data
        if data is None:
            continue
        if not isinstance(data, dict):
            col.problems.append(
                doc.problem(
                    "bad-file",
                    f"a knowledge file must be a mapping of sections ({', '.join(SECTIONS)})",
                )
            )
            continue
        for key, items in data.items():
            if key not in SECTIONS:
                col.problems.append(
                    doc.problem(
                        "unknown-key",
                        f"unknown section {key!r}; allowed: {', '.join(SECTIONS)}",
                        (key,),
                        suggestion=did_you_mean(str(key), SECTIONS),
                    )
                )
                continue
            model, id_key = SECTIONS[key]
            if not isinstance(items, list):
                col.problems.append(doc.problem("bad-file", f"{key} must be a list", (key,)))
                continue
            for i, item in enumerate(items):
                raw_id = item.get(id_key) if isinstance(item, dict) else None
                try:
                    obj = model.model_validate(item)
                except ValidationError as exc:
                    col.problems.extend(
                        _validation_problems(
                            doc, exc, (key, i), f"{key[:-1]} {raw_id!r}" if raw_id else None
                        )
                    )
                    continue
                ident = getattr(obj, id_key)
                if ident in sections[key]:
                    first_doc, first_loc = where[(key, ident)]
                    line, _ = first_doc.position(first_loc)
                    col.problems.append(
                        doc.problem(
                            "duplicate-id",
                            f"{key[:-1]} {ident!r} is already defined at {first_doc.path}:{line}",
                            (key, i, id_key),
                        )
                    )
                    continue
                sections[key][ident] = obj
                where[(key, ident)] = (doc, (key, i))

    findings: dict[str, FindingDef] = sections["findings"]
    conditions: dict[str, Condition] = sections["conditions"]
    red_flags: dict[str, RedFlag] = sections["red_flags"]
    tests: dict[str, TestDef] = sections["tests"]
    groups: dict[str, TestGroup] = sections["test_groups"]
    sources: dict[str, Source] = sections["sources"]

    def ref(
        kind: str,
        ident: str,
        known: Mapping[str, Any],
        doc: Document,
        loc: Sequence[Any],
        owner: str | None,
    ) -> None:
        if ident not in known:
            col.problems.append(
                doc.problem(
                    f"unknown-{kind.replace(' ', '-')}",
                    f"unknown {kind} {ident!r}",
                    loc,
                    rule=owner,
                    suggestion=did_you_mean(ident, known),
                )
            )

    for (key, ident), (doc, loc) in where.items():
        if key == "red_flags":
            for j, cond in enumerate(red_flags[ident].conditions):
                ref(
                    "condition",
                    cond,
                    conditions,
                    doc,
                    (*loc, "conditions", j),
                    f"red flag {ident!r}",
                )
        elif key == "test_groups":
            if ident in tests:
                col.problems.append(
                    doc.problem(
                        "duplicate-id", f"test group {ident!r} has the id of a test", (*loc, "id")
                    )
                )
            for j, test in enumerate(groups[ident].tests):
                ref("test", test, tests, doc, (*loc, "tests", j), f"test group {ident!r}")

    # rule files
    facts: dict[str, FactDef] = {}
    all_rules: list[Rule] = []
    rule_docs: dict[str, Document] = {}
    for rel, entry in iter_files(rules_root):
        shown = f"{rules_shown}/{rel}"
        doc = col.read(f"rules/{rel}", entry, shown)
        if doc is None:
            continue
        rule_docs[shown] = doc
        file_facts, file_rules, problems = parse_rule_file(doc)
        col.problems.extend(problems)
        for fact in file_facts:
            if fact.id in facts:
                col.problems.append(
                    doc.problem(
                        "duplicate-id",
                        f"fact {fact.id!r} is already defined in {facts[fact.id].file}",
                        (*fact.loc, "id"),
                    )
                )
            elif fact.id in findings:
                col.problems.append(
                    doc.problem(
                        "duplicate-id",
                        f"fact {fact.id!r} has the id of a finding",
                        (*fact.loc, "id"),
                    )
                )
            else:
                facts[fact.id] = fact
        all_rules.extend(file_rules)

    seen: dict[str, Rule] = {}
    derived: set[str] = set()
    for rule in all_rules:
        doc = rule_docs[rule.file]
        owner = f"rule {rule.id!r}"
        if rule.id in seen:
            line, _ = rule_docs[seen[rule.id].file].position(seen[rule.id].loc)
            col.problems.append(
                doc.problem(
                    "duplicate-id",
                    f"rule id {rule.id!r} is already used at {seen[rule.id].file}:{line}",
                    (*rule.loc, "id"),
                    rule=owner,
                )
            )
        seen.setdefault(rule.id, rule)
        for atom in rule.atoms:
            if isinstance(atom, FactRef):
                ref("fact", atom.fact, facts, doc, atom.loc, owner)
            else:
                _check_pred(atom, findings, doc, owner, col.problems)
        for action in rule.actions:
            aloc = action.loc
            if isinstance(action, Derive):
                ref("fact", action.fact, facts, doc, aloc, owner)
                derived.add(action.fact)
            elif isinstance(action, Propose | RuleOut):
                ref("condition", action.condition, conditions, doc, (*aloc, "condition"), owner)
            elif isinstance(action, Flag):
                ref("red flag", action.red_flag, red_flags, doc, (*aloc, "red_flag"), owner)
            elif isinstance(action, Suggest):
                ref("test", action.test, tests, doc, (*aloc, "test"), owner)
            elif isinstance(action, AdviseAgainst):
                ref("test", action.test, {**tests, **groups}, doc, (*aloc, "test"), owner)
        for i, key in enumerate(rule.sources):
            ref("source", key, sources, doc, (*rule.loc, "sources", i), owner)
        for ev in rule.evidence:
            ref("source", ev.source, sources, doc, (*ev.loc, "source"), owner)

    for fact in facts.values():
        if fact.id not in derived:
            col.problems.append(
                rule_docs[fact.file].problem(
                    "underived-fact", f"fact {fact.id!r} is derived by no rule", (*fact.loc, "id")
                )
            )

    checked = [r for r in all_rules if r.id in seen]
    if _fact_order(checked, facts) is None:
        col.problems.extend(_cycle_problems(checked, facts, seen, rule_docs))

    kb = Knowledge(
        findings=findings,
        conditions=conditions,
        red_flags=red_flags,
        tests=tests,
        test_groups=groups,
        sources=sources,
        facts=facts,
        rules=tuple(all_rules),
        version=col.digest.hexdigest(),
        rules_dir=rules_shown,
        knowledge_dir=know_shown,
        _root=know_root,
    )
    return Loaded(kb, tuple(col.problems), rule_docs, where)


def _cycle_problems(
    rules: list[Rule],
    facts: Mapping[str, FactDef],
    seen: Mapping[str, Rule],
    rule_docs: Mapping[str, Document],
) -> list[Problem]:
    """A ``fact-cycle`` problem for each of the first ten cycles of derived facts."""
    import networkx as nx

    graph = _fact_graph(rules, facts)
    problems = []
    for found in sorted(nx.simple_cycles(graph), key=lambda c: sorted(c))[:10]:
        start = found.index(min(found))  # networkx may start a cycle anywhere: start at min
        cycle = found[start:] + found[:start]
        first = graph.edges[cycle[0], cycle[(1) % len(cycle)]]["rule"]
        rule = seen[first]
        chain = " -> ".join([*cycle, cycle[0]])
        problems.append(
            rule_docs[rule.file].problem(
                "fact-cycle",
                f"derived facts form a cycle: {chain}",
                rule.loc,
                rule=f"rule {rule.id!r}",
            )
        )
    return problems


def _check_pred(
    pred: Pred,
    findings: Mapping[str, FindingDef],
    doc: Document,
    owner: str,
    problems: list[Problem],
) -> None:
    finding = findings.get(pred.finding)
    if finding is None:
        problems.append(
            doc.problem(
                "unknown-finding",
                f"unknown finding {pred.finding!r}",
                pred.loc,
                rule=owner,
                suggestion=did_you_mean(pred.finding, findings),
            )
        )
        return

    def bad(code: str, msg: str) -> None:
        problems.append(doc.problem(code, msg, pred.loc, rule=owner))

    kind = finding.kind
    if pred.op == "present" and kind is not FindingKind.BOOLEAN:
        bad(
            "wrong-kind",
            f"present/absent need a boolean finding; {pred.finding!r} is {kind} "
            "(compare it instead, e.g. {finding: ..., gt: ...})",
        )
    elif pred.op in ("lt", "le", "gt", "ge", "between") and kind not in (
        FindingKind.NUMERIC,
        FindingKind.ORDINAL,
    ):
        bad(
            "wrong-kind",
            f"{pred.op} needs a numeric or ordinal finding; {pred.finding!r} is {kind}",
        )
    elif pred.op in ("eq", "ne", "in"):
        values = pred.value if isinstance(pred.value, tuple) else (pred.value,)
        if kind is FindingKind.CATEGORICAL:
            categories = finding.values or ()
            for v in values:
                if v not in categories:
                    problems.append(
                        doc.problem(
                            "bad-value",
                            f"{v!r} is not a value of {pred.finding!r}; allowed: "
                            f"{', '.join(categories)}",
                            pred.loc,
                            rule=owner,
                            suggestion=did_you_mean(str(v), categories),
                        )
                    )
        elif kind is FindingKind.BOOLEAN:
            bad(
                "wrong-kind",
                f"{pred.op} cannot test boolean finding {pred.finding!r}; use present or absent",
            )
        elif pred.op == "in" or any(isinstance(v, str) for v in values):
            bad("wrong-kind", f"{pred.op} on {kind} finding {pred.finding!r} needs a number")
    if pred.side is not None and not finding.lateralised:
        bad("bad-side", f"finding {pred.finding!r} is not lateralised; drop side")
    if pred.level is not None and (finding.levels is None or pred.level not in finding.levels):
        allowed = ", ".join(finding.levels) if finding.levels else "none"
        problems.append(
            doc.problem(
                "bad-level",
                f"level {pred.level!r} is not a level of {pred.finding!r} (levels: {allowed})",
                pred.loc,
                rule=owner,
                suggestion=did_you_mean(pred.level, finding.levels or ()),
            )
        )
