"""The Engine: backend choice, errors, threads, and many evaluations in a row."""

from __future__ import annotations

import resource
import threading
from typing import Any

import pytest

import painreason
from painreason.errors import BackendUnavailableError, CaseError, EngineError
from painreason.testing.strategies import load_pack

from .conftest import BACKENDS

SCIATICA: dict[str, Any] = {
    "patient": {"age": 38, "sex": "female"},
    "findings": {
        "low_back_pain": "present",
        "leg_pain": "present",
        "saddle_anaesthesia": "absent",
        "great_toe_extension_strength": {"left": 4, "right": 5},
        "dermatomal_sensory_loss": {"present": True, "side": "left", "levels": ["L5"]},
    },
}


def test_auto_picks_durable_where_it_imports(kb: painreason.Knowledge) -> None:
    engine = painreason.Engine(kb)
    assert engine.backend == ("durable" if "durable" in BACKENDS else "python")


def test_unknown_backend_is_a_usage_error(kb: painreason.Knowledge) -> None:
    with pytest.raises(ValueError, match="backend must be"):
        painreason.Engine(kb, backend="clips")  # type: ignore[arg-type]


def test_durable_unavailable_is_a_typed_error(
    kb: painreason.Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("painreason.engine._durable_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="backend='python'"):
        painreason.Engine(kb, backend="durable")
    assert painreason.Engine(kb).backend == "python"


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_case_raises_case_error(kb: painreason.Knowledge, backend: str) -> None:
    engine = painreason.Engine(kb, backend=backend)  # type: ignore[arg-type]
    with pytest.raises(CaseError):
        engine.evaluate({"findings": {"heart_rate": 900}})


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_engine_shared_by_threads_gives_serial_results(
    engines: dict[str, painreason.Engine], backend: str
) -> None:
    engine = engines[backend]
    cases = [
        {**SCIATICA, "findings": {**SCIATICA["findings"], "heart_rate": 60 + i}} for i in range(40)
    ]
    serial = [engine.evaluate(c) for c in cases]
    got: dict[int, painreason.Result] = {}

    def work(offset: int) -> None:
        for i in range(offset, len(cases), 4):
            got[i] = engine.evaluate(cases[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(cases))] == serial


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
def test_ten_thousand_durable_evaluations_keep_memory_flat() -> None:
    # goes far past durable-rules' 1,024 live-session cap on purpose; a small pack keeps it
    # fast (the bundled knowledge costs ~50 ms a case on durable, see benchmarks/)
    kb = load_pack(PACK)
    engine = painreason.Engine(kb, backend="durable")
    python = painreason.Engine(kb, backend="python")
    cases = [
        {"findings": {"b0": "present", "n0": 150}},
        {"findings": {"b1": "absent", "n0": 20}},
        {"findings": {"c0": "x"}},  # matches no rule at all
    ]
    expected = [python.evaluate(c) for c in cases]
    for i in range(2_000):
        assert engine.evaluate(cases[i % 3]) == expected[i % 3]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(8_000):
        assert engine.evaluate(cases[i % 3]) == expected[i % 3]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 10_000, f"peak RSS grew by {after - before} KiB"


PACK: dict[str, Any] = {
    "facts": [{"id": "f0", "label": "F0", "definition": "s"}],
    "rules": [
        {
            "id": "d",
            "title": "d",
            "sources": ["s0"],
            "when": {"finding": "n0", "gt": 100},
            "then": [{"derive": "f0"}],
        },
        {
            "id": "p",
            "title": "p",
            "sources": ["s0"],
            "when": {"all": [{"present": "b0"}, {"derived": "f0"}]},
            "then": [
                {"propose": {"condition": "k0", "strength": "high"}},
                {"flag": {"red_flag": "r1"}},
            ],
        },
        {
            "id": "q",
            "title": "q",
            "sources": ["s0"],
            "when": {"all": [{"absent": "b1"}, {"not": {"derived": "f0"}}]},
            "then": [
                {"rule_out": "k0"},
                {"suggest": {"test": "t0", "urgency": "routine", "rationale": "r"}},
            ],
        },
    ],
}


def test_module_level_evaluate_reuses_one_engine() -> None:
    a = painreason.evaluate(SCIATICA, backend="python")
    b = painreason.evaluate(SCIATICA, backend="python")
    assert a == b
    assert "lumbar_radiculopathy" in a.proposed() or a.differential


def test_python_engine_takes_dicts_cases_and_mappings_alike(kb: painreason.Knowledge) -> None:
    from types import MappingProxyType

    engine = painreason.Engine(kb, backend="python")
    want = engine.evaluate(painreason.Case.from_dict(SCIATICA))
    assert engine.evaluate(SCIATICA) == want
    assert engine.evaluate(MappingProxyType(SCIATICA)) == want


def test_python_engine_wraps_memory_and_recursion_errors(
    kb: painreason.Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = painreason.Engine(kb, backend="python")

    def fail(entries: object) -> None:
        raise RecursionError("too deep")

    monkeypatch.setattr(engine._fast, "run", fail)
    with pytest.raises(EngineError, match="engine failed on case 'c1'") as info:
        engine.evaluate({"id": "c1", "findings": {"low_back_pain": "present"}})
    assert isinstance(info.value.__cause__, RecursionError)
