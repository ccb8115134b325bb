"""Documentation stays in sync with the code: every error code is documented, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DYNAMIC = {
    "unknown-condition",
    "unknown-red-flag",
    "unknown-test",
    "unknown-source",
    "unknown-fact",
}


def codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "src" / "painreason").rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'(?:problem|err|Problem|bad)\(\s*"([a-z][a-z-]+)"', text))
        codes |= set(re.findall(r'code = "([a-z-]+)"', text))
    return codes | DYNAMIC


def test_every_error_code_is_documented() -> None:
    table = (ROOT / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.M))
    assert documented == codes_in_source()


def test_knowledge_reference_is_fresh() -> None:
    import painreason
    from painreason._docgen import knowledge_markdown

    expected = knowledge_markdown(painreason.load_knowledge())
    current = (ROOT / "docs" / "knowledge.md").read_text()
    assert current == expected, "docs/knowledge.md is stale: run `make docs`"
