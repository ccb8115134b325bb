"""What-if experiments and the findings worth checking next.

- :func:`what_if` re-evaluates a case with findings set or removed and returns a
  :class:`ResultDiff`: red flags raised or cleared, conditions added, removed or changed in
  status, tests added, removed or changed in urgency, advice changed.
- :func:`diff_results` compares any two Results the same way.
- :func:`next_findings` lists the findings not recorded whose recording could raise a red
  flag or change the differential (or the tests), most consequential first, each with a value
  that would do it. It is sound (every change listed was checked by re-evaluating the rule on
  the amended case) and bounded (sets of up to ``max_size`` findings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from . import _abduce
from ._reference import Evaluator
from .case import observe
from .engine import CaseInput, Engine, as_case
from .errors import UnknownTargetError
from .loader import Knowledge
from .results import FindingImpact, NextFinding, Result
from .rules import Flag, Propose, Rule, RuleOut, Suggest
from .vocabulary import Urgency
from .whynot import _bundled_engine, _polarities

__all__ = ["Change", "ResultDiff", "diff_results", "next_findings", "what_if"]

_STRENGTH = {"high": 0, "moderate": 1, "low": 2}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Frozen):
    """One conclusion that differs between two results.

    ``before`` and ``after`` are its state (a status, strength or urgency); ``None`` means
    absent from that result.
    """

    kind: Literal["red_flag", "condition", "test", "not_indicated"]
    id: str
    label: str
    before: str | None
    after: str | None

    @property
    def change(self) -> Literal["added", "removed", "changed"]:
        """``added``, ``removed`` or ``changed``."""
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "changed"


class ResultDiff(_Frozen):
    """The difference between two results of one case, conclusion by conclusion.

    Red flags first. ``empty`` is True when nothing a clinician sees changed.
    """

    set_findings: dict[str, Any]
    unset_findings: tuple[str, ...]
    red_flags: tuple[Change, ...]
    conditions: tuple[Change, ...]
    tests: tuple[Change, ...]
    not_indicated: tuple[Change, ...]
    before: Result
    after: Result

    @property
    def empty(self) -> bool:
        """True when no red flag, condition, test or advice changed."""
        return not (self.red_flags or self.conditions or self.tests or self.not_indicated)

    def changes(self) -> tuple[Change, ...]:
        """Every change, red flags first."""
        return self.red_flags + self.conditions + self.tests + self.not_indicated

    def to_text(self) -> str:
        """The diff as text: ``+`` added, ``-`` removed, ``~`` changed."""
        what = [f"{k} = {v}" for k, v in self.set_findings.items()]
        what += [f"{k} not recorded" for k in self.unset_findings]
        lines = [f"What if {', '.join(what)}:" if what else "No change to the case:"]
        if self.empty:
            lines.append("  no change to red flags, differential, tests or advice")
        mark = {"added": "+", "removed": "-", "changed": "~"}
        for title, items in (
            ("RED FLAGS", self.red_flags),
            ("CONDITIONS", self.conditions),
            ("TESTS", self.tests),
            ("NOT INDICATED", self.not_indicated),
        ):
            if not items:
                continue
            lines.append(f"  {title}")
            for c in items:
                state = (
                    f"{c.before} -> {c.after}"
                    if c.change == "changed"
                    else (c.after if c.change == "added" else f"was {c.before}")
                )
                lines.append(f"    {mark[c.change]} {c.label} [{c.id}]: {state}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


def _states(result: Result) -> dict[str, dict[str, tuple[str, str]]]:
    conds: dict[str, tuple[str, str]] = {}
    for c in result.differential:
        conds[c.id] = (c.label, c.status + (f", {c.strength}" if c.strength else ""))
    for o in result.ruled_out:
        conds[o.id] = (o.label, "ruled_out")
    return {
        "red_flag": {f.id: (f.label, f.urgency) for f in result.red_flags},
        "condition": conds,
        "test": {t.id: (t.label, t.urgency) for t in result.tests},
        "not_indicated": {n.id: (n.label, n.status) for n in result.not_indicated},
    }


def _changes(
    kind: str, before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]
) -> tuple[Change, ...]:
    out = []
    for ident in sorted(set(before) | set(after)):
        b, a = before.get(ident), after.get(ident)
        if b is not None and a is not None and b[1] == a[1]:
            continue
        label = (a or b or ("", ""))[0]
        out.append(
            Change(
                kind=kind,  # type: ignore[arg-type]
                id=ident,
                label=label,
                before=b[1] if b else None,
                after=a[1] if a else None,
            )
        )
    return tuple(out)


def diff_results(
    before: Result,
    after: Result,
    *,
    set_findings: Mapping[str, Any] | None = None,
    unset_findings: Iterable[str] = (),
) -> ResultDiff:
    """Compare two results conclusion by conclusion.

    Examples
    --------
    >>> from painreason import evaluate, diff_results
    >>> a = evaluate({"findings": {"low_back_pain": "present"}}, backend="python")
    >>> diff_results(a, a).empty
    True
    """
    sb, sa = _states(before), _states(after)
    return ResultDiff(
        set_findings=dict(set_findings or {}),
        unset_findings=tuple(unset_findings),
        red_flags=_changes("red_flag", sb["red_flag"], sa["red_flag"]),
        conditions=_changes("condition", sb["condition"], sa["condition"]),
        tests=_changes("test", sb["test"], sa["test"]),
        not_indicated=_changes("not_indicated", sb["not_indicated"], sa["not_indicated"]),
        before=before,
        after=after,
    )


def what_if(
    case: CaseInput,
    set: Mapping[str, Any] | None = None,
    unset: Iterable[str] = (),
    *,
    engine: Engine | None = None,
) -> ResultDiff:
    """Evaluate ``case`` again with findings set (or removed) and diff the two results.

    Parameters
    ----------
    case : Case, dict or path to a case file
    set : mapping, optional
        Finding id to value, in case-file form (``"present"``, ``120``,
        ``{"left": "present"}``); it replaces what the case records for that finding.
    unset : iterable of str
        Findings to make not recorded.
    engine : Engine, optional
        The bundled knowledge on the python backend when omitted.

    Raises
    ------
    CaseError
        When a value set does not fit the vocabulary.
    UnknownTargetError
        When ``set`` or ``unset`` names a finding the vocabulary does not have.

    Examples
    --------
    >>> from painreason import what_if
    >>> d = what_if({"findings": {"low_back_pain": "present"}},
    ...             set={"saddle_anaesthesia": "present"})
    >>> [(c.id, c.change, c.after) for c in d.red_flags]
    [('cauda_equina_red_flag', 'added', 'emergency')]
    """
    engine = engine if engine is not None else _bundled_engine()
    base = as_case(case)
    values = dict(set or {})
    removed = tuple(dict.fromkeys(unset))
    for fid in (*values, *removed):
        if fid not in engine.knowledge.findings:
            raise UnknownTargetError("finding", fid, engine.knowledge.findings)
    before = engine.evaluate(base)
    after = engine.evaluate(_abduce.amend(base, values, removed))
    return diff_results(before, after, set_findings=values, unset_findings=removed)


# --- next findings ---------------------------------------------------------------------

Effect = Literal["raise", "escalate", "propose", "strengthen", "contest", "rule_out", "suggest"]
_EFFECT_RANK = {
    ("red_flag", "raise"): 0,
    ("red_flag", "escalate"): 1,
    ("condition", "propose"): 2,
    ("condition", "contest"): 3,
    ("condition", "strengthen"): 4,
    ("condition", "rule_out"): 5,
    ("test", "suggest"): 6,
    ("test", "escalate"): 7,
}


def _impacts(
    kb: Knowledge, rule: Rule, result: Result
) -> list[tuple[str, str, Effect, str | None]]:
    """What firing ``rule`` would change in ``result``: (kind, target, effect, detail)."""
    flags = {f.id: f for f in result.red_flags}
    diff = {c.id: c for c in result.differential}
    ruled_out = {o.id for o in result.ruled_out}
    tests = {t.id: t for t in result.tests}
    out: list[tuple[str, str, Effect, str | None]] = []
    for a in rule.actions:
        if isinstance(a, Flag):
            urgency = (a.urgency or Urgency(kb.red_flags[a.red_flag].urgency)).value
            flag = flags.get(a.red_flag)
            if flag is None:
                out.append(("red_flag", a.red_flag, "raise", urgency))
            elif Urgency(urgency).rank < Urgency(flag.urgency).rank:
                out.append(("red_flag", a.red_flag, "escalate", urgency))
        elif isinstance(a, Propose):
            cond = diff.get(a.condition)
            if cond is None:
                out.append(("condition", a.condition, "propose", a.strength))
            elif cond.strength is None or _STRENGTH[a.strength] < _STRENGTH[cond.strength]:
                out.append(("condition", a.condition, "strengthen", a.strength))
        elif isinstance(a, RuleOut):
            cond = diff.get(a.condition)
            if cond is not None and cond.status == "proposed":
                out.append(("condition", a.condition, "contest", None))
            elif cond is None and a.condition not in ruled_out:
                out.append(("condition", a.condition, "rule_out", None))
        elif isinstance(a, Suggest):
            test = tests.get(a.test)
            if test is None:
                out.append(("test", a.test, "suggest", a.urgency.value))
            elif a.urgency.rank < Urgency(test.urgency).rank:
                out.append(("test", a.test, "escalate", a.urgency.value))
    return out


def _impact_key(i: FindingImpact) -> tuple[int, int, int, int, int, str, str]:
    urgency = Urgency(i.detail).rank if i.detail in ("emergency", "urgent", "routine") else 3
    return (
        _EFFECT_RANK[(i.kind, i.effect)],
        urgency,
        0 if i.held else 1,
        len(i.together_with),
        -i.held,
        i.target,
        i.rule,
    )


def _held(ev: Evaluator, rule: Rule) -> int:
    """Leaves of ``rule`` whose truth already goes the way the rule needs."""
    polarity: dict[int, bool] = {}
    _polarities(rule.when, True, polarity)
    return sum(ev.truth(a) is polarity[a.index] for a in rule.atoms)


def next_findings(
    case: CaseInput, *, engine: Engine | None = None, max_size: int = 2
) -> tuple[NextFinding, ...]:
    """Findings not recorded whose recording could change the result, most consequential first.

    A finding is listed when some rule whose condition is still unknown would fire once it
    (and at most ``max_size - 1`` other unrecorded findings) were recorded, and that rule's
    firing would raise or escalate a red flag, propose, contest, strengthen or rule out a
    condition, or suggest or escalate a test. Each impact gives the values that do it.

    Ranking: red flags first (emergency before urgent), then new conditions, contested,
    strengthened and ruled-out ones, then tests; within each, rules the case already partly
    matches first, then a finding that does it alone before one that needs others, then by
    the number of changes.

    Examples
    --------
    >>> from painreason import next_findings
    >>> top = next_findings({"findings": {"low_back_pain": "present"}})[0]
    >>> top.impacts[0].kind, top.impacts[0].effect
    ('red_flag', 'raise')
    """
    engine = engine if engine is not None else _bundled_engine()
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1 (got {max_size})")
    kb = engine.knowledge
    base = as_case(case)
    result = engine.evaluate(base)
    obs = observe(base, kb)
    ev = Evaluator(kb, obs)
    ev.run()
    search = _abduce.Search(kb, base, obs, ev, max_size)
    per_finding: dict[str, dict[tuple[str, str, str], FindingImpact]] = {}
    for rule in kb.rules:
        if ev.truth(rule.when) is not None:
            continue
        effects = _impacts(kb, rule, result)
        if not effects:
            continue
        held = _held(ev, rule)
        for rec in search.recordings(rule):
            for fid in rec.findings:
                others = tuple(f for f in rec.findings if f != fid)
                for kind, target, effect, detail in effects:
                    impact = FindingImpact(
                        kind=kind,  # type: ignore[arg-type]
                        target=target,
                        effect=effect,
                        detail=detail,
                        rule=rule.id,
                        held=held,
                        together_with=others,
                        record=dict(rec.values),
                    )
                    key = (kind, target, effect)
                    mine = per_finding.setdefault(fid, {})
                    if key not in mine or _impact_key(impact) < _impact_key(mine[key]):
                        mine[key] = impact
    out = []
    for fid, impacts in per_finding.items():
        finding = kb.findings[fid]
        ordered = tuple(sorted(impacts.values(), key=_impact_key))
        out.append(
            NextFinding(
                finding=fid,
                label=finding.label,
                section=finding.section.value,
                recorded=result.findings.get(fid),
                impacts=ordered,
            )
        )
    out.sort(key=lambda n: (_impact_key(n.impacts[0])[:5], -len(n.impacts), n.finding))
    return tuple(out)
