"""Rule trees compiled for the fast python backend, and the literals that trigger them.

A compiled rule is three functions over ``t``, a dict from global leaf id to the leaf's
known truth (a missing id is unknown):

- ``fire(t)``: when the rule's condition is true, its support: the frozenset of leaves on
  the paths that make it true, exactly as :meth:`painreason._reference.Evaluator.support`
  gives them; else None (unknown and false are not told apart, so it can stop early). The
  generated version returns the same frozenset object for equal supports (the Result's
  caches then find it by identity, its hash computed once);
- ``false(t)``: whether the condition is known false;
- ``support(t, positive, out)``: adds to ``out`` the leaves on the paths that make the
  condition true (``positive``) or false.

``fire`` is generated as Python source, one straight-line function per rule, compiled the
first time the rule is evaluated, and so is ``false``; ``support`` (needed only for false
facts) is a tree of closures. Only integers (leaf ids, leaf indexes, ``k`` of ``at_least``)
and fixed templates go into that source; rule and finding ids never do (support tuples are
bound as constants), so a rule file cannot inject code. Should a tree be too big for
Python's compiler, that rule keeps closures with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._outcome import Support
from .loader import Knowledge
from .rules import All, AnyOf, FactRef, Node, Not, Pred, Rule

__all__ = [
    "CompiledRules",
    "FalseFn",
    "FireFn",
    "Leaves",
    "Lit",
    "SupportFn",
    "Truth",
    "compile_rules",
    "needed_literals",
    "negated_facts",
    "trigger",
    "triggers",
]

Truth = bool | None
Leaves = dict[int, bool]  # global leaf id -> truth; a missing id is unknown
Lit = tuple[int, bool]  # (global leaf id, the truth it must have)
TruthFn = Callable[[Leaves], Truth]
FireFn = Callable[[Leaves], "frozenset[Support] | None"]
FalseFn = Callable[[Leaves], bool]
SupportFn = Callable[[Leaves, bool, set[Support]], None]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Per rule ``i``: ``fire[i]``, ``false[i]`` and ``support[i]`` (see the module doc)."""

    fire: list[FireFn]
    false: list[FalseFn]
    support: list[SupportFn]


def compile_rules(
    rules: Sequence[Rule],
    gids: Sequence[tuple[int, ...]],
    cost: Callable[[int], int] = lambda g: 0,
    generate: bool = True,
) -> CompiledRules:
    """Compile every rule; ``gids[i][j]`` is the global id of leaf ``j`` of rule ``i``, and
    ``cost(g)`` how often leaf ``g`` is likely known (cheaper leaves are tested first).
    ``generate=False`` gives closures only (tests compare both).

    A rule's generated functions are compiled the first time they are called (Python's
    compiler costs about 0.4 ms a rule, and a case wakes few rules): until then, and for a
    rule Python cannot compile, they run the closures.
    """
    fires: list[FireFn] = []
    falses: list[FalseFn] = []
    supports: list[SupportFn] = []
    for rule, ids in zip(rules, gids, strict=True):
        truth, support = _closures(rule.when, rule.id, ids)
        fires.append(_fire(truth, support))
        falses.append(_false(truth))
        supports.append(support)
    if generate:
        namespace = _constants(rules)
        for i in range(len(rules)):
            fires[i] = _lazy(fires, i, _Source(i, rules[i], gids[i], cost).fire, namespace)
            falses[i] = _lazy(falses, i, _Source(i, rules[i], gids[i], cost).false, namespace)
    return CompiledRules(fires, falses, supports)


def _lazy(
    table: list[Any],
    i: int,
    source: Callable[[], tuple[str, str, dict[str, Any]]],
    namespace: dict[str, Any],
) -> Any:
    """A stand-in for ``table[i]`` that compiles its generated version on the first call."""
    fallback = table[i]

    def first(t: Leaves) -> Any:
        try:
            name, text, constants = source()
            namespace.update(constants)
            exec(compile(text, f"<painreason rule {i}>", "exec"), namespace)
            fn = namespace[name]
        except (SyntaxError, RecursionError, MemoryError, ValueError, OverflowError):
            fn = fallback  # too big for Python's compiler: keep the closures
        table[i] = fn  # threads racing here store equal functions
        return fn(t)

    return first


def _fire(truth: TruthFn, support: SupportFn) -> FireFn:
    def fire(t: Leaves) -> frozenset[Support] | None:
        if truth(t) is not True:
            return None
        out: set[Support] = set()
        support(t, True, out)
        return frozenset(out)

    return fire


def _false(truth: TruthFn) -> FalseFn:
    def false(t: Leaves) -> bool:
        return truth(t) is False

    return false


# --- generated source --------------------------------------------------------------------


def _constants(rules: Sequence[Rule]) -> dict[str, Any]:
    """Support tuples bound by name (``k<rule>_<leaf>_<0|1>``), so no id enters the source."""
    namespace: dict[str, Any] = {"__builtins__": {"set": set, "frozenset": frozenset}}
    for i, rule in enumerate(rules):
        for j in range(len(rule.atoms)):
            namespace[f"k{i}_{j}_0"] = (rule.id, j, False)
            namespace[f"k{i}_{j}_1"] = (rule.id, j, True)
    return namespace


def _literal(node: Node) -> tuple[Pred | FactRef, bool] | None:
    """``node`` as (leaf, polarity) when it is a leaf or a negated leaf."""
    if isinstance(node, Pred | FactRef):
        return node, True
    if isinstance(node, Not) and isinstance(node.child, Pred | FactRef):
        return node.child, False
    return None


class _Source:
    """Python source for one rule: straight-line code, a local variable per node."""

    def __init__(
        self, i: int, rule: Rule, gids: tuple[int, ...], cost: Callable[[int], int]
    ) -> None:
        self.i = i
        self.rule = rule
        self.gids = gids
        self.cost = cost
        self.lines: list[str] = []
        self.names: dict[int, str] = {}  # id(node) -> variable
        self.count = 0
        self.extra: dict[str, Any] = {}

    def fire(self) -> tuple[str, str, dict[str, Any]]:
        """``f<i>(t)``: the support of the rule when its condition is true, else None.

        A condition that is ``all`` of parts stops at the first part that is not true (the
        likeliest to be unknown first: leaves before subtrees, rarer findings first); when
        every part is a leaf or a negated leaf the support is one constant frozenset.
        Other conditions are computed whole.
        """
        i, root = self.i, self.rule.when
        self.lines = [f"def f{i}(t):", "    g = t.get"]
        parts = self._parts(root)
        for child in parts:
            lit = _literal(child)
            name, want = (self.value(lit[0]), lit[1]) if lit else (self.value(child), True)
            self.lines += [f"    if {name} is not {want}:", "        return None"]
        if all(_literal(c) for c in parts):
            constant = f"c{i}"
            self.lines.append(f"    return {constant}")
            self.extra = {constant: frozenset(self._leaves(parts))}
        else:
            # the support as bits (leaf j holding: bit 2j+1, known false: bit 2j), then one
            # frozenset per distinct support: the Result's caches find it by identity
            self.lines.append("    m = 0")
            for child in parts:  # each part is true: no guard needed at this level
                self.support(child, True, "    ", bits=True)
            self.lines += [f"    s = s{i}.get(m)", f"    return s if s is not None else m{i}(m)"]
            self.extra = dict(zip((f"s{i}", f"m{i}"), _interned(self.rule.id), strict=True))
        return self._done(f"f{i}")

    def false(self) -> tuple[str, str, dict[str, Any]]:
        """``x<i>(t)``: whether the condition is known false (``all``: any part false)."""
        i, root = self.i, self.rule.when
        self.lines = [f"def x{i}(t):", "    g = t.get"]
        if isinstance(root, All):
            for child in self._parts(root):
                lit = _literal(child)
                name, want = (self.value(lit[0]), not lit[1]) if lit else (self.value(child), False)
                self.lines += [f"    if {name} is {want}:", "        return True"]
            self.lines.append("    return False")
        else:
            self.lines.append(f"    return {self.value(root)} is False")
        return self._done(f"x{i}")

    def _done(self, name: str) -> tuple[str, str, dict[str, Any]]:
        return name, "\n".join(self.lines), self.extra

    def _parts(self, root: Node) -> list[Node]:
        if not isinstance(root, All):
            return [root]

        def order(node: Node) -> tuple[int, int]:
            lit = _literal(node)
            return (0, self.cost(self.gids[lit[0].index])) if lit else (1, 0)

        return sorted(root.children, key=order)

    def _leaves(self, parts: list[Node]) -> list[Support]:
        out = []
        for part in parts:
            lit = _literal(part)
            assert lit is not None
            out.append((self.rule.id, lit[0].index, lit[1]))
        return out

    def value(self, node: Node) -> str:
        if isinstance(node, Pred | FactRef):
            name = f"a{int(node.index)}"
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

    def support(self, node: Node, positive: bool, indent: str, bits: bool = False) -> None:
        if isinstance(node, Pred | FactRef):
            if bits:
                self.lines.append(f"{indent}m |= {1 << (2 * int(node.index) + int(positive))}")
            else:
                self.lines.append(f"{indent}add(k{self.i}_{int(node.index)}_{int(positive)})")
        elif isinstance(node, Not):
            self.support(node.child, not positive, indent, bits)
        else:
            for child in node.children:
                self.lines.append(f"{indent}if {self.names[id(child)]} is {positive}:")
                self.support(child, positive, indent + "    ", bits)


SUPPORTS_PER_RULE = 1_024


def _interned(rule: str) -> tuple[dict[int, frozenset[Support]], Callable[[int], Any]]:
    """A rule's supports by their bits, and the function that makes a new one (kept while
    the rule has fewer than ``SUPPORTS_PER_RULE``: memory stays bounded)."""
    known: dict[int, frozenset[Support]] = {}

    def make(m: int) -> frozenset[Support]:
        items = []
        rest, bit = m, 0
        while rest:
            if rest & 1:
                items.append((rule, bit >> 1, bool(bit & 1)))
            rest >>= 1
            bit += 1
        support = frozenset(items)
        if len(known) < SUPPORTS_PER_RULE:
            known[m] = support
        return support

    return known, make


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


def needed_literals(
    rules: Sequence[Rule], gids: Sequence[tuple[int, ...]], falsity: set[int]
) -> frozenset[Lit]:
    """The leaf truths worth storing for a case: whether a condition is *true* depends
    only on its leaves under an even number of ``not`` being true and those under an odd
    number being false (All, any and at-least-k are monotone), so the other truth of each
    leaf is dropped, except in ``falsity`` rules (those deriving a fact whose falsity
    matters), which keep both. Fewer truths to merge per case, same outcome.
    """
    out: set[Lit] = set()

    def walk(node: Node, positive: bool, ids: tuple[int, ...]) -> None:
        if isinstance(node, Pred | FactRef):
            out.add((ids[node.index], positive))
        elif isinstance(node, Not):
            walk(node.child, not positive, ids)
        else:
            for child in node.children:
                walk(child, positive, ids)

    for i, (rule, ids) in enumerate(zip(rules, gids, strict=True)):
        if i in falsity:
            out.update((g, v) for g in ids for v in (True, False))
        else:
            walk(rule.when, True, ids)
    return frozenset(out)
