"""CLI: explain, why-not, what-if, next-findings, and diagnose's graph formats."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

import painreason
from painreason import _cli_explain, cli
from painreason.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCIATICA = str(ROOT / "knowledge" / "examples" / "sciatica_l5.yaml")
PY = ["--backend", "python"]


@pytest.fixture(autouse=True)
def _bundled_once(monkeypatch: pytest.MonkeyPatch, kb: painreason.Knowledge) -> None:
    """Loading the bundled knowledge takes seconds: load it once for these tests."""

    def load(rules: Any = None, knowledge: Any = None) -> painreason.Knowledge:
        assert rules is None
        assert knowledge is None
        return kb

    monkeypatch.setattr(cli, "load_knowledge", load)
    monkeypatch.setattr(_cli_explain, "load_knowledge", load)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", SCIATICA, "lumbar_radiculopathy", *PY)
    assert code == 0
    assert out.startswith("painreason is decision support")
    assert "Lumbar radiculopathy (sciatica) [condition:lumbar_radiculopathy]" in out
    assert "supports <- l5_radiculopathy:" in out
    assert "[chou2007] Chou R" in out  # citations from the knowledge the CLI loaded
    code, out, _ = run(capsys, "explain", SCIATICA, "lumbar_radiculopathy", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["target"] == "condition:lumbar_radiculopathy"
    assert "leg_pain" in data["findings"]


def test_explain_unknown_target_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", SCIATICA, "cauda_equina_syndrome", *PY)
    assert code == 1
    assert out == ""
    assert "is not a conclusion of this result" in err
    assert "Traceback" not in err


def test_why_not_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "why-not", SCIATICA, "cauda_equina_syndrome", *PY)
    assert code == 0
    assert "Cauda equina syndrome [cauda_equina_syndrome]: not proposed" in out
    assert "- saddle_anaesthesia: present  (via ces_objective_signs)" in out
    assert "failed       urinary_retention present - recorded: absent" in out
    code, out, _ = run(
        capsys, "why-not", SCIATICA, "cauda_equina_syndrome", "--format", "json", *PY
    )
    smallest = [tuple(s["findings"]) for s in json.loads(out)["smallest"]]
    assert ("saddle_anaesthesia",) in smallest


def test_why_not_bad_max_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["why-not", SCIATICA, "cauda_equina_syndrome", "--max-size", "0"])
    assert info.value.code == 2
    assert "must be a whole number >= 1" in capsys.readouterr().err


def test_what_if_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "what-if",
        SCIATICA,
        "--set",
        "saddle_anaesthesia=present",
        "--unset",
        "pain_score",
        *PY,
    )
    assert code == 0
    assert "What if saddle_anaesthesia = present, pain_score not recorded:" in out
    assert out.index("RED FLAGS") < out.index("CONDITIONS") < out.index("TESTS")
    assert "+ MRI lumbar spine without contrast [mri_lumbar]: emergency" in out
    code, out, _ = run(
        capsys,
        "what-if",
        SCIATICA,
        "--set",
        "straight_leg_raise={left: absent, right: absent}",
        "--set",
        "heart_rate=120",
        "--format",
        "json",
        *PY,
    )
    data = json.loads(out)
    assert data["set_findings"] == {
        "straight_leg_raise": {"left": "absent", "right": "absent"},
        "heart_rate": 120,
    }
    diff = painreason.ResultDiff.model_validate(data)
    assert "lumbar_radiculopathy" in diff.after.proposed()  # L5 pattern still supports it


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--set", "saddle_anaesthesia"], 2, "must be finding=value"),
        (["--set", "=present"], 2, "must be finding=value"),
        (["--set", "x={a: [}"], 2, "value of 'x' must be YAML"),
        (["--set", "saddle_anesthesia=present"], 1, "did you mean 'saddle_anaesthesia'"),
        (["--set", "heart_rate=900"], 1, "heart_rate"),
    ],
)
def test_what_if_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    if code == 2:
        with pytest.raises(SystemExit) as info:
            main(["what-if", SCIATICA, *argv, *PY])
        assert info.value.code == 2
    else:
        assert main(["what-if", SCIATICA, *argv, *PY]) == 1
    assert message in capsys.readouterr().err


def test_next_findings_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "next-findings", SCIATICA, "--limit", "3", *PY)
    assert code == 0
    assert "FINDINGS TO CHECK NEXT" in out
    assert "could raise cauda_equina_red_flag (emergency) [via ces_objective_signs]" in out
    assert "more (--limit 0 lists all)" in out
    code, out, _ = run(capsys, "next-findings", SCIATICA, "--format", "json", *PY)
    data = json.loads(out)
    assert data[0]["impacts"][0]["kind"] == "red_flag"


def test_diagnose_next_adds_the_section_and_the_json_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "diagnose", SCIATICA, "--next", *PY)
    assert code == 0
    assert out.index("RED FLAGS") < out.index("FINDINGS TO CHECK NEXT")
    code, out, _ = run(capsys, "diagnose", SCIATICA, "--next", "--format", "json", *PY)
    assert painreason.Result.model_validate_json(out).next_findings
    code, out, _ = run(capsys, "diagnose", SCIATICA, "--format", "json", *PY)
    assert painreason.Result.model_validate_json(out).next_findings is None


def test_diagnose_graph_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, dot, _ = run(capsys, "diagnose", SCIATICA, "--format", "dot", *PY)
    assert code == 0
    assert dot.startswith("digraph trace {")
    code, mermaid, _ = run(capsys, "diagnose", SCIATICA, "--format", "mermaid", *PY)
    assert mermaid.startswith("flowchart LR")
    code, graphml, _ = run(capsys, "diagnose", SCIATICA, "--format", "graphml", *PY)
    g = nx.read_graphml(io.BytesIO(graphml.encode()))
    assert "finding:leg_pain" in g
    assert "condition:lumbar_radiculopathy" in g
