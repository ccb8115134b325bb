"""evaluate_many and the Dask helpers give exactly the serial results, in order."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

import painreason
from painreason import evaluate_many
from painreason.batch import _Failure, evaluate_bag, evaluate_frame
from painreason.errors import CapacityError, CaseError, EngineError
from painreason.golden import load_golden

from .conftest import BACKENDS

BAD = {"findings": {"heart_rate": 900}}


@pytest.fixture(scope="module")
def golden(kb: painreason.Knowledge) -> list[painreason.Case]:
    return [g.case for g in load_golden(kb)]


@pytest.fixture(scope="module")
def serial(kb: painreason.Knowledge, golden: list[painreason.Case]) -> list[painreason.Result]:
    engine = painreason.Engine(kb, backend="python")
    return [engine.evaluate(c) for c in golden]


def test_serial_is_a_loop_over_evaluate(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    as_dicts = [c.model_dump() for c in golden]
    assert evaluate_many(as_dicts, knowledge=kb, backend="python") == serial
    assert evaluate_many(iter(golden), workers=1, knowledge=kb, backend="python") == serial


def test_workers_give_the_serial_results_in_order(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    # small chunks and recycled workers: several processes take part, order must hold
    got = evaluate_many(
        golden * 3, workers=2, knowledge=kb, backend="python", chunksize=100, maxtasksperchild=2
    )
    assert got == serial * 3


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable here")
def test_durable_workers_agree_with_the_python_backend(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    assert evaluate_many(golden, workers=2, knowledge=kb, backend="durable") == serial


def test_errors_are_raised_or_returned_in_place(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    cases: list[Any] = [*golden[:3], BAD, *golden[3:5]]
    for workers in (None, 2):
        with pytest.raises(CaseError) as info:
            evaluate_many(cases, workers=workers, knowledge=kb, backend="python", chunksize=2)
        assert info.value.codes == ["out-of-range"]
        got = evaluate_many(
            cases, workers=workers, knowledge=kb, backend="python", chunksize=2, on_error="return"
        )
        assert got[:3] == serial[:3]
        assert got[4:] == serial[3:5]
        assert isinstance(got[3], CaseError)
        assert got[3].codes == ["out-of-range"]


def test_errors_cross_processes_whole() -> None:
    # PainreasonErrors do not survive pickling; they travel as type, problems and text
    with pytest.raises(CaseError) as info:
        painreason.evaluate(BAD, backend="python")
    case_error = info.value
    rebuilt = _Failure.of(case_error).rebuild()
    assert type(rebuilt) is CaseError
    assert str(rebuilt) == str(case_error)
    capacity = _Failure.of(CapacityError("too many")).rebuild()
    assert type(capacity) is CapacityError
    assert str(capacity) == "too many"
    assert isinstance(_Failure.of(EngineError("x")).rebuild(), EngineError)


def _flag_ids(result: painreason.Result) -> list[str]:
    return [f.id for f in result.red_flags]


def test_then_runs_on_each_result_where_it_is_computed(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    cases: list[Any] = [*golden[:40], BAD, *golden[40:80]]
    want: list[Any] = (
        [r.summary() for r in serial[:40]] + [None] + [r.summary() for r in serial[40:80]]
    )
    for workers in (None, 2):
        got = evaluate_many(
            cases,
            workers=workers,
            knowledge=kb,
            backend="python",
            chunksize=16,
            on_error="return",
            then=painreason.Result.summary,
        )
        assert isinstance(got[40], CaseError)
        assert [*got[:40], None, *got[41:]] == want
        flags = evaluate_many(
            golden, workers=workers, knowledge=kb, backend="python", then=_flag_ids
        )
        assert flags == [_flag_ids(r) for r in serial]
        assert any(flags)  # the golden cases raise red flags: the comparison can fail


def _boom(result: painreason.Result) -> None:
    raise EngineError("raised by then")


def test_errors_of_then_are_not_taken_for_the_cases(
    kb: painreason.Knowledge, golden: list[painreason.Case]
) -> None:
    # with on_error="return", a case's error is returned in place; then's must be raised
    for workers in (None, 2):
        with pytest.raises(EngineError, match="raised by then"):
            evaluate_many(
                golden[:4],
                workers=workers,
                knowledge=kb,
                backend="python",
                on_error="return",
                then=_boom,
            )
    with pytest.raises(TypeError, match="then must be a function"):
        evaluate_many([], then=3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"cannot be sent to worker processes.*not a lambda"):
        evaluate_many(golden[:2], workers=2, knowledge=kb, then=lambda r: r.summary())
    assert len(evaluate_many(golden[:2], knowledge=kb, then=lambda r: r.summary())) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"workers": -2}, "workers must be"),
        ({"workers": 1.5}, "workers must be"),
        ({"on_error": "ignore"}, "on_error must be"),
        ({"maxtasksperchild": 0}, "maxtasksperchild must be"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate_many([], **kwargs)


needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="the dask extra is not installed"
)


@needs_dask
def test_dask_bag_and_frame_on_a_local_cluster(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        bag = db.from_sequence([c.model_dump() for c in golden * 2], npartitions=6)
        assert evaluate_bag(bag, kb, backend="python").compute() == serial * 2

        texts = [json.dumps(c.model_dump()) for c in golden]
        frame = dd.from_pandas(pd.DataFrame({"case": texts}), npartitions=4)
        table = evaluate_frame(frame, knowledge=kb, backend="python").compute()
    assert list(table.index) == list(range(len(golden)))
    assert [painreason.Result.model_validate_json(r) for r in table["result"]] == serial
    assert list(table["red_flags"]) == [" ".join(f.id for f in r.red_flags) for r in serial]


def test_cli_evaluate_with_workers_reports_what_it_reports_serially(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from painreason.cli import main
    from painreason.loader import data_dir

    cases = str(data_dir("knowledge") / "cases" / "cauda_equina.yaml")
    common = ["evaluate", cases, "--backend", "python", "--format", "json"]
    assert main(common) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*common, "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == serial
    assert serial["n_cases"] > 0


def test_iter_evaluate_streams_a_generator_in_order(
    kb: painreason.Knowledge, golden: list[painreason.Case], serial: list[painreason.Result]
) -> None:
    from painreason.batch import iter_evaluate

    stream = (c for _ in range(2) for c in golden)  # no len(): chunked as it is read
    got = iter_evaluate(stream, workers=2, knowledge=kb, backend="python", chunksize=64)
    for i, result in enumerate(got):
        assert result == serial[i % len(serial)]
    assert i == 2 * len(serial) - 1
