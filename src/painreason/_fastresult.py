"""Results for the fast python backend, assembled from cached parts.

:func:`painreason.results.build_result` is the reference: this module must give equal
Results (tests compare them on the golden cases and on random rule sets; change both
together). It is faster because nothing is built twice:

- a firing depends only on its rule, its support and the recorded text of the findings in
  that support, so it is built once and reused (a support's shape is cached, and under it
  one Firing per recorded text);
- the conclusions (red flags, differential, ruled out, tests, advice against tests) depend
  only on which rules fired: each rule's actions are digested once, the conclusions of a
  set of fired rules are cached, and each conclusion model is cached by what makes it;
- the Result is assembled without re-validating models that are already valid.

Caches are bounded: each is cleared when it holds ``CACHE_LIMIT`` items (support shapes:
``SHAPE_LIMIT``, each keeping at most ``FIRINGS_PER_SHAPE`` firings), so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from ._outcome import Outcome, Support
from .loader import Knowledge
from .results import (
    ConditionResult,
    Firing,
    Match,
    NotIndicated,
    RedFlagResult,
    Result,
    RuledOut,
    TestRequest,
    TestSuggestion,
)
from .rules import AdviseAgainst, Flag, Pred, Propose, RuleOut, Suggest
from .vocabulary import Urgency

__all__ = ["CACHE_LIMIT", "ResultBuilder", "remember"]

CACHE_LIMIT = 20_000
SHAPE_LIMIT = 4_096
FIRINGS_PER_SHAPE = 64
_STRENGTH = {"high": 0, "moderate": 1, "low": 2}
_RANK = {"emergency": 0, "urgent": 1, "routine": 2}


def remember(cache: dict[Any, Any], key: Any, value: Any, limit: int | None = None) -> None:
    """Store ``value``, clearing ``cache`` first when it is full (memory stays flat)."""
    if len(cache) >= (limit or CACHE_LIMIT):
        cache.clear()
    cache[key] = value


@dataclass(frozen=True, slots=True, eq=False)
class _Shape:
    """A support set as the Result shows it, less the case's recorded values."""

    items: tuple[Support, ...]  # sorted
    findings: tuple[str | None, ...]  # finding id of each item (None for a fact leaf)
    read: tuple[str, ...]  # the finding ids among them
    used: frozenset[str]
    needed_false: frozenset[str]
    firings: dict[tuple[str | None, ...], Firing] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Actions:
    """What one rule's actions contribute to the conclusions."""

    flags: tuple[tuple[str, str], ...]  # (red flag, urgency)
    proposals: tuple[tuple[str, str], ...]  # (condition, strength)
    refutations: tuple[str, ...]
    requests: tuple[tuple[str, TestRequest], ...]
    advice: tuple[tuple[str, str], ...]  # (test or group, rationale)


_Conclusions = tuple[
    tuple[RedFlagResult, ...],
    tuple[ConditionResult, ...],
    tuple[RuledOut, ...],
    tuple[TestSuggestion, ...],
    tuple[NotIndicated, ...],
]


class ResultBuilder:
    """Builds the Results of one knowledge base.

    Examples
    --------
    >>> from painreason import Case, load_knowledge
    >>> from painreason._fast import FastEvaluator
    >>> kb = load_knowledge()
    >>> fast, builder = FastEvaluator(kb), ResultBuilder(kb)
    >>> case = Case(findings={"low_back_pain": "present", "saddle_anaesthesia": "present"})
    >>> entries = fast.observe(case)
    >>> builder.result(case.id, entries, fast.run(entries)).red_flags[0].id
    'cauda_equina_red_flag'
    """

    def __init__(self, knowledge: Knowledge) -> None:
        self.kb = kb = knowledge
        self._actions: dict[str, _Actions | None] = {r.id: _digest(kb, r.id) for r in kb.rules}
        # rules that only derive facts change no conclusion: they are left out of the key
        self._acting = frozenset(r for r, acts in self._actions.items() if acts is not None)
        self._shapes: dict[frozenset[Support], _Shape] = {}
        self._matches: dict[Any, Match] = {}
        self._conclusions: dict[frozenset[str], _Conclusions] = {}
        self._read = kb.read_findings
        self._models: dict[Any, Any] = {}
        self._rule_parts: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        self._leaves: dict[tuple[str, int], tuple[str, str, str]] = {}  # kind, id, predicate
        for model, names in ((Firing, _FIRING_FIELDS), (Match, _MATCH_FIELDS)):
            if set(model.model_fields) != names:  # _firing and _match write every field
                raise TypeError(f"ResultBuilder does not build {model.__name__}'s fields")
        if tuple(Result.model_fields) != _RESULT_FIELDS:  # result() writes them in this order
            raise TypeError("ResultBuilder does not build Result's fields")
        self._version = kb.version

    def result(self, case_id: str | None, entries: Sequence[Any], out: Outcome) -> Result:
        """The Result of an outcome; ``entries`` are the case's recorded findings, sorted,
        each with ``finding``, ``shown`` (its text in the Result) and ``read`` (whether a
        rule reads it)."""
        shown = {e.finding: e.shown for e in entries}
        fired = out.fired
        shapes = self._shapes
        order = sorted(fired)
        firings = []
        used: set[str] = set()
        needed_false: set[str] = set()
        for rule_id in order:
            support = fired[rule_id]
            shape = shapes.get(support)
            if shape is None:
                shape = self._shape(support)
            observed = tuple(map(shown.get, shape.read))
            firing = shape.firings.get(observed)
            if firing is None:
                firing = self._firing(rule_id, shape, shown)
                if len(shape.firings) >= FIRINGS_PER_SHAPE:
                    shape.firings.clear()
                shape.firings[observed] = firing
            firings.append(firing)
            used |= shape.used
            if shape.needed_false:
                needed_false |= shape.needed_false
        false_facts: dict[str, tuple[Match, ...]] = {}
        if needed_false:
            pending = sorted(needed_false)
            while pending:
                fact = pending.pop()
                if fact in false_facts or fact not in out.false_facts:
                    continue
                shape = self._shape(out.false_facts[fact])
                false_facts[fact] = self._ordered(shape, shown)
                used |= shape.used
                pending.extend(shape.needed_false)
            false_facts = dict(sorted(false_facts.items()))
        key = self._acting.intersection(order)
        conclusions = self._conclusions.get(key)
        if conclusions is None:
            conclusions = self._conclude(sorted(key))
            remember(self._conclusions, key, conclusions)
        red_flags, differential, ruled_out, tests, not_indicated = conclusions
        unused = [e.finding for e in entries if e.finding not in used]
        read = self._read
        values = {  # every field, in the model's order (checked when the builder is made)
            "case_id": case_id,
            "knowledge_version": self._version,
            "red_flags": red_flags,
            "differential": differential,
            "ruled_out": ruled_out,
            "tests": tests,
            "not_indicated": not_indicated,
            "derived_facts": tuple(sorted(out.true_facts)),
            "firings": tuple(firings),
            "false_facts": false_facts,
            "findings": shown,
            "unused_findings": tuple(unused),
            # a finding no rule reads is never used: look for them among the unused only
            "unread_findings": tuple([f for f in unused if f not in read]),
            "next_findings": None,
        }
        return _assemble(values)

    # -- firings --------------------------------------------------------------------------

    def _shape(self, support: frozenset[Support]) -> _Shape:
        shape = self._shapes.get(support)
        if shape is None:
            rules = self.kb.rule_index
            items = tuple(sorted(support))
            findings: list[str | None] = []
            used: set[str] = set()
            needed_false: set[str] = set()
            for r, index, positive in items:
                atom = rules[r].atoms[index]
                if isinstance(atom, Pred):
                    findings.append(atom.finding)
                    used.add(atom.finding)
                else:
                    findings.append(None)
                    if not positive:
                        needed_false.add(atom.fact)
            read = tuple(f for f in findings if f is not None)
            shape = _Shape(items, tuple(findings), read, frozenset(used), frozenset(needed_false))
            remember(self._shapes, support, shape, min(SHAPE_LIMIT, CACHE_LIMIT))
        return shape

    def _firing(self, rule_id: str, shape: _Shape, shown: Mapping[str, str]) -> Firing:
        fixed = self._rule_parts.get(rule_id)
        if fixed is None:
            rule = self.kb.rule_index[rule_id]
            fixed = self._rule_parts[rule_id] = (rule.title, rule.sources, rule.derives)
        title, sources, derives = fixed
        values = {
            "rule": rule_id,
            "title": title,
            "sources": sources,
            "matched": self._ordered(shape, shown),
            "derives": derives,
        }
        return _new(Firing, values, set(_FIRING_FIELDS))

    def _ordered(self, shape: _Shape, shown: Mapping[str, str]) -> tuple[Match, ...]:
        matches = self._matches
        out = []
        for item, f in zip(shape.items, shape.findings, strict=True):
            observed = shown.get(f) if f is not None else None
            m = matches.get((item, observed))
            if m is None:
                m = self._match(item, observed)
            out.append(m)
        return tuple(out)

    def _match(self, item: Support, observed: str | None) -> Match:
        key = (item, observed)
        m = self._matches.get(key)
        if m is None:
            rule_id, index, positive = item
            leaf = self._leaves.get((rule_id, index))
            if leaf is None:
                atom = self.kb.rule_index[rule_id].atoms[index]
                ident = atom.finding if isinstance(atom, Pred) else atom.fact
                kind = "finding" if isinstance(atom, Pred) else "fact"
                leaf = self._leaves[(rule_id, index)] = (kind, ident, atom.describe())
            kind, ident, predicate = leaf
            values = {
                "rule": rule_id,
                "index": index,
                "kind": kind,
                "id": ident,
                "predicate": predicate,
                "holds": positive,
                "observed": observed,  # None for a fact: the default, not given
            }
            given = _MATCH_FIELDS if kind == "finding" else _FACT_MATCH_FIELDS
            m = _new(Match, values, set(given))
            remember(self._matches, key, m)
        return m

    # -- conclusions (mirrors build_result) ---------------------------------------------------

    def _conclude(self, fired: list[str]) -> _Conclusions:
        kb = self.kb
        models = self._models  # each conclusion model, keyed by what determines it
        flags: dict[str, list[tuple[str, str]]] = {}
        proposals: dict[str, list[tuple[str, str]]] = {}
        refutations: dict[str, list[str]] = {}
        requests: dict[str, list[TestRequest]] = {}
        advice: dict[str, list[tuple[str, str]]] = {}
        for rule_id in fired:
            acts = self._actions[rule_id]
            if acts is None:
                continue
            for flag_id, urgency in acts.flags:
                flags.setdefault(flag_id, []).append((rule_id, urgency))
            for cond, strength in acts.proposals:
                proposals.setdefault(cond, []).append((rule_id, strength))
            for cond in acts.refutations:
                refutations.setdefault(cond, []).append(rule_id)
            for test, request in acts.requests:
                requests.setdefault(test, []).append(request)
            for target, rationale in acts.advice:
                advice.setdefault(target, []).append((rule_id, rationale))

        ranked_flags: list[tuple[int, str, RedFlagResult]] = []
        for flag_id, raised in flags.items():
            raised_by: tuple[str, ...]
            if len(raised) == 1:
                raised_by, urgency = (raised[0][0],), raised[0][1]
            else:
                urgency = min([u for _, u in raised], key=_RANK.__getitem__)
                raised_by = tuple(sorted({r for r, _ in raised}))
            key: tuple[Any, ...] = ("flag", flag_id, urgency, raised_by)
            flag = models.get(key)
            if flag is None:
                spec = kb.red_flags[flag_id]
                flag = _construct(
                    RedFlagResult,
                    id=flag_id,
                    label=spec.label,
                    urgency=urgency,
                    conditions=spec.conditions,
                    raised_by=raised_by,
                )
                remember(models, key, flag)
            ranked_flags.append((_RANK[urgency], flag_id, flag))
        ranked_flags.sort()  # by urgency, then id (ids differ: models are never compared)
        red_flags = [flag for *_, flag in ranked_flags]
        flagged: dict[str, list[str]] = {}
        for flag in red_flags:
            for cond in flag.conditions:
                flagged.setdefault(cond, []).append(flag.id)

        ranked: list[tuple[int, int, int, int, str, ConditionResult]] = []
        ruled_out: list[RuledOut] = []
        for cond_id in sorted(proposals.keys() | refutations.keys()):
            support = proposals.get(cond_id, [])
            against = refutations.get(cond_id, ())
            refuting = tuple(against) if len(against) < 2 else tuple(sorted(set(against)))
            if not support and not flagged.get(cond_id):
                key = ("ruled_out", cond_id, refuting)
                out = models.get(key)
                if out is None:
                    out = _construct(
                        RuledOut, id=cond_id, label=kb.conditions[cond_id].label, refuting=refuting
                    )
                    remember(models, key, out)
                ruled_out.append(out)
                continue
            supporting: tuple[str, ...]
            strongest: str | None
            if len(support) == 1:  # the common case, without min() and sorted()
                supporting, strongest = (support[0][0],), support[0][1]
            else:
                strongest = min([s for _, s in support], key=_STRENGTH.__getitem__, default=None)
                supporting = tuple(sorted({r for r, _ in support}))
            flagging = tuple(flagged.get(cond_id, ()))
            key = ("condition", cond_id, strongest, supporting, refuting, flagging)
            condition = models.get(key)
            if condition is None:
                cspec = kb.conditions[cond_id]
                condition = _construct(
                    ConditionResult,
                    id=cond_id,
                    label=cspec.label,
                    status="contested" if refuting else "proposed",
                    strength=strongest,
                    supporting=supporting,
                    refuting=refuting,
                    red_flags=flagging,
                    category=cspec.category,
                    region=cspec.region,
                    icd10cm=cspec.icd10cm,
                )
                remember(models, key, condition)
            ranked.append(
                (
                    0 if flagging else 1,
                    _STRENGTH[strongest] if strongest else 3,
                    1 if refuting else 0,  # contested
                    -len(supporting),
                    cond_id,
                    condition,
                )
            )
        ranked.sort()  # ids differ: models are never compared
        differential = [condition for *_, condition in ranked]

        ranked_tests: list[tuple[int, str, TestSuggestion]] = []
        for test_id, asked in requests.items():
            requested_by = (
                tuple(asked)
                if len(asked) == 1
                else tuple(sorted(asked, key=lambda r: (_RANK[r.urgency], r.rule)))
            )
            # a rule's requests for a test are fixed: the rules asking stand for them (and
            # hash far faster than the request models)
            key = ("test", test_id, tuple([r.rule for r in requested_by]))
            suggestion = models.get(key)
            if suggestion is None:
                tspec = kb.tests[test_id]
                suggestion = _construct(
                    TestSuggestion,
                    id=test_id,
                    label=tspec.label,
                    kind=tspec.kind,
                    urgency=requested_by[0].urgency,  # the most urgent, sorted first
                    requested_by=requested_by,
                )
                remember(models, key, suggestion)
            ranked_tests.append((_RANK[requested_by[0].urgency], test_id, suggestion))
        ranked_tests.sort()
        tests = [suggestion for *_, suggestion in ranked_tests]

        not_indicated: list[NotIndicated] = []
        for target, given in sorted(advice.items()):
            overriders = sorted(set(kb.test_targets(target)) & requests.keys())
            overriders += [f"red_flag:{f.id}" for f in red_flags]
            advised_by = tuple(sorted({r for r, _ in given}))
            reasons = tuple(dict.fromkeys(t for _, t in sorted(given)))
            key = ("advice", target, advised_by, reasons, tuple(overriders))
            item = models.get(key)
            if item is None:
                groups = kb.test_groups
                item = _construct(
                    NotIndicated,
                    id=target,
                    label=groups[target].label if target in groups else kb.tests[target].label,
                    status="overridden" if overriders else "in_force",
                    advised_by=advised_by,
                    rationale=reasons,
                    overridden_by=tuple(overriders),
                )
                remember(models, key, item)
            not_indicated.append(item)
        return (
            tuple(red_flags),
            tuple(differential),
            tuple(ruled_out),
            tuple(tests),
            tuple(not_indicated),
        )


def _digest(kb: Knowledge, rule_id: str) -> _Actions | None:
    """What a rule's actions contribute to the conclusions; None when nothing (a rule that
    only derives facts)."""
    flags, proposals, refutations, requests, advice = [], [], [], [], []
    for action in kb.rule_index[rule_id].actions:
        if isinstance(action, Flag):
            urgency = action.urgency or Urgency(kb.red_flags[action.red_flag].urgency)
            flags.append((action.red_flag, urgency.value))
        elif isinstance(action, Propose):
            proposals.append((action.condition, action.strength))
        elif isinstance(action, RuleOut):
            refutations.append(action.condition)
        elif isinstance(action, Suggest):
            request = TestRequest(
                rule=rule_id, urgency=action.urgency.value, rationale=action.rationale
            )
            requests.append((action.test, request))
        elif isinstance(action, AdviseAgainst):
            advice.append((action.test, action.rationale))
    if not (flags or proposals or refutations or requests or advice):
        return None
    return _Actions(
        tuple(flags), tuple(proposals), tuple(refutations), tuple(requests), tuple(advice)
    )


def _construct(model: type[_M], **fields: Any) -> _M:
    """A frozen model from values that are already valid, as validation would build it
    (same values, defaults for the fields not given, the same ``model_fields_set``), at a
    fraction of the cost: the values come from validated knowledge and this module's own
    bookkeeping, and the tests compare every Result with build_result's."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        defaults = _DEFAULTS[model] = {
            name: None if f.is_required() else f.get_default(call_default_factory=True)
            for name, f in model.model_fields.items()
        }
    values = defaults.copy()
    values.update(fields)
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_fields_set__", set(fields))
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


_M = TypeVar("_M", bound=BaseModel)
_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}


_RESULT_FIELDS = (
    "case_id",
    "knowledge_version",
    "red_flags",
    "differential",
    "ruled_out",
    "tests",
    "not_indicated",
    "derived_facts",
    "firings",
    "false_facts",
    "findings",
    "unused_findings",
    "unread_findings",
    "next_findings",
)
_BUILT = frozenset(_RESULT_FIELDS) - {"next_findings"}  # the fields a Result is built with
_FIRING_FIELDS = frozenset({"rule", "title", "sources", "matched", "derives"})
_MATCH_FIELDS = frozenset({"rule", "index", "kind", "id", "predicate", "holds", "observed"})
_FACT_MATCH_FIELDS = _MATCH_FIELDS - {"observed"}


def _new(model: type[_M], values: dict[str, Any], given: set[str]) -> _M:
    """A frozen model from all its values, already valid and in field order (see
    :func:`_construct`)."""
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_fields_set__", given)
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def _assemble(values: dict[str, Any]) -> Result:
    """A Result from values that are already valid: what ``model_construct`` does, less its
    per-field work (validating would re-walk every nested model, about 4x slower)."""
    result = Result.__new__(Result)
    object.__setattr__(result, "__dict__", values)
    object.__setattr__(result, "__pydantic_fields_set__", set(_BUILT))
    object.__setattr__(result, "__pydantic_extra__", None)
    object.__setattr__(result, "__pydantic_private__", None)
    return result
