"""The rule language: condition trees, actions and their parser.

A rule file is parsed into frozen :class:`Rule` objects. Parsing checks structure only
(keys, types, forms) and reports every problem of a file at once; references to findings,
conditions, tests and sources are checked by :mod:`painreason.loader`, which sees all files.
See ``docs/rule-language.md`` for the language reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ._yaml import Document, Loc
from .errors import Problem, did_you_mean
from .vocabulary import Urgency

__all__ = [
    "Action",
    "AdviseAgainst",
    "All",
    "AnyOf",
    "AtLeast",
    "Derive",
    "Evidence",
    "FactDef",
    "FactRef",
    "Flag",
    "Node",
    "Not",
    "Pred",
    "Propose",
    "Rule",
    "RuleOut",
    "Suggest",
    "parse_rule_file",
]

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CMP_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in")
Strength = Literal["low", "moderate", "high"]
STRENGTHS: tuple[Strength, ...] = ("low", "moderate", "high")


# --- condition trees -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pred:
    """A predicate on one finding: ``present`` or a comparison, with optional side and level.

    ``index`` numbers the leaves of a rule's tree (in file order); traces and the engine
    backends refer to leaves by it.
    """

    index: int
    finding: str
    op: str  # "present" or one of CMP_OPS
    value: float | str | tuple[float, float] | tuple[str, ...] | None
    side: str | None
    level: str | None
    loc: Loc = field(compare=False)

    def describe(self) -> str:
        """A short human-readable form, e.g. ``heart_rate > 100 (left)``."""
        where = "".join(f" {x}" for x in (self.side, self.level) if x)
        if self.op == "present":
            return f"{self.finding}{where} present"
        sym = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
        if self.op == "between":
            assert isinstance(self.value, tuple)
            return f"{self.finding}{where} in [{self.value[0]:g}, {self.value[1]:g}]"
        if self.op == "in":
            assert isinstance(self.value, tuple)
            return f"{self.finding}{where} in {{{', '.join(map(str, self.value))}}}"
        value = f"{self.value:g}" if isinstance(self.value, float) else str(self.value)
        return f"{self.finding}{where} {sym[self.op]} {value}"


@dataclass(frozen=True, slots=True)
class FactRef:
    """A reference to a derived fact."""

    index: int
    fact: str
    loc: Loc = field(compare=False)

    def describe(self) -> str:
        """``derived <fact>``."""
        return f"derived {self.fact}"


@dataclass(frozen=True, slots=True)
class All:
    """Every child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child is known not to hold."""

    child: Node


@dataclass(frozen=True, slots=True)
class AtLeast:
    """At least ``k`` children hold."""

    k: int
    children: tuple[Node, ...]


Node = Pred | FactRef | All | AnyOf | Not | AtLeast
Atom = Pred | FactRef


def atoms(node: Node) -> Iterator[Atom]:
    """The leaves of a tree, in order."""
    if isinstance(node, Pred | FactRef):
        yield node
    elif isinstance(node, Not):
        yield from atoms(node.child)
    else:
        for child in node.children:
            yield from atoms(child)


# --- actions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Derive:
    fact: str
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class Propose:
    condition: str
    strength: Strength
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class RuleOut:
    condition: str
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class Flag:
    red_flag: str
    urgency: Urgency | None
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class Suggest:
    test: str
    urgency: Urgency
    rationale: str
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class AdviseAgainst:
    test: str  # a test id or a test group id
    rationale: str
    loc: Loc = field(compare=False)


Action = Derive | Propose | RuleOut | Flag | Suggest | AdviseAgainst


@dataclass(frozen=True, slots=True)
class Evidence:
    """Accuracy figures a source gives for a finding or cluster the rule uses."""

    about: str
    source: str
    sensitivity: float | None = None
    specificity: float | None = None
    lr_positive: float | None = None
    lr_negative: float | None = None
    prevalence: float | None = None
    note: str | None = None
    loc: Loc = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class FactDef:
    """A derived fact declared in a rule file."""

    id: str
    label: str
    definition: str
    file: str
    loc: Loc = field(compare=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed rule."""

    id: str
    title: str
    when: Node
    actions: tuple[Action, ...]
    sources: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    file: str
    loc: Loc = field(compare=False)
    description: str | None = None
    atoms: tuple[Atom, ...] = field(default=(), compare=False)
    line: int | None = field(default=None, compare=False)  # 1-based position of the rule
    col: int | None = field(default=None, compare=False)

    @property
    def derives(self) -> tuple[str, ...]:
        """Facts this rule derives."""
        return tuple(a.fact for a in self.actions if isinstance(a, Derive))

    @property
    def reads_facts(self) -> tuple[str, ...]:
        """Derived facts this rule's condition reads."""
        return tuple(a.fact for a in self.atoms if isinstance(a, FactRef))

    @property
    def reads_findings(self) -> tuple[str, ...]:
        """Findings this rule's condition reads."""
        return tuple(a.finding for a in self.atoms if isinstance(a, Pred))


# --- parser ----------------------------------------------------------------------------

RULE_KEYS = ("id", "title", "description", "when", "then", "sources", "evidence")
FACT_KEYS = ("id", "label", "definition")
ACTION_KEYS = ("derive", "propose", "rule_out", "flag", "suggest", "advise_against")
EVIDENCE_FIGURES = ("sensitivity", "specificity", "lr_positive", "lr_negative", "prevalence")
NODE_KEYS = ("all", "any", "not", "at_least", "present", "absent", "derived", "finding")


class _Parser:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.rule_id: str | None = None
        self.leaves: list[Pred | FactRef] = []

    def err(self, code: str, msg: str, loc: Loc, suggestion: str | None = None) -> None:
        rule = f"rule {self.rule_id!r}" if self.rule_id else None
        self.problems.append(self.doc.problem(code, msg, loc, rule=rule, suggestion=suggestion))

    def unknown_keys(self, data: dict[str, Any], allowed: tuple[str, ...], loc: Loc) -> None:
        for key in data:
            if key not in allowed:
                self.err(
                    "unknown-key",
                    f"unknown key {key!r}; allowed: {', '.join(allowed)}",
                    (*loc, key),
                    did_you_mean(str(key), allowed),
                )

    def ident(self, value: Any, what: str, loc: Loc) -> str | None:
        if not isinstance(value, str) or not ID_RE.match(value) or len(value) > 64:
            self.err("bad-id", f"{what} must be a snake_case id (got {value!r})", loc)
            return None
        return value

    def text(self, value: Any, what: str, loc: Loc) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.err("bad-value", f"{what} must be non-empty text (got {value!r})", loc)
            return None
        return value

    # -- when ----------------------------------------------------------------------------

    def node(self, data: Any, loc: Loc, depth: int = 0) -> Node | None:
        if depth > 32:
            self.err("too-deep", "condition must nest at most 32 levels", loc)
            return None
        if not isinstance(data, dict):
            self.err(
                "bad-condition",
                f"condition must be a mapping such as {{present: finding}} (got {data!r})",
                loc,
            )
            return None
        if "finding" in data:
            return self.comparison(data, loc)
        if len(data) != 1:
            keys = ", ".join(map(str, data)) or "nothing"
            self.err(
                "bad-condition",
                f"condition must have exactly one of all, any, not, at_least, present, "
                f"absent, derived, or a finding comparison (got {keys})",
                loc,
            )
            return None
        ((key, value),) = data.items()
        sub = (*loc, key)
        if key in ("all", "any"):
            children = self.children(value, sub, depth)
            if children is None:
                return None
            return All(children) if key == "all" else AnyOf(children)
        if key == "not":
            child = self.node(value, sub, depth + 1)
            return Not(child) if child is not None else None
        if key == "at_least":
            return self.at_least(value, sub, depth)
        if key in ("present", "absent"):
            pred = self.presence(value, sub)
            if pred is None:
                return None
            return pred if key == "present" else Not(pred)
        if key == "derived":
            fact = self.ident(value, "derived", sub)
            if fact is None:
                return None
            ref = FactRef(len(self.leaves), fact, sub)
            self.leaves.append(ref)
            return ref
        self.err(
            "bad-condition",
            f"unknown condition {key!r}",
            sub,
            did_you_mean(str(key), NODE_KEYS),
        )
        return None

    def children(self, value: Any, loc: Loc, depth: int) -> tuple[Node, ...] | None:
        if not isinstance(value, list) or not value:
            self.err(
                "bad-condition", f"must be a non-empty list of conditions (got {value!r})", loc
            )
            return None
        out = [self.node(item, (*loc, i), depth + 1) for i, item in enumerate(value)]
        if any(c is None for c in out):
            return None
        return tuple(c for c in out if c is not None)

    def at_least(self, value: Any, loc: Loc, depth: int) -> Node | None:
        if not isinstance(value, dict):
            self.err("bad-condition", "at_least must be {k: N, of: [conditions]}", loc)
            return None
        self.unknown_keys(value, ("k", "of"), loc)
        k = value.get("k")
        children = self.children(value.get("of"), (*loc, "of"), depth)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            self.err("bad-condition", f"at_least k must be a whole number >= 1 (got {k!r})", loc)
            return None
        if children is None:
            return None
        if k > len(children):
            self.err(
                "bad-condition",
                f"at_least k must be at most the number of conditions, {len(children)} (got {k})",
                (*loc, "k"),
            )
            return None
        return AtLeast(k, children)

    def filters(self, data: dict[str, Any], loc: Loc) -> tuple[str | None, str | None, bool]:
        ok = True
        side = data.get("side")
        if side is not None and side not in ("left", "right", "bilateral"):
            self.err(
                "bad-side", f"side must be left, right or bilateral (got {side!r})", (*loc, "side")
            )
            ok = False
        level = data.get("level")
        if level is not None and not isinstance(level, str):
            self.err(
                "bad-level",
                f"level must be a root level such as L5 (got {level!r})",
                (*loc, "level"),
            )
            ok = False
        return side, level, ok

    def presence(self, value: Any, loc: Loc) -> Pred | None:
        if isinstance(value, str):
            finding = self.ident(value, "finding", loc)
            side = level = None
        elif isinstance(value, dict):
            self.unknown_keys(value, ("finding", "side", "level"), loc)
            finding = self.ident(value.get("finding"), "finding", (*loc, "finding"))
            side, level, ok = self.filters(value, loc)
            if not ok:
                return None
        else:
            self.err(
                "bad-condition",
                f"must name a finding or {{finding, side, level}} (got {value!r})",
                loc,
            )
            return None
        if finding is None:
            return None
        pred = Pred(len(self.leaves), finding, "present", None, side, level, loc)
        self.leaves.append(pred)
        return pred

    def comparison(self, data: dict[str, Any], loc: Loc) -> Pred | None:
        self.unknown_keys(data, ("finding", "side", "level", *CMP_OPS), loc)
        finding = self.ident(data.get("finding"), "finding", (*loc, "finding"))
        side, level, ok = self.filters(data, loc)
        ops = [k for k in data if k in CMP_OPS]
        if len(ops) != 1:
            self.err(
                "bad-condition",
                f"a comparison needs exactly one of {', '.join(CMP_OPS)} (got {len(ops)})",
                loc,
            )
            return None
        op = ops[0]
        raw = data[op]
        value: float | str | tuple[float, float] | tuple[str, ...] | None = None
        if op == "between":
            if (
                isinstance(raw, list)
                and len(raw) == 2
                and all(_is_number(x) for x in raw)
                and raw[0] <= raw[1]
            ):
                value = (float(raw[0]), float(raw[1]))
        elif op == "in":
            if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
                value = tuple(raw)
        elif op in ("eq", "ne"):
            if _is_number(raw):
                value = float(raw)
            elif isinstance(raw, str) and raw:
                value = raw
        elif _is_number(raw):
            value = float(raw)
        if value is None:
            expect = {
                "between": "[low, high] numbers with low <= high",
                "in": "a non-empty list of category values",
                "eq": "a finite number or a category value",
                "ne": "a finite number or a category value",
            }.get(op, "a finite number")
            self.err("bad-value", f"{op} must be {expect} (got {raw!r})", (*loc, op))
            return None
        if finding is None or not ok:
            return None
        pred = Pred(len(self.leaves), finding, op, value, side, level, loc)
        self.leaves.append(pred)
        return pred

    # -- then ----------------------------------------------------------------------------

    def actions(self, value: Any, loc: Loc) -> tuple[Action, ...]:
        if not isinstance(value, list) or not value:
            self.err("bad-action", "then must be a non-empty list of actions", loc)
            return ()
        out: list[Action] = []
        for i, item in enumerate(value):
            action = self.action(item, (*loc, i))
            if action is not None:
                out.append(action)
        return tuple(out)

    def action(self, item: Any, loc: Loc) -> Action | None:
        if not isinstance(item, dict) or len(item) != 1:
            self.err(
                "bad-action",
                f"an action must be one of {', '.join(ACTION_KEYS)} (got {item!r})",
                loc,
            )
            return None
        ((kind, body),) = item.items()
        sub = (*loc, kind)
        if kind not in ACTION_KEYS:
            self.err(
                "bad-action", f"unknown action {kind!r}", sub, did_you_mean(str(kind), ACTION_KEYS)
            )
            return None
        if kind == "derive":
            fact = self.ident(body, "derive", sub)
            return Derive(fact, sub) if fact else None
        if kind == "rule_out" and isinstance(body, str):
            body = {"condition": body}
        if not isinstance(body, dict):
            self.err("bad-action", f"{kind} must be a mapping (got {body!r})", sub)
            return None
        allowed = {
            "propose": ("condition", "strength"),
            "rule_out": ("condition",),
            "flag": ("red_flag", "urgency"),
            "suggest": ("test", "urgency", "rationale"),
            "advise_against": ("test", "rationale"),
        }[kind]
        self.unknown_keys(body, allowed, sub)
        target = self.ident(body.get(allowed[0]), allowed[0], (*sub, allowed[0]))
        if kind == "propose":
            strength = body.get("strength")
            if strength not in STRENGTHS:
                self.err(
                    "bad-value",
                    f"strength must be low, moderate or high (got {strength!r})",
                    (*sub, "strength"),
                )
                return None
            return Propose(target, strength, sub) if target else None
        if kind == "rule_out":
            return RuleOut(target, sub) if target else None
        if kind == "flag":
            raw = body.get("urgency")
            if raw is not None and raw not in ("emergency", "urgent"):
                self.err(
                    "bad-value",
                    f"red-flag urgency must be emergency or urgent (got {raw!r})",
                    (*sub, "urgency"),
                )
                return None
            return Flag(target, Urgency(raw) if raw else None, sub) if target else None
        rationale = self.text(body.get("rationale"), "rationale", (*sub, "rationale"))
        if kind == "advise_against":
            return AdviseAgainst(target, rationale, sub) if target and rationale else None
        raw = body.get("urgency")
        if raw not in ("emergency", "urgent", "routine"):
            self.err(
                "bad-value",
                f"urgency must be emergency, urgent or routine (got {raw!r})",
                (*sub, "urgency"),
            )
            return None
        return Suggest(target, Urgency(raw), rationale, sub) if target and rationale else None

    def evidence(self, value: Any, loc: Loc) -> tuple[Evidence, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.err("bad-evidence", "evidence must be a list", loc)
            return ()
        out: list[Evidence] = []
        for i, item in enumerate(value):
            sub = (*loc, i)
            if not isinstance(item, dict):
                self.err("bad-evidence", f"evidence item must be a mapping (got {item!r})", sub)
                continue
            self.unknown_keys(item, ("about", "source", "note", *EVIDENCE_FIGURES), sub)
            about = self.text(item.get("about"), "about", (*sub, "about"))
            source = item.get("source")
            if not isinstance(source, str) or not ID_RE.match(source):
                self.err(
                    "figure-without-source",
                    f"every evidence item needs the source of its figures (got {source!r})",
                    sub,
                )
                continue
            figures: dict[str, float] = {}
            for name in EVIDENCE_FIGURES:
                raw = item.get(name)
                if raw is None:
                    continue
                if (
                    not _is_number(raw)
                    or raw < 0
                    or (name not in ("lr_positive", "lr_negative") and raw > 1)
                ):
                    bound = "> 0" if name.startswith("lr") else "between 0 and 1"
                    self.err(
                        "bad-evidence",
                        f"{name} must be a number {bound} (got {raw!r})",
                        (*sub, name),
                    )
                    continue
                figures[name] = float(raw)
            if not figures:
                self.err("bad-evidence", "an evidence item must give at least one figure", sub)
                continue
            note = item.get("note")
            if about is not None:
                out.append(
                    Evidence(
                        about=about,
                        source=source,
                        note=note if isinstance(note, str) else None,
                        loc=sub,
                        **figures,
                    )
                )
        return tuple(out)

    def rule(self, data: Any, loc: Loc) -> Rule | None:
        self.rule_id = None
        self.leaves = []
        if not isinstance(data, dict):
            self.err("bad-rule", f"a rule must be a mapping (got {data!r})", loc)
            return None
        rid = self.ident(data.get("id"), "rule id", (*loc, "id"))
        self.rule_id = rid
        self.unknown_keys(data, RULE_KEYS, loc)
        title = self.text(data.get("title"), "title", (*loc, "title"))
        if "when" not in data:
            self.err("bad-rule", "a rule needs a when condition", loc)
        when = self.node(data.get("when"), (*loc, "when")) if "when" in data else None
        actions = self.actions(data.get("then"), (*loc, "then"))
        sources = data.get("sources")
        if not isinstance(sources, list) or not sources:
            self.err("missing-source", "a rule must cite at least one source key", loc)
            sources = []
        keys = []
        for i, key in enumerate(sources):
            ident = self.ident(key, "source key", (*loc, "sources", i))
            if ident:
                keys.append(ident)
        evidence = self.evidence(data.get("evidence"), (*loc, "evidence"))
        description = data.get("description")
        if rid is None or title is None or when is None or not actions:
            return None
        line, col = self.doc.position(loc)
        return Rule(
            id=rid,
            title=title,
            when=when,
            actions=actions,
            sources=tuple(keys),
            evidence=evidence,
            file=self.doc.path,
            loc=loc,
            description=description if isinstance(description, str) else None,
            atoms=tuple(self.leaves),
            line=line,
            col=col,
        )


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_rule_file(doc: Document) -> tuple[list[FactDef], list[Rule], list[Problem]]:
    """Parse one rule file into fact definitions and rules; never raises on bad content.

    Returns every problem found, each located in ``doc``.
    """
    parser = _Parser(doc)
    data = doc.data
    facts: list[FactDef] = []
    rules: list[Rule] = []
    if not isinstance(data, dict):
        parser.err("bad-file", "a rule file must be a mapping with 'rules' (and 'facts')", ())
        return facts, rules, parser.problems
    parser.unknown_keys(data, ("facts", "rules"), ())
    raw_facts = data.get("facts") or []
    if not isinstance(raw_facts, list):
        parser.err("bad-file", "facts must be a list", ("facts",))
        raw_facts = []
    for i, item in enumerate(raw_facts):
        loc = ("facts", i)
        if not isinstance(item, dict):
            parser.err("bad-fact", f"a fact must be a mapping (got {item!r})", loc)
            continue
        parser.unknown_keys(item, FACT_KEYS, loc)
        fid = parser.ident(item.get("id"), "fact id", (*loc, "id"))
        label = parser.text(item.get("label"), "label", (*loc, "label"))
        definition = parser.text(item.get("definition"), "definition", (*loc, "definition"))
        if fid and label and definition:
            facts.append(FactDef(fid, label, definition, doc.path, loc))
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        parser.err("bad-file", "a rule file needs rules: a list of rules", ())
        raw_rules = []
    for i, item in enumerate(raw_rules):
        rule = parser.rule(item, ("rules", i))
        if rule is not None:
            rules.append(rule)
    return facts, rules, parser.problems
