"""OCR over many image files, in parallel worker processes, one engine per worker."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from hopid.data.images import ImageLoadError, load_rgb
from hopid.errors import HopidError
from hopid.ocr.base import OcrEngine, OcrWord
from hopid.ocr.registry import create_engine, engine_problem

# Thread pools that must not oversubscribe the cores when every worker runs its own engine.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OMP_THREAD_LIMIT": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
IN_FLIGHT_PER_WORKER = 4

_worker_engine: OcrEngine | None = None
_worker_problem: str | None = None


@dataclass(frozen=True)
class OcrResult:
    """The OCR of one input file; ``error`` says why it failed (then words is empty, size 0)."""

    index: int
    words: list[OcrWord] = field(default_factory=list)
    width: int = 0
    height: int = 0
    error: str | None = None


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ocr_one(engine: OcrEngine, index: int, path: Path | str) -> OcrResult:
    """Load ``path`` upright and OCR it; a failure becomes an OcrResult with ``error`` set."""
    try:
        image = load_rgb(path)
    except ImageLoadError as exc:
        return OcrResult(index, error=str(exc))
    try:
        words = engine.read(image)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
        return OcrResult(index, error=f"OCR failed: {type(exc).__name__}: {exc}")
    return OcrResult(index, words, image.width, image.height)


def _init_worker(engine: str) -> None:
    global _worker_engine, _worker_problem
    os.environ.update(SINGLE_THREAD_ENV)
    _pin_to_one_core()
    try:
        _worker_engine = create_engine(engine, threads=1)
    except HopidError as exc:
        _worker_problem = str(exc)


def _pin_to_one_core() -> None:
    """Keep this worker on one core (workers take the usable cores in turn): a single-threaded
    engine then never migrates or shares a core with its neighbour."""
    try:
        cores = sorted(os.sched_getaffinity(0))
        number = multiprocessing.current_process()._identity[0]  # 1, 2, ... per pool worker
        os.sched_setaffinity(0, {cores[(number - 1) % len(cores)]})
    except (AttributeError, IndexError, OSError):  # not Linux, or not a pool worker
        pass


def _work(index: int, path: str) -> OcrResult:
    if _worker_engine is None:
        raise HopidError(_worker_problem or "the OCR engine could not be created in a worker process")
    return ocr_one(_worker_engine, index, path)


def ocr_paths(paths: Sequence[Path], engine: str, workers: int | None = None) -> Iterator[OcrResult]:
    """OCR every file of ``paths``, yielding results as they complete (in any order).

    ``workers=None`` uses every available core; ``workers=1`` runs in this process. Otherwise
    a "spawn" process pool runs one single-threaded engine per worker. Unreadable images and
    engine failures give an OcrResult with ``error`` set; a missing engine raises HopidError
    (at once when the package or binary is absent, else when the engine fails to load).
    """
    problem = engine_problem(engine)
    if problem:
        raise HopidError(problem)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise HopidError(f"workers must be at least 1, got {workers}")
    workers = min(workers, len(paths))
    if workers <= 1:
        return _in_process(paths, engine)
    return _pooled(list(enumerate(paths)), engine, workers)


def _in_process(paths: Sequence[Path], engine: str) -> Iterator[OcrResult]:
    if not paths:
        return
    reader = create_engine(engine)
    for index, path in enumerate(paths):
        yield ocr_one(reader, index, path)


def _pooled(todo: list[tuple[int, Path]], engine: str, workers: int) -> Iterator[OcrResult]:
    todo.reverse()  # pop() from the end keeps input order
    while todo:
        crashed: list[int] = []
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(engine,))
        try:
            running: dict[Future[OcrResult], int] = {}
            while todo or running:
                while todo and len(running) < workers * IN_FLIGHT_PER_WORKER:
                    index, path = todo.pop()
                    running[pool.submit(_work, index, str(path))] = index
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        crashed.append(index)
                        continue
                    yield result
                if crashed:
                    crashed += running.values()
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        # A worker died (killed, out of memory, native crash): its images fail, the rest go on in a new pool.
        for index in sorted(crashed):
            yield OcrResult(index, error="OCR worker process crashed (out of memory or a native error)")
