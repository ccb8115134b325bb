"""Explanations: how a conclusion was reached, back to the input findings.

:func:`explain` follows a conclusion of a :class:`~painreason.Result` (a condition, a red
flag, a test, advice that a test is not indicated, or a derived fact) back through the rules
that reached it to the input findings, citing each rule's title and sources. It returns a
frozen :class:`Explanation` that serialises to JSON and renders as text (``str(x)``).
:func:`painreason.why_not` (in :mod:`painreason.whynot`) answers the converse question.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .errors import UnknownTargetError
from .loader import Knowledge
from .results import Match, Result
from .rules import AdviseAgainst

__all__ = ["Because", "Explanation", "Step", "WhyNot", "explain", "why_not"]

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
    label: str | None = None
    """For a fact, its label (when the knowledge was given)."""
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
            named = f" ({b.label})" if b.label else ""
            lines.append(f"{indent}because {what}{named}{seen}")
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
        label = None
        if m.kind == "fact":
            steps = self.fact_steps(m.id, m.holds)
            fact = self.kb.facts.get(m.id) if self.kb is not None else None
            label = fact.label if fact is not None else None
        return Because(
            kind=m.kind,
            id=m.id,
            predicate=m.predicate,
            holds=m.holds,
            observed=m.observed,
            label=label,
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
        notes: dict[str, str] = {}
        if knowledge is not None:
            for rule_id in adv.advised_by:
                given = [
                    a.rationale
                    for a in knowledge.rule_index[rule_id].actions
                    if isinstance(a, AdviseAgainst) and a.test == adv.id
                ]
                notes[rule_id] = "; ".join(given)
        elif len(adv.rationale) == len(adv.advised_by):
            notes = dict(zip(adv.advised_by, adv.rationale, strict=True))
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


Because.model_rebuild()

# ``why_not`` lived here first and other modules import it from here; it is defined in
# :mod:`painreason.whynot`, which imports this module (so this import comes last).
from .whynot import WhyNot, why_not  # noqa: E402
