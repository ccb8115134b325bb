"""The python backend's fast path: compiled rule trees, activation by recorded findings.

Same semantics as :mod:`painreason._reference` (the oracle the tests compare it with, on the
golden cases and on random rule sets): equal :class:`~painreason._outcome.Outcome` objects,
support sets included. What makes it fast:

1. **Observation by finding, memoised.** A case records each finding as a raw value; the
   slots, the text shown in the Result and the truth of every predicate on that finding
   depend on nothing else, so they are computed once per (finding, raw value) and reused.
   Equal leaves of different rules (the same test of a finding, the same fact) share one
   leaf id, so a case holds each truth once.
2. **Activation.** A rule can only be true when one of its *trigger literals* holds (a leaf
   known true or known false; see :func:`~painreason._fastcompile.trigger`), and a rule
   deriving a fact whose falsity matters can only be false when one of its falsity triggers
   holds. Only the rules a case wakes are evaluated; the rest are unknown, or known not to
   matter.
3. **Compiled trees.** Each rule's tree is compiled to a straight-line function over a dict
   of known leaf truths (:mod:`painreason._fastcompile`).
4. **Cached parts of the Result** (:mod:`painreason._fastresult`).

Caches are bounded (they are cleared when full), so memory stays flat over any number of
cases. Everything here is safe to share between threads: per-case state is local.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._fastcompile import Leaves, Lit, compile_rules, needed_literals, negated_facts, triggers
from ._fastresult import ResultBuilder, remember
from ._logic import COMPARISONS
from ._outcome import Outcome, Support
from ._reference import pred_truth
from .case import Case, Observations, Slot, SlotValue, _Reader, observe
from .errors import Problem
from .loader import Knowledge
from .results import Result, _show
from .rules import Pred

__all__ = ["FastEvaluator"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded finding of a case: its slots and what they make known."""

    finding: str
    slots: Mapping[Slot, SlotValue]
    shown: str
    truths: Mapping[int, bool]  # leaf id -> truth, for the predicates this finding decides
    conclude: tuple[int, ...]  # rules deriving nothing that these truths wake (may be true)
    derive: tuple[int, ...]  # rules deriving facts that they wake (may be true)
    facts: tuple[int, ...]  # positions (in fact order) of facts whose rules they wake
    read: bool  # some rule reads this finding


@dataclass(frozen=True, slots=True)
class _Activation:
    """What becoming true (or false) makes known: a fact's leaves and the rules they wake."""

    truths: Mapping[int, bool]  # the fact's leaves, now known
    conclude: tuple[int, ...]
    derive: tuple[int, ...]
    facts: tuple[int, ...]


def _freeze(raw: Any) -> Any:
    """A hashable key for a raw finding value that tells apart values that compare equal
    across types (``True == 1 == 1.0``) and the two zeros (``-0.0 == 0.0``, shown ``-0``
    and ``0``)."""
    if isinstance(raw, dict):
        return ("{", tuple((k, _freeze(v)) for k, v in raw.items()))
    if isinstance(raw, list):
        return ("[", tuple(_freeze(v) for v in raw))
    if isinstance(raw, float) and raw == 0.0:
        return (type(raw), raw, math.copysign(1.0, raw))
    return (type(raw), raw)


class FastEvaluator:
    """Evaluates cases on one knowledge base: observation, outcome and Result.

    Parameters
    ----------
    knowledge : Knowledge
        The rules and vocabulary.
    generate : bool
        Compile rules to generated Python functions (the default) or to closures only.

    Examples
    --------
    >>> from painreason import Case, load_knowledge
    >>> fast = FastEvaluator(load_knowledge())
    >>> case = Case(findings={"low_back_pain": "present", "saddle_anaesthesia": "present"})
    >>> entries = fast.observe(case)
    >>> outcome = fast.run(entries)
    >>> fast.result(case, entries, outcome).red_flags[0].id
    'cauda_equina_red_flag'
    """

    def __init__(self, knowledge: Knowledge, generate: bool = True) -> None:
        kb = self.kb = knowledge
        rules = kb.rules
        self._rule_ids = tuple(r.id for r in rules)
        position = {r.id: i for i, r in enumerate(rules)}
        # global leaf ids, and which leaves each finding and fact decides
        self._preds: dict[str, list[tuple[Pred, int]]] = {}
        fact_leaves: dict[str, list[int]] = {f: [] for f in kb.facts}
        gids_of: list[tuple[int, ...]] = []
        readers: dict[str, int] = {}
        gid_of: dict[tuple[Any, ...], int] = {}
        for rule in rules:
            gids: list[int] = []
            for atom in rule.atoms:
                # equal leaves (the same test of a finding, the same fact) share one id: they
                # have one truth on any case, so a case stores it once
                if isinstance(atom, Pred):
                    key: tuple[Any, ...] = (atom.finding, atom.op, type(atom.value), atom.value)
                    key += (atom.side, atom.level)
                    readers[atom.finding] = readers.get(atom.finding, 0) + 1
                else:
                    key = (atom.fact,)
                g = gid_of.get(key)
                if g is None:
                    g = gid_of[key] = len(gid_of)
                    if isinstance(atom, Pred):
                        self._preds.setdefault(atom.finding, []).append((atom, g))
                    else:
                        fact_leaves[atom.fact].append(g)
                gids.append(g)
            gids_of.append(tuple(gids))
        negated = self.negated = negated_facts(kb)
        cost = dict.fromkeys((g for leaves in fact_leaves.values() for g in leaves), 2)
        for finding, preds in self._preds.items():
            cost.update((g, 1 + readers[finding]) for _, g in preds)
        compiled = compile_rules(rules, gids_of, cost.__getitem__, generate)
        self._fire, self._false, self._support = compiled.fire, compiled.false, compiled.support
        wakes_hold, wakes_fail = triggers(kb, gids_of, readers, fact_leaves, negated)
        self._wakes_hold = {k: frozenset(v) for k, v in wakes_hold.items()}
        self._wakes_fail = {k: frozenset(v) for k, v in wakes_fail.items()}
        self._deriving = frozenset(i for i, r in enumerate(rules) if r.derives)
        falsity = {i for i, r in enumerate(rules) if any(f in negated for f in r.derives)}
        self._needed = needed_literals(rules, gids_of, falsity)

        self._fact_order = kb.fact_order
        fact_pos = {f: p for p, f in enumerate(self._fact_order)}
        self._derivers: list[tuple[int, ...]] = [
            tuple(position[r.id] for r in kb.derivers.get(f, ())) for f in self._fact_order
        ]
        self._derives: list[frozenset[int]] = [
            frozenset(fact_pos[f] for f in r.derives) for r in rules
        ]
        # per fact, in order: (id, deriving rules, negated?, activation if true / if false)
        self._facts: list[tuple[str, tuple[int, ...], bool, _Activation, _Activation]] = []
        for p, fact in enumerate(self._fact_order):
            leaves = fact_leaves[fact]
            self._facts.append(
                (
                    fact,
                    self._derivers[p],
                    fact in negated,
                    self._activate([(g, True) for g in leaves]),
                    self._activate([(g, False) for g in leaves]),
                )
            )
        for p, (_, _, _, on_true, on_false) in enumerate(self._facts):
            if any(q <= p for q in on_true.facts + on_false.facts):  # run() relies on it
                raise ValueError(f"fact order is not a dependency order at {self._fact_order[p]}")
        self._entries: dict[Any, Entry] = {}  # (finding, raw key) -> Entry
        self._by_slots: dict[Any, Entry] = {}  # (finding, frozenset of slots) -> Entry
        self._activations: dict[frozenset[Lit], _Activation] = {}  # by a finding's truths
        self._tests_of: dict[str, list[tuple[Pred, int, bool]]] = {}
        self.builder = ResultBuilder(kb)

    def _activate(self, lits: Iterable[Lit]) -> _Activation:
        hold: set[int] = set()
        fail: set[int] = set()
        truths = {}
        for lit in lits:
            if lit in self._needed:
                truths[lit[0]] = lit[1]
            hold |= self._wakes_hold.get(lit, self._empty_set)
            fail |= self._wakes_fail.get(lit, self._empty_set)
        facts = frozenset[int]().union(*(self._derives[r] for r in hold | fail))
        return _Activation(
            truths,
            tuple(sorted(hold - self._deriving)),
            tuple(sorted(hold & self._deriving)),
            tuple(sorted(facts)),
        )

    _empty_set: frozenset[int] = frozenset()

    # -- observation ----------------------------------------------------------------------

    def _tests(self, finding: str) -> list[tuple[Pred, int, bool]]:
        """The predicates on a finding (equal ones share a leaf id, so each is computed
        once), each with its leaf id and whether it reads the finding's one slot only
        (then it is computed directly)."""
        tests = self._tests_of.get(finding)
        if tests is None:
            spec = self.kb.findings[finding]
            one_slot = spec.sides == (None,) and spec.slot_levels == (None,)
            tests = [
                (pred, g, one_slot and pred.side is None and pred.level is None)
                for pred, g in self._preds.get(finding, ())
            ]
            self._tests_of[finding] = tests  # one list per finding of the vocabulary
        return tests

    def _entry(self, finding: str, slots: Mapping[Slot, SlotValue]) -> Entry:
        obs = Observations({finding: slots})
        spec = self.kb.findings[finding]
        truths: dict[int, bool] = {}
        value = slots.get((None, None))
        for pred, g, direct in self._tests(finding):
            v: bool | None
            if not direct:
                v = pred_truth(pred, spec, obs)
            elif value is None:
                continue  # not recorded: unknown
            elif pred.op == "present":
                v = value is True
            else:  # what pred_truth gives for a finding of one slot, without its lists
                v = COMPARISONS[pred.op](value, pred.value)
            if v is not None:
                truths[g] = v
        # values that differ (a new number) often decide the same truths: one activation
        key = frozenset(truths.items())
        act = self._activations.get(key)
        if act is None:
            act = self._activate(truths.items())
            remember(self._activations, key, act)
        return Entry(
            finding=finding,
            slots=MappingProxyType(dict(slots)),
            shown=_show(dict(slots), spec.unit) if slots else "",
            truths=act.truths,
            conclude=act.conclude,
            derive=act.derive,
            facts=act.facts,
            read=finding in self.kb.read_findings,
        )

    def _recorded(self, case: Case, finding: str, raw: Any, loc: tuple[str, ...]) -> Entry | None:
        """The entry of one raw value, or None when it does not fit the vocabulary."""
        key = (finding, raw) if type(raw) is str else (finding, _freeze(raw))
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        spec = self.kb.findings.get(finding)
        if spec is None:
            return None
        problems: list[Problem] = []
        slots = _Reader(case, spec, problems, loc=loc).record(raw)
        if problems:
            return None
        entry = self._entry(finding, slots)
        remember(self._entries, key, entry)
        return entry

    def observe(self, case: Case) -> list[Entry]:
        """The entries of the case's recorded findings, sorted by finding id (their slots
        are what :func:`painreason.case.observe` gives; see :meth:`observations`).

        Raises
        ------
        CaseError
            As :func:`~painreason.case.observe` does, with every problem of the case.
        """
        cache = self._entries
        got: dict[str, Entry] = {}
        findings = case.findings
        for finding, raw in findings.items():
            kind = type(raw)
            if kind is str:
                key: tuple[str, Any] = (finding, raw)
            elif kind is int or kind is bool or (kind is float and raw):
                key = (finding, (kind, raw))  # what _freeze gives, without the call
            else:
                key = (finding, _freeze(raw))
            entry = cache.get(key)
            if entry is None:
                entry = self._recorded(case, finding, raw, ("findings", finding))
                if entry is None:
                    return self._observe_slowly(case)
            if entry.slots:
                got[finding] = entry
        patient = case.patient
        for finding, value in (("age", patient.age), ("sex", patient.sex)):
            if value is None:
                continue
            if finding in findings:  # given twice: observe() checks they agree
                return self._observe_slowly(case)
            kind = type(value)
            key = (finding, value if kind is str else (kind, value) if value else _freeze(value))
            entry = cache.get(key)
            if entry is None:
                entry = self._recorded(case, finding, value, ("patient", finding))
                if entry is None:
                    return self._observe_slowly(case)
            if entry.slots:
                got[finding] = entry
        return [got[f] for f in sorted(got)]

    @staticmethod
    def observations(entries: Iterable[Entry]) -> Observations:
        """The :class:`~painreason.case.Observations` the entries stand for."""
        return Observations({e.finding: e.slots for e in entries})

    def _observe_slowly(self, case: Case) -> list[Entry]:
        return self.entries(observe(case, self.kb))  # observe() raises the full CaseError

    def entries(self, obs: Observations) -> list[Entry]:
        """The entries of checked observations (for callers that start from slots)."""
        out = []
        for finding, slots in obs.slots.items():
            if not slots:
                continue
            key = (finding, frozenset((k, _freeze(v)) for k, v in slots.items()))
            entry = self._by_slots.get(key)
            if entry is None:
                entry = self._entry(finding, slots)
                remember(self._by_slots, key, entry)
            out.append(entry)
        return out

    # -- evaluation -----------------------------------------------------------------------

    def run(self, entries: Iterable[Entry]) -> Outcome:
        """The outcome of the rules on a case's entries (equal to the reference's, except
        that false facts are listed only where their falsity can matter; see
        :func:`~painreason._fastcompile.negated_facts`)."""
        t: Leaves = {}
        wake: list[int] = []
        hold: set[int] = set()
        pending: set[int] = set()
        for e in entries:
            truths = e.truths
            if truths:
                t.update(truths)
                if e.conclude:
                    wake += e.conclude
                if e.facts:  # rules that derive (e.derive) derive facts (e.facts)
                    hold.update(e.derive)
                    pending.update(e.facts)
        fire = self._fire
        ids = self._rule_ids
        fired: dict[str, frozenset[Support]] = {}
        true_facts: list[str] = []
        false_facts: dict[str, frozenset[Support]] = {}
        if pending:
            facts = self._facts
            heap = sorted(pending)  # a sorted list is a heap
            pop, push = heapq.heappop, heapq.heappush
            last = -1
            while heap:
                p = pop(heap)
                if p == last:  # pushed twice: a fact only wakes later ones, so they pop
                    continue  # in order and a duplicate pops right after its first
                last = p
                fact, derivers, negated, on_true, on_false = facts[p]
                act = None
                for r in derivers:
                    if r in hold:  # a rule not woken cannot be true
                        got = fire[r](t)
                        if got:
                            fired[ids[r]] = got
                            act = on_true  # keep going: every true deriver fires
                if act is not None:
                    true_facts.append(fact)
                elif negated and self._all_false(derivers, t):
                    neg: set[Support] = set()
                    for r in derivers:
                        self._support[r](t, False, neg)
                    false_facts[fact] = frozenset(neg)
                    act = on_false
                else:
                    continue
                if act.truths:
                    t.update(act.truths)
                if act.conclude:
                    wake += act.conclude
                if act.facts:
                    hold.update(act.derive)
                    for q in act.facts:
                        push(heap, q)
        for r in set(wake) if len(wake) > 1 else wake:
            got = fire[r](t)
            if got:
                fired[ids[r]] = got
        return Outcome(fired, frozenset(true_facts), false_facts)

    def _all_false(self, derivers: tuple[int, ...], t: Leaves) -> bool:
        false = self._false
        for r in derivers:  # noqa: SIM110 - a loop, not all(): no generator on the hot path
            if not false[r](t):
                return False
        return True

    def result(self, case: Case, entries: list[Entry], out: Outcome) -> Result:
        """The Result of an outcome, equal to :func:`~painreason.results.build_result`'s."""
        return self.builder.result(case.id, entries, out)
