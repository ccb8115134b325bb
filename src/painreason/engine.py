"""The Engine: evaluate cases against a knowledge base on one of two backends.

- ``"python"``: pure Python, compiled and activated by the findings a case records
  (:mod:`painreason._fast`); ``"reference"`` is the plain evaluator it is checked against
  (:mod:`painreason._reference`), slower, for cross-checks.
- ``"durable"``: rules compiled to positive join patterns (:mod:`painreason._compiler`) and
  run by durable-rules' Rete engine through :mod:`painreason._durable`, the only module
  that imports it.
- ``"auto"``: durable where durable-rules imports, python otherwise.

Both backends give equal Results for every case; the test suite checks it on the golden
cases and on random rule sets.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from . import _reference
from ._fast import Entry, FastEvaluator
from ._outcome import Outcome, Support
from .case import Case, Observations, observe
from .errors import BackendUnavailableError, EngineError
from .loader import Knowledge, load_knowledge
from .results import Result, build_result

__all__ = ["Backend", "Engine", "evaluate"]

Backend = Literal["auto", "durable", "python", "reference"]
CaseInput = Case | Mapping[str, Any] | str | Path


def _durable_available() -> bool:
    try:
        from . import _durable
    except ImportError:
        return False
    return _durable.available()


class _DurableRunner:
    """Runs compiled clauses on durable-rules and forward-chains derived facts."""

    def __init__(self, kb: Knowledge) -> None:
        from . import _compiler, _durable

        self._compiler = _compiler
        self.kb = kb
        self.compiled = _compiler.compile_knowledge(kb)
        # sessions are reused between cases: durable's per-session set-up dominates otherwise
        # which facts matched is not needed: a clause's meaning gives its support
        self.ruleset = _durable.DurableRuleset(
            self.compiled.clauses, reuse_sessions=True, ids=False
        )
        # per clause key: rule id, holds?, its support, the facts its rule derives
        self._meaning = {
            key: (rule_id, holds, frozenset((rule_id, i, s) for i, s in leaves), derives)
            for key, (rule_id, holds, leaves) in self.compiled.meaning.items()
            for derives in [tuple(kb.rule_index[rule_id].derives)]
        }
        self._facts: dict[Any, list[Any]] = {}  # a finding's slots -> its facts, encoded
        self._derived: dict[tuple[str, bool], Any] = {}  # a derived fact's value -> encoded
        # (t, n) -> the (s, l) 'eq' tests of the patterns on them (None: not tested): a fact
        # no pattern can match is not sent (12% of the shipped cases' facts, measured)
        self._reads: dict[tuple[Any, Any], set[tuple[Any, Any]]] | None = {}
        for clause in self.compiled.clauses.values():
            for pattern in clause:
                eqs = {field: value for field, op, value in pattern if op == "eq"}
                if "t" not in eqs or "n" not in eqs:  # not the compiler's shape: send them all
                    self._reads = None
                    break
                key = (eqs["t"], eqs["n"])
                self._reads.setdefault(key, set()).add((eqs.get("s"), eqs.get("l")))
            if self._reads is None:
                break

    def _read(self, fact: dict[str, Any]) -> bool:
        """Whether some pattern could match ``fact`` (on its kind, finding, side and level)."""
        if self._reads is None:
            return True
        side, level = fact.get("s"), fact.get("l")
        return any(
            s in (None, side) and lv in (None, level)
            for s, lv in self._reads.get((fact["t"], fact["n"]), ())
        )

    def _case_facts(self, obs: Observations) -> list[Any]:
        """``_compiler.case_facts`` that a pattern can match, encoded for the adapter and
        cached per finding and recorded slots."""
        cache, facts = self._facts, []
        for fid, slots in obs.slots.items():
            # the types too: True == 1 == 1.0, and the adapter sends each as its own kind
            key = (fid, tuple(slots.items()), tuple(map(type, slots.values())))
            found = cache.get(key)
            if found is None:
                if len(cache) >= 65_536:
                    cache.clear()
                facts_ = self._compiler.finding_facts(self.kb, fid, slots)
                encode = self.ruleset.encode
                found = cache[key] = [encode(f) for f in facts_ if self._read(f)]
            facts += found
        return facts

    def _fact(self, name: str, value: bool) -> Any:
        """The fact of a derived fact's value, encoded for the adapter."""
        found = self._derived.get((name, value))
        if found is None:
            fact = self._compiler.fact_fact(name, value)
            found = self._derived[name, value] = self.ruleset.encode(fact)
        return found

    def run(self, obs: Observations) -> Outcome:
        kb = self.kb
        meaning = self._meaning
        negated = self.compiled.negated_facts
        fired: dict[str, set[Support]] = {}
        false_rules: dict[str, set[Support]] = {}
        true_facts: set[str] = set()
        false_facts: dict[str, frozenset[Support]] = {}
        with self.ruleset.session() as session:
            firings = session.assert_encoded(self._case_facts(obs))
            while firings:
                new: list[Any] = []
                for key, _ids in firings:
                    rule_id, holds, support, derives = meaning[key]
                    if holds:
                        fired.setdefault(rule_id, set()).update(support)
                        for fact in derives:
                            if fact not in true_facts:
                                true_facts.add(fact)
                                new.append(self._fact(fact, True))
                        continue
                    false_rules.setdefault(rule_id, set()).update(support)
                    for fact in derives:
                        if fact in negated and fact not in false_facts:
                            derivers = kb.derivers[fact]
                            if all(r.id in false_rules for r in derivers):
                                false_facts[fact] = frozenset().union(
                                    *(false_rules[r.id] for r in derivers)
                                )
                                new.append(self._fact(fact, False))
                firings = session.assert_encoded(new) if new else []
        # a rule's falsity can keep growing support after its fact became false: recompute
        for fact in list(false_facts):
            false_facts[fact] = frozenset().union(*(false_rules[r.id] for r in kb.derivers[fact]))
        return Outcome(
            fired={k: frozenset(v) for k, v in fired.items()},
            true_facts=frozenset(true_facts),
            false_facts=false_facts,
        )


class Engine:
    """Evaluates cases against one knowledge base.

    Parameters
    ----------
    knowledge : Knowledge, optional
        From :func:`~painreason.load_knowledge`; the bundled knowledge when omitted.
    backend : {"auto", "durable", "python", "reference"}
        ``"auto"`` picks durable where durable-rules imports, else python. ``"reference"``
        is the slow plain evaluator the others are tested against.

    An Engine is safe to share between threads; it holds no per-case state.

    Examples
    --------
    >>> engine = Engine(backend="python")
    >>> result = engine.evaluate({"patient": {"age": 45, "sex": "male"},
    ...     "findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}})
    >>> result.red_flags[0].urgency
    'emergency'
    """

    def __init__(self, knowledge: Knowledge | None = None, backend: Backend = "auto") -> None:
        if backend not in ("auto", "durable", "python", "reference"):
            raise ValueError(
                f"backend must be 'auto', 'durable', 'python' or 'reference' (got {backend!r})"
            )
        self.knowledge = knowledge if knowledge is not None else load_knowledge()
        if backend == "auto":
            backend = "durable" if _durable_available() else "python"
        elif backend == "durable" and not _durable_available():
            raise BackendUnavailableError(
                "the durable backend needs durable-rules 2.0.28, which does not import here "
                "(it supports CPython 3.11 and 3.12); use backend='python'"
            )
        self.backend: Literal["durable", "python", "reference"] = backend
        self._python = backend == "python"
        self._fast = FastEvaluator(self.knowledge)
        self._runner: _DurableRunner | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Engine(backend={self.backend!r}, knowledge={self.knowledge.version[:12]})"

    def _durable(self) -> _DurableRunner:
        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = _DurableRunner(self.knowledge)
        return self._runner

    def outcome(self, obs: Observations) -> Outcome:
        """The raw backend outcome for checked observations (used by tests and tools)."""
        if self.backend == "python":
            return self._fast.run(self._fast.entries(obs))
        if self.backend == "reference":
            return _reference.evaluate(self.knowledge, obs)
        return self._durable().run(obs)

    def evaluate(self, case: CaseInput) -> Result:
        """Evaluate one case.

        Parameters
        ----------
        case : Case, dict, or path to a YAML/JSON case file

        Returns
        -------
        Result
            Red flags first, the ranked differential, ruled-out conditions, suggested tests.

        Raises
        ------
        CaseError
            When the case does not fit the vocabulary.
        """
        if type(case) is not Case:
            case = as_case(case)
        fast = self._fast
        if self._python:  # the usual path, with no other branch
            entries = fast.observe(case)
            try:
                outcome = fast.run(entries)
            except (MemoryError, RecursionError) as exc:
                raise EngineError(f"engine failed on case {case.id!r}: {exc!r}") from exc
            return fast.result(case, entries, outcome)
        if self.backend == "reference":
            obs, entries = observe(case, self.knowledge), list[Entry]()
        else:
            entries = fast.observe(case)
        try:
            if self.backend == "python":
                outcome = fast.run(entries)
            else:
                if self.backend == "durable":
                    obs = fast.observations(entries)
                outcome = self.outcome(obs)
        except (EngineError, MemoryError, RecursionError) as exc:
            if isinstance(exc, EngineError):
                raise
            raise EngineError(f"engine failed on case {case.id!r}: {exc!r}") from exc
        if self.backend == "reference":
            return build_result(self.knowledge, case, obs, outcome)
        return fast.result(case, entries, outcome)


def as_case(case: CaseInput) -> Case:
    """Accept a Case, a mapping or a path to a case file."""
    if isinstance(case, Case):
        return case
    if type(case) is dict:  # from_dict copies what it keeps: no copy needed here
        return Case.from_dict(case)
    if isinstance(case, str | Path):
        return Case.from_file(case)
    # anything else (None, a list) reaches from_dict, which refuses it with a CaseError
    return Case.from_dict(dict(case) if isinstance(case, Mapping) else case)


_default: dict[str, Engine] = {}
_default_lock = threading.Lock()


def evaluate(case: CaseInput, backend: Backend = "auto") -> Result:
    """Evaluate a case with the bundled knowledge (the engine is built once, on first use).

    Examples
    --------
    >>> from painreason import evaluate
    >>> r = evaluate({"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}},
    ...              backend="python")
    >>> [f.id for f in r.red_flags]
    ['cauda_equina_red_flag']
    """
    with _default_lock:
        engine = _default.get(backend)
        if engine is None:
            engine = _default[backend] = Engine(backend=backend)
    return engine.evaluate(case)
