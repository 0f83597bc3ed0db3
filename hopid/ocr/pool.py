"""OCR over many image files, in parallel worker processes, one engine per worker.

The workers belong to this process: they exit when it dies (even by SIGKILL) and are killed when
the iteration stops (an error, Ctrl-C). Each reads one image at a time, so a worker that dies
(the out-of-memory killer, a native crash) was reading exactly one image: that image is read once
more, alone, and is recorded as failed only when it kills a worker again.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from hopid.errors import HopidError
from hopid.ocr.registry import engine_problem
from hopid.ocr.worker import (
    SINGLE_THREAD_ENV,
    EngineFactory,
    OcrResult,
    build_engine,
    decode_result,
    encode,
    ocr_one,
    serve,
)

__all__ = ["SINGLE_THREAD_ENV", "OcrResult", "default_workers", "ocr_one", "ocr_paths"]

DEATHS_PER_IMAGE = 2  # a worker dying twice on one image makes it a failure
IN_FLIGHT_PER_WORKER = 2  # one read, one waiting: a worker never waits for the parent between images
STOP_SECONDS = 3.0  # how long finished workers get to exit before they are killed


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ocr_paths(
    paths: Sequence[Path], engine: str | EngineFactory, workers: int | None = None
) -> Generator[OcrResult, None, None]:
    """OCR every file of ``paths``, yielding results as they complete (in any order).

    ``engine`` is an engine spec, or a picklable ``factory(threads) -> engine``. ``workers=None``
    uses every available core; ``workers=1`` runs in this process. Otherwise "spawn" worker
    processes run one single-threaded engine each. Unreadable images, engine failures and images
    that killed a worker twice give an OcrResult with ``error`` set; a missing engine raises
    HopidError (at once when the package or binary is absent, else when the engine fails to load).
    """
    problem = None if callable(engine) else engine_problem(engine)
    if problem:
        raise HopidError(problem)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise HopidError(f"workers must be at least 1, got {workers}")
    workers = min(workers, len(paths))
    if workers <= 1:
        return _in_process(paths, engine)
    return _pooled([(index, str(path)) for index, path in enumerate(paths)], engine, workers)


def _in_process(paths: Sequence[Path], engine: str | EngineFactory) -> Generator[OcrResult, None, None]:
    if not paths:
        return
    reader = build_engine(engine, threads=None)
    for index, path in enumerate(paths):
        yield ocr_one(reader, index, path)


@dataclass
class _Worker:
    process: BaseProcess
    conn: multiprocessing.connection.Connection
    slot: int
    ready: bool = False  # its engine is built
    tasks: deque[tuple[int, str]] = field(default_factory=deque)  # sent, unanswered; the first is being read


def _how_it_died(process: BaseProcess) -> str:
    process.join(STOP_SECONDS)
    code = process.exitcode
    if code is None:
        return "its pipe closed"
    return f"signal {-code}" if code < 0 else f"exit code {code}"


class _Pool:
    """Worker processes of this process, by slot; each reads its tasks in the order sent."""

    def __init__(self, engine: str | EngineFactory, size: int) -> None:
        self.engine = engine
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, _Worker] = {}
        for slot in range(size):
            self.start(slot)

    def start(self, slot: int) -> None:
        ours, theirs = self.context.Pipe()
        process = self.context.Process(
            target=serve, args=(self.engine, theirs, os.getpid(), slot), name=f"hopid-ocr-{slot}", daemon=True
        )
        process.start()
        theirs.close()
        self.workers[slot] = _Worker(process, ours, slot)

    def busy(self) -> int:
        """How many tasks are out."""
        return sum(len(w.tasks) for w in self.workers.values())

    def give(self, worker: _Worker, task: tuple[int, str]) -> None:
        """Send ``task``; to a worker that has just died it stays on that worker, whose death
        :meth:`events` reports next (with its unanswered tasks)."""
        worker.tasks.append(task)
        with contextlib.suppress(OSError):  # BrokenPipeError: the worker is gone
            worker.conn.send_bytes(encode({"index": task[0], "path": task[1]}))

    def events(self) -> list[tuple[_Worker, OcrResult | str]]:
        """Wait for news: ``(worker, result)`` for an answer (its task done), ``(worker, how)`` for
        a death (the dead worker leaves the pool; its unanswered tasks stay on it)."""
        waitables = [w.conn for w in self.workers.values()] + [w.process.sentinel for w in self.workers.values()]
        ready = set(multiprocessing.connection.wait(waitables))
        news: list[tuple[_Worker, OcrResult | str]] = []
        for worker in list(self.workers.values()):
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            try:
                if worker.conn.poll():
                    message = json.loads(worker.conn.recv_bytes())
                elif worker.process.is_alive():
                    continue
                else:
                    message = None
            except (EOFError, OSError):  # the worker is gone
                message = None
            if message is None:
                news.append((worker, _how_it_died(worker.process)))
                worker.conn.close()
                del self.workers[worker.slot]
            elif "problem" in message:
                raise HopidError(message["problem"])
            elif "ready" in message:
                worker.ready = True
            else:
                result = decode_result(message)
                worker.tasks = deque(t for t in worker.tasks if t[0] != result.index)
                news.append((worker, result))
        return news

    def close(self, gently: bool) -> None:
        """Stop every worker: asked to finish when ``gently``, else (an error, Ctrl-C) killed at once."""
        for worker in self.workers.values():
            if gently:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(encode(None))
            else:
                worker.process.kill()
        for worker in self.workers.values():
            worker.process.join(STOP_SECONDS if gently else None)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers.clear()


def _pooled(todo: list[tuple[int, str]], engine: str | EngineFactory, size: int) -> Generator[OcrResult, None, None]:
    """Images go to the workers :data:`IN_FLIGHT_PER_WORKER` at a time. When a worker dies, the
    image it was reading (its first unanswered one) is read again alone, with nothing else in
    flight, and fails only if that kills a worker too; the images it had not begun go back in line."""
    queue, again = deque(todo), deque[tuple[int, str]]()
    deaths: dict[int, int] = {}
    early_deaths = 0
    alone: int | None = None  # the image being read a second time
    pool = _Pool(engine, size)
    gently = False
    try:
        while queue or again or pool.busy():
            if again and alone is None and not pool.busy():
                task = again.popleft()
                pool.give(max(pool.workers.values(), key=lambda w: w.ready), task)  # a ready one if any
                alone = task[0]
            elif alone is None and not again:
                for worker in pool.workers.values():
                    while queue and len(worker.tasks) < IN_FLIGHT_PER_WORKER:
                        pool.give(worker, queue.popleft())
            for worker, news in pool.events():
                if isinstance(news, OcrResult):
                    alone = None if news.index == alone else alone
                    yield news
                    continue
                reading, *unread = worker.tasks if worker.ready and worker.tasks else [None, *worker.tasks]
                if not worker.ready:  # died loading its engine: no image was begun
                    early_deaths += 1
                    if early_deaths > 2 * size:
                        raise HopidError(f"OCR worker processes keep dying while loading the engine ({news})")
                for task in reversed(unread):
                    (again if task[0] == alone else queue).appendleft(task)
                alone = None if alone in {task[0] for task in unread} else alone
                if queue or again or pool.busy() or reading is not None:
                    pool.start(worker.slot)
                if reading is None:
                    continue
                index = reading[0]
                alone = None if index == alone else alone
                deaths[index] = deaths.get(index, 0) + 1
                if deaths[index] >= DEATHS_PER_IMAGE:
                    yield OcrResult(index, error=f"OCR worker died ({news}) twice on this image")
                else:
                    again.append(reading)
        gently = True
    finally:
        pool.close(gently)
