"""Why a condition was not proposed, and which unrecorded findings would change that.

:func:`why_not` looks at every rule that could put a condition in the differential: which of
its conditions held, which failed on what was recorded, and which were not recorded; and it
finds the smallest sets of findings whose recording would make one of those rules fire (see
:mod:`painreason._abduce`). It returns a frozen :class:`WhyNot` that serialises to JSON and
renders as text (``str(x)``).

Unknown is not absent: a condition that *failed* rests on a documented value (``absent``,
a number out of range); a condition *not recorded* could still go either way.

The vignette report (:mod:`painreason.vignettes`) shows the same checks one line a rule, for a
missed condition and for a red flag, rule-out, test or advice that did not come.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from . import _abduce
from ._reference import Evaluator
from .case import Case, Observations, observe
from .engine import CaseInput, Engine, as_case
from .errors import UnknownTargetError
from .explain import Explanation, explain
from .loader import Knowledge
from .rules import (
    AdviseAgainst,
    FactRef,
    Flag,
    Node,
    Not,
    Pred,
    Propose,
    Rule,
    RuleOut,
    Suggest,
)
from .vocabulary import Urgency

__all__ = ["FindingSet", "LeafCheck", "RuleCheck", "WhyNot", "why_not"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
    label: str | None = None
    """For a fact, its label."""
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

    ``smallest`` lists, for a condition not in the differential, the smallest sets of findings
    (up to ``max_size`` each) whose recording would put it there; ``complete`` is False when a
    bound of the search cut something (larger sets may exist).
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
                lines.append(
                    "  smallest sets of findings to record that would put it in the differential:"
                )
                for fs in self.smallest:
                    rec = ", ".join(f"{k}: {_show(v)}" for k, v in fs.record.items())
                    lines.append(f"    - {rec}  (via {', '.join(fs.rules)})")
            else:
                most = self.max_size
                lines.append(f"  no set of up to {most} unrecorded findings would put it there")
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
        named = f" ({leaf.label})" if leaf.label else ""
        lines.append(f"{indent}{leaf.status.replace('_', ' '):12} {leaf.needs}{named}{seen}")
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


class _Checks:
    """Rules checked leaf by leaf against one evaluated case.

    With ``case`` and ``max_size`` it also searches, for a rule whose condition is unknown,
    the smallest sets of findings that would make it fire; ``shown`` gives each finding's
    recorded value as the Result shows it.
    """

    def __init__(
        self,
        kb: Knowledge,
        obs: Observations,
        case: Case | None = None,
        max_size: int = 0,
        shown: Mapping[str, str] | None = None,
    ) -> None:
        self.kb = kb
        self.ev = Evaluator(kb, obs)
        self.ev.run()
        self.search = None if case is None else _abduce.Search(kb, case, obs, self.ev, max_size)
        self.shown = shown or {}

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
                    label=self.kb.facts[atom.fact].label if isinstance(atom, FactRef) else None,
                    derivers=derivers,
                )
            )
        sets: tuple[FindingSet, ...] = ()
        if truth is None and depth == 0 and self.search is not None:
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
    case = as_case(case)
    result = engine.evaluate(case)
    w = _Checks(kb, observe(case, kb), case, max_size, result.findings)
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
    outside = status in ("not_proposed", "ruled_out")
    smallest = _merge([s for c in checks for s in c.sets]) if outside else []
    return WhyNot(
        condition=condition,
        label=kb.conditions[condition].label,
        status=status,
        rules=tuple(checks),
        smallest=tuple(smallest),
        max_size=max_size,
        complete=w.search is None or w.search.complete,
        rule_out=rule_out,
    )


# --- one line a rule, for the vignette report -----------------------------------------------

_MAX_RULES = 6
_GROUPS = {"held": "held", "failed": "failed", "not_recorded": "not recorded", "unknown": "unknown"}


def _lines(checks: Sequence[tuple[RuleCheck, str]], total: int) -> list[str]:
    """One line a rule checked (with where it is, or how it concludes): its status, then its
    leaves grouped held, failed, not recorded, unknown; then how many more of ``total`` rules
    there are."""
    lines = []
    for check, where in checks:
        parts = []
        for status, name in _GROUPS.items():
            needs = [leaf.needs for leaf in check.leaves if leaf.status == status]
            if needs:
                parts.append(f"{name}: {'; '.join(needs)}")
        lines.append(f"{check.status} {check.rule} ({where}): " + " | ".join(parts))
    if total > _MAX_RULES:
        lines.append(f"and {total - _MAX_RULES} more rules")
    return lines


def _concludes(rule: Rule, kb: Knowledge, kind: str, target: str, urgency: Urgency | None) -> bool:
    for a in rule.actions:
        if kind == "red_flag" and isinstance(a, Flag) and a.red_flag == target:
            return True
        if kind == "rule_out" and isinstance(a, RuleOut) and a.condition == target:
            return True
        if kind == "test" and isinstance(a, Suggest) and a.test == target:
            return urgency is None or a.urgency.rank <= urgency.rank
        if (
            kind == "advice"
            and isinstance(a, AdviseAgainst)
            and (a.test == target or target in kb.test_targets(a.test))
        ):
            return True
    return False


def _why_missing(
    kb: Knowledge, obs: Observations, kind: str, target: str, urgency: Urgency | None = None
) -> list[str]:
    """One line a rule that could have concluded ``target`` (of ``kind``: ``red_flag``,
    ``rule_out``, ``test`` at ``urgency`` or more urgent, ``advice``), checked as
    :func:`why_not` checks a condition's rules."""
    rules = [r for r in kb.rules if _concludes(r, kb, kind, target, urgency)]
    if not rules:
        at = f" at {urgency.value} or more urgent" if urgency is not None else ""
        return [f"no rule in this rule set concludes it{at}"]
    checks = _Checks(kb, obs)
    shown = []
    for rule in rules[:_MAX_RULES]:
        where = f"{rule.file}:{rule.line}" if rule.line else rule.file
        shown.append((checks.check(rule, f"concludes {target}"), where))
    return _lines(shown, len(rules))


def _why_condition(engine: Engine, case: Case, condition: str) -> list[str]:
    """:func:`why_not` for a condition, one line a rule, then what rules it out and the
    smallest sets of findings whose recording would propose it."""
    w = why_not(case, condition, engine=engine, max_size=2)
    lines = _lines([(check, check.via) for check in w.rules[:_MAX_RULES]], len(w.rules))
    if not w.rules:
        lines.append("no rule in this rule set concludes it")
    if w.rule_out is not None:
        refuters = ", ".join(dict.fromkeys(s.rule for s in w.rule_out.steps))
        lines.append(f"ruled out by {refuters}")
    for fs in w.smallest[:3]:
        record = ", ".join(f"{k}: {v}" for k, v in fs.record.items())
        lines.append(f"recording {record} would propose it (via {', '.join(fs.rules)})")
    return lines


LeafCheck.model_rebuild()
