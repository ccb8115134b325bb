"""Golden clinical cases run on every backend, and the backends agree on each; malformed golden
files fail with every problem located, the same way when read as vignettes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import painreason
from painreason.errors import KnowledgeError
from painreason.golden import GoldenCase, check, load_golden
from painreason.vignettes import load_vignettes

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


_GOOD = Path(__file__).parent / "data" / "good_pack"

_BAD_CASES = """\
cases:
  - id: febrile_back_pain
    description: The id of the first case of cases.yaml again.
    kind: edge
    case: {findings: {back_pain: present}}
    expect: {red_flags: []}
  - not a mapping
  - id: both_ways
    description: Expects infection proposed and not proposed.
    kind: edge
    case: {findings: {back_pain: present}}
    expect: {red_flags: [], proposed: [infection], not_proposed: [infection]}
  - id: misspelt
    description: An unknown finding and an unknown red flag.
    kind: edge
    case: {findings: {back_painn: present}}
    expect: {red_flags: [infection_flagg]}
"""


def _bad_pack(tmp_path: Path) -> painreason.Knowledge:
    shutil.copytree(_GOOD / "knowledge", tmp_path / "knowledge")
    (tmp_path / "knowledge" / "cases" / "more.yaml").write_text(_BAD_CASES)
    (tmp_path / "knowledge" / "cases" / "shape.yaml").write_text("cases: []\nextra: 1\n")
    return painreason.load_knowledge(_GOOD / "rules", tmp_path / "knowledge")


def test_every_problem_of_every_golden_file_is_located(tmp_path: Path) -> None:
    kb = _bad_pack(tmp_path)
    with pytest.raises(KnowledgeError) as info:
        load_golden(kb)
    cases = f"{kb.knowledge_dir}/cases"
    assert [str(p) for p in info.value.problems] == [
        f"{cases}/more.yaml:2:9: golden case id 'febrile_back_pain' is already used at "
        f"{cases}/cases.yaml:2 [duplicate-id]",
        f"{cases}/more.yaml:7:5: case: Input should be a valid dictionary or instance of "
        "GoldenCase [bad-golden]",
        f"{cases}/more.yaml:12:5: case 'both_ways': expect: infection both proposed and not "
        "proposed [bad-golden]",
        f"{cases}/more.yaml:17:14: case 'misspelt': expect.red_flags: unknown id "
        "'infection_flagg' (did you mean 'infection_flag'?) [unknown-reference]",
        f"{cases}/more.yaml:16:5: case 'misspelt': unknown finding 'back_painn' (did you mean "
        "'back_pain'?) [unknown-finding]",
        f"{cases}/shape.yaml:1:1: a golden case file must be {{cases: [...]}} [bad-file]",
    ]


def test_golden_files_read_as_vignettes_fail_the_same_way(tmp_path: Path) -> None:
    kb = _bad_pack(tmp_path)
    with pytest.raises(KnowledgeError) as golden:
        load_golden(kb)
    with pytest.raises(KnowledgeError) as vignettes:
        load_vignettes(f"{kb.knowledge_dir}/cases", kb)
    # the same problems; the vignette reader lists those of the files' shapes first
    assert sorted(vignettes.value.problems, key=str) == sorted(golden.value.problems, key=str)
