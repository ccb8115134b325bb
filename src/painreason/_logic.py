"""Static reasoning over condition trees: normal form, satisfiability and implication.

A rule fires when its ``when`` is true. In Kleene's logic a tree is true exactly when one term
of its disjunctive normal form is, where a term is a set of *literals*, each saying that a leaf
holds (``positive``) or is known false. :mod:`painreason.lint` asks two questions of terms:

- can some case make every literal of a term hold (:meth:`Reasoner.conflict` answers with the
  reason when none can)? The answer is exact for findings; derived facts are treated as free,
  except facts no rule can derive, so "never fires" is only said when it is true;
- does one term force another (:meth:`Reasoner.term_implies`)? The check is sound, not
  complete: a "yes" is always right, a "no" may miss an implication that needs several
  literals together.

Values of numeric findings are reasoned about on a finite set of candidate points: every
threshold any rule compares the finding with, the ends of its plausible range, and the points
between. Each comparison is constant between two neighbouring thresholds, so this is exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Literal

from .rules import All, AnyOf, AtLeast, Atom, FactRef, Node, Not, Pred
from .vocabulary import FindingDef, FindingKind

__all__ = ["Conflict", "Lit", "Reasoner", "Term", "TooLarge", "dnf"]

LIMIT = 4096  # terms; a tree whose normal form is larger is not analysed

Slot = tuple[str | None, str | None]
Value = bool | float | str

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, x: v == x,
    "ne": lambda v, x: v != x,
    "lt": lambda v, x: v < x,
    "le": lambda v, x: v <= x,
    "gt": lambda v, x: v > x,
    "ge": lambda v, x: v >= x,
    "between": lambda v, x: x[0] <= v <= x[1],
    "in": lambda v, x: v in x,
}


@dataclass(frozen=True, slots=True)
class Lit:
    """A leaf that holds (``positive``) or is known false, on one side or either side.

    A ``bilateral`` leaf is split: it holds when it holds on the left and on the right, and it
    is false when it is false on the left or on the right.
    """

    finding: str | None  # None for a derived fact
    fact: str | None
    op: str
    value: Any
    side: str | None
    level: str | None
    positive: bool
    atom: Atom = field(compare=False)

    def describe(self) -> str:
        """``heart_rate > 100 (left)`` or ``not (derived f)``."""
        text = self.atom.describe()
        if self.side and isinstance(self.atom, Pred) and self.atom.side == "bilateral":
            text = text.replace(" bilateral", f" {self.side}")
        return text if self.positive else f"not ({text})"


Term = frozenset[Lit]


class TooLarge(Exception):
    """A condition's normal form has more than ``LIMIT`` terms."""


def _leaf(atom: Atom, positive: bool) -> list[Term]:
    if isinstance(atom, FactRef):
        return [frozenset({Lit(None, atom.fact, "derived", None, None, None, positive, atom)})]

    def lit(side: str | None) -> Lit:
        return Lit(atom.finding, None, atom.op, atom.value, side, atom.level, positive, atom)

    if atom.side != "bilateral":
        return [frozenset({lit(atom.side)})]
    if positive:  # true on both sides
        return [frozenset({lit("left"), lit("right")})]
    return [frozenset({lit("left")}), frozenset({lit("right")})]  # false on either side


def _and(parts: Iterable[list[Term]]) -> list[Term]:
    terms: list[Term] = [frozenset()]
    for part in parts:
        terms = list(dict.fromkeys(a | b for a in terms for b in part))
        if len(terms) > LIMIT:
            raise TooLarge
    return terms


def _or(parts: Iterable[list[Term]]) -> list[Term]:
    out: dict[Term, None] = {}
    for part in parts:
        out.update(dict.fromkeys(part))
        if len(out) > LIMIT:
            raise TooLarge
    return list(out)


def dnf(node: Node, positive: bool = True) -> list[Term]:
    """The terms of ``node`` being true (``positive``) or known false.

    Raises
    ------
    TooLarge
        When there would be more than ``LIMIT`` terms.
    """
    if isinstance(node, Pred | FactRef):
        return _leaf(node, positive)
    if isinstance(node, Not):
        return dnf(node.child, not positive)
    if isinstance(node, All | AnyOf):
        parts = (dnf(c, positive) for c in node.children)
        conjunctive = isinstance(node, All) == positive
        return _and(parts) if conjunctive else _or(parts)
    n = len(node.children)
    # at least k hold; known false when more than n - k are false
    need = node.k if positive else n - node.k + 1
    if math.comb(n, need) > LIMIT:
        raise TooLarge
    return _or(
        _and(dnf(c, positive) for c in group)
        for group in itertools.combinations(node.children, need)
    )


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why no case makes every literal of a term hold.

    ``kind`` is ``range`` (one literal can never hold on the finding's plausible values),
    ``present-absent`` (a boolean finding needed both present and absent), ``contradiction``
    (literals on one finding or fact that exclude each other) or ``dead-fact`` (a derived fact
    no rule can derive). ``lits`` are the literals involved, in file order.
    """

    kind: Literal["range", "present-absent", "contradiction", "dead-fact"]
    lits: tuple[Lit, ...]


class Reasoner:
    """Satisfiability and implication of terms over one vocabulary.

    Parameters
    ----------
    findings : mapping of finding id to FindingDef
    preds : iterable of Pred
        Every predicate that will be reasoned about: their thresholds become candidate values.
    """

    def __init__(self, findings: Mapping[str, FindingDef], preds: Iterable[Pred]) -> None:
        self.findings = findings
        thresholds: dict[str, set[float]] = {}
        for pred in preds:
            values = pred.value if isinstance(pred.value, tuple) else (pred.value,)
            for v in values:
                if isinstance(v, float):
                    thresholds.setdefault(pred.finding, set()).add(v)
        self._values: dict[str, tuple[Value, ...]] = {}
        for fid, f in findings.items():
            self._values[fid] = _candidates(f, thresholds.get(fid, set()))
        self._sat: dict[tuple[str, str, Any], frozenset[Value]] = {}
        self._scopes: dict[tuple[str, str | None, str | None], frozenset[Slot]] = {}
        self._solved: dict[frozenset[Lit], bool] = {}

    # -- building blocks -------------------------------------------------------------------

    def known(self, lit: Lit) -> bool:
        """Whether the literal can be reasoned about (its finding and level are known)."""
        if lit.fact is not None:
            return True
        f = self.findings.get(lit.finding or "")
        if f is None or (lit.op == "present") != (f.kind is FindingKind.BOOLEAN):
            return False  # the loader reports these; nothing sound can be said
        return lit.level is None or lit.level in (f.levels or ())

    def values(self, finding: str) -> tuple[Value, ...]:
        """Candidate values of a finding (see the module docstring)."""
        return self._values[finding]

    def holds_on(self, lit: Lit) -> frozenset[Value]:
        """The candidate values on which the leaf of ``lit`` holds."""
        assert lit.finding is not None
        key = (lit.finding, lit.op, lit.value)
        found = self._sat.get(key)
        if found is None:
            found = frozenset(v for v in self._values[lit.finding] if _test(lit.op, v, lit.value))
            self._sat[key] = found
        return found

    def scope(self, lit: Lit) -> frozenset[Slot]:
        """The slots (side, level) a literal looks at."""
        assert lit.finding is not None
        key = (lit.finding, lit.side, lit.level)
        found = self._scopes.get(key)
        if found is None:
            f = self.findings[lit.finding]
            found = frozenset(
                (s, lv)
                for s in f.sides
                if lit.side is None or s == lit.side
                for lv in f.slot_levels
                if lit.level is None or lv == lit.level
            )
            self._scopes[key] = found
        return found

    def constant(self, lit: Lit) -> bool | None:
        """True or False when the leaf holds on every, or on no, plausible value."""
        held = self.holds_on(lit)
        if not held:
            return False
        if len(held) == len(self._values[lit.finding or ""]):
            return True
        return None

    # -- satisfiability --------------------------------------------------------------------

    def conflict(self, term: Term, dead: Set[str] = frozenset()) -> Conflict | None:
        """``None`` when some case makes every literal of ``term`` hold; else the reason."""
        lits = sorted((x for x in term if self.known(x)), key=_order)
        for lit in lits:
            if lit.fact is None and self.constant(lit) is (not lit.positive):
                return Conflict("range", (lit,))
        by_fact: dict[str, list[Lit]] = {}
        by_finding: dict[str, list[Lit]] = {}
        for lit in lits:
            if lit.fact is not None:
                by_fact.setdefault(lit.fact, []).append(lit)
            else:
                by_finding.setdefault(lit.finding or "", []).append(lit)
        for fact, group in by_fact.items():
            polarities = {x.positive for x in group}
            if polarities == {True, False}:
                return Conflict("contradiction", tuple(group))
            if fact in dead and True in polarities:
                return Conflict("dead-fact", tuple(x for x in group if x.positive))
        for fid, group in by_finding.items():
            if not self._solvable(fid, group):
                boolean = self.findings[fid].kind is FindingKind.BOOLEAN
                return Conflict("present-absent" if boolean else "contradiction", tuple(group))
        return None

    def _solvable(self, finding: str, lits: list[Lit]) -> bool:
        key = frozenset(lits)
        found = self._solved.get(key)
        if found is None:
            found = self._solved[key] = self._solve(finding, lits)
        return found

    def _solve(self, finding: str, lits: list[Lit]) -> bool:
        domain = frozenset(self._values[finding])
        allowed: dict[Slot, frozenset[Value]] = {}
        for lit in lits:
            if not lit.positive:
                for slot in self.scope(lit):
                    allowed[slot] = allowed.get(slot, domain) - self.holds_on(lit)
                    if not allowed[slot]:
                        return False
        positives = [x for x in lits if x.positive]

        def place(i: int, allowed: dict[Slot, frozenset[Value]]) -> bool:
            if i == len(positives):
                return True
            lit = positives[i]
            for slot in self.scope(lit):
                narrowed = allowed.get(slot, domain) & self.holds_on(lit)
                if narrowed and place(i + 1, {**allowed, slot: narrowed}):
                    return True
            return False

        return place(0, allowed)

    def satisfiable(self, terms: list[Term], dead: Set[str] = frozenset()) -> bool:
        """Whether some term can hold."""
        return any(self.conflict(t, dead) is None for t in terms)

    # -- implication -----------------------------------------------------------------------

    def lit_implies(self, a: Lit, b: Lit) -> bool:
        """Whether ``a`` holding forces ``b`` to hold (sound, not complete)."""
        if a == b:
            return True
        if a.fact is not None or b.fact is not None:
            return False
        if a.finding != b.finding or not (self.known(a) and self.known(b)):
            return False
        sa, sb = self.scope(a), self.scope(b)
        ha, hb = self.holds_on(a), self.holds_on(b)
        domain = frozenset(self._values[a.finding or ""])
        if a.positive and b.positive:
            return sa <= sb and ha <= hb
        if not a.positive and not b.positive:
            return sb <= sa and hb <= ha
        if not a.positive:  # every slot of a's scope recorded outside ha
            return bool(sa & sb) and (domain - ha) <= hb
        # a positive forces b false only when both look at the same single slot
        return len(sa) == 1 and sa == sb and not (ha & hb)

    def term_implies(self, a: Term, b: Term) -> bool:
        """Whether term ``a`` holding forces term ``b`` to hold."""
        return all(any(self.lit_implies(x, y) for x in a) for y in b)

    def implies(self, a: list[Term], b: list[Term], dead: Set[str] = frozenset()) -> bool:
        """Whether, whenever ``a`` holds, ``b`` holds (``a``'s impossible terms are skipped)."""
        live = [t for t in a if self.conflict(t, dead) is None]
        return bool(live) and all(any(self.term_implies(t, u) for u in b) for t in live)


def _order(lit: Lit) -> tuple[int, str]:
    return lit.atom.index, lit.side or ""


def _test(op: str, value: Value, threshold: Any) -> bool:
    if op == "present":
        return value is True
    if isinstance(value, bool):
        return False
    if op in ("lt", "le", "gt", "ge", "between") and not isinstance(value, float):
        return False
    try:
        return COMPARISONS[op](value, threshold)
    except TypeError:  # a category compared with a number: never holds
        return False


def _candidates(f: FindingDef, thresholds: Set[float]) -> tuple[Value, ...]:
    if f.kind is FindingKind.BOOLEAN:
        return (True, False)
    if f.kind is FindingKind.CATEGORICAL:
        return tuple(f.values or ())
    lo, hi = f.bounds or (-1e9, 1e9)
    inside = sorted({lo, hi, *(t for t in thresholds if lo <= t <= hi)})
    if f.kind is FindingKind.ORDINAL:
        whole: set[float] = set()
        for t in inside:
            whole |= {math.floor(t) - 1.0, float(math.floor(t)), float(math.ceil(t)), t + 1}
        whole |= (
            {float(v) for v in range(math.ceil(lo), math.floor(hi) + 1)} if hi - lo <= 50 else set()
        )
        return tuple(sorted(v for v in whole if lo <= v <= hi and v == int(v)))
    points: list[float] = []
    for a, b in itertools.pairwise(inside):
        points += [a, (a + b) / 2]
    points.append(inside[-1])
    return tuple(points)


def iter_preds(nodes: Iterable[Node]) -> Iterator[Pred]:
    """Every predicate of the given trees."""
    for node in nodes:
        if isinstance(node, Pred):
            yield node
        elif isinstance(node, Not):
            yield from iter_preds([node.child])
        elif isinstance(node, All | AnyOf | AtLeast):
            yield from iter_preds(node.children)
