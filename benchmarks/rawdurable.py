"""Raw durable-rules on the very ruleset the durable backend compiled: the same C engine
calls, without painreason around them.

The durable backend is run once per case with a recorder on the adapter, which keeps the
fact texts sent to durable (findings, absent scopes, derived facts, chain facts of long
clauses) and the durable rules that fired. :class:`RawDurable` then replays those texts on
a fresh durable host holding the same JSON rulesets, whose actions only note the rule that
fired. Actions run through durable's own Python machinery (``Ruleset.do_actions``: a Closure
per action, the session state parsed, serialised and re-asserted), as in a plain
durable-rules program; the adapter runs them with a leaner loop of the same C calls. Two ways:

- ``fresh``: what a plain durable-rules program does: a new session per case (its sentinel
  fact first, so that ``delete_state`` cannot crash), the facts, then ``delete_state``;
- ``reused``: one long-lived session, as the backend's pooled sessions: each case's facts
  carry their case number and stay (the adapter never retracts: durable-rules reads freed
  memory when it retracts a fact an action saw), and the session is replaced when the
  recorded one was. The C engine's own cost, with no per-session set-up.

:func:`compare_reused` times the durable backend and the ``reused`` replay on the *same*
new cases, slice by slice in turn (which of the two goes first alternates), and reports
the median of the per-slice time ratios: machine load hits both alike. The cases are
recorded on a second engine, so the engine timed carries no recorder. Run it alone on
synthetic rule sets::

    python benchmarks/rawdurable.py --sizes 500,1500
"""

from __future__ import annotations

import argparse
import copy
import gc
import itertools
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import cpu_seconds, slices

import painreason
from painreason import _durable

Call = tuple[int, str]  # (ruleset shard, fact JSON)


class Recorder:
    """Wraps a durable Engine's adapter to record each case's C-level facts and firings."""

    def __init__(self, engine: painreason.Engine) -> None:
        self.engine = engine
        self.rs = rs = engine._durable().ruleset
        self.calls: list[Call] = []
        self.fired: set[int] = set()
        self.active = False  # record only inside record(): other evaluations pass through
        send, fire = rs._send, rs._fire

        def recording_send(session: Any, shard: int, text: str) -> None:
            if self.active and '"@pr":"open"' not in text:  # raw opens its own sessions
                self.calls.append((shard, text))
            send(session, shard, text)

        def recording_fire(index: int, c: Any) -> None:
            if self.active and index >= 0:
                self.fired.add(index)
            fire(index, c)

        rs._send = recording_send  # type: ignore[method-assign]
        rs._fire = recording_fire  # type: ignore[method-assign]

    def record(self, case: Any) -> tuple[painreason.Result, list[Call], frozenset[int]]:
        # the adapter reports most clauses in its action loop, without calling _fire: not
        # while recording (evaluations outside record() keep that path)
        host = self.rs._host
        self.calls, self.fired, self.active = [], set(), True
        quick, host._painreason_quick = host._painreason_quick, {}
        try:
            result = self.engine.evaluate(case)
        finally:
            self.active, host._painreason_quick = False, quick
        return result, self.calls, frozenset(self.fired)


class RawDurable:
    """The adapter's JSON rulesets on a bare durable host (timer threads off, as the
    adapter must), with actions that only note which rule fired."""

    def __init__(self, rs: _durable.DurableRuleset) -> None:
        backend = _durable._backend()
        self.fired: set[int] = set()
        actions: dict[str, Any] = {"open": lambda c: None}
        for index in range(len(rs._rules)):
            actions[f"r{index}"] = self._note(index)
        self.names = list(rs._names)
        self.host = backend.Host(actions)
        self.host.set_rulesets(copy.deepcopy(rs._definition))
        self.core = backend.core
        self._sids = itertools.count()
        self._open: str | None = None
        self._following: str | None = None  # the recorded sid the open session stands for

    def _note(self, index: int) -> Any:
        def action(c: Any) -> None:  # one argument: durable runs two-argument ones async
            self.fired.add(index)

        return action

    def _assert(self, name: str, text: str) -> None:
        """durable's own assert: the C call, then ``do_actions`` (a plain program's path).

        ``text`` is one fact, or a JSON list of facts as the adapter batches them per call.
        """
        ruleset = self.host._ruleset_directory[name]
        many = text[0] == "["
        assert_ = self.core.assert_facts if many else self.core.assert_fact
        code, state_handle = assert_(ruleset._handle, text)
        if code == 0 or (code == 1 and many):
            errors: list[Any] = []
            ruleset.do_actions(state_handle, lambda error, state: errors.append(error))
            if not errors or errors[0]:
                raise RuntimeError(f"durable action failed: {errors}")

    def _sentinel(self, sid: str) -> None:
        for name in self.names:
            self._assert(name, f'{{"sid":"{sid}","id":"open","@pr":"open"}}')

    @staticmethod
    def _as(sid: str, text: str) -> str:
        old = text.partition('"sid":"')[2].partition('"')[0]  # every fact of a call has it
        return text.replace(f'"sid":"{old}"', f'"sid":"{sid}"')

    def run_fresh(self, calls: Sequence[Call]) -> frozenset[int]:
        """One case in a new session, deleted after it."""
        self.fired = set()
        sid = f"@r{next(self._sids)}"
        self._sentinel(sid)
        for shard, text in calls:
            self._assert(self.names[shard], self._as(sid, text))
        for name in self.names:
            self.host.delete_state(name, sid)
        return frozenset(self.fired)

    def run_reused(self, calls: Sequence[Call]) -> frozenset[int]:
        """One case in the long-lived session; a new one when the recorded session changed
        (the backend deletes a full one), since fact ids and case numbers restart there."""
        self.fired = set()
        recorded = calls[0][1].partition('"sid":"')[2].partition('"')[0] if calls else None
        if self._open is None or (recorded is not None and recorded != self._following):
            if self._open is not None:
                for name in self.names:
                    self.host.delete_state(name, self._open)
            self._open = f"@r{next(self._sids)}"
            self._sentinel(self._open)
            self._following = recorded
        for shard, text in calls:
            self._assert(self.names[shard], self._as(self._open, text))
        return frozenset(self.fired)


def compare_reused(
    engine: painreason.Engine,
    cases: Sequence[Any],
    repeat: int,
    warm: Sequence[Any] = (),
    freeze: bool = False,
) -> dict[str, Any]:
    """The durable ``engine`` against raw durable-rules on one reused session, on the same
    new cases, interleaved slice by slice (CPU time).

    ``warm`` cases run on both first (durable's and the adapter's caches, the session pool).
    ``freeze``: then move every object alive to the garbage collector's permanent generation.
    Collections in a process holding engines and knowledge walk hundreds of thousands of
    objects, and durable's own action loop allocates enough to trigger many of them: a raw
    durable-rules program in a process of its own would not pay that.
    Returns cases/s of each (median over slices), the median per-slice time ratio
    durable / raw with its range, and whether the raw replay fired the same rules.
    """
    rec = Recorder(painreason.Engine(engine.knowledge, backend="durable"))
    raw = RawDurable(rec.rs)
    for case in warm:
        engine.evaluate(case)
        raw.run_reused(rec.record(case)[1])
    if freeze:
        gc.collect()
        gc.freeze()
    times: dict[str, list[float]] = {"durable": [], "raw": []}
    same = True
    for r, part in enumerate(slices(cases, repeat)):
        recorded = [rec.record(case) for case in part]
        calls = [c for _, c, _ in recorded]
        fired: list[frozenset[int]] = []  # a case's facts stay in the session: it runs once
        runs = [
            ("durable", engine.evaluate, part),
            ("raw", lambda c, into=fired: into.append(raw.run_reused(c)), calls),
        ]
        for name, fn, items in runs if r % 2 == 0 else runs[::-1]:
            times[name].append(cpu_seconds(fn, items) / len(items))
        same &= fired == [f for *_, f in recorded]
        same &= all(
            engine.evaluate(c) == res for c, (res, _, _) in zip(part, recorded, strict=True)
        )
    if freeze:
        gc.unfreeze()  # what follows in this process is measured as before
    ratios = [d / r for d, r in zip(times["durable"], times["raw"], strict=True)]
    return {
        "durable": {"cases_per_s": 1 / statistics.median(times["durable"])},
        "raw durable, one session": {"cases_per_s": 1 / statistics.median(times["raw"])},
        "time_vs_raw": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "repeats": len(ratios),
        "cases": len(cases),
        "agree": same,
        "gc_frozen": freeze,
    }


def main() -> int:
    from synthetic import RuleSet

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="500,1500", help="synthetic rule counts")
    p.add_argument("--repeat", type=int, default=15, help="slices (alternations)")
    p.add_argument("--per", type=int, default=40, help="cases per slice")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up")
    a = p.parse_args()
    for n_rules in (int(n) for n in a.sizes.split(",")):
        rules = RuleSet(n_rules, seed=a.seed)
        with tempfile.TemporaryDirectory(prefix="painreason-raw-") as tmp:
            kb = painreason.load_knowledge(*rules.write(Path(tmp)))
        raw_cases = rules.cases(200 + a.repeat * a.per, seed=a.seed + n_rules)
        cases = [painreason.Case.from_dict(c) for c in raw_cases]
        engine = painreason.Engine(kb, backend="durable")
        out = compare_reused(engine, cases[200:], a.repeat, warm=cases[:200], freeze=a.freeze)
        if a.freeze:
            gc.unfreeze()
        print(
            f"{n_rules} rules: durable {out['durable']['cases_per_s']:,.0f} cases/s, raw one "
            f"session {out['raw durable, one session']['cases_per_s']:,.0f}; durable time / raw "
            f"{out['time_vs_raw']:.2f}x (slices {out['ratio_min']:.2f}-{out['ratio_max']:.2f}, "
            f"{out['repeats']} x {a.per} cases{', gc frozen' if a.freeze else ''}); agree: "
            f"{out['agree']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
