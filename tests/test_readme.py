"""The README's CLI example is the command's real output (the knowledge hash aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from painreason.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_is_real_output(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- diagnose-example:start -->\n```text\n(.*?)```\n<!-- diagnose-example:end -->",
        readme,
        flags=re.S,
    )
    assert block, "README lost its diagnose example"
    case = ROOT / "knowledge" / "examples" / "sciatica_l5.yaml"
    assert main(["diagnose", str(case), "--backend", "python"]) == 0
    real = capsys.readouterr().out

    def unhash(text: str) -> str:
        return re.sub(r"knowledge [0-9a-f]{12}", "knowledge <version>", text)

    assert unhash(block.group(1)) == unhash(real), "refresh the README example"
