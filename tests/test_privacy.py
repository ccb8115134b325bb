"""Privacy: the library logs no patient data, configures no logging, prints nothing, and its
error messages carry only the finding ids and values the caller passed for the findings at
fault (see docs/reliability.md)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import painreason
from painreason.cli import main
from painreason.errors import CaseError, EngineError

from ._hostile import MIXED_RULES, write_pack
from .conftest import BACKENDS

# Values no rule, label or message of the library contains by chance; the last is the case id,
# which error messages do name (it is how the caller tells its cases apart), but logs never.
VALUES = ("137", "38.7", "1234.5")
MARKERS = (*VALUES, "fp-7f3a9")
CASE: dict[str, Any] = {
    "id": "fp-7f3a9",
    "patient": {"age": 67, "sex": "female"},
    "findings": {
        "low_back_pain": "present",
        "leg_pain": "present",
        "saddle_anaesthesia": "present",
        "heart_rate": 137,
        "temperature_c": 38.7,
        "post_void_residual_ml": 1234.5,
        "ankle_reflex": {"left": 1, "right": 2},
        "onset": "sudden",
    },
}


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[logging.LogRecord]]:
    """Every record any logger handles at DEBUG, whatever its handlers or propagation."""
    seen: list[logging.LogRecord] = []
    original = logging.Logger.handle

    def spy(self: logging.Logger, record: logging.LogRecord) -> None:
        seen.append(record)
        original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", spy)
    levels = {name: logging.getLogger(name).level for name in ("", "painreason", "durable")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def leaks(texts: list[str], markers: tuple[str, ...] = MARKERS) -> list[str]:
    return [t for t in texts if any(m in t for m in markers)]


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    out = []
    for r in records:
        out.append(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}")
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_logs_and_prints_no_patient_data(
    records: list[logging.LogRecord],
    capfd: pytest.CaptureFixture[str],
    kb: painreason.Knowledge,
    backend: str,
) -> None:
    engine = painreason.Engine(kb, backend=backend)  # type: ignore[arg-type]
    result = engine.evaluate(CASE)
    assert result.red_flags  # the case did run through the rules
    result.trace.explain(result.red_flags[0].id)
    result.summary()
    result.model_dump_json()
    with pytest.raises(CaseError):
        engine.evaluate({**CASE, "findings": {**CASE["findings"], "spo2": 3}})
    assert leaks(record_texts(records)) == []
    out, err = capfd.readouterr()
    assert out == "", "the library must not print"
    assert err == "", "the library must not print"


def test_cli_runs_log_no_patient_data(
    records: list[logging.LogRecord], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE))
    assert main(["diagnose", str(path), "--backend", "python"]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CASE, "findings": {**CASE["findings"], "spo2": 3}}))
    assert main(["diagnose", str(bad), "--format", "json", "--backend", "python"]) == 1
    out, err = capsys.readouterr()
    assert "Case fp-7f3a9" in out  # the report names the case: the CLI ran it
    # Messages name the file; its temporary folder may hold a marker by chance (pytest-137)
    err = err.replace(str(tmp_path), "<tmp>")
    assert leaks([t.replace(str(tmp_path), "<tmp>") for t in record_texts(records)]) == []
    assert "finding 'spo2'" in err
    assert "(got 3)" in err
    assert leaks([err], VALUES) == [], "an error message repeated other findings' values"


def test_case_errors_name_only_the_findings_at_fault() -> None:
    findings = {**CASE["findings"], "spo2": 3, "pain_score": "severe", "ankle_clonus": "maybe"}
    with pytest.raises(CaseError) as info:
        painreason.evaluate({**CASE, "findings": findings}, backend="python")
    problems = info.value.problems
    assert {p.message.split("'")[1] for p in problems} == {"spo2", "pain_score", "ankle_clonus"}
    text = str(info.value)
    assert "(got 3)" in text
    assert "(got 'severe')" in text
    assert "maybe" not in text  # an unknown finding's value is not even repeated
    assert leaks([text], VALUES) == []


def test_values_in_error_messages_are_shortened() -> None:
    with pytest.raises(CaseError) as info:
        painreason.evaluate({"findings": {"onset": "s" * 100_000}}, backend="python")
    assert len(str(info.value)) < 600


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
def test_engine_errors_carry_no_finding_values(
    kb: painreason.Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    from painreason import _durable

    engine = painreason.Engine(kb, backend="durable")
    engine.evaluate({"findings": {"low_back_pain": "present"}})  # build the ruleset

    def fail(*args: object, **kwargs: object) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(_durable.DurableRuleset, "_send", fail)
    with pytest.raises(EngineError) as info:
        engine.evaluate(CASE)
    assert "durable-rules error 101" in str(info.value)
    assert leaks([str(info.value), repr(info.value.__cause__)]) == []


def test_importing_and_evaluating_configures_no_logging(tmp_path: Path) -> None:
    root = write_pack(tmp_path, MIXED_RULES)
    code = (
        "import logging, sys, painreason\n"
        "kb = painreason.load_knowledge(sys.argv[1] + '/rules', sys.argv[1] + '/knowledge')\n"
        "for backend in ('python', 'durable' if len(sys.argv) > 2 else 'python'):\n"
        "    painreason.Engine(kb, backend=backend).evaluate({'findings': {'b0': 'present'}})\n"
        "mine = [n for n in logging.Logger.manager.loggerDict if n.startswith('painreason')]\n"
        "handlers = [h for n in mine for h in logging.getLogger(n).handlers]\n"
        "print(len(logging.root.handlers), logging.root.level, len(handlers))\n"
    )
    args = [sys.executable, "-c", code, str(root), *(["durable"] if "durable" in BACKENDS else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["0", str(logging.WARNING), "0"]
    assert done.stderr == ""
