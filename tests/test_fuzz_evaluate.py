"""Fuzzing evaluate on both backends with the numbers most likely to break a C core: huge and
tiny magnitudes, subnormals, negative zero, integers past 2**53, values one ulp apart.

Rule packs are written to a folder and loaded through the public API; the durable backend
runs in an isolated worker process, so a segfault or a hang in durable-rules' C core fails
the test (with the pack and cases shown) instead of killing the run. Every durable outcome
must equal the python backend's Result, or be a CapacityError.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import painreason

from ._hostile import (
    MIXED_RULES,
    Isolated,
    fuzz_settings,
    hostile_text,
    hostile_values,
    load,
    outcome_of,
    pack_dir,
    rule,
    write_pack,
)
from .conftest import BACKENDS
from .properties.strategies import knowledge_files

EDGE = [
    -1e308, -(2.0**63), -(2.0**53) - 2, -1.0, -5e-324, -0.0, 0.0, 5e-324, 2.2250738585072014e-308,
    1e-300, 0.1 + 0.2, 0.3, 1.0, 1.0000000000000002, 2.0**53, 2.0**53 + 2, 9007199254740993,
    1e20, 123456789.123456789, 1e300, 1e308,
]  # fmt: skip
NUMBERS = (
    st.sampled_from(EDGE) | st.floats(-1e308, 1e308, allow_nan=False) | st.integers(-(2**70), 2**70)
)
OPS = ["eq", "ne", "lt", "le", "gt", "ge"]


def knowledge() -> dict[str, Any]:
    know = knowledge_files()
    n0 = next(f for f in know["findings"] if f["id"] == "n0")
    n0["range"] = [-1e308, 1e308]
    return know


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 5)) == 0:
        lo, hi = sorted([draw(NUMBERS), draw(NUMBERS)])
        return {"finding": "n0", "between": [lo, hi]}
    return {"finding": "n0", draw(st.sampled_from(OPS)): draw(NUMBERS)}


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["cmp", "cmp", "all", "any", "not", "b0"] if depth < 2 else ["cmp"])
    )
    if kind == "cmp":
        return draw(comparisons())
    if kind == "b0":
        return {draw(st.sampled_from(["present", "absent"])): "b0"}
    if kind == "not":
        return {"not": draw(conditions(depth + 1))}
    return {kind: draw(st.lists(conditions(depth + 1), min_size=1, max_size=3))}


@st.composite
def packs(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rules = [
        rule(
            f"r{i}",
            draw(conditions()),
            [{"propose": {"condition": f"k{i % 3}", "strength": "low"}}],
        )
        for i in range(draw(st.integers(1, 6)))
    ]
    values = st.sampled_from(EDGE) | NUMBERS
    cases = [
        {"findings": {"n0": draw(values), "b0": draw(st.sampled_from(["present", "absent"]))}}
        for _ in range(draw(st.integers(1, 5)))
    ]
    return {"rules": rules}, cases


@pytest.fixture(scope="module")
def worker() -> Iterator[Isolated]:
    with Isolated(timeout=60) as isolated:
        yield isolated


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
@fuzz_settings(cap=40)
@given(pack=packs())
def test_durable_gives_the_python_result_on_extreme_numbers(
    worker: Isolated, pack: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    rules, cases = pack
    root = write_pack(Path(tempfile.mkdtemp(prefix="painreason-fuzz-")), rules, knowledge())
    try:
        python = painreason.Engine(load(root), backend="python")
        expected = [outcome_of(lambda c=c: python.evaluate(c)) for c in cases]
        assert all(kind == "result" for kind, _, _ in expected), expected
        got = worker.call("evaluate_pack", str(root), "durable", cases, False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if {(kind, name) for kind, name, _ in got} == {("error", "CapacityError")}:
        return  # refused at compile time, with a message: allowed by the contract
    assert got == expected


@fuzz_settings(cap=50)
@given(pack=packs())
def test_python_and_reference_backends_agree_on_extreme_numbers(
    pack: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    rules, cases = pack
    root = write_pack(Path(tempfile.mkdtemp(prefix="painreason-fuzz-")), rules, knowledge())
    try:
        kb = load(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    try:
        reference = painreason.Engine(kb, backend="reference")  # type: ignore[arg-type]
    except ValueError:
        pytest.skip("no reference backend in this version")
    python = painreason.Engine(kb, backend="python")
    for case in cases:
        assert python.evaluate(case) == reference.evaluate(case)


@pytest.fixture(scope="module")
def mixed_pack() -> Iterator[Path]:
    with pack_dir(MIXED_RULES) as root:
        yield root


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # objects, recursion: such inputs stay in the in-process fuzz tests
        return False
    return True


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
@fuzz_settings(cap=60)
@given(
    batch=st.lists(
        st.fixed_dictionaries(
            {
                "findings": st.dictionaries(
                    st.sampled_from(["b0", "b1", "b2", "b3", "b4", "n0", "o0", "c0"])
                    | hostile_text(6),
                    hostile_values(),
                    max_size=5,
                )
            }
        ),
        min_size=1,
        max_size=4,
    )
)
def test_hostile_cases_on_the_durable_backend_end_like_on_the_python_backend(
    worker: Isolated, mixed_pack: Path, batch: list[dict[str, Any]]
) -> None:
    batch = [case for case in batch if _picklable(case)]
    python = painreason.Engine(load(mixed_pack), backend="python")
    expected = [outcome_of(lambda c=c: python.evaluate(c)) for c in batch]
    got = worker.call("evaluate_pack", str(mixed_pack), "durable", batch)
    assert [o[0] for o in got] == [o[0] for o in expected]  # result / error, never unexpected
    assert all(kind in ("result", "error") for kind, _, _ in got), got
    assert got == expected
