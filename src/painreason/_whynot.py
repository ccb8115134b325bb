"""A short why-not for vignette mismatches: the rules that could have drawn a conclusion,
and which of their leaves held, failed or were not recorded.

Used by :mod:`painreason.vignettes`, which reports one line per candidate rule. For a
condition it condenses :func:`painreason.explain.why_not` (which also finds the smallest sets
of findings that would propose it); red flags, tests and advice are checked here the same way.
"""

from __future__ import annotations

from ._reference import Evaluator
from .case import Case, Observations
from .engine import Engine
from .explain import why_not
from .loader import Knowledge
from .rules import AdviseAgainst, FactRef, Flag, Node, Not, Pred, Propose, Rule, RuleOut, Suggest
from .vocabulary import Urgency

__all__ = ["why_condition", "why_missing"]

MAX_RULES = 6


def _polarity(node: Node, positive: bool, out: dict[int, bool]) -> None:
    if isinstance(node, Pred | FactRef):
        out[node.index] = positive
    elif isinstance(node, Not):
        _polarity(node.child, not positive, out)
    else:
        for child in node.children:
            _polarity(child, positive, out)


def _concludes(rule: Rule, kb: Knowledge, kind: str, target: str, urgency: Urgency | None) -> bool:
    for a in rule.actions:
        if kind == "red_flag" and isinstance(a, Flag) and a.red_flag == target:
            return True
        if kind == "condition" and isinstance(a, Propose) and a.condition == target:
            return True
        if kind == "rule_out" and isinstance(a, RuleOut) and a.condition == target:
            return True
        if kind == "test" and isinstance(a, Suggest) and a.test == target:
            return urgency is None or a.urgency.rank <= urgency.rank
        if kind == "advice" and isinstance(a, AdviseAgainst):
            covered = kb.test_targets(a.test)
            if a.test == target or target in covered:
                return True
    return False


def why_missing(
    kb: Knowledge,
    obs: Observations,
    kind: str,
    target: str,
    urgency: Urgency | None = None,
) -> list[str]:
    """One line per rule that could have concluded ``target`` (of ``kind``: ``red_flag``,
    ``condition``, ``rule_out``, ``test`` at ``urgency`` or more urgent, ``advice``), naming
    the leaves that held, failed and were not recorded."""
    rules = [r for r in kb.rules if _concludes(r, kb, kind, target, urgency)]
    if not rules:
        at = f" at {urgency.value} or more urgent" if urgency is not None else ""
        return [f"no rule in this rule set concludes it{at}"]
    ev = Evaluator(kb, obs)
    ev.run()
    lines = []
    for rule in rules[:MAX_RULES]:
        truth = ev.truth(rule.when)
        state = {True: "fired", False: "blocked", None: "possible"}[truth]
        polarity: dict[int, bool] = {}
        _polarity(rule.when, True, polarity)
        groups: dict[str, list[str]] = {
            "held": [],
            "failed": [],
            "not recorded": [],
            "unknown": [],
        }
        for atom in rule.atoms:
            value = ev.truth(atom)
            text = atom.describe()
            if not polarity[atom.index]:
                text = f"not ({text})"
            if value is None:
                groups["not recorded" if isinstance(atom, Pred) else "unknown"].append(text)
            else:
                groups["held" if value is polarity[atom.index] else "failed"].append(text)
        parts = [f"{k}: {'; '.join(v)}" for k, v in groups.items() if v]
        where = f"{rule.file}:{rule.line}" if rule.line else rule.file
        lines.append(f"{state} {rule.id} ({where}): " + " | ".join(parts))
    if len(rules) > MAX_RULES:
        lines.append(f"and {len(rules) - MAX_RULES} more rules")
    return lines


def why_condition(engine: Engine, case: Case, condition: str) -> list[str]:
    """:func:`~painreason.explain.why_not` for a condition, one line per rule, then the
    smallest sets of findings whose recording would propose it."""
    w = why_not(case, condition, engine=engine, max_size=2)
    lines = []
    for check in w.rules[:MAX_RULES]:
        groups: dict[str, list[str]] = {}
        for leaf in check.leaves:
            groups.setdefault(leaf.status.replace("_", " "), []).append(leaf.needs)
        parts = [f"{k}: {'; '.join(v)}" for k, v in groups.items()]
        lines.append(f"{check.status} {check.rule} ({check.via}): " + " | ".join(parts))
    if len(w.rules) > MAX_RULES:
        lines.append(f"and {len(w.rules) - MAX_RULES} more rules")
    if not w.rules:
        lines.append("no rule in this rule set concludes it")
    if w.rule_out is not None:
        refuters = ", ".join(dict.fromkeys(s.rule for s in w.rule_out.steps))
        lines.append(f"ruled out by {refuters}")
    for fs in w.smallest[:3]:
        record = ", ".join(f"{k}: {v}" for k, v in fs.record.items())
        lines.append(f"recording {record} would propose it (via {', '.join(fs.rules)})")
    return lines
