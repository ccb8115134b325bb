"""The python backend: Kleene three-valued evaluation of condition trees to a fixpoint.

This is the reference semantics. It evaluates each rule's tree directly on the recorded
slots, in dependency order of derived facts (the loader refuses cycles, so one pass in
that order is the fixpoint). The durable backend compiles the same trees into positive
patterns; the two must return equal :class:`~painreason._outcome.Outcome` objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._logic import COMPARISONS
from ._outcome import Outcome, Support
from .case import Observations, Slot, SlotValue
from .loader import Knowledge
from .rules import All, AnyOf, FactRef, Node, Not, Pred, Rule
from .vocabulary import FindingDef

Truth = bool | None  # None: unknown


def _slot_truth(pred: Pred, value: SlotValue | None) -> Truth:
    if value is None:
        return None
    if pred.op == "present":
        return value is True
    # the loader guarantees the comparison fits the finding's kind
    return COMPARISONS[pred.op](value, pred.value)


def _exists(
    pred: Pred, finding: FindingDef, slots: Mapping[Slot, SlotValue], side: str | None
) -> Truth:
    truths = [
        _slot_truth(pred, slots.get((s, lv)))
        for s in finding.sides
        if side is None or s == side
        for lv in finding.slot_levels
        if pred.level is None or lv == pred.level
    ]
    if any(t is True for t in truths):
        return True
    if truths and all(t is False for t in truths):
        return False
    return None


def pred_truth(pred: Pred, finding: FindingDef, obs: Observations) -> Truth:
    """Truth of one predicate on the recorded slots (see docs/rule-language.md)."""
    slots = obs.slots.get(pred.finding)
    if not slots:
        return None  # not recorded: unknown, whatever the test
    if pred.side == "bilateral":
        left = _exists(pred, finding, slots, "left")
        right = _exists(pred, finding, slots, "right")
        return _and([left, right])
    return _exists(pred, finding, slots, pred.side)


def _and(values: list[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def _or(values: list[Truth]) -> Truth:
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


class Evaluator:
    """Evaluates one rule set on one case."""

    def __init__(self, knowledge: Knowledge, obs: Observations) -> None:
        self.kb = knowledge
        self.obs = obs
        self.facts: dict[str, Truth] = {}
        self.fact_neg: dict[str, frozenset[Support]] = {}
        self._memo: dict[int, Truth] = {}  # node id -> truth; facts are final when read

    def truth(self, node: Node) -> Truth:
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        value = self._truth(node)
        self._memo[key] = value
        return value

    def _truth(self, node: Node) -> Truth:
        if isinstance(node, Pred):
            return pred_truth(node, self.kb.findings[node.finding], self.obs)
        if isinstance(node, FactRef):
            return self.facts.get(node.fact)
        if isinstance(node, Not):
            inner = self.truth(node.child)
            return None if inner is None else not inner
        values = [self.truth(c) for c in node.children]
        if isinstance(node, All):
            return _and(values)
        if isinstance(node, AnyOf):
            return _or(values)
        trues = sum(v is True for v in values)
        falses = sum(v is False for v in values)
        if trues >= node.k:
            return True
        if len(values) - falses < node.k:
            return False
        return None

    def support(self, rule: str, node: Node, positive: bool) -> set[Support]:
        """Leaves on a path that makes ``node`` true (``positive``) or false (not ``positive``).

        Call only when the node has that truth value.
        """
        if isinstance(node, Pred | FactRef):
            return {(rule, node.index, positive)}
        if isinstance(node, Not):
            return self.support(rule, node.child, not positive)
        want = positive
        out: set[Support] = set()
        for child in node.children:
            if self.truth(child) is want:
                out |= self.support(rule, child, positive)
        return out

    def run(self) -> Outcome:
        by_fact = self.kb.derivers
        fired: dict[str, frozenset[Support]] = {}
        done: set[str] = set()

        def fire(rule: Rule) -> None:
            done.add(rule.id)
            value = self.truth(rule.when)
            if value is True:
                fired[rule.id] = frozenset(self.support(rule.id, rule.when, True))

        for fact in self.kb.fact_order:
            rules = by_fact.get(fact, ())
            values = []
            for rule in rules:
                if rule.id not in done:
                    fire(rule)
                values.append(True if rule.id in fired else self.truth(rule.when))
            value = _or(values) if rules else None
            self.facts[fact] = value
            if value is False:
                neg: set[Support] = set()
                for rule in rules:
                    neg |= self.support(rule.id, rule.when, False)
                self.fact_neg[fact] = frozenset(neg)
        for rule in self.kb.rules:
            if rule.id not in done:
                fire(rule)
        true_facts = frozenset(f for f, v in self.facts.items() if v is True)
        return Outcome(fired=fired, true_facts=true_facts, false_facts=dict(self.fact_neg))


def evaluate(knowledge: Knowledge, obs: Observations) -> Outcome:
    """Evaluate every rule of ``knowledge`` on ``obs`` (the python backend)."""
    return Evaluator(knowledge, obs).run()
