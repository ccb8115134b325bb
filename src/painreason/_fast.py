"""The python backend's fast path: compiled rule trees, activation by recorded findings.

Same semantics as :mod:`painreason._reference` (the oracle the tests compare it with, on the
golden cases and on random rule sets): equal :class:`~painreason._outcome.Outcome` objects,
support sets included. What makes it fast:

1. **Observation by finding, memoised.** A case records each finding as a raw value; the
   slots, the text shown in the Result and the truth of every predicate on that finding
   depend on nothing else, so they are computed once per (finding, raw value) and reused.
2. **Activation.** A rule can only be true when one of its *trigger literals* holds (a leaf
   known true or known false; see :func:`~painreason._fastcompile.trigger`), and a rule
   deriving a fact whose falsity matters can only be false when one of its falsity triggers
   holds. Only the rules a case wakes are evaluated; the rest are unknown, or known not to
   matter.
3. **Compiled trees.** Each rule's tree is compiled to a straight-line function over a dict
   of known leaf truths (:mod:`painreason._fastcompile`).
4. **Cached parts of the Result.** A firing is rebuilt only for a new (rule, support, recorded
   text); the conclusions (red flags, differential, tests, advice) depend only on which rules
   fired and are built once per set of fired rules by :func:`~painreason.results.build_result`
   itself, so the conflict semantics live in one place.

Caches are bounded (they are cleared when full), so memory stays flat over any number of
cases. Everything here is safe to share between threads: per-case state is local.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._fastcompile import Leaves, Lit, Truth, compile_rules, negated_facts, triggers
from ._outcome import Outcome, Support
from ._reference import pred_truth
from .case import Case, Observations, Slot, SlotValue, _Reader, observe
from .errors import Problem
from .loader import Knowledge
from .results import Firing, Match, Result, _show, build_result
from .rules import Pred

__all__ = ["FastEvaluator"]

CACHE_LIMIT = 20_000  # entries per cache before it is cleared (keeps memory flat)


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded finding of a case: its slots and what they make known."""

    finding: str
    slots: Mapping[Slot, SlotValue]
    shown: str
    truths: Mapping[int, bool]  # leaf id -> truth, for the predicates this finding decides
    may_hold: frozenset[int]  # rules one of these truths activates (they may be true)
    may_fail: frozenset[int]  # deriving rules that may be false
    facts: frozenset[int]  # positions (in fact order) of facts those rules derive
    read: bool  # some rule reads this finding


@dataclass(frozen=True, slots=True)
class _Activation:
    """What becoming true (or false) makes known: a fact's leaves and the rules they wake."""

    truths: Mapping[int, bool]  # the fact's leaves, now known
    may_hold: frozenset[int]
    may_fail: frozenset[int]
    facts: frozenset[int]


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: a cheap cache key
class _Shape:
    """A firing's support as the Result shows it, less the case's recorded values."""

    items: tuple[Support, ...]  # sorted
    findings: tuple[str | None, ...]  # finding id of each item (None for a fact leaf)
    read: tuple[str, ...]  # the finding ids among them
    used: frozenset[str]
    needed_false: frozenset[str]


def _freeze(raw: Any) -> Any:
    """A hashable key for a raw finding value that tells apart values that compare equal
    across types (``True == 1 == 1.0``)."""
    if isinstance(raw, dict):
        return ("{", tuple((k, _freeze(v)) for k, v in raw.items()))
    if isinstance(raw, list):
        return ("[", tuple(_freeze(v) for v in raw))
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
    >>> obs, entries = fast.observe(case)
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
        next_gid = 0
        for rule in rules:
            gids = tuple(range(next_gid, next_gid + len(rule.atoms)))
            next_gid += len(rule.atoms)
            gids_of.append(gids)
            for atom, g in zip(rule.atoms, gids, strict=True):
                if isinstance(atom, Pred):
                    self._preds.setdefault(atom.finding, []).append((atom, g))
                    readers[atom.finding] = readers.get(atom.finding, 0) + 1
                else:
                    fact_leaves[atom.fact].append(g)
        negated = self.negated = negated_facts(kb)
        self._fire, self._support = compile_rules(rules, gids_of, generate)
        wakes_hold, wakes_fail = triggers(kb, gids_of, readers, fact_leaves, negated)
        self._wakes_hold = {k: frozenset(v) for k, v in wakes_hold.items()}
        self._wakes_fail = {k: frozenset(v) for k, v in wakes_fail.items()}

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
        self._entries: dict[Any, Entry] = {}  # (finding, raw key) -> Entry
        self._by_slots: dict[Any, Entry] = {}  # (finding, frozenset of slots) -> Entry
        self._shapes: dict[tuple[str, frozenset[Support]], _Shape] = {}
        self._firings: dict[Any, Firing] = {}
        self._matches: dict[Any, Match] = {}
        self._conclusions: dict[frozenset[str], dict[str, Any]] = {}
        missing = [n for n, f in Result.model_fields.items() if f.is_required() and n not in _BUILT]
        if missing:  # a field added to Result that this builder does not know yet
            raise TypeError(f"FastEvaluator does not build Result fields {missing}")
        self._template: dict[str, Any] = {
            name: None if name in _BUILT else f.get_default(call_default_factory=True)
            for name, f in Result.model_fields.items()
        }
        self._template["knowledge_version"] = kb.version

    def _activate(self, lits: Iterable[Lit]) -> _Activation:
        hold: set[int] = set()
        fail: set[int] = set()
        truths = {}
        for lit in lits:
            truths[lit[0]] = lit[1]
            hold |= self._wakes_hold.get(lit, self._empty_set)
            fail |= self._wakes_fail.get(lit, self._empty_set)
        facts = frozenset[int]().union(*(self._derives[r] for r in hold | fail))
        return _Activation(truths, frozenset(hold), frozenset(fail), facts)

    _empty_set: frozenset[int] = frozenset()

    # -- observation ----------------------------------------------------------------------

    def _entry(self, finding: str, slots: Mapping[Slot, SlotValue]) -> Entry:
        obs = Observations({finding: slots})
        spec = self.kb.findings[finding]
        truths: dict[int, bool] = {}
        for pred, g in self._preds.get(finding, ()):
            v = pred_truth(pred, spec, obs)
            if v is not None:
                truths[g] = v
        act = self._activate(truths.items())
        return Entry(
            finding=finding,
            slots=MappingProxyType(dict(slots)),
            shown=_show(dict(slots), spec.unit) if slots else "",
            truths=truths,
            may_hold=act.may_hold,
            may_fail=act.may_fail,
            facts=act.facts,
            read=finding in self.kb.read_findings,
        )

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = value

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
        self._remember(self._entries, key, entry)
        return entry

    def observe(self, case: Case) -> tuple[Observations, list[Entry]]:
        """The case's observations (as :func:`painreason.case.observe` gives them) and the
        entries of its recorded findings, sorted by finding id.

        Raises
        ------
        CaseError
            As :func:`~painreason.case.observe` does, with every problem of the case.
        """
        cache = self._entries
        got: dict[str, Entry] = {}
        findings = case.findings
        for finding, raw in findings.items():
            entry = cache.get((finding, raw) if type(raw) is str else (finding, _freeze(raw)))
            if entry is None:
                entry = self._recorded(case, finding, raw, ("findings", finding))
                if entry is None:
                    return self._observe_slowly(case)
            got[finding] = entry
        patient = case.patient
        for finding, value in (("age", patient.age), ("sex", patient.sex)):
            if value is None:
                continue
            if finding in findings:  # given twice: observe() checks they agree
                return self._observe_slowly(case)
            entry = self._recorded(case, finding, value, ("patient", finding))
            if entry is None:
                return self._observe_slowly(case)
            got[finding] = entry
        entries = [got[f] for f in sorted(got)]
        if not all(e.slots for e in entries):
            entries = [e for e in entries if e.slots]
        return Observations({e.finding: e.slots for e in entries}), entries

    def _observe_slowly(self, case: Case) -> tuple[Observations, list[Entry]]:
        obs = observe(case, self.kb)  # raises the full CaseError
        return obs, self.entries(obs)

    def entries(self, obs: Observations) -> list[Entry]:
        """The entries of checked observations (for callers that start from slots)."""
        out = []
        for finding, slots in obs.slots.items():
            if not slots:
                continue
            key = (finding, frozenset((k, (type(v), v)) for k, v in slots.items()))
            entry = self._by_slots.get(key)
            if entry is None:
                entry = self._entry(finding, slots)
                self._remember(self._by_slots, key, entry)
            out.append(entry)
        return out

    # -- evaluation -----------------------------------------------------------------------

    def run(self, entries: Iterable[Entry]) -> Outcome:
        """The outcome of the rules on a case's entries (equal to the reference's, except
        that false facts are listed only where their falsity can matter; see
        :func:`~painreason._fastcompile.negated_facts`)."""
        t: Leaves = {}
        hold: set[int] = set()
        fail: set[int] = set()
        pending: set[int] = set()
        for e in entries:
            if e.truths:
                t.update(e.truths)
                hold |= e.may_hold
                fail |= e.may_fail
                pending |= e.facts
        fire = self._fire
        ids = self._rule_ids
        known: dict[int, Truth] = {}
        fired: dict[str, frozenset[Support]] = {}
        true_facts: list[str] = []
        false_facts: dict[str, frozenset[Support]] = {}
        if pending:
            heap = sorted(pending)  # a sorted list is a heap
            done: set[int] = set()
            while heap:
                p = heapq.heappop(heap)
                if p in done:
                    continue
                done.add(p)
                fact, derivers, negated, on_true, on_false = self._facts[p]
                any_true = False
                for r in derivers:
                    if r in hold:
                        if r in known:
                            v = known[r]
                        else:
                            got = fire[r](t)
                            if got:
                                fired[ids[r]] = got  # type: ignore[assignment]
                                v = known[r] = True
                            else:
                                v = known[r] = got  # type: ignore[assignment]
                        if v:
                            any_true = True  # keep going: every true deriver fires
                if any_true:
                    true_facts.append(fact)
                    act = on_true
                elif negated and all(r in fail and self._false(r, t, known) for r in derivers):
                    neg: set[Support] = set()
                    for r in derivers:
                        self._support[r](t, False, neg)
                    false_facts[fact] = frozenset(neg)
                    act = on_false
                else:
                    continue
                t.update(act.truths)
                hold |= act.may_hold
                fail |= act.may_fail
                for q in act.facts:
                    if q not in done:
                        heapq.heappush(heap, q)
        for r in hold:
            if r not in known:
                got = fire[r](t)
                if got:
                    fired[ids[r]] = got  # type: ignore[assignment]
        return Outcome(fired=fired, true_facts=frozenset(true_facts), false_facts=false_facts)

    def _false(self, r: int, t: Leaves, known: dict[int, Truth]) -> bool:
        if r not in known:
            known[r] = self._fire[r](t)  # type: ignore[assignment]  # not in hold: never true
        return known[r] is False

    # -- the Result -----------------------------------------------------------------------

    def _shape(self, rule_id: str, support: frozenset[Support]) -> _Shape:
        key = (rule_id, support)
        shape = self._shapes.get(key)
        if shape is None:
            atoms = self.kb.rule_index
            items = tuple(sorted(support))
            findings: list[str | None] = []
            used: set[str] = set()
            needed_false: set[str] = set()
            for r, index, positive in items:
                atom = atoms[r].atoms[index]
                if isinstance(atom, Pred):
                    findings.append(atom.finding)
                    used.add(atom.finding)
                else:
                    findings.append(None)
                    if not positive:
                        needed_false.add(atom.fact)
            read = tuple(f for f in findings if f is not None)
            shape = _Shape(items, tuple(findings), read, frozenset(used), frozenset(needed_false))
            self._remember(self._shapes, key, shape)
        return shape

    def _match(self, item: Support, observed: str | None) -> Match:
        key = (item, observed)
        m = self._matches.get(key)
        if m is None:
            rule_id, index, positive = item
            atom = self.kb.rule_index[rule_id].atoms[index]
            if isinstance(atom, Pred):
                m = Match(
                    rule=rule_id,
                    index=index,
                    kind="finding",
                    id=atom.finding,
                    predicate=atom.describe(),
                    holds=positive,
                    observed=observed,
                )
            else:
                m = Match(
                    rule=rule_id,
                    index=index,
                    kind="fact",
                    id=atom.fact,
                    predicate=atom.describe(),
                    holds=positive,
                )
            self._remember(self._matches, key, m)
        return m

    def _ordered(self, shape: _Shape, shown: Mapping[str, str]) -> tuple[Match, ...]:
        return tuple(
            self._match(item, shown.get(f) if f is not None else None)
            for item, f in zip(shape.items, shape.findings, strict=True)
        )

    def _conclusion(self, case: Case, fired: Iterable[str]) -> dict[str, Any]:
        key = frozenset(fired)
        parts = self._conclusions.get(key)
        if parts is None:
            # they depend only on which rules fired: let build_result decide them
            bare = Outcome({r: frozenset() for r in key}, frozenset(), {})
            made = build_result(self.kb, case, Observations({}), bare)
            parts = {name: getattr(made, name) for name in _CONCLUSIONS}
            self._remember(self._conclusions, key, parts)
        return parts

    def result(self, case: Case, entries: list[Entry], out: Outcome) -> Result:
        """The Result of an outcome, equal to :func:`~painreason.results.build_result`'s."""
        shown = {e.finding: e.shown for e in entries}
        fired = out.fired
        shapes = self._shapes
        cache = self._firings
        firings = []
        used: set[str] = set()
        needed_false: set[str] = set()
        for rule_id in sorted(fired):
            support = fired[rule_id]
            shape = shapes.get((rule_id, support)) or self._shape(rule_id, support)
            key = (shape, tuple(map(shown.get, shape.read)))
            firing = cache.get(key)
            if firing is None:
                rule = self.kb.rule_index[rule_id]
                firing = Firing(
                    rule=rule_id,
                    title=rule.title,
                    sources=rule.sources,
                    matched=self._ordered(shape, shown),
                    derives=rule.derives,
                )
                self._remember(cache, key, firing)
            firings.append(firing)
            used |= shape.used
            needed_false |= shape.needed_false
        false_facts: dict[str, tuple[Match, ...]] = {}
        if needed_false:
            pending = sorted(needed_false)
            while pending:
                fact = pending.pop()
                if fact in false_facts or fact not in out.false_facts:
                    continue
                shape = self._shape("", out.false_facts[fact])
                false_facts[fact] = self._ordered(shape, shown)
                used |= shape.used
                pending.extend(shape.needed_false)
            false_facts = dict(sorted(false_facts.items()))
        values = self._template.copy()  # every field, in the model's order
        values.update(self._conclusion(case, fired))
        values["case_id"] = case.id
        values["derived_facts"] = tuple(sorted(out.true_facts))
        values["firings"] = tuple(firings)
        values["false_facts"] = false_facts
        values["findings"] = shown
        values["unused_findings"] = tuple(e.finding for e in entries if e.finding not in used)
        values["unread_findings"] = tuple(e.finding for e in entries if not e.read)
        return _assemble(values)


_CONCLUSIONS = ("red_flags", "differential", "ruled_out", "tests", "not_indicated")
_BUILT = frozenset(
    {
        *_CONCLUSIONS,
        "case_id",
        "knowledge_version",
        "derived_facts",
        "firings",
        "false_facts",
        "findings",
        "unused_findings",
        "unread_findings",
    }
)


def _assemble(values: dict[str, Any]) -> Result:
    """A Result from values that are already valid (what ``model_construct`` does, minus its
    per-field work: about 4x faster than validating, which re-walks every nested model)."""
    result = Result.__new__(Result)
    object.__setattr__(result, "__dict__", values)
    object.__setattr__(result, "__pydantic_fields_set__", _FIELDS_SET)
    object.__setattr__(result, "__pydantic_extra__", None)
    object.__setattr__(result, "__pydantic_private__", None)
    return result


_FIELDS_SET = _BUILT
