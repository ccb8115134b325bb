"""The Result of evaluating a case, and how it is built from an engine outcome.

Conflict semantics (also in ``docs/semantics.md``):

- A condition proposed by some rule and ruled out by none is **proposed**.
- Proposed and ruled out: **contested**; it stays in the differential with both sides listed.
- Ruled out and not proposed: **ruled out**, unless a raised red flag names it: then it is
  **contested** too, because a rule-out never hides what a red flag points at.
- Red flags are listed first and are never removed by anything.
- A test asked for by several rules is listed once, at the most urgent urgency asked,
  with every rule that asked.
- Advice against a test (or a group of tests) is **overridden** when a rule suggests one of
  those tests or any red flag is raised; it is shown either way.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from ._outcome import Outcome, Support
from .case import Case, Observations, SlotValue
from .loader import Knowledge
from .rules import AdviseAgainst, FactRef, Flag, Pred, Propose, RuleOut, Suggest
from .vocabulary import Urgency

if TYPE_CHECKING:
    from .engine import Engine
    from .trace import Trace

__all__ = [
    "ConditionResult",
    "FindingImpact",
    "Firing",
    "Match",
    "NextFinding",
    "NotIndicated",
    "RedFlagResult",
    "Result",
    "RuledOut",
    "TestRequest",
    "TestSuggestion",
    "build_result",
]

Strength = Literal["low", "moderate", "high"]
_STRENGTH_RANK = {"high": 0, "moderate": 1, "low": 2}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Frozen):
    """One leaf of a rule's condition that held (``holds``) or was known false."""

    rule: str
    index: int
    kind: Literal["finding", "fact"]
    id: str
    predicate: str
    holds: bool
    observed: str | None = None


class Firing(_Frozen):
    """A rule that fired, with the leaves that made it fire."""

    rule: str
    title: str
    sources: tuple[str, ...]
    matched: tuple[Match, ...]
    derives: tuple[str, ...] = ()


class RedFlagResult(_Frozen):
    """A raised red flag."""

    id: str
    label: str
    urgency: Literal["emergency", "urgent"]
    conditions: tuple[str, ...]
    raised_by: tuple[str, ...]


class ConditionResult(_Frozen):
    """A member of the differential."""

    id: str
    label: str
    status: Literal["proposed", "contested"]
    strength: Strength | None
    supporting: tuple[str, ...]
    refuting: tuple[str, ...]
    red_flags: tuple[str, ...]
    category: str
    region: str
    icd10cm: tuple[str, ...]


class RuledOut(_Frozen):
    """A condition ruled out by documented findings."""

    id: str
    label: str
    refuting: tuple[str, ...]


class TestRequest(_Frozen):
    """One rule's request for a test."""

    __test__ = False

    rule: str
    urgency: Literal["emergency", "urgent", "routine"]
    rationale: str


class TestSuggestion(_Frozen):
    """A suggested test at the most urgent urgency any rule asked for."""

    __test__ = False

    id: str
    label: str
    kind: str
    urgency: Literal["emergency", "urgent", "routine"]
    requested_by: tuple[TestRequest, ...]


class NotIndicated(_Frozen):
    """Advice that a test or group of tests is not indicated."""

    id: str
    label: str
    status: Literal["in_force", "overridden"]
    advised_by: tuple[str, ...]
    rationale: tuple[str, ...]
    overridden_by: tuple[str, ...]


class FindingImpact(_Frozen):
    """What recording a finding could change, through one rule (see :class:`NextFinding`).

    ``held`` counts the leaves of the rule's condition that already hold on the case (a rule
    the case already partly matches is more relevant); ``record`` gives values that do it.
    """

    kind: Literal["red_flag", "condition", "test"]
    target: str
    effect: Literal["raise", "escalate", "propose", "strengthen", "contest", "rule_out", "suggest"]
    detail: str | None
    rule: str
    held: int
    together_with: tuple[str, ...]
    record: dict[str, Any]


class NextFinding(_Frozen):
    """A finding not (fully) recorded whose recording could change the result.

    ``impacts`` are most consequential first (red flags, then the differential, then tests);
    ``together_with`` names the other findings a change also needs (empty: this one alone).
    """

    finding: str
    label: str
    section: str
    recorded: str | None
    impacts: tuple[FindingImpact, ...]


class Result(_Frozen):
    """The outcome of evaluating one case: red flags first, then the differential.

    Frozen and JSON round-trippable: ``Result.model_validate_json(r.model_dump_json()) == r``.
    """

    case_id: str | None
    knowledge_version: str
    red_flags: tuple[RedFlagResult, ...]
    differential: tuple[ConditionResult, ...]
    ruled_out: tuple[RuledOut, ...]
    tests: tuple[TestSuggestion, ...]
    not_indicated: tuple[NotIndicated, ...]
    derived_facts: tuple[str, ...]
    firings: tuple[Firing, ...]
    false_facts: dict[str, tuple[Match, ...]]
    findings: dict[str, str]
    unused_findings: tuple[str, ...]
    unread_findings: tuple[str, ...]
    next_findings: tuple[NextFinding, ...] | None = None
    """Not computed by evaluation (None); see :meth:`with_next_findings`."""

    @cached_property
    def trace(self) -> Trace:
        """The explanation graph of this result (built on first use)."""
        from .trace import Trace

        return Trace.from_result(self)

    def proposed(self) -> tuple[str, ...]:
        """Ids of the conditions in the differential, in rank order."""
        return tuple(c.id for c in self.differential)

    def summary(self) -> dict[str, Any]:
        """A compact dict: red flags, differential, ruled out, tests with urgency."""
        return {
            "red_flags": [f.id for f in self.red_flags],
            "differential": {c.id: c.status for c in self.differential},
            "ruled_out": [c.id for c in self.ruled_out],
            "tests": {t.id: t.urgency for t in self.tests},
            "not_indicated": {n.id: n.status for n in self.not_indicated},
        }

    def with_next_findings(
        self, case: Any, engine: Engine | None = None, max_size: int = 2
    ) -> Result:
        """This result with :attr:`next_findings` filled in for ``case`` (the case it came from).

        See :func:`painreason.next_findings`.
        """
        from .whatif import next_findings

        found = next_findings(case, engine=engine, max_size=max_size)
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values["next_findings"] = found
        return type(self).model_validate(values)

    def to_frame(self) -> Any:
        """The differential as a pandas DataFrame (needs the ``pandas`` extra)."""
        from ._display import differential_frame

        return differential_frame(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ._display import result_bundle

        return result_bundle(self)

    def _repr_html_(self) -> str:
        from ._display import result_html

        return result_html(self)


def _show(values: dict[tuple[str | None, str | None], SlotValue], unit: str | None) -> str:
    parts = []
    for (side, level), value in sorted(
        values.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        if isinstance(value, bool):
            text = "present" if value else "absent"
        elif isinstance(value, float):
            text = f"{value:g}" + (f" {unit}" if unit else "")
        else:
            text = value
        where = " ".join(x for x in (side, level) if x)
        parts.append(f"{where}: {text}" if where else text)
    return "; ".join(parts)


def build_result(kb: Knowledge, case: Case, obs: Observations, out: Outcome) -> Result:
    """Turn an engine :class:`Outcome` into a :class:`Result` (shared by both backends)."""
    rules = kb.rule_index
    shown = {f: _show(dict(v), kb.findings[f].unit) for f, v in obs.slots.items()}

    def match(item: Support) -> Match:
        rule_id, index, positive = item
        atom = rules[rule_id].atoms[index]
        if isinstance(atom, Pred):
            return Match(
                rule=rule_id,
                index=index,
                kind="finding",
                id=atom.finding,
                predicate=atom.describe(),
                holds=positive,
                observed=shown.get(atom.finding),
            )
        assert isinstance(atom, FactRef)
        return Match(
            rule=rule_id,
            index=index,
            kind="fact",
            id=atom.fact,
            predicate=atom.describe(),
            holds=positive,
        )

    def ordered(items: frozenset[Support]) -> tuple[Match, ...]:
        return tuple(match(s) for s in sorted(items))

    firings = []
    used: set[str] = set()
    needed_false: set[str] = set()
    for rule_id in sorted(out.fired):
        rule = rules[rule_id]
        matched = ordered(out.fired[rule_id])
        firings.append(
            Firing(
                rule=rule_id,
                title=rule.title,
                sources=rule.sources,
                matched=matched,
                derives=rule.derives,
            )
        )
        for m in matched:
            if m.kind == "finding":
                used.add(m.id)
            elif not m.holds:
                needed_false.add(m.id)
    false_facts: dict[str, tuple[Match, ...]] = {}
    pending = sorted(needed_false)
    while pending:
        fact = pending.pop()
        if fact in false_facts or fact not in out.false_facts:
            continue
        matched = ordered(out.false_facts[fact])
        false_facts[fact] = matched
        for m in matched:
            if m.kind == "finding":
                used.add(m.id)
            elif not m.holds:
                pending.append(m.id)

    flags: dict[str, list[tuple[str, Urgency]]] = defaultdict(list)
    proposals: dict[str, list[tuple[str, str]]] = defaultdict(list)
    refutations: dict[str, list[str]] = defaultdict(list)
    requests: dict[str, list[TestRequest]] = defaultdict(list)
    advice: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for rule_id in sorted(out.fired):
        for action in rules[rule_id].actions:
            if isinstance(action, Flag):
                urgency = action.urgency or Urgency(kb.red_flags[action.red_flag].urgency)
                flags[action.red_flag].append((rule_id, urgency))
            elif isinstance(action, Propose):
                proposals[action.condition].append((rule_id, action.strength))
            elif isinstance(action, RuleOut):
                refutations[action.condition].append(rule_id)
            elif isinstance(action, Suggest):
                requests[action.test].append(
                    TestRequest(
                        rule=rule_id, urgency=action.urgency.value, rationale=action.rationale
                    )
                )
            elif isinstance(action, AdviseAgainst):
                advice[action.test].append((rule_id, action.rationale))

    red_flags = []
    for flag_id, raised in flags.items():
        flag_spec = kb.red_flags[flag_id]
        urgency = min((u for _, u in raised), key=lambda u: u.rank)
        red_flags.append(
            RedFlagResult(
                id=flag_id,
                label=flag_spec.label,
                urgency=urgency.value,  # type: ignore[arg-type]
                conditions=flag_spec.conditions,
                raised_by=tuple(sorted({r for r, _ in raised})),
            )
        )
    red_flags.sort(key=lambda f: (Urgency(f.urgency).rank, f.id))
    flagged: dict[str, list[str]] = defaultdict(list)
    for flag in red_flags:
        for cond in flag.conditions:
            flagged[cond].append(flag.id)

    differential = []
    ruled_out = []
    for cond_id in sorted(set(proposals) | set(refutations)):
        spec = kb.conditions[cond_id]
        support = proposals.get(cond_id, [])
        refuting = tuple(sorted(set(refutations.get(cond_id, []))))
        if not support and not flagged.get(cond_id):
            ruled_out.append(RuledOut(id=cond_id, label=spec.label, refuting=refuting))
            continue
        strength = min((s for _, s in support), key=_STRENGTH_RANK.__getitem__, default=None)
        differential.append(
            ConditionResult(
                id=cond_id,
                label=spec.label,
                status="contested" if refuting else "proposed",
                strength=strength,  # type: ignore[arg-type]
                supporting=tuple(sorted({r for r, _ in support})),
                refuting=refuting,
                red_flags=tuple(flagged.get(cond_id, ())),
                category=spec.category,
                region=spec.region,
                icd10cm=spec.icd10cm,
            )
        )
    differential.sort(
        key=lambda c: (
            0 if c.red_flags else 1,
            _STRENGTH_RANK[c.strength] if c.strength else 3,
            1 if c.status == "contested" else 0,
            -len(c.supporting),
            c.id,
        )
    )

    tests = []
    for test_id, asked in requests.items():
        spec_t = kb.tests[test_id]
        urgency = min((Urgency(r.urgency) for r in asked), key=lambda u: u.rank)
        tests.append(
            TestSuggestion(
                id=test_id,
                label=spec_t.label,
                kind=spec_t.kind,
                urgency=urgency.value,
                requested_by=tuple(sorted(asked, key=lambda r: (Urgency(r.urgency).rank, r.rule))),
            )
        )
    tests.sort(key=lambda t: (Urgency(t.urgency).rank, t.id))

    not_indicated = []
    for target, given in sorted(advice.items()):
        covered = set(kb.test_targets(target))
        overriders = sorted(covered & set(requests))
        overriders += [f"red_flag:{f.id}" for f in red_flags]
        label = kb.test_groups[target].label if target in kb.test_groups else kb.tests[target].label
        not_indicated.append(
            NotIndicated(
                id=target,
                label=label,
                status="overridden" if overriders else "in_force",
                advised_by=tuple(sorted({r for r, _ in given})),
                rationale=tuple(dict.fromkeys(t for _, t in sorted(given))),
                overridden_by=tuple(overriders),
            )
        )

    recorded = obs.recorded
    return Result(
        case_id=case.id,
        knowledge_version=kb.version,
        red_flags=tuple(red_flags),
        differential=tuple(differential),
        ruled_out=tuple(ruled_out),
        tests=tuple(tests),
        not_indicated=tuple(not_indicated),
        derived_facts=tuple(sorted(out.true_facts)),
        firings=tuple(firings),
        false_facts=dict(sorted(false_facts.items())),
        findings=shown,
        unused_findings=tuple(f for f in recorded if f not in used),
        unread_findings=tuple(f for f in recorded if f not in kb.read_findings),
    )
