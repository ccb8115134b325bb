"""Abduction in three-valued logic: which unrecorded findings would make a rule fire.

Used by :func:`painreason.why_not` and :func:`painreason.next_findings`. Recording more
findings only refines Kleene truth (unknown may become true or false; true and false stay),
so a rule whose condition is false can never fire by recording more, and a rule whose
condition is unknown may.

The search has two stages:

1. **Symbolic.** :meth:`Search.ways` lists the minimal sets of *literals* — a leaf of some
   rule with the truth it must take — that make a node true (or false) when every other
   unknown leaf stays unknown. Derived facts are expanded through the rules deriving them:
   a fact becomes true when one deriving rule fires, false when every deriving rule is false.
2. **Concrete.** :meth:`Search.realise` turns a literal set into a recording — a value per
   finding, in case-file form, that keeps what is already recorded — and checks it by
   re-evaluating the rule with the reference evaluator on the amended case. Sets that cannot
   be recorded (two literals on one finding that contradict each other) or that do not make
   the rule fire are dropped, so every set returned is sound.

The search is bounded (``max_size`` findings per set, ``MAX_WAYS`` sets kept per node,
``MAX_CANDIDATES`` unions tried per ``all`` child, ``MAX_COMBINATIONS`` choices per
``at_least``); :attr:`Search.complete` says whether a bound cut anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._reference import Evaluator, _or, _slot_truth
from .case import Case, Observations, Slot, SlotValue, observe
from .errors import CaseError
from .loader import Knowledge
from .rules import All, AnyOf, AtLeast, FactRef, Node, Not, Pred, Rule
from .vocabulary import FindingDef, FindingKind

__all__ = ["Lit", "Recording", "Search", "amend", "encode", "fact_closure", "holds"]

MAX_WAYS = 64
MAX_COMBINATIONS = 200
MAX_CANDIDATES = 512

# (rule id, leaf index, truth the leaf must take)
Lit = tuple[str, int, bool]
Ways = list[frozenset[Lit]]


@dataclass(frozen=True, slots=True)
class Recording:
    """A verified set of findings whose recording makes a rule fire.

    ``values`` maps each finding to a case-file value that does it (what is already
    recorded for that finding is kept); ``literals`` are the leaves it sets.
    """

    rule: str
    findings: tuple[str, ...]
    values: Mapping[str, Any]
    literals: frozenset[Lit]


def _minimal(sets: Iterable[frozenset[Lit]]) -> Ways:
    out: Ways = []
    for s in sorted(set(sets), key=lambda x: (len(x), sorted(x))):
        if not any(kept <= s for kept in out):
            out.append(s)
    return out


def fact_closure(kb: Knowledge, rule: Rule) -> frozenset[str]:
    """Every derived fact ``rule`` reads, directly or through the rules deriving them."""
    seen: set[str] = set()
    pending = list(rule.reads_facts)
    while pending:
        fact = pending.pop()
        if fact in seen:
            continue
        seen.add(fact)
        for deriver in kb.derivers.get(fact, ()):
            pending.extend(deriver.reads_facts)
    return frozenset(seen)


def holds(kb: Knowledge, obs: Observations, rule: Rule, needed: frozenset[str]) -> bool:
    """Whether ``rule`` fires on ``obs``, evaluating only the facts in ``needed``.

    Facts follow the reference semantics: true when a deriving rule's condition is true,
    false when every deriving rule's condition is false, unknown otherwise.
    """
    ev = Evaluator(kb, obs)
    for fact in kb.fact_order:
        if fact in needed:
            derivers = kb.derivers.get(fact, ())
            ev.facts[fact] = _or([ev.truth(r.when) for r in derivers]) if derivers else None
    return ev.truth(rule.when) is True


class Search:
    """Minimal literal sets over one evaluated case.

    Parameters
    ----------
    kb : Knowledge
    case : Case
        The case as given (its recorded values are kept in every recording).
    obs : Observations
        ``observe(case, kb)``.
    ev : Evaluator
        An evaluator that has run on ``obs`` (its truths are read, never changed).
    max_size : int
        The largest number of distinct findings in a set.
    """

    def __init__(
        self, kb: Knowledge, case: Case, obs: Observations, ev: Evaluator, max_size: int
    ) -> None:
        self.kb = kb
        self.case = case
        self.obs = obs
        self.ev = ev
        self.max_size = max_size
        self.complete = True
        self._memo: dict[tuple[str, int, bool], Ways] = {}
        self._closure: dict[str, frozenset[str]] = {}
        self._verified: dict[tuple[str, frozenset[Lit]], Recording | None] = {}

    # -- symbolic -------------------------------------------------------------------------

    def finding_of(self, lit: Lit) -> str:
        atom = self.kb.rule_index[lit[0]].atoms[lit[1]]
        assert isinstance(atom, Pred)
        return atom.finding

    def _size(self, s: frozenset[Lit]) -> int:
        return len({self.finding_of(lit) for lit in s})

    def _cap(self, sets: Iterable[frozenset[Lit]]) -> Ways:
        out = []
        for s in _minimal(sets):
            if self._size(s) > self.max_size:
                self.complete = False
                continue
            out.append(s)
        if len(out) > MAX_WAYS:
            self.complete = False
            out = out[:MAX_WAYS]
        return out

    def _product(self, choices: list[Ways]) -> Ways:
        acc: Ways = [frozenset()]
        for options in choices:
            if not options:
                return []
            # both lists are smallest first, so the first unions are the likeliest minimal ones
            unions = (a | b for a in acc for b in options)
            chosen = list(itertools.islice(unions, MAX_CANDIDATES))
            if next(unions, None) is not None:
                self.complete = False
            acc = self._cap(chosen)
            if not acc:
                return []
        return acc

    def _union(self, choices: Iterable[Ways]) -> Ways:
        return self._cap(s for options in choices for s in options)

    def ways(self, rule: Rule, node: Node, want: bool) -> Ways:
        """Minimal literal sets that make ``node`` (of ``rule``) take truth ``want``.

        ``[frozenset()]`` when it already has that truth; ``[]`` when it cannot.
        """
        key = (rule.id, id(node), want)
        if key not in self._memo:
            self._memo[key] = self._ways(rule, node, want)
        return self._memo[key]

    def _ways(self, rule: Rule, node: Node, want: bool) -> Ways:
        truth = self.ev.truth(node)
        if truth is want:
            return [frozenset()]
        if truth is not None:
            return []
        if isinstance(node, Pred):
            return self._cap([frozenset({(rule.id, node.index, want)})])
        if isinstance(node, FactRef):
            derivers = self.kb.derivers.get(node.fact, ())
            if want:
                return self._union(self.ways(r, r.when, True) for r in derivers)
            return self._product([self.ways(r, r.when, False) for r in derivers])
        if isinstance(node, Not):
            return self.ways(rule, node.child, not want)
        children = node.children
        if isinstance(node, All | AnyOf):
            every = isinstance(node, All) == want  # all true / any false: every child must
            options = [self.ways(rule, c, want) for c in children]
            return self._product(options) if every else self._union(options)
        assert isinstance(node, AtLeast)
        truths = [self.ev.truth(c) for c in children]
        unknown = [c for c, t in zip(children, truths, strict=True) if t is None]
        if want:
            need = node.k - sum(t is True for t in truths)
        else:
            need = len(children) - node.k + 1 - sum(t is False for t in truths)
        combos = itertools.combinations(unknown, need)
        chosen = list(itertools.islice(combos, MAX_COMBINATIONS))
        if next(combos, None) is not None:
            self.complete = False
        return self._union(
            self._product([self.ways(rule, c, want) for c in combo]) for combo in chosen
        )

    # -- concrete -------------------------------------------------------------------------

    def recordings(self, rule: Rule) -> list[Recording]:
        """Verified, finding-minimal recordings that make ``rule`` fire (smallest first)."""
        found: list[Recording] = []
        for lits in self.ways(rule, rule.when, True):
            if not lits:
                continue
            rec = self.realise(rule, lits)
            if rec is not None:
                found.append(rec)
        found.sort(key=lambda r: (len(r.findings), r.findings))
        out: list[Recording] = []
        for rec in found:
            if not any(set(kept.findings) <= set(rec.findings) for kept in out):
                out.append(rec)
        return out

    def realise(self, rule: Rule, lits: frozenset[Lit]) -> Recording | None:
        """A recording that sets ``lits`` and makes ``rule`` fire, or ``None``."""
        key = (rule.id, lits)
        if key not in self._verified:
            self._verified[key] = self._realise(rule, lits)
        return self._verified[key]

    def _realise(self, rule: Rule, lits: frozenset[Lit]) -> Recording | None:
        by_finding: dict[str, list[tuple[Pred, bool]]] = {}
        for rule_id, index, want in sorted(lits):
            atom = self.kb.rule_index[rule_id].atoms[index]
            assert isinstance(atom, Pred)
            by_finding.setdefault(atom.finding, []).append((atom, want))
        values: dict[str, Any] = {}
        for fid, wants in by_finding.items():
            finding = self.kb.findings[fid]
            existing = self.obs.slots.get(fid, {})
            slots = _solve(finding, existing, wants)
            if slots is None:
                return None
            raw = encode(finding, {**existing, **slots})
            if raw is None:
                return None
            values[fid] = raw
        amended = amend(self.case, values)
        try:
            obs = observe(amended, self.kb)
        except CaseError:
            return None
        if rule.id not in self._closure:
            self._closure[rule.id] = fact_closure(self.kb, rule)
        if not holds(self.kb, obs, rule, self._closure[rule.id]):
            return None
        return Recording(rule.id, tuple(sorted(values)), values, lits)


def amend(case: Case, values: Mapping[str, Any], unset: Iterable[str] = ()) -> Case:
    """A copy of ``case`` with findings set to ``values`` and ``unset`` ones removed.

    ``age`` and ``sex`` go to the patient when the case gives them there.
    """
    findings = dict(case.findings)
    patient = case.patient.model_dump()
    for fid in unset:
        findings.pop(fid, None)
        if fid in patient:
            patient[fid] = None
    for fid, raw in values.items():
        if fid in patient and patient[fid] is not None:
            patient[fid] = raw
        else:
            findings[fid] = raw
    return Case.from_dict({"id": case.id, "patient": patient, "findings": findings})


# -- slot constraints -------------------------------------------------------------------


def _scope(finding: FindingDef, pred: Pred, side: str | None) -> list[Slot]:
    return [
        (s, lv)
        for s in finding.sides
        if side is None or s == side
        for lv in finding.slot_levels
        if pred.level is None or lv == pred.level
    ]


def _candidates(finding: FindingDef, preds: Iterable[Pred]) -> list[SlotValue]:
    if finding.kind is FindingKind.BOOLEAN:
        return [True, False]
    if finding.kind is FindingKind.CATEGORICAL:
        return list(finding.values or ())
    lo, hi = finding.bounds or (0.0, 0.0)
    points: list[float] = []
    for pred in preds:
        value = pred.value
        if isinstance(value, tuple):
            points += [float(v) for v in value if isinstance(v, float | int)]
        elif isinstance(value, float | int):
            points.append(float(value))
    out: list[float] = []
    for p in points:
        out += [p, p + 1, p - 1, p + 0.5, p - 0.5, p + 0.1, p - 0.1]
    out += [round((lo + hi) / 2), lo, hi]
    whole = finding.kind is FindingKind.ORDINAL
    return [v for v in dict.fromkeys(out) if lo <= v <= hi and (not whole or v == int(v))]


def _choose(candidates: list[SlotValue], rules: list[tuple[Pred, bool]]) -> SlotValue | None:
    for value in candidates:
        if all(_slot_truth(p, value) is want for p, want in rules):
            return value
    return None


def _solve(
    finding: FindingDef, existing: Mapping[Slot, SlotValue], wants: list[tuple[Pred, bool]]
) -> dict[Slot, SlotValue] | None:
    """Values for unrecorded slots that give each predicate its wanted truth."""
    candidates = _candidates(finding, (p for p, _ in wants))
    rules: dict[Slot, list[tuple[Pred, bool]]] = {}

    def feasible(slot: Slot, extra: tuple[Pred, bool]) -> bool:
        return _choose(candidates, [*rules.get(slot, []), extra]) is not None

    def forall(pred: Pred, side: str | None) -> bool:
        scope = _scope(finding, pred, side)
        if any(_slot_truth(pred, existing[s]) is not False for s in scope if s in existing):
            return False
        free = [s for s in scope if s not in existing]
        if not all(feasible(s, (pred, False)) for s in free):
            return False
        for s in free:
            rules.setdefault(s, []).append((pred, False))
        return True

    def exists(pred: Pred, side: str | None) -> bool:
        scope = _scope(finding, pred, side)
        if any(_slot_truth(pred, existing[s]) is True for s in scope if s in existing):
            return True
        free = [s for s in scope if s not in existing]
        free.sort(key=lambda s: s not in rules)  # prefer slots already being recorded
        for s in free:
            if feasible(s, (pred, True)):
                rules.setdefault(s, []).append((pred, True))
                return True
        return False

    # forced constraints (every slot in scope) first, choices after
    for pred, want in sorted(wants, key=lambda pw: pw[1]):
        if pred.side == "bilateral":
            ok = (
                exists(pred, "left") and exists(pred, "right")
                if want
                else forall(pred, "left") or forall(pred, "right")
            )
        else:
            ok = exists(pred, pred.side) if want else forall(pred, pred.side)
        if not ok:
            return None
    out: dict[Slot, SlotValue] = {}
    for slot, slot_rules in rules.items():
        value = _choose(candidates, slot_rules)
        if value is None:
            return None
        out[slot] = value
    return out


def _scalar(value: SlotValue) -> Any:
    if isinstance(value, bool):
        return "present" if value else "absent"
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value


def encode(finding: FindingDef, slots: Mapping[Slot, SlotValue]) -> Any:
    """The case-file value that records exactly ``slots`` of ``finding``, or ``None``.

    ``None`` when the slots cannot be written in one case value (for instance two levels of
    one side with different values).

    Examples
    --------
    >>> from painreason import load_knowledge
    >>> slr = load_knowledge().findings["straight_leg_raise"]
    >>> encode(slr, {("left", None): True, ("right", None): False})
    {'left': 'present', 'right': 'absent'}
    """
    if not slots:
        return None
    if not finding.levels:
        if not finding.lateralised:
            return _scalar(slots[(None, None)])
        return {
            side: _scalar(slots[(side, None)]) for side in finding.sides if (side, None) in slots
        }
    per_side: dict[str | None, Any] = {}
    for side in finding.sides:
        mine = {lv: v for (s, lv), v in slots.items() if s == side}
        if not mine:
            continue
        distinct = set(mine.values())
        if len(distinct) != 1:
            return None
        (value,) = distinct
        if value is False and len(mine) == len(finding.levels):
            per_side[side] = "absent"
        else:
            levels = [lv for lv in finding.levels if lv in mine]
            per_side[side] = {"present": value, "levels": levels}
    if not finding.lateralised:
        return per_side[None]
    return per_side
