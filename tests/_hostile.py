"""Helpers for the reliability tests: rule packs on disk, valid random cases over any
vocabulary, and an isolated worker process that turns a hang or a crash into a test failure.

The worker is a ``spawn`` process that runs functions of this module by name. A call that
does not answer in time is a hang (the worker is killed); a worker that dies (a segfault of
durable-rules' C core, say) is a crash; both fail the calling test with the input shown, and
the next call starts a fresh worker.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import painreason
from painreason.vocabulary import FindingDef, FindingKind

from .properties.strategies import knowledge_files

# --- outcomes ------------------------------------------------------------------------------

Outcome = tuple[str, str, str]  # ("result", json, "") | ("error" | "unexpected", type, message)


def outcome_of(call: Callable[[], painreason.Result]) -> Outcome:
    """Run ``call``; classify what it gave: a Result, a PainreasonError, or anything else."""
    try:
        result = call()
    except painreason.PainreasonError as exc:
        return ("error", type(exc).__name__, str(exc)[:2000])
    except BaseException as exc:  # the contract says this never happens: report it
        return ("unexpected", type(exc).__name__, repr(exc)[:2000])
    if not isinstance(result, painreason.Result):
        return ("unexpected", type(result).__name__, "not a Result")
    return ("result", result.model_dump_json(), "")


# --- rule packs ----------------------------------------------------------------------------


def write_pack(
    root: Path, rules: Mapping[str, Any], knowledge: Mapping[str, Any] | None = None
) -> Path:
    """Write ``rules`` (a rule file) and ``knowledge`` (the synthetic one by default)."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "knowledge").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "rules.json").write_text(_yaml_json(rules))
    know = knowledge if knowledge is not None else knowledge_files()
    (root / "knowledge" / "knowledge.json").write_text(_yaml_json(know))
    return root


def _yaml_json(data: Any) -> str:
    """JSON, but NaN and infinities written as YAML reads them (.nan, .inf): JSON has none."""
    text = json.dumps(data, indent=1)  # one line of 100,000 characters is refused
    return text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf")


@contextmanager
def pack_dir(
    rules: Mapping[str, Any], knowledge: Mapping[str, Any] | None = None
) -> Iterator[Path]:
    """A temporary pack folder, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="painreason-hostile-"))
    try:
        yield write_pack(root, rules, knowledge)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def load(root: Path) -> painreason.Knowledge:
    return painreason.load_knowledge(root / "rules", root / "knowledge")


def rule(
    rid: str, when: Mapping[str, Any], then: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A rule citing the synthetic source; proposes k0 unless told otherwise."""
    return {
        "id": rid,
        "title": rid,
        "sources": ["s0"],
        "when": dict(when),
        "then": list(then or [{"propose": {"condition": "k0", "strength": "high"}}]),
    }


def booleans(prefix: str, n: int) -> list[dict[str, Any]]:
    """``n`` extra boolean findings ``<prefix>0``..."""
    return [
        {"id": f"{prefix}{i}", "label": "extra", "definition": "s", "kind": "boolean"}
        | {"section": "history"}
        for i in range(n)
    ]


MIXED_RULES: dict[str, Any] = {
    # Every node kind and action over the synthetic vocabulary of tests/properties; small
    # enough to evaluate in well under a millisecond on the python backend.
    "facts": [
        {"id": "f0", "label": "F0", "definition": "s"},
        {"id": "f1", "label": "F1", "definition": "s"},
    ],
    "rules": [
        rule("d0", {"any": [{"present": "b0"}, {"finding": "n0", "gt": 120}]}, [{"derive": "f0"}]),
        rule(
            "d1",
            {"all": [{"derived": "f0"}, {"present": {"finding": "b2", "side": "left"}}]},
            [{"derive": "f1"}],
        ),
        rule(
            "p0",
            {"all": [{"derived": "f1"}, {"finding": "o0", "side": "left", "lt": 4}]},
            [
                {"propose": {"condition": "k0", "strength": "high"}},
                {"flag": {"red_flag": "r1"}},
                {"suggest": {"test": "t0", "urgency": "emergency", "rationale": "r"}},
            ],
        ),
        rule(
            "p1",
            {
                "at_least": {
                    "k": 2,
                    "of": [
                        {"present": "b1"},
                        {"absent": "b0"},
                        {"finding": "c0", "in": ["x", "y"]},
                    ],
                }
            },
            [{"propose": {"condition": "k1", "strength": "moderate"}}],
        ),
        rule(
            "p2",
            {
                "all": [
                    {"present": {"finding": "b3", "level": "L5"}},
                    {"finding": "n0", "between": [50, 150]},
                ]
            },
            [
                {"propose": {"condition": "k2", "strength": "low"}},
                {"suggest": {"test": "t1", "urgency": "urgent", "rationale": "r"}},
            ],
        ),
        rule(
            "o0",
            {"all": [{"not": {"derived": "f0"}}, {"absent": "b1"}]},
            [
                {"rule_out": {"condition": "k0"}},
                {"advise_against": {"test": "g0", "rationale": "r"}},
            ],
        ),
        rule(
            "o1",
            {"any": [{"absent": {"finding": "b4", "level": "C6"}}, {"finding": "c0", "eq": "z"}]},
            [{"rule_out": {"condition": "k1"}}, {"flag": {"red_flag": "r0"}}],
        ),
        rule(
            "s0",
            {
                "all": [
                    {"present": {"finding": "b2", "side": "bilateral"}},
                    {"finding": "o0", "ne": 5},
                ]
            },
            [{"suggest": {"test": "t2", "urgency": "routine", "rationale": "r"}}],
        ),
    ],
}


# --- valid random cases over any vocabulary --------------------------------------------------

Choose = Callable[[Sequence[Any]], Any]


def _numbers(f: FindingDef) -> list[float]:
    lo, hi = f.bounds or (0.0, 1.0)
    if f.kind is FindingKind.ORDINAL:
        return [float(v) for v in range(math.ceil(lo), math.floor(hi) + 1)]
    return sorted({round(lo + (hi - lo) * k / 8, 1) for k in range(9)})


def make_case(
    findings: Sequence[FindingDef], choose: Choose, density: float = 0.3
) -> dict[str, Any]:
    """A valid case: each finding recorded with chance ``density`` (as drawn by ``choose``)."""
    steps = 10
    out: dict[str, Any] = {}
    for f in findings:
        if f.id in ("age", "sex") or choose(range(steps)) >= density * steps:
            continue
        if f.kind is FindingKind.BOOLEAN:
            scalar: Any = choose(["present", "absent"])
        elif f.kind is FindingKind.CATEGORICAL:
            scalar = choose(f.values or ())
        else:
            scalar = choose(_numbers(f))
        if f.levels:
            if scalar == "absent":
                out[f.id] = "absent"
                continue
            levels = sorted({choose(f.levels) for _ in range(choose([1, 2]))})
            value: Any = {"present": True, "levels": levels}
            if f.lateralised:
                value["side"] = choose(["left", "right", "bilateral"])
            out[f.id] = value
        elif f.lateralised:
            if scalar == "absent":
                out[f.id] = "absent"
                continue
            form = choose(["sides", "one"])
            if form == "sides":
                if f.kind is FindingKind.BOOLEAN:
                    other = choose(["present", "absent"])
                elif f.kind is FindingKind.CATEGORICAL:
                    other = choose(f.values or ())
                else:
                    other = choose(_numbers(f))
                out[f.id] = {"left": scalar, "right": other}
            else:
                key = "present" if f.kind is FindingKind.BOOLEAN else "value"
                raw = True if scalar == "present" else scalar
                out[f.id] = {key: raw, "side": choose(["left", "right", "bilateral"])}
        else:
            out[f.id] = scalar
    case: dict[str, Any] = {"findings": out}
    known = {f.id for f in findings}
    if {"age", "sex"} <= known and choose([True, False]):
        case["patient"] = {"age": choose([18, 45, 70, 90]), "sex": choose(["female", "male"])}
    return case


def random_cases(
    kb: painreason.Knowledge, n: int, seed: int = 0, density: float = 0.3
) -> list[dict[str, Any]]:
    """``n`` valid random cases over ``kb``'s vocabulary, reproducible by ``seed``."""
    rng = random.Random(seed)
    findings = [kb.findings[k] for k in sorted(kb.findings)]
    return [
        {"id": f"case{i}", **make_case(findings, lambda xs: rng.choice(list(xs)), density)}
        for i in range(n)
    ]


def fuzz_settings(cap: int | None = None) -> settings:
    """The profile's settings; PAINREASON_FUZZ_EXAMPLES=N runs N examples (a long fuzz)."""
    asked = os.environ.get("PAINREASON_FUZZ_EXAMPLES")
    count = int(asked) if asked else min(settings().max_examples, cap or 10**9)
    return settings(
        max_examples=count,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- hypothesis strategies for hostile data ---------------------------------------------------

ODD_CHARS = ["\x00", "\ud800", "\udfff", "\u202e", "\u200f", "\ufeff", "\u2028", "\x85"]
ODD_CHARS += ["\U0001f600", "\u0301", "\t", "\r", "\\", '"', "'", "#", ":", "&", "*", "!"]
ODD_NUMBERS = [float("nan"), float("inf"), -float("inf"), -0.0, 5e-324, 1.7976931348623157e308]
ODD_NUMBERS += [2**53 + 1, -(2**63), 10**400, 0.1 + 0.2, 1e-300, True, False]


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text with surrogates, NUL, bidi marks, line separators and YAML punctuation."""
    return st.text(st.characters() | st.sampled_from(ODD_CHARS), max_size=max_size)


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.sampled_from(ODD_NUMBERS),
        hostile_text(),
        st.sampled_from(["present", "absent", "not_recorded", "left", "right", "bilateral"]),
        st.sampled_from(["L5", "C6", "sudden"]),
        st.builds(str.__mul__, st.just("x"), st.just(70_000)),  # longer than durable compares
        st.binary(max_size=8),
        st.builds(object),
    )


def hostile_values(keys: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """Anything: scalars, lists, tuples, sets and dicts nested a few levels."""
    keys = keys if keys is not None else hostile_keys()
    return st.recursive(
        hostile_scalars(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.frozensets(st.integers() | hostile_text(5), max_size=3)
            | st.dictionaries(keys, inner, max_size=4)
        ),
        max_leaves=12,
    )


def hostile_keys(ids: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    words = ["present", "value", "side", "levels", "left", "right", "id", "patient", "findings"]
    return st.one_of(
        st.sampled_from([*words, *ids]) if ids else st.sampled_from(words),
        hostile_text(12),
        st.integers(-3, 3),
        st.none(),
    )


YAML_TOKENS = [
    "{", "}", "[", "]", ", ", ": ", "- ", "\n", "  ", "? ", "|\n", ">\n", "---\n", "...\n",
    "&a ", "*a", "&b ", "*b", "<<: ", "!!python/object/apply:os.system ", "!!binary ", "!!set ",
    "!!str ", "!!int ", "!foo ", "%TAG !e! tag:yaml.org,2002:python/\n", "%YAML 1.1\n",
    "!e!object:os.system ", '"', "'", "# c\n", "findings", "patient", "id", "age", "sex",
    "present", "absent", "not_recorded", "side", "left", "right", "levels", "value", "[L5]",
    ".nan", ".inf", "-.inf", "1e400", "0x1F", "0o17", "1_000", "9" * 400, "yes", "no", "~",
    "2001-12-14", "low_back_pain", "heart_rate", "onset", "sudden", "straight_leg_raise",
    "great_toe_extension_strength", "dermatomal_sensory_loss", "{present: true, side: left}",
]  # fmt: skip


def yaml_ish() -> st.SearchStrategy[str]:
    token = st.sampled_from(YAML_TOKENS) | st.sampled_from(ODD_CHARS) | hostile_text(6)
    return st.lists(token, max_size=40).map("".join)


# --- memory and threads ----------------------------------------------------------------------


def rss_kib() -> int:
    """Current resident set size in KiB (Linux), else the peak."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- functions the isolated worker runs ------------------------------------------------------

_ENGINES: dict[tuple[str, str], painreason.Engine] = {}


def _engine(pack: str | None, backend: str) -> painreason.Engine:
    key = (pack or "", backend)
    if key not in _ENGINES:
        kb = load(Path(pack)) if pack else painreason.load_knowledge()
        _ENGINES[key] = painreason.Engine(kb, backend=backend)  # type: ignore[arg-type]
    return _ENGINES[key]


def evaluate_pack(
    pack: str | None, backend: str, cases: list[Any], keep: bool = True
) -> list[Outcome]:
    """Load a pack (once per worker unless not ``keep``) and evaluate each case; loading
    and building the engine count as part of the first evaluation."""
    try:
        try:
            engine = _engine(pack, backend)
        except BaseException:
            return [outcome_of(lambda: _engine(pack, backend).evaluate({})) for _ in cases]
        return [outcome_of(lambda c=c: engine.evaluate(c)) for c in cases]
    finally:
        if not keep:
            _ENGINES.pop((pack or "", backend), None)


def load_outcome(pack: str) -> tuple[str, str]:
    """Load a pack folder: ('ok', version) or ('error' | 'unexpected', type: message)."""
    try:
        kb = load(Path(pack))
    except painreason.PainreasonError as exc:
        return ("error", f"{type(exc).__name__}: {str(exc)[:2000]}")
    except BaseException as exc:
        return ("unexpected", f"{type(exc).__name__}: {exc!r}"[:2000])
    return ("ok", kb.version)


def churn_engines(pack: str, backend: str, count: int) -> dict[str, Any]:
    """Create, use and drop ``count`` engines; report threads and RSS along the way."""
    import gc

    kb = load(Path(pack))
    case = {"findings": {"b0": "present", "n0": 150, "b1": "absent"}}
    expected = painreason.Engine(kb, backend="python").evaluate(case)
    threads = threading.active_count()
    samples = []
    for i in range(count):
        engine = painreason.Engine(kb, backend=backend)  # type: ignore[arg-type]
        assert engine.evaluate(case) == expected
        del engine
        if i % 20 == 19:
            gc.collect()
            samples.append(rss_kib())
    gc.collect()
    return {
        "threads_before": threads,
        "threads_after": threading.active_count(),
        "rss": samples,
    }


def pool_evaluate(args: tuple[str, str, list[dict[str, Any]]]) -> list[str]:
    """For process pools: evaluate a batch of cases on a pack, as Result JSON."""
    root, backend, batch = args
    engine = _engine(root, backend)
    return [engine.evaluate(c).model_dump_json() for c in batch]


# --- the isolated worker -----------------------------------------------------------------------


class WorkerFailure(AssertionError):
    """The worker hung or died: the input it was given is in the message."""


def _serve(conn: Connection) -> None:
    while True:
        try:
            name, args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", globals()[name](*args))
        except BaseException as exc:
            reply = ("raised", f"{type(exc).__name__}: {exc!r}"[:2000])
        conn.send(reply)


class Isolated:
    """Runs functions of this module in a spawned worker, with a timeout per call."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        if self._proc is None or not self._proc.is_alive():
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
            self._proc.start()
            child.close()
            self._conn = parent
        assert self._conn is not None
        return self._conn

    def call(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        """``name(*args)`` in the worker; WorkerFailure on a hang, a crash or an exception."""
        conn = self._start()
        conn.send((name, args))
        limit = self.timeout if timeout is None else timeout
        shown = repr(args)[:600]
        if not conn.poll(limit):
            self.close()
            raise WorkerFailure(f"{name} hung (no answer in {limit:g} s) on {shown}")
        try:
            status, value = conn.recv()
        except (EOFError, ConnectionResetError):
            self._proc.join(5)
            code = self._proc.exitcode
            self.close()
            raise WorkerFailure(
                f"{name} crashed the worker (exit code {code}) on {shown}"
            ) from None
        if status != "ok":
            raise WorkerFailure(f"{name} raised {value} on {shown}")
        return value

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(10)
            self._proc = None

    def __enter__(self) -> Isolated:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
