"""The benchmark script runs end to end at tiny sizes (no timing is asserted: CI machines
vary; docs/performance.md holds measured figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BACKENDS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not shipped in the sdist")
def test_benchmark_runs_quick_and_reports_every_target(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    tiny = ["--sizes", "20", "--repeat", "1", "--warm", "10", "--soak", "200"]
    tiny += ["--soak-durable", "30", "--factor", "1", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *tiny],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["disagreements"] == []
    names = [t["target"] for t in report["targets"]]
    assert any("hand-written, 20 rules" in n for n in names)
    assert "shipped: python >= 50,000 cases/s per core" in names
    assert "shipped: load + compile < 300 ms" in names
    assert any(n.startswith("evaluate_many = serial") for n in names)
    assert names.count("  ... in a long run (second half of the memory run)") == (
        2 if "durable" in BACKENDS else 1
    )
    soak = report["shipped"]["memory"]
    assert len(soak["cases_per_s_by_tenth"]) == 10
    assert soak["steady_cases_per_s"] > 0
    assert report["batch"]["evaluate_many_summary_equal"] is True
    assert all(t["status"] in ("PASS", "FALL SHORT", "N/A") for t in report["targets"])
    assert "TARGETS" in done.stdout
    engines = report["synthetic"]["20"]["engines"]
    assert engines["python"]["cases_per_s"] > 0
    assert engines["hand-written"]["cases_per_s"] > 0
