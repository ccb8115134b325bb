"""Seeded synthetic rule sets shaped like the clinical ones, matching cases, and the
hand-written plain-Python evaluation of the same rules (the speed of light).

A rule set of ``n`` rules has ``n // 2`` findings (70 % boolean, 20 % numeric with four
cut-offs each, 10 % categorical; a few findings are read by many rules, as "low back pain"
is), ``n // 10``
derived facts with about two deriving rules each (a fact's rules may read earlier facts), and
conclusion rules: ``all`` of two to four parts, a part being a finding test, an ``any`` or an
``at_least`` of finding tests, a derived fact or a negated derived fact; actions propose or
rule out conditions, raise red flags and suggest tests.

A case satisfies two random conclusion rules (so rules fire) and records four to eight more
findings at random, about ten findings in all, as the golden cases do.

The hand-written evaluation is what a developer would write without a rule engine: one
straight-line Python function per rule set, ``f.get(...)`` tests in Kleene logic (an
unrecorded finding is unknown, never absent), derived facts in dependency order, then the
conclusions of the rules that fired. It keeps no trace. It is generated as source text from
the same rule dicts the engine loads, so both evaluate exactly the same rules.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

Rule = dict[str, Any]
URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}


class RuleSet:
    """A synthetic rule set: rule and knowledge files as dicts, and case generation."""

    def __init__(self, n_rules: int, seed: int = 0) -> None:
        self.rng = rng = random.Random(seed * 1_000_003 + n_rules)
        n_findings = max(40, n_rules // 2)
        self.findings: list[dict[str, Any]] = []
        for i in range(n_findings):
            roll = rng.random()
            if roll < 0.7:
                f: dict[str, Any] = {"id": f"b{i}", "kind": "boolean", "section": "history"}
            elif roll < 0.9:
                f = {"id": f"n{i}", "kind": "numeric", "section": "vital_signs", "unit": "/min"}
                f["range"] = [0, 200]
            else:
                f = {"id": f"c{i}", "kind": "categorical", "section": "history"}
                f["values"] = ["v0", "v1", "v2", "v3"]
            self.findings.append(f)
        self.cuts = {
            f["id"]: sorted(rng.sample(range(20, 181, 5), 4))
            for f in self.findings
            if f["kind"] == "numeric"
        }
        # popularity: a few findings are read by many rules
        self.weights = [1.0 / (1 + i) ** 0.8 for i in range(n_findings)]
        rng.shuffle(self.weights)
        self.conditions = [f"k{i}" for i in range(max(5, n_rules // 5))]
        self.red_flags = [f"r{i}" for i in range(10)]
        self.tests = [f"t{i}" for i in range(30)]
        n_facts = max(2, n_rules // 10)
        self.facts = [f"f{i}" for i in range(n_facts)]
        self.rules: list[Rule] = []
        self.derivers: dict[str, list[Rule]] = {f: [] for f in self.facts}
        for k, fact in enumerate(self.facts):
            for j in range(1 + (rng.random() < 0.6) + (rng.random() < 0.3)):
                if len(self.rules) >= n_rules:
                    break
                rule = {
                    "id": f"d{k}_{j}",
                    "title": "derive",
                    "sources": ["s0"],
                    "when": self._root(k),
                    "then": [{"derive": fact}],
                }
                self.rules.append(rule)
                self.derivers[fact].append(rule)
        self.facts = [f for f in self.facts if self.derivers[f]]
        self.conclusions: list[Rule] = []
        i = 0
        while len(self.rules) < n_rules:
            rule = {
                "id": f"c_{i}",
                "title": "conclude",
                "sources": ["s0"],
                "when": self._root(len(self.facts)),
                "then": self._actions(),
            }
            self.rules.append(rule)
            self.conclusions.append(rule)
            i += 1

    # -- rules ------------------------------------------------------------------------------

    def _finding(self) -> dict[str, Any]:
        return self.rng.choices(self.findings, weights=self.weights)[0]

    def _leaf(self) -> dict[str, Any]:
        rng, f = self.rng, self._finding()
        if f["kind"] == "boolean":
            return {"present": f["id"]} if rng.random() < 0.8 else {"absent": f["id"]}
        if f["kind"] == "numeric":
            cuts = self.cuts[f["id"]]  # a few cut-offs per finding, as clinical rules use
            op = rng.choice(["gt", "lt", "between"])
            if op == "between":
                lo, hi = sorted(rng.sample(cuts, 2))
                return {"finding": f["id"], "between": [lo, hi]}
            return {"finding": f["id"], op: rng.choice(cuts)}
        if rng.random() < 0.7:
            return {"finding": f["id"], "eq": rng.choice(f["values"])}
        return {"finding": f["id"], "in": rng.sample(f["values"], 2)}

    def _part(self, facts: int) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if facts and roll < 0.12:
            return {"derived": self.facts[rng.randrange(facts)]}
        if facts and roll < 0.16:
            return {"not": {"derived": self.facts[rng.randrange(facts)]}}
        if roll < 0.31:
            return {"any": [self._leaf() for _ in range(rng.randint(2, 3))]}
        if roll < 0.39:
            return {"at_least": {"k": 2, "of": [self._leaf() for _ in range(3)]}}
        return self._leaf()

    def _root(self, facts: int) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.15:
            return self._leaf()
        parts = [self._part(facts) for _ in range(rng.randint(2, 4))]
        if all("derived" in p or "not" in p for p in parts):
            parts.append(self._leaf())  # every rule reads a finding
        return {"all": parts}

    def _actions(self) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 2)):
            roll = rng.random()
            if roll < 0.5:
                strength = rng.choice(["low", "moderate", "high"])
                out.append(
                    {"propose": {"condition": rng.choice(self.conditions), "strength": strength}}
                )
            elif roll < 0.6:
                out.append({"rule_out": {"condition": rng.choice(self.conditions)}})
            elif roll < 0.7:
                out.append({"flag": {"red_flag": rng.choice(self.red_flags)}})
            else:
                urgency = rng.choice(["emergency", "urgent", "routine"])
                test = rng.choice(self.tests)
                out.append({"suggest": {"test": test, "urgency": urgency, "rationale": "s"}})
        return out

    # -- files ------------------------------------------------------------------------------

    def rule_file(self) -> dict[str, Any]:
        facts = [{"id": f, "label": f.upper(), "definition": "synthetic"} for f in self.facts]
        return {"facts": facts, "rules": self.rules}

    def knowledge_file(self) -> dict[str, Any]:
        return {
            "findings": [
                {"label": f["id"].upper(), "definition": "synthetic", **f} for f in self.findings
            ],
            "conditions": [
                {
                    "id": c,
                    "label": c.upper(),
                    "region": "lumbar",
                    "category": "specific",
                    "description": "synthetic",
                }
                for c in self.conditions
            ],
            "red_flags": [
                {"id": r, "label": r.upper(), "urgency": "urgent", "description": "s"}
                for r in self.red_flags
            ],
            "tests": [
                {"id": t, "label": t.upper(), "kind": "imaging", "description": "s"}
                for t in self.tests
            ],
            "sources": [{"key": "s0", "citation": "synthetic", "kind": "study"}],
        }

    def write(self, root: Path) -> tuple[Path, Path]:
        """Write the rule and knowledge folders under ``root``; return them."""
        rules, knowledge = root / "rules", root / "knowledge"
        rules.mkdir(parents=True, exist_ok=True)
        knowledge.mkdir(parents=True, exist_ok=True)
        whole = self.rule_file()
        for k in range(0, len(self.rules), 100):  # the loader caps values per file
            part = {"rules": whole["rules"][k : k + 100]}
            if k == 0:
                part["facts"] = whole["facts"]
            (rules / f"synthetic_{k // 100:03d}.json").write_text(json.dumps(part, indent=1))
        know = self.knowledge_file()
        findings = know.pop("findings")
        (knowledge / "synthetic.json").write_text(json.dumps(know, indent=1))
        for k in range(0, len(findings), 500):  # as for rules: the loader caps values per file
            part = {"findings": findings[k : k + 500]}
            (knowledge / f"findings_{k // 500:03d}.json").write_text(json.dumps(part, indent=1))
        return rules, knowledge

    # -- cases ------------------------------------------------------------------------------

    def cases(self, n: int, seed: int = 1, noise: tuple[int, int] = (4, 8)) -> list[dict[str, Any]]:
        """``n`` cases, each satisfying two random conclusion rules, plus ``noise`` (a range)
        more findings at random."""
        rng = random.Random(seed)
        out = []
        for i in range(n):
            found: dict[str, Any] = {}
            for rule in rng.sample(self.conclusions, 2):
                self._satisfy(rule["when"], found, rng)
            for _ in range(rng.randint(*noise)):
                f = rng.choice(self.findings)
                if f["id"] not in found:
                    found[f["id"]] = self._random_value(f, rng)
            out.append({"id": f"case{i}", "findings": found})
        return out

    def _random_value(self, f: dict[str, Any], rng: random.Random) -> Any:
        if f["kind"] == "boolean":
            return "present" if rng.random() < 0.4 else "absent"
        if f["kind"] == "numeric":
            return rng.randrange(0, 201)
        return rng.choice(f["values"])

    def _satisfy(self, node: dict[str, Any], found: dict[str, Any], rng: random.Random) -> None:
        if "all" in node:
            for child in node["all"]:
                self._satisfy(child, found, rng)
        elif "any" in node:
            self._satisfy(rng.choice(node["any"]), found, rng)
        elif "at_least" in node:
            spec = node["at_least"]
            for child in rng.sample(spec["of"], spec["k"]):
                self._satisfy(child, found, rng)
        elif "present" in node:
            found[node["present"]] = "present"
        elif "absent" in node:
            found[node["absent"]] = "absent"
        elif "derived" in node:
            self._satisfy(rng.choice(self.derivers[node["derived"]])["when"], found, rng)
        elif "not" in node:
            pass  # a negated fact is left to chance
        else:
            fid = node["finding"]
            if "gt" in node:
                found[fid] = min(200, node["gt"] + rng.randint(1, 15))
            elif "lt" in node:
                found[fid] = max(0, node["lt"] - rng.randint(1, 15))
            elif "between" in node:
                lo, hi = node["between"]
                found[fid] = rng.randint(lo, hi)
            elif "eq" in node:
                found[fid] = node["eq"]
            else:
                found[fid] = node["in"][0]

    # -- the hand-written evaluation --------------------------------------------------------

    def handwritten(self) -> Callable[[dict[str, Any]], tuple[list[str], list[str], Any]]:
        """``evaluate(findings) -> (fired rule ids, derived facts, conclusions)``.

        ``conclusions`` is (red flags, proposed conditions, ruled-out conditions, tests with
        the most urgent urgency asked): what the rules say, without a trace.
        """
        lines = [
            "def evaluate(f):",
            "    g = f.get",
            "    fired = []",
            "    facts = []",
        ]
        for fact in self.facts:
            derivers = self.derivers[fact]
            for rule in derivers:
                lines.append(f"    {_var(rule)} = {_true(rule['when'])}")
                lines.append(f"    if {_var(rule)}: fired.append({rule['id']!r})")
            true = " or ".join(_var(r) for r in derivers)
            false = " and ".join(f"({_false(r['when'])})" for r in derivers)
            lines.append(f"    {_var(fact)} = True if {true} else False if {false} else None")
            lines.append(f"    if {_var(fact)}: facts.append({fact!r})")
        for rule in self.conclusions:
            lines.append(f"    if {_true(rule['when'])}: fired.append({rule['id']!r})")
        lines += ["    return fired, facts, conclude(fired)"]
        actions = {r["id"]: r["then"] for r in self.rules}

        def conclude(fired: list[str]) -> Any:
            flags: set[str] = set()
            proposed: set[str] = set()
            ruled_out: set[str] = set()
            tests: dict[str, str] = {}
            for rule_id in fired:
                for action in actions[rule_id]:
                    if "propose" in action:
                        proposed.add(action["propose"]["condition"])
                    elif "rule_out" in action:
                        ruled_out.add(action["rule_out"]["condition"])
                    elif "flag" in action:
                        flags.add(action["flag"]["red_flag"])
                    elif "suggest" in action:
                        s = action["suggest"]
                        old = tests.get(s["test"])
                        if old is None or URGENCY_RANK[s["urgency"]] < URGENCY_RANK[old]:
                            tests[s["test"]] = s["urgency"]
            return flags, proposed, ruled_out - proposed, tests

        namespace: dict[str, Any] = {"conclude": conclude, "inf": math.inf, "nan": math.nan}
        exec(compile("\n".join(lines), "<hand-written rules>", "exec"), namespace)
        evaluate: Callable[[dict[str, Any]], tuple[list[str], list[str], Any]]
        evaluate = namespace["evaluate"]
        return evaluate


def _var(x: Rule | str) -> str:
    return f"v_{x['id']}" if isinstance(x, dict) else f"fact_{x}"


def _true(node: dict[str, Any]) -> str:
    """A Python expression that is true when ``node`` is known true."""
    if "all" in node:
        return "(" + " and ".join(_true(c) for c in node["all"]) + ")"
    if "any" in node:
        return "(" + " or ".join(_true(c) for c in node["any"]) + ")"
    if "at_least" in node:
        spec = node["at_least"]
        return "((" + ") + (".join(_true(c) for c in spec["of"]) + f")) >= {spec['k']}"
    if "not" in node:
        return _false(node["not"])
    return _leaf(node, True)


def _false(node: dict[str, Any]) -> str:
    """A Python expression that is true when ``node`` is known false."""
    if "all" in node:
        return "(" + " or ".join(_false(c) for c in node["all"]) + ")"
    if "any" in node:
        return "(" + " and ".join(_false(c) for c in node["any"]) + ")"
    if "at_least" in node:
        spec = node["at_least"]
        n = len(spec["of"])
        return "((" + ") + (".join(_false(c) for c in spec["of"]) + f")) > {n - spec['k']}"
    if "not" in node:
        return _true(node["not"])
    return _leaf(node, False)


def _leaf(node: dict[str, Any], holds: bool) -> str:
    if "present" in node:
        return f"g({node['present']!r}) == {'present' if holds else 'absent'!r}"
    if "absent" in node:
        return f"g({node['absent']!r}) == {'absent' if holds else 'present'!r}"
    if "derived" in node:
        return f"{_var(node['derived'])} is {holds}"
    fid = repr(node["finding"])
    if "gt" in node:
        c = node["gt"]
        return f"g({fid}, -inf) > {c}" if holds else f"g({fid}, inf) <= {c}"
    if "lt" in node:
        c = node["lt"]
        return f"g({fid}, inf) < {c}" if holds else f"g({fid}, -inf) >= {c}"
    if "between" in node:
        lo, hi = node["between"]
        return f"{lo} <= g({fid}, nan) <= {hi}" if holds else f"not {lo} <= g({fid}, {lo}) <= {hi}"
    if "eq" in node:
        v = node["eq"]
        return f"g({fid}) == {v!r}" if holds else f"g({fid}, {v!r}) != {v!r}"
    values = tuple(node["in"])
    return f"g({fid}) in {values!r}" if holds else f"g({fid}, {values[0]!r}) not in {values!r}"
