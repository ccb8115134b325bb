"""The command line: exit codes, text and JSON output, located errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import painreason
from painreason.cli import main

CES = {
    "id": "ces",
    "patient": {"age": 45, "sex": "male"},
    "findings": {
        "low_back_pain": "present",
        "saddle_anaesthesia": "present",
        "urinary_retention": "present",
    },
}


def write(tmp_path: Path, data: object, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_diagnose_text_lists_red_flags_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagnose", str(write(tmp_path, CES))]) == 0
    out = capsys.readouterr().out
    assert out.index("RED FLAGS") < out.index("DIFFERENTIAL") < out.index("SUGGESTED TESTS")
    assert "!! EMERGENCY" in out
    (mri,) = [line for line in out.splitlines() if line.endswith("[mri_lumbar]")]
    assert mri.strip().startswith("EMERGENCY")
    assert "decision support" in out


def test_diagnose_json_parses_back_into_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["diagnose", str(write(tmp_path, CES)), "--format", "json", "--backend", "python"])
        == 0
    )
    result = painreason.Result.model_validate_json(capsys.readouterr().out)
    assert result.red_flags[0].id == "cauda_equina_red_flag"
    assert {t.id: t.urgency for t in result.tests}["mri_lumbar"] == "emergency"


def test_malformed_case_exits_1_with_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("findings:\n  heart_rate: 900\n  saddle_anesthesia: present\n")
    assert main(["diagnose", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:2:" in err
    assert "[out-of-range]" in err
    assert f"{path}:3:" in err
    assert "did you mean 'saddle_anaesthesia'" in err
    assert "Traceback" not in err


def test_malformed_rule_pack_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: x\n    title: t\n")
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "r.yaml:2:5: rule 'x'" in err
    assert "[bad-" in err


def test_validate_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["diagnose"])
    assert info.value.code == 2


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "painreason", "diagnose", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "cannot read case file" in proc.stderr
    assert "Traceback" not in proc.stderr
