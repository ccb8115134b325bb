"""Rule trees compiled for the fast python backend, and the literals that trigger them.

A compiled rule is a pair of functions over ``t``, a dict from global leaf id to the leaf's
known truth (a missing id is unknown):

- ``fire(t)``: the Kleene truth of the rule's condition (False or None), or, when it is
  true, its support: the frozenset of leaves on the paths that make it true, exactly as
  :meth:`painreason._reference.Evaluator.support` gives them;
- ``support(t, positive, out)``: adds to ``out`` the leaves on the paths that make the
  condition true (``positive``) or false.

``fire`` is generated as Python source, one straight-line function per rule, compiled the
first time the rule is evaluated; ``support`` (needed only for false facts) is a tree of
closures. Only integers (leaf ids, leaf indexes, ``k`` of ``at_least``) and fixed templates
go into that source; rule and finding ids never do (support tuples are bound as constants),
so a rule file cannot inject code. Should a tree be too big for Python's compiler, that
rule keeps closures with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._outcome import Support
from .loader import Knowledge
from .rules import All, AnyOf, FactRef, Node, Not, Pred, Rule

__all__ = [
    "FireFn",
    "Leaves",
    "Lit",
    "SupportFn",
    "Truth",
    "compile_rules",
    "negated_facts",
    "trigger",
    "triggers",
]

Truth = bool | None
Leaves = dict[int, bool]  # global leaf id -> truth; a missing id is unknown
Lit = tuple[int, bool]  # (global leaf id, the truth it must have)
TruthFn = Callable[[Leaves], Truth]
FireFn = Callable[[Leaves], "frozenset[Support] | bool | None"]
SupportFn = Callable[[Leaves, bool, set[Support]], None]


def compile_rules(
    rules: Sequence[Rule], gids: Sequence[tuple[int, ...]], generate: bool = True
) -> tuple[list[FireFn], list[SupportFn]]:
    """Fire and support functions of every rule; ``gids[i][j]`` is the global id of leaf
    ``j`` of rule ``i``. ``generate=False`` gives closures only (tests compare both).

    A rule's generated ``fire`` is compiled the first time the rule is evaluated (Python's
    compiler costs about 0.4 ms a rule, and most cases wake few rules): until then, and for
    a rule Python cannot compile, ``fire`` runs the closures. ``support`` serves false
    facts alone, which are rare, and stays a tree of closures.
    """
    fires: list[FireFn] = []
    supports: list[SupportFn] = []
    for rule, ids in zip(rules, gids, strict=True):
        truth, support = _closures(rule.when, rule.id, ids)
        fires.append(_fire(truth, support))
        supports.append(support)
    if generate:
        namespace = _constants(rules)
        for i in range(len(rules)):
            fires[i] = _on_first_call(i, rules[i], gids[i], fires, namespace)
    return fires, supports


def _on_first_call(
    i: int, rule: Rule, gids: tuple[int, ...], fires: list[FireFn], namespace: dict[str, Any]
) -> FireFn:
    fallback = fires[i]

    def first(t: Leaves) -> frozenset[Support] | bool | None:
        try:
            exec(compile(_source(i, rule, gids), f"<painreason rule {i}>", "exec"), namespace)
            fn: FireFn = namespace[f"f{i}"]
        except (SyntaxError, RecursionError, MemoryError, ValueError, OverflowError):
            fn = fallback  # too big for Python's compiler: keep the closures
        fires[i] = fn  # threads racing here store equal functions
        return fn(t)

    return first


def _fire(truth: TruthFn, support: SupportFn) -> FireFn:
    def fire(t: Leaves) -> frozenset[Support] | bool | None:
        v = truth(t)
        if v is not True:
            return v
        out: set[Support] = set()
        support(t, True, out)
        return frozenset(out)

    return fire


# --- generated source --------------------------------------------------------------------


def _constants(rules: Sequence[Rule]) -> dict[str, Any]:
    """Support tuples bound by name (``k<rule>_<leaf>_<0|1>``), so no id enters the source."""
    namespace: dict[str, Any] = {"__builtins__": {"set": set, "frozenset": frozenset}}
    for i, rule in enumerate(rules):
        for j in range(len(rule.atoms)):
            namespace[f"k{i}_{j}_0"] = (rule.id, j, False)
            namespace[f"k{i}_{j}_1"] = (rule.id, j, True)
    return namespace


class _Source:
    """Straight-line code computing every node's truth into a local variable."""

    def __init__(self, gids: tuple[int, ...]) -> None:
        self.gids = gids
        self.lines: list[str] = []
        self.names: dict[int, str] = {}  # id(node) -> variable
        self.count = 0

    def value(self, node: Node) -> str:
        if isinstance(node, Pred | FactRef):
            name = f"a{node.index}"
            self.lines.append(f"    {name} = g({int(self.gids[node.index])})")
        elif isinstance(node, Not):
            c = self.value(node.child)
            name = self._name()
            self.lines.append(f"    {name} = None if {c} is None else not {c}")
        else:
            cs = [self.value(child) for child in node.children]
            name = self._name()
            if isinstance(node, All):
                false = " or ".join(f"{c} is False" for c in cs)
                true = " and ".join(f"{c} is True" for c in cs)
                self.lines.append(f"    {name} = False if {false} else True if {true} else None")
            elif isinstance(node, AnyOf):
                true = " or ".join(f"{c} is True" for c in cs)
                false = " and ".join(f"{c} is False" for c in cs)
                self.lines.append(f"    {name} = True if {true} else False if {false} else None")
            else:
                k, n = int(node.k), len(cs)
                trues = " + ".join(f"({c} is True)" for c in cs)
                falses = " + ".join(f"({c} is False)" for c in cs)
                self.lines.append(
                    f"    {name} = True if {trues} >= {k} else "
                    f"False if {n} - ({falses}) < {k} else None"
                )
        self.names[id(node)] = name
        return name

    def _name(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def support(self, rule: int, node: Node, positive: bool, indent: str) -> None:
        if isinstance(node, Pred | FactRef):
            self.lines.append(f"{indent}add(k{rule}_{int(node.index)}_{int(positive)})")
        elif isinstance(node, Not):
            self.support(rule, node.child, not positive, indent)
        else:
            for child in node.children:
                self.lines.append(f"{indent}if {self.names[id(child)]} is {positive}:")
                self.support(rule, child, positive, indent + "    ")


def _source(i: int, rule: Rule, gids: tuple[int, ...]) -> str:
    src = _Source(gids)
    root = src.value(rule.when)
    body = src.lines
    src.lines = []
    src.support(i, rule.when, True, "        ")
    yes = src.lines
    lines = [f"def f{i}(t):", "    g = t.get", *body, f"    if {root} is not True:"]
    lines += [f"        return {root}", "    out = set()", "    add = out.add"]
    lines += [y[4:] for y in yes]
    lines += ["    return frozenset(out)"]
    return "\n".join(lines)


# --- closures (the fallback) -------------------------------------------------------------


def _closures(node: Node, rule: str, gids: tuple[int, ...]) -> tuple[TruthFn, SupportFn]:
    if isinstance(node, Pred | FactRef):
        g = gids[node.index]
        index = node.index

        def leaf(t: Leaves) -> Truth:
            return t.get(g)

        def leaf_support(t: Leaves, positive: bool, out: set[Support]) -> None:
            out.add((rule, index, positive))

        return leaf, leaf_support
    if isinstance(node, Not):
        child, child_support = _closures(node.child, rule, gids)

        def negate(t: Leaves) -> Truth:
            v = child(t)
            return None if v is None else not v

        def negate_support(t: Leaves, positive: bool, out: set[Support]) -> None:
            child_support(t, not positive, out)

        return negate, negate_support
    parts = [_closures(c, rule, gids) for c in node.children]
    truths = tuple(p[0] for p in parts)

    def support(t: Leaves, positive: bool, out: set[Support]) -> None:
        for truth, sub in parts:
            if truth(t) is positive:
                sub(t, positive, out)

    if isinstance(node, All):

        def all_of(t: Leaves) -> Truth:
            res: Truth = True
            for truth in truths:
                v = truth(t)
                if v is False:
                    return False
                if v is None:
                    res = None
            return res

        return all_of, support
    if isinstance(node, AnyOf):

        def any_of(t: Leaves) -> Truth:
            res: Truth = False
            for truth in truths:
                v = truth(t)
                if v is True:
                    return True
                if v is None:
                    res = None
            return res

        return any_of, support
    k, n = node.k, len(truths)

    def at_least(t: Leaves) -> Truth:
        trues = falses = 0
        for truth in truths:
            v = truth(t)
            if v is True:
                trues += 1
            elif v is False:
                falses += 1
        if trues >= k:
            return True
        if n - falses < k:
            return False
        return None

    return at_least, support


# --- triggers ----------------------------------------------------------------------------


def trigger(
    node: Node, positive: bool, gids: tuple[int, ...], cost: Callable[[Lit], int]
) -> frozenset[Lit]:
    """Literals one of which holds whenever ``node`` is true (``positive``) or false.

    A leaf is its own trigger; ``not x`` is true only when ``x`` is false. A node that needs
    ``need`` of its ``n`` children true (or false) is triggered by the union of the
    triggers of any ``n - need + 1`` of them (the cheapest are picked): all-true needs every
    child, so one child's trigger will do; any-true needs one, so all of them are needed;
    at-least-k-true needs k. The false cases mirror these.

    >>> from painreason.rules import All, Pred
    >>> a = Pred(0, "x", "present", None, None, None, ())
    >>> b = Pred(1, "y", "present", None, None, None, ())
    >>> sorted(trigger(All((a, b)), True, (10, 11), lambda lit: lit[0]))
    [(10, True)]
    >>> sorted(trigger(All((a, b)), False, (10, 11), lambda lit: lit[0]))
    [(10, False), (11, False)]
    """
    if isinstance(node, Pred | FactRef):
        return frozenset({(gids[node.index], positive)})
    if isinstance(node, Not):
        return trigger(node.child, not positive, gids, cost)
    n = len(node.children)
    if isinstance(node, All):
        need = n if positive else 1
    elif isinstance(node, AnyOf):
        need = 1 if positive else n
    else:
        need = node.k if positive else n - node.k + 1
    options = [trigger(c, positive, gids, cost) for c in node.children]
    if n - need + 1 < n:  # pick the cheapest; ties by the literals, for a stable choice
        options.sort(key=lambda lits: (sum(map(cost, lits)), sorted(lits)))
    return frozenset().union(*options[: n - need + 1])


def triggers(
    kb: Knowledge,
    gids: Sequence[tuple[int, ...]],
    readers: Mapping[str, int],
    fact_leaves: Mapping[str, Sequence[int]],
    negated: frozenset[str],
) -> tuple[dict[Lit, set[int]], dict[Lit, set[int]]]:
    """Which rules each literal wakes: ``hold[lit]`` may be true once ``lit`` holds,
    ``fail[lit]`` (rules deriving a negated fact) may be false.

    The cheaper the triggers, the fewer rules a case wakes. A finding literal costs the
    number of rules reading the finding (a proxy for how often it is recorded); a derived
    fact's literal costs what its rules' triggers cost, so a fact that nearly every case
    derives (e.g. "back or leg pain") is not picked over a specific finding.
    """
    cost: dict[Lit, int] = {}
    for rule, ids in zip(kb.rules, gids, strict=True):
        for atom, g in zip(rule.atoms, ids, strict=True):
            if isinstance(atom, Pred):
                cost[(g, True)] = cost[(g, False)] = 1 + readers[atom.finding]
    hold: dict[Lit, set[int]] = {}
    fail: dict[Lit, set[int]] = {}
    position = {r.id: i for i, r in enumerate(kb.rules)}
    done: set[int] = set()

    def plan(i: int) -> tuple[int, int]:
        rule = kb.rules[i]
        yes = trigger(rule.when, True, gids[i], cost.__getitem__)
        for lit in yes:
            hold.setdefault(lit, set()).add(i)
        no = trigger(rule.when, False, gids[i], cost.__getitem__)
        if any(f in negated for f in rule.derives):
            for lit in no:
                fail.setdefault(lit, set()).add(i)
        done.add(i)
        return sum(map(cost.__getitem__, yes)), sum(map(cost.__getitem__, no))

    for fact in kb.fact_order:  # facts a rule reads come before the facts it derives
        plans = [plan(position[r.id]) for r in kb.derivers.get(fact, ())]
        true_cost = 1 + sum(y for y, _ in plans) if plans else 1
        false_cost = 1 + min((n for _, n in plans), default=0)
        for g in fact_leaves[fact]:
            cost[(g, True)], cost[(g, False)] = true_cost, false_cost
    for i in range(len(kb.rules)):
        if i not in done:
            plan(i)
    return hold, fail


def negated_facts(kb: Knowledge) -> frozenset[str]:
    """Derived facts whose falsity can matter: read under negation by some rule, closed
    over the rules deriving them (a fact that can make such a rule false matters too).

    The reference evaluator lists every false fact; this backend, like the durable one,
    lists these (the Result never shows any other).
    """
    need: set[str] = set()
    todo: list[str] = []

    def walk(node: Node, positive: bool) -> None:
        if isinstance(node, FactRef):
            if not positive and node.fact not in need:
                need.add(node.fact)
                todo.append(node.fact)
        elif isinstance(node, Not):
            walk(node.child, not positive)
        elif not isinstance(node, Pred):
            for child in node.children:
                walk(child, positive)

    for rule in kb.rules:
        walk(rule.when, True)
    while todo:
        for rule in kb.derivers.get(todo.pop(), ()):
            walk(rule.when, False)
    return frozenset(need)
