"""Golden clinical cases run on every backend, and the backends agree on each."""

from __future__ import annotations

import pytest

import painreason
from painreason.golden import GoldenCase, check, load_golden

from .conftest import BACKENDS

_KB = painreason.load_knowledge()
GOLDEN = load_golden(_KB)


def test_there_are_golden_cases() -> None:
    assert len(GOLDEN) >= 10


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.id)
def test_golden_case(
    golden: GoldenCase, backend: str, engines: dict[str, painreason.Engine]
) -> None:
    result = engines[backend].evaluate(golden.case)
    problems = check(golden, result)
    assert not problems, f"{golden.file}: {golden.id}: " + "; ".join(problems)


@pytest.mark.skipif(len(BACKENDS) < 2, reason="durable-rules not importable here")
@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.id)
def test_backends_agree_on_golden_case(
    golden: GoldenCase, engines: dict[str, painreason.Engine]
) -> None:
    assert engines["durable"].evaluate(golden.case) == engines["python"].evaluate(golden.case)
