"""The OCR stage: read the scene text of many images, resumably, into the ``ocr`` table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.parts import PartStore
from hopid.data.scan import content_hash
from hopid.data.schema import BOX, read_optional, table_path, write_table
from hopid.ocr.registry import cache_name
from hopid.ocr.worker import EngineFactory, OcrResult
from hopid.progress import Progress

CACHE_DIR = ".hopid-cache"
FLUSH_ITEMS = 32
FLUSH_SECONDS = 10.0
# Failures older versions cached that were not the image's fault (a worker killed with 8 images in
# flight; a reason left blank, as RapidOCR's ResizeImgError of a 12000 x 12 strip): read them again.
STALE_FAILURES = ("OCR worker process crashed (out of memory or a native error)",)

OCR_PART_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("texts", pa.list_(pa.string())),
        ("confidences", pa.list_(pa.float32())),
        ("boxes", pa.list_(BOX)),
        ("error", pa.string()),  # why the image could not be read; such images count as done until they change
    ]
)


def ocr_store(directory: Path, engine: str) -> PartStore:
    """The cached readings of engine spec ``engine`` under ``directory``."""
    return PartStore(directory / f"ocr-{cache_name(engine)}", OCR_PART_SCHEMA)


def run_ocr_parts(
    items: Sequence[tuple[str, Path]],
    store: PartStore,
    engine: str | EngineFactory,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    done: set[str] | None = None,
) -> int:
    """OCR every ``(key, path)`` not yet in ``store``; returns how many were read now.
    ``done``: the store's :func:`done_keys` when the caller has read them already.

    Failures are stored too (with their reason), so an unchanged broken file is not retried.
    Results are written every few dozen images, and also when the run stops early (an error,
    Ctrl-C, SIGTERM turned into KeyboardInterrupt), so a rerun reads only what is left."""
    from hopid.ocr.pool import ocr_paths

    done = done_keys(store) if done is None else done
    todo = [(key, path) for key, path in items if key not in done]
    if progress:
        progress("ocr", 0, len(todo))
    pending: list[dict] = []
    last_flush = time.monotonic()
    finished = 0
    try:
        with closing(ocr_paths([path for _, path in todo], engine, workers)) as results:  # stops the workers
            for result in results:
                key, _ = todo[result.index]
                finished += 1
                pending.append(_part_row(key, result))
                if len(pending) >= FLUSH_ITEMS or time.monotonic() - last_flush > FLUSH_SECONDS:
                    store.append(pending)
                    pending, last_flush = [], time.monotonic()
                if progress:
                    progress("ocr", finished, len(todo))
    finally:
        store.append(pending)
    return finished


def done_keys(store: PartStore) -> set[str]:
    """Keys already read, less the failures of older versions that were not the image's fault."""
    rows = store.read().select(["key", "error"]).to_pylist()
    return {row["key"] for row in rows if not (row["error"] and _stale(row["error"]))}


def _stale(error: str) -> bool:
    return error.startswith(STALE_FAILURES) or error.rstrip().endswith(":")


def _part_row(key: str, result: OcrResult) -> dict:
    return {
        "key": key,
        "width": result.width,
        "height": result.height,
        "texts": [w.text for w in result.words],
        "confidences": [float(w.confidence) for w in result.words],
        "boxes": [list(map(float, w.box)) for w in result.words],
        "error": result.error,
    }


def failures(parts: pa.Table) -> dict[str, str]:
    """Key -> reason of every image the engine could not read."""
    return {row["key"]: row["error"] for row in parts.select(["key", "error"]).to_pylist() if row["error"]}


def parts_to_ocr_table(parts: pa.Table, image_id_of: dict[str, list[str]], engine: str) -> pl.DataFrame:
    """Explode per-image part rows into one OCR row per word; a key may serve several image ids."""
    rows: dict[str, list] = {name: [] for name in ("image_id", "token_index", "text", "confidence", "box", "engine")}
    for part in parts.to_pylist():
        if part["error"]:
            continue
        for image_id in image_id_of.get(part["key"], []):
            for i, (text, confidence, box) in enumerate(
                zip(part["texts"], part["confidences"], part["boxes"], strict=True)
            ):
                rows["image_id"].append(image_id)
                rows["token_index"].append(i)
                rows["text"].append(text)
                rows["confidence"].append(confidence)
                rows["box"].append(box)
                rows["engine"].append(engine)
    return pl.DataFrame(
        rows,
        schema={
            "image_id": pl.String,
            "token_index": pl.Int32,
            "text": pl.String,
            "confidence": pl.Float32,
            "box": pl.Array(pl.Float32, 8),
            "engine": pl.String,
        },
    )


@dataclass
class OcrSummary:
    engine: str
    images: int
    read_now: int
    words: int
    errors: int


def ocr_dataset(
    dataset: Dataset, engine: str, *, workers: int | None = None, progress: Progress | None = None
) -> OcrSummary:
    """OCR every image of ``dataset`` with ``engine`` into ``ocr.parquet`` (rows of other engines stay).

    Results are cached by content hash in ``DATASET/.hopid-cache``, so identical files are read once
    and ``hopid index`` can share the cache."""
    store = ocr_store(dataset.root / CACHE_DIR, engine)
    errors = ErrorLog(f"ocr:{engine}")
    ids_of_hash: dict[str, list[str]] = {}
    path_of_hash: dict[str, Path] = {}
    for image_id, relative in zip(dataset.images["image_id"], dataset.images["path"], strict=True):
        path = dataset.image_path(relative)
        try:
            sha = content_hash(path)
        except OSError as exc:
            errors.add(str(path), f"cannot read file: {exc.strerror or exc}")
            continue
        ids_of_hash.setdefault(sha, []).append(image_id)
        path_of_hash.setdefault(sha, path)
    read_now = run_ocr_parts(list(path_of_hash.items()), store, engine, workers=workers, progress=progress)
    parts = store.compact(set(path_of_hash))
    for sha, reason in failures(parts).items():
        errors.add(str(path_of_hash[sha]), reason)
    words = parts_to_ocr_table(parts, ids_of_hash, engine)
    path = table_path(dataset.root, "ocr")
    others = read_optional(path, "ocr").filter(pl.col("engine") != engine)
    write_table(pl.concat([others.select(words.columns), words]), path, "ocr")
    errors.save(dataset.root)
    return OcrSummary(engine, dataset.images.height, read_now, words.height, len(errors))
