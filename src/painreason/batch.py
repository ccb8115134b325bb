"""Evaluate many cases: serially, on a pool of processes, or on a Dask cluster.

:func:`evaluate_many` gives exactly what ``[engine.evaluate(c) for c in cases]`` gives, in the
same order, whatever the number of workers. With ``workers > 1`` it runs a ``spawn``
:class:`multiprocessing.pool.Pool`: each worker process builds its own engine once (the
knowledge is sent to it, not re-read from disk), takes chunks of cases, and is replaced
after ``maxtasksperchild`` chunks, so a leak or a native crash in one engine costs one
worker, not the run. (``ProcessPoolExecutor(max_tasks_per_child > 1)`` deadlocks on
CPython 3.11, gh-115634; ``Pool(maxtasksperchild=...)`` does not.)

:func:`evaluate_bag` and :func:`evaluate_frame` do the same on a ``dask.bag`` or a
``dask.dataframe`` (the ``painreason[dask]`` extra), on any Dask scheduler: a local
process pool or a distributed cluster (see ``docs/performance.md``).

Processes pay for themselves only on large batches: a worker takes about a second to start
(imports and building its engine) and each case is pickled twice.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .case import Case
from .engine import Backend, CaseInput, Engine
from .errors import PainreasonError, _ProblemsError
from .loader import Knowledge, load_knowledge
from .results import Result

if TYPE_CHECKING:
    import dask.bag
    import dask.dataframe

__all__ = ["evaluate_bag", "evaluate_frame", "evaluate_many", "iter_evaluate", "prefetched"]

OnError = Literal["raise", "return"]
_T = TypeVar("_T")


@overload
def evaluate_many(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: Literal["raise"] = "raise",
    then: None = None,
) -> list[Result]: ...


@overload
def evaluate_many(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: Literal["return"],
    then: None = None,
) -> list[Result | PainreasonError]: ...


@overload
def evaluate_many(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: Literal["raise"] = "raise",
    then: Callable[[Result], _T],
) -> list[_T]: ...


@overload
def evaluate_many(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: Literal["return"],
    then: Callable[[Result], _T],
) -> list[_T | PainreasonError]: ...


def evaluate_many(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: OnError = "raise",
    then: Callable[[Result], Any] | None = None,
) -> list[Any]:
    """Evaluate cases, on ``workers`` processes when more than one, in the input order.

    Parameters
    ----------
    cases : iterable of Case, dict or path
        As :meth:`Engine.evaluate` takes them.
    workers : int, optional
        Worker processes; ``None``, 0 or 1 evaluate in this process. ``-1``: one per CPU.
    knowledge : Knowledge, optional
        The bundled knowledge when omitted.
    backend : {"auto", "durable", "python", "reference"}
    chunksize : int, optional
        Cases a worker takes at a time (default: enough for about eight chunks a worker,
        from 16 to 2,000 cases).
    maxtasksperchild : int
        Chunks a worker process evaluates before it is replaced by a fresh one.
    on_error : {"raise", "return"}
        ``"raise"`` (the default) raises the first case's error, as a serial loop would;
        ``"return"`` puts the :class:`~painreason.errors.PainreasonError` in that case's
        place and goes on.
    then : callable, optional
        Applied to each Result where it is computed (in the worker process), and its value
        returned instead of the Result: ``then=Result.summary`` sends back a small dict
        rather than a whole Result, which is most of a pool's cost (a Result is a few KB
        to pickle). On workers it must be picklable: a module-level function or a method
        such as ``Result.summary``, not a lambda.

    Returns
    -------
    list of Result (or of ``then``'s values)
        One per case, in order (with errors in place when ``on_error="return"``).

    Raises
    ------
    CaseError
        A case does not fit the vocabulary (with ``on_error="raise"``).

    Examples
    --------
    >>> from painreason import evaluate_many
    >>> cases = [{"findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}},
    ...          {"findings": {"neck_pain": "present"}}]
    >>> [r.red_flags[0].id if r.red_flags else None
    ...  for r in evaluate_many(cases, backend="python")]
    ['cauda_equina_red_flag', None]
    >>> evaluate_many(cases, backend="python", then=Result.summary)[0]["red_flags"]
    ['cauda_equina_red_flag']
    """
    return list(
        _start(cases, workers, knowledge, backend, chunksize, maxtasksperchild, on_error, then)
    )


@overload
def iter_evaluate(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: OnError = "raise",
    then: None = None,
) -> Iterator[Result | PainreasonError]: ...


@overload
def iter_evaluate(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: OnError = "raise",
    then: Callable[[Result], _T],
) -> Iterator[_T | PainreasonError]: ...


def iter_evaluate(
    cases: Iterable[CaseInput],
    *,
    workers: int | None = None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
    chunksize: int | None = None,
    maxtasksperchild: int = 50,
    on_error: OnError = "raise",
    then: Callable[[Result], Any] | None = None,
) -> Iterator[Any]:
    """:func:`evaluate_many`, one Result at a time, in order: for batches too large to hold
    (cases are read from ``cases`` as the workers need them; parameters as for
    :func:`evaluate_many`).

    Examples
    --------
    >>> from painreason.batch import iter_evaluate
    >>> cases = ({"findings": {"neck_pain": "present"}} for _ in range(3))
    >>> sum(1 for _ in iter_evaluate(cases, backend="python"))
    3
    """
    return _start(cases, workers, knowledge, backend, chunksize, maxtasksperchild, on_error, then)


def _start(
    cases: Iterable[CaseInput],
    workers: int | None,
    knowledge: Knowledge | None,
    backend: Backend,
    chunksize: int | None,
    maxtasksperchild: int,
    on_error: OnError,
    then: Callable[[Result], Any] | None,
) -> Iterator[Any]:
    """Check the arguments now (not when the first item is asked for), then iterate."""
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return' (got {on_error!r})")
    if workers is not None and (not isinstance(workers, int) or workers < -1):
        raise ValueError(f"workers must be a whole number >= -1 (got {workers!r})")
    if maxtasksperchild < 1:
        raise ValueError(f"maxtasksperchild must be at least 1 (got {maxtasksperchild!r})")
    if chunksize is not None and chunksize < 1:
        raise ValueError(f"chunksize must be at least 1 (got {chunksize!r})")
    if then is not None and not callable(then):
        raise TypeError(f"then must be a function of a Result (got {then!r})")
    if workers == -1:
        workers = os.cpu_count() or 1
    if then is not None and workers and workers > 1:
        try:
            pickle.dumps(then)
        except Exception as exc:  # what pickling raises varies: PicklingError, AttributeError...
            raise TypeError(
                f"then={then!r} cannot be sent to worker processes ({exc}); give a "
                "module-level function or a method such as Result.summary, not a lambda or a "
                "function defined inside another"
            ) from exc
    return _iterate(cases, workers, knowledge, backend, chunksize, maxtasksperchild, on_error, then)


def _iterate(
    cases: Iterable[CaseInput],
    workers: int | None,
    knowledge: Knowledge | None,
    backend: Backend,
    chunksize: int | None,
    maxtasksperchild: int,
    on_error: OnError,
    then: Callable[[Result], Any] | None,
) -> Iterator[Any]:
    if not workers or workers == 1:
        engine = Engine(knowledge, backend=backend)
        for case in cases:
            try:
                result = engine.evaluate(case)
            except PainreasonError as exc:
                if on_error == "raise":
                    raise
                yield exc
                continue
            yield result if then is None else then(result)
        return
    kb = knowledge if knowledge is not None else load_knowledge()
    if chunksize is None:
        known = len(cases) if isinstance(cases, Sized) else 16_000 * workers
        chunksize = max(16, min(2_000, -(-known // (workers * 8))))
    context = multiprocessing.get_context("spawn")
    with context.Pool(
        workers,
        initializer=_start_worker,
        initargs=(kb, backend),
        maxtasksperchild=maxtasksperchild,
    ) as pool:
        for done in pool.imap(_worker_chunk, _chunks(cases, chunksize, on_error, then)):
            for item in done:
                if not isinstance(item, _Failure):
                    yield item
                    continue
                error = item.rebuild()
                if on_error == "raise":
                    raise error
                yield error


def prefetched(
    cases: Sequence[Case],
    *,
    workers: int | None,
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
) -> Engine:
    """An Engine that answers these very Case objects with Results computed beforehand by
    :func:`evaluate_many` on ``workers`` processes; any other case is evaluated as usual.

    Code written against one engine (such as
    :func:`~painreason.vignettes.evaluate_vignettes`) then runs its cases in parallel.
    """
    kb = knowledge if knowledge is not None else load_knowledge()
    results = evaluate_many(cases, workers=workers, knowledge=kb, backend=backend)
    return _Prefetched(kb, backend, cases, results)


class _Prefetched(Engine):
    def __init__(
        self,
        knowledge: Knowledge,
        backend: Backend,
        cases: Sequence[Case],
        results: Sequence[Result],
    ) -> None:
        super().__init__(knowledge, backend=backend)
        self._ready = {id(c): (c, r) for c, r in zip(cases, results, strict=True)}

    def evaluate(self, case: CaseInput) -> Result:
        hit = self._ready.get(id(case))
        if hit is not None and hit[0] is case:
            return hit[1]
        return super().evaluate(case)


# --- process workers ----------------------------------------------------------------------

_WORKER: dict[str, Engine] = {}


def _start_worker(knowledge: Knowledge, backend: Backend) -> None:
    _WORKER["engine"] = Engine(knowledge, backend=backend)


_Task = tuple[list[CaseInput], OnError, "Callable[[Result], Any] | None"]


def _chunks(
    cases: Iterable[CaseInput],
    size: int,
    on_error: OnError,
    then: Callable[[Result], Any] | None,
) -> Iterator[_Task]:
    it = iter(cases)
    while chunk := list(itertools.islice(it, size)):
        yield chunk, on_error, then


def _worker_chunk(task: _Task) -> list[Any]:
    cases, on_error, then = task
    out: list[Any] = []
    engine = _WORKER["engine"]
    for case in cases:
        try:
            result = engine.evaluate(case)
        except PainreasonError as exc:  # sent back as a _Failure: they do not cross processes whole
            out.append(_Failure.of(exc))
            if on_error == "raise":
                break
            continue
        out.append(result if then is None else then(result))  # its errors are the caller's
    return out


class _Failure:
    """A PainreasonError on its way between processes (their constructors take problems,
    which default pickling does not pass back)."""

    def __init__(self, kind: type[PainreasonError], problems: Any, message: str) -> None:
        self.kind, self.problems, self.message = kind, problems, message

    @classmethod
    def of(cls, exc: PainreasonError) -> _Failure:
        problems = exc.problems if isinstance(exc, _ProblemsError) else None
        return cls(type(exc), problems, str(exc))

    def rebuild(self) -> PainreasonError:
        if self.problems is not None and issubclass(self.kind, _ProblemsError):
            return self.kind(self.problems)
        try:
            return self.kind(self.message)
        except TypeError:  # an error class with another constructor: keep type and message
            return PainreasonError(f"{self.kind.__name__}: {self.message}")


# --- Dask ---------------------------------------------------------------------------------

_ENGINES: dict[tuple[str, str], Engine] = {}


def _engine_for(knowledge: Knowledge | None, backend: Backend) -> Engine:
    """One engine per process, knowledge version and backend (Dask reuses worker processes)."""
    key = (knowledge.version if knowledge is not None else "", backend)  # "": bundled
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = Engine(knowledge, backend=backend)
    return engine


def _bag_partition(
    cases: Iterable[CaseInput], knowledge: Knowledge | None, backend: Backend
) -> list[Result]:
    engine = _engine_for(knowledge, backend)
    return [engine.evaluate(c) for c in cases]


def evaluate_bag(
    cases: dask.bag.Bag, knowledge: Knowledge | None = None, backend: Backend = "auto"
) -> dask.bag.Bag:
    """A Dask bag of the Results of a bag of cases (dicts, Cases or paths), in order.

    Each worker process builds its engine once and keeps it; the knowledge is sent to each
    worker once. Needs the ``painreason[dask]`` extra.

    Examples
    --------
    >>> import dask.bag as db
    >>> from painreason.batch import evaluate_bag
    >>> cases = db.from_sequence([{"findings": {"neck_pain": "present"}}], npartitions=1)
    >>> evaluate_bag(cases, backend="python").map(lambda r: r.summary()["tests"]).compute(
    ...     scheduler="sync")
    [{}]
    """
    from dask.delayed import delayed

    kb = delayed(knowledge, pure=True) if knowledge is not None else None
    bag: Any = cases  # dask is not fully typed
    out: dask.bag.Bag = bag.map_partitions(_bag_partition, kb, backend)
    return out


FRAME_COLUMNS = ("case_id", "red_flags", "differential", "ruled_out", "tests", "result")


def _frame_partition(frame: Any, column: str, knowledge: Knowledge | None, backend: Backend) -> Any:
    import pandas as pd

    engine = _engine_for(knowledge, backend)
    rows = []
    for raw in frame[column]:
        case = json.loads(raw) if isinstance(raw, str) else raw
        result = engine.evaluate(case)
        rows.append(
            {
                "case_id": result.case_id,
                "red_flags": " ".join(f.id for f in result.red_flags),
                "differential": " ".join(c.id for c in result.differential),
                "ruled_out": " ".join(c.id for c in result.ruled_out),
                "tests": " ".join(t.id for t in result.tests),
                "result": result.model_dump_json(),
            }
        )
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS), index=frame.index).astype(str)


def evaluate_frame(
    frame: dask.dataframe.DataFrame,
    column: str = "case",
    knowledge: Knowledge | None = None,
    backend: Backend = "auto",
) -> dask.dataframe.DataFrame:
    """A Dask DataFrame of results, one row per case of ``frame[column]``.

    The column holds cases as JSON text (or dicts). The result has the same index and the
    columns ``case_id``, ``red_flags``, ``differential``, ``ruled_out`` and ``tests``
    (space-separated ids, red flags first, the differential ranked) and ``result`` (the
    whole Result as JSON). Needs the ``painreason[dask]`` extra.
    """
    import pandas as pd
    from dask.delayed import delayed

    kb = delayed(knowledge, pure=True) if knowledge is not None else None
    meta = pd.DataFrame({c: pd.Series(dtype=str) for c in FRAME_COLUMNS})
    data: Any = frame  # dask is not fully typed
    out: dask.dataframe.DataFrame = data.map_partitions(
        _frame_partition, column, kb, backend, meta=meta
    )
    return out
