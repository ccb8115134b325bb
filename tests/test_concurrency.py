"""Concurrency: one Engine shared by threads, engines created and dropped, process pools.

Results never depend on the thread, the process or the order of findings; an Engine left
behind leaves no thread and no memory.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import painreason

from ._hostile import MIXED_RULES, Isolated, load, pack_dir, pool_evaluate, random_cases
from .conftest import BACKENDS

THREADS = 8
CASES = 1_000


@pytest.fixture(scope="module")
def pack() -> Iterator[Path]:
    with pack_dir(MIXED_RULES) as root:
        yield root


@pytest.fixture(scope="module")
def mixed(pack: Path) -> painreason.Knowledge:
    return load(pack)


@pytest.fixture(scope="module")
def cases(mixed: painreason.Knowledge) -> list[dict[str, Any]]:
    return random_cases(mixed, CASES, seed=11, density=0.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eight_threads_sharing_one_engine_get_the_serial_results(
    mixed: painreason.Knowledge, cases: list[dict[str, Any]], backend: str
) -> None:
    engine = painreason.Engine(mixed, backend=backend)  # type: ignore[arg-type]
    serial = [engine.evaluate(c) for c in cases]
    assert sum(bool(r.firings) for r in serial) > CASES // 2  # the cases exercise the rules
    start = threading.Barrier(THREADS)
    got: list[dict[int, painreason.Result]] = [{} for _ in range(THREADS)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        order = list(range(CASES))
        random.Random(k).shuffle(order)  # each thread its own order: interleavings differ
        start.wait()
        try:
            for i in order:
                got[k][i] = engine.evaluate(cases[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []
    for k in range(THREADS):
        assert [got[k][i] for i in range(CASES)] == serial, f"thread {k} differs"


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_on_the_bundled_knowledge_get_the_serial_results(
    engines: dict[str, painreason.Engine], kb: painreason.Knowledge, backend: str
) -> None:
    engine = engines[backend]
    cases = random_cases(kb, 12 if backend == "durable" else 100, seed=5)
    serial = [engine.evaluate(c) for c in cases]
    got: dict[tuple[int, int], painreason.Result] = {}

    def work(k: int) -> None:
        for i in range(len(cases)):
            j = (i * 7 + k) % len(cases)
            got[(k, j)] = engine.evaluate(cases[j])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all(got[(k, i)] == serial[i] for k in range(4) for i in range(len(cases)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_do_not_depend_on_finding_order(
    mixed: painreason.Knowledge, cases: list[dict[str, Any]], backend: str
) -> None:
    engine = painreason.Engine(mixed, backend=backend)  # type: ignore[arg-type]
    rng = random.Random(3)
    for case in cases[:200]:
        items = list(case["findings"].items())
        rng.shuffle(items)
        assert engine.evaluate({**case, "findings": dict(items)}) == engine.evaluate(case)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_hundred_engines_leave_no_threads_or_memory_behind(pack: Path, backend: str) -> None:
    # in a fresh process, so that resident memory measures only this
    with Isolated(timeout=240) as worker:
        report = worker.call("churn_engines", str(pack), backend, 200)
    assert report["threads_after"] == report["threads_before"]
    rss = report["rss"]  # KiB, every 20 engines
    growth = rss[-1] - rss[1]  # after the first 40 have warmed caches up
    assert growth < 8 * 1024, f"resident memory grew by {growth} KiB over 160 engines: {rss}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_spawned_process_pool_gets_the_in_process_results(
    pack: Path, mixed: painreason.Knowledge, cases: list[dict[str, Any]], backend: str
) -> None:
    engine = painreason.Engine(mixed, backend=backend)  # type: ignore[arg-type]
    batch = cases[:200]
    expected = [engine.evaluate(c) for c in batch]
    chunks = [(str(pack), backend, batch[i : i + 50]) for i in range(0, len(batch), 50)]
    with mp.get_context("spawn").Pool(2, maxtasksperchild=2) as pool:
        parts = pool.map_async(pool_evaluate, chunks).get(timeout=240)
    got = [painreason.Result.model_validate_json(text) for part in parts for text in part]
    assert got == expected


def test_results_do_not_depend_on_the_backend_under_threads(
    mixed: painreason.Knowledge, cases: list[dict[str, Any]]
) -> None:
    if "durable" not in BACKENDS:
        pytest.skip("durable-rules not importable here")
    python = painreason.Engine(mixed, backend="python")
    durable = painreason.Engine(mixed, backend="durable")
    got: dict[int, painreason.Result] = {}

    def work(offset: int) -> None:
        for i in range(offset, 300, 3):
            got[i] = durable.evaluate(cases[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert [got[i] for i in range(300)] == [python.evaluate(c) for c in cases[:300]]
