"""Lint a rule pack: static analysis of rules and the derivation graph.

Loading (:func:`~painreason.load_knowledge`) already checks the schema and every reference.
Linting goes further and reports rules that can never fire, duplicate and subsumed rules,
rules that always contradict each other, and knowledge no rule uses. Every issue has a stable
code, a severity and a position; ``docs/lint.md`` lists each code with an example and the fix.

Loading problems are reported too (severity ``error``, with their codes from
``docs/errors.md``), and the analysis still runs on whatever loaded, so one run shows every
problem at once.

Examples
--------
>>> from painreason.lint import lint
>>> report = lint()                     # the bundled rules and knowledge
>>> report.ok                           # no errors
True
>>> sorted({i.severity for i in report.issues}) <= ["info", "warning"]
True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from ._lint_report import CODES, RANK, LintIssue, LintReport, Severity
from ._logic import Conflict, Lit, Reasoner, Term, TooLarge, dnf, iter_preds
from ._yaml import Loc
from .loader import Loaded, PathLike, load_partial
from .rules import Action, AdviseAgainst, Derive, Flag, Pred, Propose, Rule, RuleOut, Suggest
from .vocabulary import FindingKind, Urgency

__all__ = ["CODES", "LintIssue", "LintReport", "Severity", "lint", "lint_loaded"]

_NEVER = {
    "range": "impossible-threshold",
    "present-absent": "present-and-absent",
    "contradiction": "contradictory-condition",
    "dead-fact": "dead-fact",
}


def lint(rules: PathLike | None = None, knowledge: PathLike | None = None) -> LintReport:
    """Load a rule folder and a knowledge folder (bundled by default) and lint them.

    Never raises on bad content: loading problems become ``error`` issues.

    Parameters
    ----------
    rules, knowledge : path, optional
        Folders to read; ``None`` means the bundled ones.

    Returns
    -------
    LintReport

    Examples
    --------
    >>> report = lint("tests/data/broken_pack/rules", "tests/data/broken_pack/knowledge")
    >>> report.ok, report.count("error")
    (False, 8)
    >>> print(report.issues[0])  # doctest: +NORMALIZE_WHITESPACE
    tests/data/broken_pack/rules/broken.yaml:18:5: error: rule 'loop_one': derived facts form
    a cycle: loop_a -> loop_b -> loop_a (through rules loop_two, loop_one); none of them can
    ever be derived [derivation-cycle]
    """
    return lint_loaded(load_partial(rules, knowledge))


def lint_loaded(loaded: Loaded) -> LintReport:
    """Lint what :func:`painreason.loader.load_partial` returned."""
    kb = loaded.knowledge
    return LintReport(
        rules_dir=kb.rules_dir, knowledge_dir=kb.knowledge_dir, issues=_Linter(loaded).run()
    )


class _Linter:
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.kb = loaded.knowledge
        self.rules: tuple[Rule, ...] = _unique(self.kb.rules)
        self.order = {r.id: i for i, r in enumerate(self.rules)}
        self.issues: list[LintIssue] = []
        self.reasoner = Reasoner(self.kb.findings, iter_preds(r.when for r in self.rules))
        self.terms: dict[str, list[Term]] = {}  # rules whose condition was analysed
        self.dead: frozenset[str] = frozenset()
        self.live: set[str] = set()  # rules that can fire (or were not analysed)

    # -- positions -------------------------------------------------------------------------

    def at_rule(self, rule: Rule, loc: Loc | None = None) -> dict[str, Any]:
        doc = self.loaded.rule_docs.get(rule.file)
        if doc is None or loc is None:
            return {"file": rule.file, "line": rule.line, "col": rule.col}
        line, col = doc.position(loc)
        return {"file": rule.file, "line": line, "col": col}

    def at_entry(self, section: str, ident: str) -> dict[str, Any]:
        found = self.loaded.entries.get((section, ident))
        if found is None:
            return {"file": self.kb.knowledge_dir}
        doc, loc = found
        line, col = doc.position(loc)
        return {"file": doc.path, "line": line, "col": col}

    def ref(self, rule: Rule) -> str:
        return f"{rule.file}:{rule.line}: rule {rule.id!r}"

    def add(
        self,
        code: str,
        message: str,
        owner: str | None,
        where: Mapping[str, Any],
        related: Iterable[str] = (),
    ) -> None:
        self.issues.append(
            LintIssue(
                code=code,
                severity=CODES[code][0],
                message=message,
                owner=owner,
                related=tuple(related),
                **where,
            )
        )

    def flag_urgency(self, flag: Flag) -> Urgency:
        if flag.urgency is not None:
            return flag.urgency
        spec = self.kb.red_flags.get(flag.red_flag)
        return Urgency(spec.urgency) if spec is not None else Urgency.URGENT

    # -- passes ----------------------------------------------------------------------------

    def run(self) -> tuple[LintIssue, ...]:
        for p in self.loaded.problems:
            if p.code == "fact-cycle":
                continue  # reported below as derivation-cycle, with every rule on it
            self.issues.append(
                LintIssue(
                    code=p.code,
                    severity="error",
                    message=p.message
                    + (f" (did you mean {p.suggestion!r}?)" if p.suggestion else ""),
                    file=p.file,
                    line=p.line,
                    col=p.col,
                    owner=p.rule,
                )
            )
        self.normal_forms()
        self.cycles()
        self.derivable()
        self.never_fires()
        self.thresholds()
        self.redundancy()
        self.conflicts()
        self.unused()
        self.evidence_and_sources()
        return tuple(
            sorted(
                self.issues,
                key=lambda i: (RANK[i.severity], i.file or "", i.line or 0, i.col or 0, i.code),
            )
        )

    def normal_forms(self) -> None:
        for rule in self.rules:
            try:
                self.terms[rule.id] = dnf(rule.when)
            except (TooLarge, RecursionError):
                self.add(
                    "not-analysed",
                    "condition is too large to analyse (its normal form exceeds 4096 terms); "
                    "lint skips it",
                    f"rule {rule.id!r}",
                    self.at_rule(rule, (*rule.loc, "when")),
                )

    def cycles(self) -> None:
        graph: nx.DiGraph[str] = nx.DiGraph()
        for rule in self.rules:
            for src in rule.reads_facts:
                for dst in rule.derives:
                    if graph.has_edge(src, dst):
                        graph.edges[src, dst]["rules"].append(rule)
                    else:
                        graph.add_edge(src, dst, rules=[rule])
        for found in sorted(nx.simple_cycles(graph), key=lambda c: sorted(c))[:10]:
            start = found.index(min(found))
            cycle = [*found[start:], *found[:start]]
            edges = list(zip(cycle, [*cycle[1:], cycle[0]], strict=True))
            on_cycle = [graph.edges[e]["rules"][0] for e in edges]
            first = min(on_cycle, key=lambda r: (r.file, r.line or 0))
            chain = " -> ".join([*cycle, cycle[0]])
            names = ", ".join(dict.fromkeys(r.id for r in on_cycle))
            self.add(
                "derivation-cycle",
                f"derived facts form a cycle: {chain} (through rules {names}); none of them "
                "can ever be derived",
                f"rule {first.id!r}",
                self.at_rule(first, first.loc),
                [self.ref(r) for r in on_cycle if r is not first],
            )

    def derivable(self) -> None:
        derivers: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            for fact in rule.derives:
                derivers[fact].append(rule)
        facts = set(derivers) | {f for r in self.rules for f in r.reads_facts}
        can: set[str] = set()
        changed = True
        while changed:
            changed = False
            dead = frozenset(facts - can)
            for fact in sorted(dead):
                for rule in derivers.get(fact, ()):
                    terms = self.terms.get(rule.id)
                    if terms is None or self.reasoner.satisfiable(terms, dead):
                        can.add(fact)
                        changed = True
                        break
        self.dead = frozenset(facts - can)
        for rule in self.rules:
            terms = self.terms.get(rule.id)
            if terms is None or self.reasoner.satisfiable(terms, self.dead):
                self.live.add(rule.id)

    def never_fires(self) -> None:
        for rule in self.rules:
            if rule.id in self.live:
                continue
            conflicts = [self.reasoner.conflict(t, self.dead) for t in self.terms[rule.id]]
            first = next((c for c in conflicts if c is not None), None)
            if first is None:  # an empty normal form: cannot happen for a parsed tree
                continue
            code = _NEVER[first.kind]
            culprit = first.lits[-1]
            more = len(conflicts) - 1
            also = (
                f"; the {more} other way{'s' if more > 1 else ''} it could hold "
                f"{'are' if more > 1 else 'is'} impossible too"
                if more
                else ""
            )
            self.add(
                code,
                f"can never fire: {self.explain(first)}{also}",
                f"rule {rule.id!r}",
                self.at_rule(rule, culprit.atom.loc),
            )

    def explain(self, conflict: Conflict) -> str:
        lits = conflict.lits
        if conflict.kind == "range":
            lit = lits[0]
            f = self.kb.findings[lit.finding or ""]
            what = "holds" if not lit.positive else "never holds"
            when = "whenever it is recorded" if not lit.positive else "on any accepted value"
            return f"{lit.atom.describe()} {what} {when} ({_plausible(f)})"
        if conflict.kind == "dead-fact":
            fact = lits[0].fact
            return f"it needs derived fact {fact!r}, which no rule can derive"
        if conflict.kind == "present-absent":
            finding = lits[0].finding
            return f"it needs {finding!r} both present and absent ({_join(lits)})"
        return f"these cannot all hold at once: {_join(lits)}"

    def thresholds(self) -> None:
        reported = {
            (i.file, i.line, i.col) for i in self.issues if i.code == "impossible-threshold"
        }
        for rule in self.rules:
            for atom in rule.atoms:
                if not isinstance(atom, Pred):
                    continue
                f = self.kb.findings.get(atom.finding)
                if f is None or f.kind not in (FindingKind.NUMERIC, FindingKind.ORDINAL):
                    continue
                lo, hi = f.bounds or (float("-inf"), float("inf"))
                values = atom.value if isinstance(atom.value, tuple) else (atom.value,)
                if not any(isinstance(v, float) and not lo <= v <= hi for v in values):
                    continue
                lit = Lit(atom.finding, None, atom.op, atom.value, None, None, True, atom)
                constant = self.reasoner.constant(lit)
                where = self.at_rule(rule, atom.loc)
                if constant is None or (where["file"], where["line"], where["col"]) in reported:
                    continue
                self.add(
                    "threshold-out-of-range",
                    f"{atom.describe()} {'always' if constant else 'never'} holds when "
                    f"{atom.finding!r} is recorded: the threshold is outside {_plausible(f)}",
                    f"rule {rule.id!r}",
                    where,
                )

    def redundancy(self) -> None:
        live = [r for r in self.rules if r.id in self.live and r.id in self.terms]
        by_target: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        for rule in live:
            for action in rule.actions:
                by_target[_target(action)].append(rule)
        duplicates: set[str] = set()
        for b in live:
            keys = [_target(a) for a in b.actions]
            candidates = set.intersection(*(set(by_target[k]) for k in keys)) - {b}
            covering = [
                a
                for a in sorted(candidates, key=lambda r: self.order[r.id])
                if _dominated(b.actions, a.actions, self.flag_urgency)
                and self.reasoner.implies(self.terms[b.id], self.terms[a.id], self.dead)
            ]
            twins = [
                a
                for a in covering
                if _dominated(a.actions, b.actions, self.flag_urgency)
                and self.reasoner.implies(self.terms[a.id], self.terms[b.id], self.dead)
            ]
            earlier = [a for a in twins if self.order[a.id] < self.order[b.id]]
            if earlier:
                duplicates.add(b.id)
                self.add(
                    "duplicate-rule",
                    f"duplicates rule {earlier[0].id!r}: equivalent condition and conclusions",
                    f"rule {b.id!r}",
                    self.at_rule(b, b.loc),
                    [self.ref(a) for a in earlier],
                )
                continue
            others = [a for a in covering if a not in twins and a.id not in duplicates]
            if others and not twins:
                names = ", ".join(repr(a.id) for a in others)
                self.add(
                    "subsumed-rule",
                    f"whenever it fires, rule{'s' if len(others) > 1 else ''} {names} "
                    f"fire{'' if len(others) > 1 else 's'} too with the same or stronger "
                    "conclusions: this rule adds none of its own",
                    f"rule {b.id!r}",
                    self.at_rule(b, b.loc),
                    [self.ref(a) for a in others],
                )

    def conflicts(self) -> None:
        proposers: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            if rule.id in self.live and rule.id in self.terms:
                for action in rule.actions:
                    if isinstance(action, Propose):
                        proposers[action.condition].append(rule)
        for b in self.rules:
            if b.id not in self.live or b.id not in self.terms:
                continue
            for action in b.actions:
                if not isinstance(action, RuleOut):
                    continue
                cond = action.condition
                whys: list[tuple[Rule, str]] = []
                for a in proposers.get(cond, ()):
                    if a is b:
                        why = "it proposes the condition itself: it is always contested"
                    elif self.reasoner.implies(self.terms[b.id], self.terms[a.id], self.dead):
                        why = (
                            f"whenever it fires, rule {a.id!r} proposes it: it is contested, "
                            "never ruled out"
                        )
                    elif self.reasoner.implies(self.terms[a.id], self.terms[b.id], self.dead):
                        why = (
                            f"whenever rule {a.id!r} proposes it, this rule fires too: that "
                            "proposal is always contested"
                        )
                    else:
                        continue
                    whys.append((a, why))
                if whys:
                    more = f" (and {len(whys) - 1} more such rules)" if len(whys) > 1 else ""
                    self.add(
                        "conflicting-rules",
                        f"rules out {cond!r}, but {whys[0][1]}{more}",
                        f"rule {b.id!r}",
                        self.at_rule(b, (*action.loc, "condition")),
                        [self.ref(a) for a, _ in whys if a is not b],
                    )

    def unused(self) -> None:
        kb = self.kb
        doers: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        for rule in self.rules:
            for action in rule.actions:
                doers[_target(action)].append(rule)

        def check(section: str, kind: str, ids: Iterable[str], code: str, verb: str) -> None:
            for ident in sorted(ids):
                rules = doers.get((kind, ident), [])
                if any(r.id in self.live for r in rules):
                    continue
                if rules:
                    names = ", ".join(repr(r.id) for r in rules)
                    why = f"only rules that can never fire {verb} it ({names})"
                else:
                    why = f"no rule {verb}s it"
                self.add(
                    code,
                    why,
                    f"{section[:-1].replace('_', ' ')} {ident!r}",
                    self.at_entry(section, ident),
                    [self.ref(r) for r in rules],
                )

        check("conditions", "propose", kb.conditions, "unproposed-condition", "propose")
        check("red_flags", "flag", kb.red_flags, "unraised-red-flag", "raise")
        check("tests", "suggest", kb.tests, "unsuggested-test", "suggest")
        read = {f for r in self.rules for f in r.reads_findings}
        for fid in sorted(set(kb.findings) - read):
            self.add(
                "unread-finding",
                "no rule reads this finding",
                f"finding {fid!r}",
                self.at_entry("findings", fid),
            )
        read_facts = {f for r in self.rules for f in r.reads_facts}
        for fact in sorted(kb.facts.values(), key=lambda f: (f.file, f.id)):
            if fact.id in read_facts:
                continue
            doc = self.loaded.rule_docs.get(fact.file)
            line, col = doc.position(fact.loc) if doc is not None else (None, None)
            self.add(
                "unread-fact",
                "no rule reads this derived fact (it only shows in results)",
                f"fact {fact.id!r}",
                {"file": fact.file, "line": line, "col": col},
            )

    def evidence_and_sources(self) -> None:
        kb = self.kb
        cited = {s for r in self.rules for s in r.sources} | {
            e.source for r in self.rules for e in r.evidence
        }
        for key in sorted(set(kb.sources) - cited):
            self.add(
                "uncited-source",
                "no rule or evidence item cites this source",
                f"source {key!r}",
                self.at_entry("sources", key),
            )
        reads = self.findings_behind()
        for rule in self.rules:
            for ev in rule.evidence:
                if ev.about in kb.findings and ev.about not in reads[rule.id]:
                    self.add(
                        "evidence-not-read",
                        f"evidence is about finding {ev.about!r}, which this rule does not "
                        "read (directly or through the facts it reads)",
                        f"rule {rule.id!r}",
                        self.at_rule(rule, (*ev.loc, "about")),
                    )
            known = [kb.sources[s] for s in rule.sources if s in kb.sources]
            if known and not any(s.verified for s in known):
                self.add(
                    "unverified-sources-only",
                    "every source this rule cites is marked verified: false (read only "
                    "through a secondary summary)",
                    f"rule {rule.id!r}",
                    self.at_rule(rule, (*rule.loc, "sources")),
                )

    def findings_behind(self) -> dict[str, set[str]]:
        """For each rule, the findings it reads directly or through derived facts."""
        derivers: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            for fact in rule.derives:
                derivers[fact].append(rule)
        memo: dict[str, set[str]] = {}

        def behind(rule: Rule, seen: frozenset[str]) -> set[str]:
            if rule.id in memo:
                return memo[rule.id]
            out = set(rule.reads_findings)
            for fact in rule.reads_facts:
                for other in derivers.get(fact, ()):
                    if other.id not in seen:
                        out |= behind(other, seen | {other.id})
            memo[rule.id] = out
            return out

        return {r.id: behind(r, frozenset({r.id})) for r in self.rules}


def _unique(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    seen: set[str] = set()
    out = []
    for rule in rules:
        if rule.id not in seen:  # a duplicate id is a loading error; analyse the first
            seen.add(rule.id)
            out.append(rule)
    return tuple(out)


def _target(action: Action) -> tuple[str, str]:
    if isinstance(action, Derive):
        return ("derive", action.fact)
    if isinstance(action, Propose):
        return ("propose", action.condition)
    if isinstance(action, RuleOut):
        return ("rule_out", action.condition)
    if isinstance(action, Flag):
        return ("flag", action.red_flag)
    if isinstance(action, Suggest):
        return ("suggest", action.test)
    assert isinstance(action, AdviseAgainst)
    return ("advise_against", action.test)


_STRENGTH = {"low": 0, "moderate": 1, "high": 2}


def _covers(a: Action, b: Action, flag_urgency: Callable[[Flag], Urgency]) -> bool:
    """Whether action ``a`` concludes at least what ``b`` does."""
    if _target(a) != _target(b):
        return False
    if isinstance(a, Propose) and isinstance(b, Propose):
        return _STRENGTH[a.strength] >= _STRENGTH[b.strength]
    if isinstance(a, Suggest) and isinstance(b, Suggest):
        return a.urgency.rank <= b.urgency.rank
    if isinstance(a, Flag) and isinstance(b, Flag):
        ua, ub = flag_urgency(a), flag_urgency(b)
        return ua.rank <= ub.rank
    return True


def _dominated(
    actions: Sequence[Action], by: Sequence[Action], flag_urgency: Callable[[Flag], Urgency]
) -> bool:
    return all(any(_covers(a, b, flag_urgency) for a in by) for b in actions)


def _plausible(f: Any) -> str:
    if f.bounds is None:
        return f"the values of {f.id!r} are {', '.join(map(str, f.values or ()))}"
    lo, hi = f.bounds
    unit = f" {f.unit}" if f.unit else ""
    return f"[{lo:g}, {hi:g}]{unit}, the plausible range of {f.id!r}"


def _join(lits: Sequence[Lit]) -> str:
    return "; ".join(dict.fromkeys(x.describe() for x in lits))
