"""The worker side of the OCR pool: one engine per process, tasks and results as JSON lines over a
pipe, and no life of its own once the parent process is gone."""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hopid.data.images import ImageLoadError, load_rgb
from hopid.errors import HopidError
from hopid.ocr.base import OcrEngine, OcrWord, failure_reason
from hopid.ocr.registry import create_engine

# Thread pools that must not oversubscribe the cores when every worker runs its own engine.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OMP_THREAD_LIMIT": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
PARENT_POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Builds an engine for ``threads`` threads; must be picklable (a module-level function or a
# functools.partial of one) to reach a worker process.
EngineFactory = Callable[[int], OcrEngine]


@dataclass(frozen=True)
class OcrResult:
    """The OCR of one input file; ``error`` says why it failed (then words is empty, size 0)."""

    index: int
    words: list[OcrWord] = field(default_factory=list)
    width: int = 0
    height: int = 0
    error: str | None = None


def ocr_one(engine: OcrEngine, index: int, path: Path | str) -> OcrResult:
    """Load ``path`` upright and OCR it; a failure becomes an OcrResult with a non-empty ``error``."""
    try:
        image = load_rgb(path)
    except ImageLoadError as exc:
        return OcrResult(index, error=str(exc) or failure_reason(exc))
    try:
        words = engine.read(image)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
        return OcrResult(index, error=f"OCR failed: {failure_reason(exc)}")
    return OcrResult(index, words, image.width, image.height)


def build_engine(engine: str | EngineFactory, threads: int | None) -> OcrEngine:
    """The engine of spec ``engine`` from the registry, or the one ``engine(threads)`` makes."""
    if callable(engine):
        return engine(threads or 1)
    return create_engine(engine, threads=threads)


def encode(message: object) -> bytes:
    """One message of the pipe: ASCII JSON (file names that are not UTF-8 survive as escapes)."""
    return json.dumps(message, ensure_ascii=True).encode("ascii")


def encode_result(result: OcrResult) -> bytes:
    words = [[str(w.text), float(w.confidence), [float(v) for v in w.box]] for w in result.words]
    return encode({"index": result.index, "words": words, "size": [result.width, result.height], "error": result.error})


def decode_result(message: dict) -> OcrResult:
    words = [OcrWord(text, float(confidence), tuple(box)) for text, confidence, box in message["words"]]
    width, height = message["size"]
    return OcrResult(int(message["index"]), words, int(width), int(height), message["error"])


def die_with_parent(parent_pid: int) -> None:
    """Make this process exit as soon as ``parent_pid`` is no longer its parent: the kernel's
    parent-death signal on Linux, and everywhere a thread that polls the parent pid."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def pin_to_core(slot: int) -> None:
    """Keep this worker on one core (slots take the usable cores in turn): a single-threaded
    engine then never migrates or shares a core with its neighbour."""
    try:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[slot % len(cores)]})
    except (AttributeError, OSError):  # not Linux
        pass


def start_engine(engine: str | EngineFactory) -> OcrEngine:
    """A worker's engine: its thread pools single-threaded first (the workers share the cores)."""
    os.environ.update(SINGLE_THREAD_ENV)
    return build_engine(engine, threads=1)


def serve(engine: str | EngineFactory, conn: multiprocessing.connection.Connection, parent_pid: int, slot: int) -> None:
    """A worker process's life: build the engine and say ``{"ready": true}``, then answer
    ``{"index", "path"}`` tasks with results until ``null`` or the pipe closes. An engine that
    cannot be built answers ``{"problem": reason}`` instead."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    pin_to_core(slot)
    try:
        reader = start_engine(engine)
    except HopidError as exc:
        conn.send_bytes(encode({"problem": str(exc)}))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it as a HopidError
        conn.send_bytes(encode({"problem": f"the OCR engine could not be created: {failure_reason(exc)}"}))
        return
    conn.send_bytes(encode({"ready": True}))
    while True:
        try:
            task = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = ocr_one(reader, task["index"], task["path"])
        except Exception as exc:  # noqa: BLE001 - whatever escapes the engine is this image's failure
            result = OcrResult(task["index"], error=f"OCR failed: {failure_reason(exc)}")
        conn.send_bytes(encode_result(result))
