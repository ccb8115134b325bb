"""Compile rules into positive join patterns for the durable backend.

durable-rules has no truth maintenance, so a negated pattern depends on the order facts
arrive (``notes/durable-rules.md`` §7). The three-valued semantics lets us avoid negation
altogether: a leaf known to be *false* is itself a positive fact about the recorded slots
("every slot in scope is recorded and fails the test"). Each condition tree is put into
negation normal form, then into disjunctive normal form; every clause becomes one durable
rule whose patterns only ever match facts that are asserted. Results cannot depend on
assertion order, and the python backend is the oracle that checks it.

Facts asserted for a case (``t`` is the discriminator):

- ``t="f"``: one per recorded slot: finding ``n``, side ``s``, level ``l``, value ``v``;
- ``t="a"``: for boolean findings, one per scope (side or ``*``, level or ``*``) in which
  every slot is recorded absent;
- ``t="d"``: a derived fact ``n`` with ``v`` true, or false once every deriving rule is false.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from .case import Observations
from .errors import CapacityError
from .loader import Knowledge
from .rules import All, AtLeast, FactRef, Node, Not, Pred, Rule
from .vocabulary import FindingDef, FindingKind

MAX_CLAUSES = 512
NONE = "-"
ANY = "*"

Op = Literal["eq", "ne", "lt", "le", "gt", "ge"]
Test = tuple[str, Op, Any]
Pattern = tuple[Test, ...]
Clause = tuple[Pattern, ...]
SignedLeaf = tuple[int, bool]  # (leaf index, polarity)

_NEG: dict[str, Op] = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}


@dataclass(frozen=True, slots=True)
class Compiled:
    """The durable clauses of a rule set and what each clause key means."""

    clauses: dict[str, Clause]
    # clause key -> (rule id, True for "rule holds" / False for "rule is false", leaves)
    meaning: dict[str, tuple[str, bool, frozenset[SignedLeaf]]]
    negated_facts: frozenset[str]


def _nnf_dnf(node: Node, positive: bool, rule: str) -> list[frozenset[SignedLeaf]]:
    """DNF of ``node`` (or of its negation) as clauses of signed leaves."""
    if isinstance(node, Pred | FactRef):
        return [frozenset({(node.index, positive)})]
    if isinstance(node, Not):
        return _nnf_dnf(node.child, not positive, rule)
    parts = [_nnf_dnf(c, positive, rule) for c in node.children]
    conj = isinstance(node, All) == positive
    if isinstance(node, AtLeast):
        n, k = len(parts), node.k
        # at least k true; its negation is at least n-k+1 false
        need = k if positive else n - k + 1
        out: list[frozenset[SignedLeaf]] = []
        for combo in itertools.combinations(range(n), need):
            out.extend(_product([parts[i] for i in combo], rule))
            _guard(out, rule)
        return _dedupe(out)
    if conj:
        return _product(parts, rule)
    return _dedupe([c for p in parts for c in p])


def _product(parts: list[list[frozenset[SignedLeaf]]], rule: str) -> list[frozenset[SignedLeaf]]:
    out: list[frozenset[SignedLeaf]] = [frozenset()]
    for part in parts:
        out = [a | b for a in out for b in part]
        _guard(out, rule)
    return _dedupe(out)


def _dedupe(clauses: list[frozenset[SignedLeaf]]) -> list[frozenset[SignedLeaf]]:
    # drop exact duplicates and self-contradictory clauses (x and not x); never subsumed
    # ones, because the union of satisfied clauses is the rule's support
    seen: dict[frozenset[SignedLeaf], None] = {}
    for c in clauses:
        if not any((i, not p) in c for i, p in c):
            seen.setdefault(c, None)
    return list(seen)


def _guard(clauses: list[frozenset[SignedLeaf]], rule: str) -> None:
    if len(clauses) > MAX_CLAUSES:
        raise CapacityError(
            f"rule {rule!r}: its condition expands to more than {MAX_CLAUSES} alternative "
            "clauses for the durable backend; split it into derived facts (or use "
            "backend='python')"
        )


def _filters(finding: FindingDef, side: str | None, level: str | None) -> Pattern:
    tests: list[Test] = []
    if side is not None:
        tests.append(("s", "eq", side))
    if level is not None:
        tests.append(("l", "eq", level))
    return tuple(tests)


def _value_tests(op: str, value: Any) -> list[Pattern]:
    """Alternatives (any one) of value tests that make ``op value`` hold on one slot."""
    if op == "present":
        return [(("v", "eq", True),)]
    if op == "between":
        return [(("v", "ge", value[0]), ("v", "le", value[1]))]
    if op == "in":
        return [(("v", "eq", x),) for x in value]
    return [(("v", cast(Op, op), value),)]


def _fail_tests(op: str, value: Any) -> list[Pattern]:
    """Alternatives of value tests that make ``op value`` fail on one recorded slot."""
    if op == "between":
        return [(("v", "lt", value[0]),), (("v", "gt", value[1]),)]
    if op == "in":
        return [tuple(("v", "ne", x) for x in value)]
    return [(("v", _NEG[op], value),)]


def _literal(pred: Pred, positive: bool, finding: FindingDef) -> list[Clause]:
    """Alternatives (DNF) of pattern conjunctions for one signed predicate."""
    head: Pattern = (("t", "eq", "f"), ("n", "eq", pred.finding))
    if pred.side == "bilateral":
        halves = [
            _literal(
                Pred(pred.index, pred.finding, pred.op, pred.value, s, pred.level, ()),
                positive,
                finding,
            )
            for s in ("left", "right")
        ]
        if positive:
            return [a + b for a in halves[0] for b in halves[1]]
        return halves[0] + halves[1]
    if positive:
        flt = _filters(finding, pred.side, pred.level)
        return [(head + flt + alt,) for alt in _value_tests(pred.op, pred.value)]
    if pred.op == "present" and finding.kind is FindingKind.BOOLEAN:
        side = pred.side or (ANY if finding.lateralised else NONE)
        level = pred.level or (ANY if finding.levels else NONE)
        return [
            ((("t", "eq", "a"), ("n", "eq", pred.finding), ("s", "eq", side), ("l", "eq", level)),)
        ]
    # every slot in scope recorded and failing
    slots = [
        (s or NONE, lv or NONE)
        for s in finding.sides
        if pred.side is None or s == pred.side
        for lv in finding.slot_levels
        if pred.level is None or lv == pred.level
    ]
    per_slot = [
        [(*head, ("s", "eq", s), ("l", "eq", lv), *alt) for alt in _fail_tests(pred.op, pred.value)]
        for s, lv in slots
    ]
    return [tuple(combo) for combo in itertools.product(*per_slot)]


def _fact_pattern(ref: FactRef, positive: bool) -> Pattern:
    return (("t", "eq", "d"), ("n", "eq", ref.fact), ("v", "eq", positive))


def _clauses(
    rule: Rule, positive: bool, kb: Knowledge
) -> Iterator[tuple[Clause, frozenset[SignedLeaf]]]:
    for clause in _nnf_dnf(rule.when, positive, rule.id):
        options: list[list[Clause]] = []
        for index, sign in sorted(clause):
            atom = rule.atoms[index]
            if isinstance(atom, FactRef):
                options.append([(_fact_pattern(atom, sign),)])
            else:
                options.append(_literal(atom, sign, kb.findings[atom.finding]))
        for combo in itertools.product(*options):
            for merged in _share_facts(tuple(p for part in combo for p in part)):
                yield merged, clause


def _partitions(items: list[Pattern]) -> Iterator[list[list[Pattern]]]:
    """Every way to split ``items`` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
        yield [[first], *part]


def _merge(block: list[Pattern]) -> Pattern | None:
    tests: dict[Test, None] = {}
    for pattern in block:
        tests.update(dict.fromkeys(pattern))
    eqs: dict[str, Any] = {}
    for field, op, value in tests:
        if op == "eq":
            if field in eqs and eqs[field] != value:
                return None  # no fact can satisfy both
            eqs[field] = value
    return tuple(tests)


def _share_facts(patterns: Clause) -> Iterator[Clause]:
    """Alternatives of a clause in which patterns may be satisfied by one shared fact.

    durable-rules binds distinct facts to the patterns of one rule, while two leaves of a
    condition may well be satisfied by the same recorded slot (``n0 > 10`` and ``n0 < 100``).
    Patterns on the same finding are therefore merged in every possible grouping.
    """
    groups: dict[tuple[Any, Any], list[Pattern]] = {}
    for pattern in dict.fromkeys(patterns):
        groups.setdefault((pattern[0][2], pattern[1][2]), []).append(pattern)
    options: list[list[list[Pattern]]] = []
    for group in groups.values():
        alternatives = []
        for part in _partitions(group):
            merged = [_merge(block) for block in part]
            if all(m is not None for m in merged):
                alternatives.append([m for m in merged if m is not None])
        options.append(alternatives)
    for combo in itertools.product(*options):
        yield tuple(p for block in combo for p in block)


def negated_facts(kb: Knowledge) -> frozenset[str]:
    """Derived facts whose falsity some rule needs, closed over deriving rules."""
    need: set[str] = set()
    for rule in kb.rules:
        for clause in _nnf_dnf(rule.when, True, rule.id):
            for i, sign in clause:
                atom = rule.atoms[i]
                if not sign and isinstance(atom, FactRef):
                    need.add(atom.fact)
    todo = list(need)
    while todo:
        fact = todo.pop()
        for rule in kb.derivers.get(fact, ()):
            for clause in _nnf_dnf(rule.when, False, rule.id):
                for i, s in clause:
                    atom = rule.atoms[i]
                    if not s and isinstance(atom, FactRef) and atom.fact not in need:
                        need.add(atom.fact)
                        todo.append(atom.fact)
    return frozenset(need)


def compile_knowledge(kb: Knowledge) -> Compiled:
    """Compile every rule (and the falsity of rules deriving negated facts)."""
    clauses: dict[str, Clause] = {}
    meaning: dict[str, tuple[str, bool, frozenset[SignedLeaf]]] = {}
    negated = negated_facts(kb)
    false_rules = {r.id for f in negated for r in kb.derivers.get(f, ())}
    for rule in kb.rules:
        signs = (True, False) if rule.id in false_rules else (True,)
        for sign in signs:
            # identical pattern sets from different DNF clauses fire together: one durable
            # rule, whose support is the union of the clauses' leaves
            keys: dict[Clause, str] = {}
            for clause, leaves in _clauses(rule, sign, kb):
                clause = tuple(sorted(clause, key=repr))
                key = keys.get(clause)
                if key is None:
                    key = keys[clause] = f"{'t' if sign else 'f'}{len(keys)}:{rule.id}"
                    clauses[key] = clause
                    meaning[key] = (rule.id, sign, leaves)
                else:
                    meaning[key] = (rule.id, sign, meaning[key][2] | leaves)
            if len(keys) > MAX_CLAUSES:
                _guard([frozenset()] * len(keys), rule.id)
    return Compiled(clauses=clauses, meaning=meaning, negated_facts=negated)


def case_facts(kb: Knowledge, obs: Observations) -> list[dict[str, Any]]:
    """The facts asserted for one case: recorded slots and all-absent scopes."""
    facts: list[dict[str, Any]] = []
    for fid, slots in obs.slots.items():
        facts.extend(finding_facts(kb, fid, slots))
    return facts


def finding_facts(kb: Knowledge, fid: str, slots: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """The facts of one recorded finding: one per slot, then its all-absent scopes.

    They depend on nothing else in the case, so callers may cache them by ``slots``.
    """
    facts: list[dict[str, Any]] = []
    for (side, level), value in sorted(
        slots.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        s, lv = side or NONE, level or NONE
        facts.append({"id": f"f:{fid}:{s}:{lv}", "t": "f", "n": fid, "s": s, "l": lv, "v": value})
    finding = kb.findings[fid]
    if finding.kind is not FindingKind.BOOLEAN:
        return facts
    sides = [*finding.sides, ANY] if finding.lateralised else [None]
    levels = [*finding.slot_levels, ANY] if finding.levels else [None]
    for s_, l_ in itertools.product(sides, levels):
        scope = [
            slots.get((s, lv))
            for s in finding.sides
            if s_ in (ANY, None) or s == s_
            for lv in finding.slot_levels
            if l_ in (ANY, None) or lv == l_
        ]
        if scope and all(v is False for v in scope):
            s, lv = s_ or NONE, l_ or NONE
            facts.append({"id": f"a:{fid}:{s}:{lv}", "t": "a", "n": fid, "s": s, "l": lv})
    return facts


def fact_fact(name: str, value: bool) -> dict[str, Any]:
    """The fact asserted when a derived fact becomes true or false."""
    return {"id": f"d:{name}:{int(value)}", "t": "d", "n": name, "v": value}


def rule_falsity_needed(compiled: Compiled, kb: Knowledge) -> Mapping[str, tuple[str, ...]]:
    """For each negated fact, the rules whose falsity makes it false."""
    return {f: tuple(r.id for r in kb.derivers.get(f, ())) for f in compiled.negated_facts}
