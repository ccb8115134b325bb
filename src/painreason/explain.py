"""Explanations: how a conclusion was reached, and why a condition was not proposed.

- :func:`explain` follows a conclusion of a :class:`~painreason.Result` (a condition, a red
  flag, a test, advice that a test is not indicated, or a derived fact) back through the rules
  that reached it to the input findings, citing each rule's title and sources.
- :func:`why_not` looks at every rule that could conclude a condition: which of its conditions
  held, which failed on what was recorded, and which were not recorded; and it finds the
  smallest sets of findings whose recording would make one of those rules fire.

Both return frozen models that serialise to JSON and render as text (``str(x)``).

Unknown is not absent: a condition that *failed* rests on a documented value (``absent``,
a number out of range); a condition *not recorded* could still go either way.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from . import _abduce
from ._reference import Evaluator
from .case import observe
from .engine import CaseInput, Engine, as_case
from .errors import UnknownTargetError
from .loader import Knowledge
from .results import Match, Result
from .rules import FactRef, Flag, Node, Not, Pred, Propose, Rule

__all__ = [
    "Because",
    "Explanation",
    "FindingSet",
    "LeafCheck",
    "RuleCheck",
    "Step",
    "WhyNot",
    "explain",
    "why_not",
]

Relation = Literal["supports", "refutes", "raises", "suggests", "advises", "derives", "failed"]
TARGET_KINDS = ("condition", "red_flag", "test", "advice", "fact")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Because(_Frozen):
    """One leaf of a rule's condition that held (or, for a failed rule, that failed)."""

    kind: Literal["finding", "fact"]
    id: str
    predicate: str
    holds: bool
    observed: str | None = None
    steps: tuple[Step, ...] = ()
    """For a fact: the rules that derived it (or that were all false, when it does not hold)."""


class Step(_Frozen):
    """A rule on a chain from the input findings to a conclusion."""

    rule: str
    title: str
    relation: Relation
    sources: tuple[str, ...]
    note: str | None = None
    via: str | None = None
    """A node between this rule and the target (the red flag that names a condition)."""
    because: tuple[Because, ...] = ()


class Explanation(_Frozen):
    """How a conclusion was reached: the chains of rules back to the input findings.

    ``steps`` are the rules that reached the target (for a condition: those that support it,
    refute it, or raised a red flag that names it); each step's ``because`` lists the leaves
    that made it fire, and derived facts unfold into the rules that derived them.
    """

    target: str
    kind: Literal["condition", "red_flag", "test", "advice", "fact"]
    id: str
    label: str
    status: str
    steps: tuple[Step, ...]
    findings: tuple[str, ...]
    sources: tuple[str, ...]
    citations: dict[str, str] = {}
    overridden_by: tuple[str, ...] = ()

    def chains(self) -> list[tuple[str, ...]]:
        """Every chain as node ids, from an input finding to the target.

        Each chain is a path of the trace graph (``result.trace.graph``): a fact known false
        links straight to the findings that made its rules false, as in the trace.

        Examples
        --------
        >>> from painreason import evaluate, explain
        >>> r = evaluate({"findings": {"low_back_pain": "present",
        ...                            "saddle_anaesthesia": "present"}}, backend="python")
        >>> ("finding:saddle_anaesthesia", "rule:ces_objective_signs",
        ...  "red_flag:cauda_equina_red_flag") in explain(r, "cauda_equina_red_flag").chains()
        True
        """
        out: list[tuple[str, ...]] = []

        def walk(step: Step, tail: tuple[str, ...]) -> None:
            here = tail if step.relation == "failed" else (f"rule:{step.rule}", *tail)
            if step.via is not None:
                here = (here[0], step.via, *here[1:])
            for b in step.because:
                node = (
                    f"finding:{b.id}"
                    if b.kind == "finding"
                    else (f"fact:{b.id}" if b.holds else f"fact:!{b.id}")
                )
                if b.kind == "finding":
                    out.append((node, *here))
                for sub in b.steps:
                    walk(sub, (node, *here))

        for step in self.steps:
            walk(step, (self.target,))
        return sorted(set(out))

    def to_text(self) -> str:
        """The explanation as indented text, one rule or leaf per line."""
        lines = [f"{self.label} [{self.target}]: {self.status}"]

        def leaf(b: Because, indent: str) -> None:
            what = b.predicate if b.holds else _negated(b.predicate)
            seen = f" - recorded: {b.observed}" if b.observed else ""
            lines.append(f"{indent}because {what}{seen}")
            for sub in b.steps:
                step(sub, indent + "  ")

        def step(s: Step, indent: str) -> None:
            cited = f" [{', '.join(s.sources)}]" if s.sources else ""
            lines.append(f"{indent}{s.relation} <- {s.rule}: {s.title}{cited}")
            if s.note:
                lines.append(f"{indent}    ({s.note})")
            for b in s.because:
                leaf(b, indent + "    ")

        for s in self.steps:
            step(s, "  ")
        if self.overridden_by:
            lines.append(f"  overridden by: {', '.join(self.overridden_by)}")
        lines.append(f"  findings: {', '.join(self.findings) or 'none'}")
        if self.citations:
            lines.append("  sources:")
            lines += [f"    [{k}] {v}" for k, v in self.citations.items()]
        else:
            lines.append(f"  sources: {', '.join(self.sources)}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


def _negated(predicate: str) -> str:
    if predicate.endswith(" present"):
        return predicate[: -len("present")] + "absent"
    return f"not ({predicate})"


def _resolve(result: Result, target: str, knowledge: Knowledge | None) -> tuple[str, str]:
    kind, _, ident = target.partition(":")
    if ident and kind in TARGET_KINDS:
        candidates = [(kind, ident)]
    else:
        ident = target
        candidates = [(k, target) for k in TARGET_KINDS]
    known: dict[tuple[str, str], bool] = {}
    for c in result.differential:
        known[("condition", c.id)] = True
    for o in result.ruled_out:
        known[("condition", o.id)] = True
    for f in result.red_flags:
        known[("red_flag", f.id)] = True
    for t in result.tests:
        known[("test", t.id)] = True
    for n in result.not_indicated:
        known[("advice", n.id)] = True
    for fact in result.derived_facts:
        known[("fact", fact)] = True
    for fact in result.false_facts:
        known[("fact", f"!{fact}")] = True
    for cand in candidates:
        if cand in known:
            return cand
    error = UnknownTargetError(
        "conclusion", target, [f"{k}:{i}" for k, i in known] + [i for _, i in known]
    )
    if knowledge is not None and error.suggestion is None:
        for kind, table in (
            ("condition", knowledge.conditions),
            ("red flag", knowledge.red_flags),
            ("test", knowledge.tests),
        ):
            if ident in table:
                hint = (
                    " (why_not, or `painreason why-not`, says why)" if kind == "condition" else ""
                )
                error.args = (f"{kind} {ident!r} is not a conclusion of this result{hint}",)
                break
    raise error


class _Builder:
    """Builds steps from a Result, sharing each rule's step between chains."""

    def __init__(self, result: Result, knowledge: Knowledge | None) -> None:
        self.result = result
        self.kb = knowledge
        self.firings = {f.rule: f for f in result.firings}
        self.derivers: dict[str, list[str]] = {}
        for f in result.firings:
            for fact in f.derives:
                self.derivers.setdefault(fact, []).append(f.rule)
        self._steps: dict[tuple[str, str, str | None], Step] = {}

    def because(self, m: Match) -> Because:
        steps: tuple[Step, ...] = ()
        if m.kind == "fact":
            steps = self.fact_steps(m.id, m.holds)
        return Because(
            kind=m.kind,
            id=m.id,
            predicate=m.predicate,
            holds=m.holds,
            observed=m.observed,
            steps=steps,
        )

    def fact_steps(self, fact: str, holds: bool) -> tuple[Step, ...]:
        if holds:
            return tuple(self.step(r, "derives") for r in sorted(self.derivers.get(fact, ())))
        by_rule: dict[str, list[Match]] = {}
        for m in self.result.false_facts.get(fact, ()):
            by_rule.setdefault(m.rule, []).append(m)
        return tuple(self.failed(r, ms) for r, ms in sorted(by_rule.items()))

    def failed(self, rule_id: str, matches: list[Match]) -> Step:
        key = (rule_id, "failed", None)
        if key not in self._steps:
            rule = self.kb.rule_index.get(rule_id) if self.kb is not None else None
            self._steps[key] = Step(
                rule=rule_id,
                title=rule.title if rule is not None else rule_id,
                relation="failed",
                sources=rule.sources if rule is not None else (),
                because=tuple(self.because(m) for m in matches),
            )
        return self._steps[key]

    def step(
        self, rule_id: str, relation: Relation, note: str | None = None, via: str | None = None
    ) -> Step:
        key = (rule_id, relation, note)
        if key not in self._steps:
            firing = self.firings[rule_id]
            self._steps[key] = Step(
                rule=rule_id,
                title=firing.title,
                relation=relation,
                sources=firing.sources,
                note=note,
                via=via,
                because=tuple(self.because(m) for m in firing.matched),
            )
        return self._steps[key]


def _collect(steps: tuple[Step, ...]) -> tuple[set[str], list[str]]:
    findings: set[str] = set()
    sources: list[str] = []
    seen: set[int] = set()
    pending = list(steps)
    while pending:
        s = pending.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        sources += [src for src in s.sources if src not in sources]
        for b in s.because:
            if b.kind == "finding":
                findings.add(b.id)
            pending.extend(b.steps)
    return findings, sources


def explain(result: Result, target: str, knowledge: Knowledge | None = None) -> Explanation:
    """Explain one conclusion of ``result``: the chains of rules back to the input findings.

    Parameters
    ----------
    result : Result
    target : str
        A condition (in the differential or ruled out), red flag, test, advice (a test or
        group not indicated) or derived fact; a bare id or ``kind:id`` (``"advice:lumbar_imaging"``,
        ``"fact:!x"`` for a fact known false).
    knowledge : Knowledge, optional
        The knowledge the result came from: adds citations, and titles of rules that failed.

    Raises
    ------
    UnknownTargetError
        When ``target`` is not a conclusion of ``result`` (for a condition that was not
        proposed, see :func:`why_not`).

    Examples
    --------
    >>> from painreason import evaluate, explain
    >>> r = evaluate({"findings": {"low_back_pain": "present",
    ...                            "saddle_anaesthesia": "present"}}, backend="python")
    >>> e = explain(r, "mri_lumbar")
    >>> e.status, e.findings
    ('emergency', ('low_back_pain', 'saddle_anaesthesia'))
    >>> print(e.to_text().splitlines()[1])
      suggests <- ces_objective_signs: Saddle anaesthesia or lax anal sphincter ...
    """
    if knowledge is not None and knowledge.version != result.knowledge_version:
        knowledge = None  # another rule set: its titles and citations would mislead
    kind, ident = _resolve(result, target, knowledge)
    b = _Builder(result, knowledge)
    steps: list[Step] = []
    overridden: tuple[str, ...] = ()
    if kind == "condition":
        cond = next((c for c in result.differential if c.id == ident), None)
        if cond is not None:
            label = cond.label
            status = cond.status + (f", strength {cond.strength}" if cond.strength else "")
            steps += [b.step(r, "supports") for r in cond.supporting]
            steps += [b.step(r, "refutes") for r in cond.refuting]
            for flag in result.red_flags:
                if flag.id in cond.red_flags:
                    note, via = f"red flag {flag.id}", f"red_flag:{flag.id}"
                    steps += [b.step(r, "raises", note, via) for r in flag.raised_by]
        else:
            out = next(o for o in result.ruled_out if o.id == ident)
            label, status = out.label, "ruled out"
            steps += [b.step(r, "refutes") for r in out.refuting]
    elif kind == "red_flag":
        flag = next(f for f in result.red_flags if f.id == ident)
        label, status = flag.label, f"red flag, {flag.urgency}"
        steps += [b.step(r, "raises") for r in flag.raised_by]
    elif kind == "test":
        test = next(t for t in result.tests if t.id == ident)
        label, status = test.label, test.urgency
        steps += [
            b.step(req.rule, "suggests", f"{req.urgency}: {req.rationale}")
            for req in test.requested_by
        ]
    elif kind == "advice":
        adv = next(n for n in result.not_indicated if n.id == ident)
        label, status = f"{adv.label}: not indicated", adv.status.replace("_", " ")
        notes = dict(zip(adv.advised_by, adv.rationale, strict=False))
        steps += [b.step(r, "advises", notes.get(r)) for r in adv.advised_by]
        overridden = adv.overridden_by
    else:
        holds = not ident.startswith("!")
        fact = ident.lstrip("!")
        label = fact if holds else f"not {fact}"
        status = "holds" if holds else "known false"
        steps += b.fact_steps(fact, holds)
    found, sources = _collect(tuple(steps))
    citations: dict[str, str] = {}
    if knowledge is not None:
        citations = {s: knowledge.sources[s].citation for s in sources if s in knowledge.sources}
    return Explanation(
        target=f"{kind}:{ident}",
        kind=kind,  # type: ignore[arg-type]
        id=ident,
        label=label,
        status=status,
        steps=tuple(steps),
        findings=tuple(sorted(found)),
        sources=tuple(sources),
        citations=citations,
        overridden_by=overridden,
    )


# --- why not ---------------------------------------------------------------------------


class LeafCheck(_Frozen):
    """One leaf of a rule's condition, as the rule needs it, and whether it held.

    ``status`` is ``held``; ``failed`` (recorded, and the record contradicts it: a documented
    ``absent``, a value out of range); ``not_recorded`` (the finding, or the side or level the
    leaf looks at, was not recorded); or ``unknown`` (a derived fact neither true nor false).
    """

    index: int
    kind: Literal["finding", "fact"]
    id: str
    needs: str
    status: Literal["held", "failed", "not_recorded", "unknown"]
    observed: str | None = None
    derivers: tuple[RuleCheck, ...] = ()
    """For a fact that does not hold: the rules that derive it, checked the same way."""


class FindingSet(_Frozen):
    """Findings whose recording (with the values in ``record``) makes ``rules`` fire."""

    findings: tuple[str, ...]
    record: dict[str, Any]
    needs: tuple[str, ...]
    rules: tuple[str, ...]


class RuleCheck(_Frozen):
    """A rule that could conclude a condition, leaf by leaf.

    ``status``: ``fired``; ``possible`` (its condition is unknown: recording more could make
    it fire); ``blocked`` (its condition is false on what was recorded: no further recording
    can make it fire).
    """

    rule: str
    title: str
    sources: tuple[str, ...]
    via: str
    status: Literal["fired", "possible", "blocked"]
    leaves: tuple[LeafCheck, ...]
    sets: tuple[FindingSet, ...] = ()


class WhyNot(_Frozen):
    """Why a condition is (not) in the differential.

    ``smallest`` lists the smallest sets of findings, up to ``max_size`` findings each, whose
    recording would make some rule conclude the condition; ``complete`` is False when a bound
    of the search cut something (larger sets may exist).
    """

    condition: str
    label: str
    status: Literal["proposed", "contested", "ruled_out", "not_proposed"]
    rules: tuple[RuleCheck, ...]
    smallest: tuple[FindingSet, ...]
    max_size: int
    complete: bool
    rule_out: Explanation | None = None

    def to_text(self) -> str:
        """A readable report: status, each rule leaf by leaf, the smallest sets."""
        lines = [f"{self.label} [{self.condition}]: {self.status.replace('_', ' ')}"]
        if self.rule_out is not None:
            lines.append("  ruled out by:")
            lines += ["    " + line for line in self.rule_out.to_text().splitlines()[1:]]
        if not self.rules:
            lines.append("  no rule concludes it")
        for check in self.rules:
            cited = ", ".join(check.sources)
            lines.append(f"  {check.status.upper():8} {check.rule}: {check.title} [{cited}]")
            lines.append(f"           ({check.via})")
            _leaf_lines(check.leaves, "             ", lines)
        if self.status in ("not_proposed", "ruled_out"):
            if self.smallest:
                lines.append("  smallest sets of findings to record that would propose it:")
                for fs in self.smallest:
                    rec = ", ".join(f"{k}: {_show(v)}" for k, v in fs.record.items())
                    lines.append(f"    - {rec}  (via {', '.join(fs.rules)})")
            else:
                lines.append(
                    f"  no set of up to {self.max_size} unrecorded findings would propose it"
                )
            if not self.complete:
                lines.append(
                    f"  (search bounded at {self.max_size} findings a set: larger sets may exist)"
                )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _leaf_lines(leaves: tuple[LeafCheck, ...], indent: str, lines: list[str]) -> None:
    for leaf in leaves:
        seen = f" - recorded: {leaf.observed}" if leaf.observed else ""
        lines.append(f"{indent}{leaf.status.replace('_', ' '):12} {leaf.needs}{seen}")
        for sub in leaf.derivers:
            lines.append(f"{indent}    {sub.status} {sub.rule}: {sub.title}")
            _leaf_lines(sub.leaves, indent + "      ", lines)


def _polarities(node: Node, positive: bool, out: dict[int, bool]) -> None:
    if isinstance(node, Pred | FactRef):
        out[node.index] = positive
    elif isinstance(node, Not):
        _polarities(node.child, not positive, out)
    else:
        for child in node.children:
            _polarities(child, positive, out)


def _needs(atom: Pred | FactRef, positive: bool) -> str:
    if isinstance(atom, FactRef):
        return f"derived {atom.fact}" if positive else f"not derived {atom.fact}"
    if atom.op == "present":
        return atom.describe() if positive else atom.describe()[: -len("present")] + "absent"
    return atom.describe() if positive else f"not ({atom.describe()})"


@functools.lru_cache(maxsize=1)
def _bundled_engine() -> Engine:
    return Engine(backend="python")


class _WhyNot:
    def __init__(self, engine: Engine, case: CaseInput, max_size: int) -> None:
        self.kb = engine.knowledge
        self.case = as_case(case)
        self.result = engine.evaluate(self.case)
        self.obs = observe(self.case, self.kb)
        self.ev = Evaluator(self.kb, self.obs)
        self.ev.run()
        self.search = _abduce.Search(self.kb, self.case, self.obs, self.ev, max_size)
        self.shown = self.result.findings

    def check(self, rule: Rule, via: str, depth: int = 0) -> RuleCheck:
        truth = self.ev.truth(rule.when)
        polarity: dict[int, bool] = {}
        _polarities(rule.when, True, polarity)
        leaves = []
        for atom in rule.atoms:
            positive = polarity[atom.index]
            value = self.ev.truth(atom)
            lit_holds = None if value is None else value is positive
            status: Literal["held", "failed", "not_recorded", "unknown"]
            if lit_holds is None:
                status = "unknown" if isinstance(atom, FactRef) else "not_recorded"
            else:
                status = "held" if lit_holds else "failed"
            derivers: tuple[RuleCheck, ...] = ()
            if isinstance(atom, FactRef) and status != "held" and depth < 8:
                derivers = tuple(
                    self.check(r, f"derives {atom.fact}", depth + 1)
                    for r in self.kb.derivers.get(atom.fact, ())
                )
            leaves.append(
                LeafCheck(
                    index=atom.index,
                    kind="finding" if isinstance(atom, Pred) else "fact",
                    id=atom.finding if isinstance(atom, Pred) else atom.fact,
                    needs=_needs(atom, positive),
                    status=status,
                    observed=self.shown.get(atom.finding) if isinstance(atom, Pred) else None,
                    derivers=derivers,
                )
            )
        sets: tuple[FindingSet, ...] = ()
        if truth is None and depth == 0:
            sets = tuple(self.finding_set(rec) for rec in self.search.recordings(rule))
        return RuleCheck(
            rule=rule.id,
            title=rule.title,
            sources=rule.sources,
            via=via,
            status="fired" if truth is True else ("blocked" if truth is False else "possible"),
            leaves=tuple(leaves),
            sets=sets,
        )

    def finding_set(self, rec: _abduce.Recording) -> FindingSet:
        needs = []
        for rule_id, index, want in sorted(rec.literals):
            atom = self.kb.rule_index[rule_id].atoms[index]
            needs.append(_needs(atom, want))
        return FindingSet(
            findings=rec.findings,
            record=dict(rec.values),
            needs=tuple(dict.fromkeys(needs)),
            rules=(rec.rule,),
        )


def _concluders(kb: Knowledge, condition: str, ruled_out: bool) -> list[tuple[Rule, str]]:
    """Rules that would put ``condition`` in the differential.

    A rule proposing it; and, for a condition ruled out, a rule raising a red flag that names
    it (a rule-out never hides what a red flag points at, so it comes back contested).
    """
    flags = {f.id for f in kb.red_flags.values() if ruled_out and condition in f.conditions}
    out = []
    for rule in kb.rules:
        vias = [
            f"proposes it, strength {a.strength}"
            for a in rule.actions
            if isinstance(a, Propose) and a.condition == condition
        ]
        vias += [
            f"raises red flag {a.red_flag}, which names it (a ruled-out condition comes back)"
            for a in rule.actions
            if isinstance(a, Flag) and a.red_flag in flags
        ]
        if vias:
            out.append((rule, "; ".join(vias)))
    return out


def _merge(sets: list[FindingSet]) -> list[FindingSet]:
    """Finding-minimal sets, smallest first; equal finding sets merge their rules."""
    by_findings: dict[tuple[str, ...], FindingSet] = {}
    for fs in sorted(sets, key=lambda s: (len(s.findings), s.findings)):
        old = by_findings.get(fs.findings)
        if old is None:
            by_findings[fs.findings] = fs
        else:
            by_findings[fs.findings] = old.model_copy(
                update={"rules": tuple(dict.fromkeys(old.rules + fs.rules))}
            )
    out: list[FindingSet] = []
    for fs in by_findings.values():
        if not any(set(kept.findings) <= set(fs.findings) for kept in out):
            out.append(fs)
    return out


def why_not(
    case: CaseInput,
    condition: str,
    *,
    engine: Engine | None = None,
    max_size: int = 3,
) -> WhyNot:
    """Why ``condition`` is not proposed for ``case``, and what recording would change that.

    Parameters
    ----------
    case : Case, dict or path to a case file
    condition : str
        A condition id of the knowledge.
    engine : Engine, optional
        The engine (knowledge and backend) to use; the bundled knowledge on the python
        backend when omitted.
    max_size : int
        The largest set of findings to search for (the search is bounded; ``complete`` on
        the answer says whether the bound cut anything).

    Returns
    -------
    WhyNot
        Each rule that could conclude the condition, leaf by leaf (held / failed / not
        recorded); the smallest sets of unrecorded findings that would make one fire, with
        values that do it; and, for a ruled-out condition, the rule-out chain.

    Raises
    ------
    UnknownTargetError
        When the knowledge has no such condition.

    Examples
    --------
    >>> from painreason import why_not
    >>> w = why_not({"findings": {"low_back_pain": "present", "urinary_retention": "absent"}},
    ...             "cauda_equina_syndrome")
    >>> w.status
    'not_proposed'
    >>> ("saddle_anaesthesia",) in [s.findings for s in w.smallest]
    True
    >>> w.smallest[0].record
    {'ankle_dorsiflexion_strength': {'left': 3, 'right': 3}}
    """
    engine = engine if engine is not None else _bundled_engine()
    kb = engine.knowledge
    if condition not in kb.conditions:
        raise UnknownTargetError("condition", condition, kb.conditions)
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1 (got {max_size})")
    w = _WhyNot(engine, case, max_size)
    result = w.result
    status: Literal["proposed", "contested", "ruled_out", "not_proposed"] = "not_proposed"
    rule_out = None
    cond = next((c for c in result.differential if c.id == condition), None)
    if cond is not None:
        status = cond.status
    elif any(o.id == condition for o in result.ruled_out):
        status = "ruled_out"
    concluders = _concluders(kb, condition, status == "ruled_out")
    checks = [w.check(rule, via) for rule, via in concluders]
    if status in ("contested", "ruled_out"):
        rule_out = explain(result, f"condition:{condition}", kb)
        keep = [s for s in rule_out.steps if s.relation == "refutes"]
        rule_out = rule_out.model_copy(update={"steps": tuple(keep)})
    smallest = _merge([s for c in checks for s in c.sets]) if status != "proposed" else []
    return WhyNot(
        condition=condition,
        label=kb.conditions[condition].label,
        status=status,
        rules=tuple(checks),
        smallest=tuple(smallest),
        max_size=max_size,
        complete=w.search.complete,
        rule_out=rule_out,
    )


Because.model_rebuild()
LeafCheck.model_rebuild()
