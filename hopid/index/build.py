"""``hopid index``: OCR and embed a folder of images into a FAISS index, incrementally.

The directory's layout and file names are :mod:`hopid.index.directory`'s. Work is resumable:
``cache/`` keeps per-image results keyed by content hash (OCR per engine, vectors per model
fingerprint), so a changed model or engine redoes only its half.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from hopid import __version__
from hopid.data.error_log import ErrorLog
from hopid.data.images import ImageLoadError, load_rgb
from hopid.data.parts import PartStore
from hopid.data.scan import ImageFile
from hopid.data.schema import SCHEMA_VERSION, read_table, write_table
from hopid.data.source import ImageSource
from hopid.errors import HopidError
from hopid.index.choose import IndexPlan, PartMapper, build_faiss, plan_index
from hopid.index.directory import (
    FAISS_FILE,
    ITEMS_FILE,
    LEXICAL_FILE,
    MANIFEST,
    OCR_FILE,
    QUERY_MODEL,
    VECTORS_FILE,
    Generation,
    HashingWriter,
    commit_generation,
    default_index_dir,
    index_lock,
    new_generation,
    open_generation,
    read_manifest,
    repair_hint,
    write_hashed,
)
from hopid.models.encoder import ImageEncoder
from hopid.models.onnx_clip import OnnxClipEncoder, Towers, prepare_towers
from hopid.ocr.registry import cache_name
from hopid.ocr.stage import done_keys, failures, ocr_store, parts_to_ocr_table, run_ocr_parts
from hopid.progress import Progress

EMBED_BATCH = 32
STAGING_DIR = "fetched"  # under cache/: copies of a remote source's files while they are read

VECTOR_PART_SCHEMA = pa.schema([("key", pa.string()), ("vector", pa.list_(pa.float32()))])
# content hashes a Ray run computed (key: the image path), for the step that commits its index
HASH_PART_SCHEMA = pa.schema(
    [("key", pa.string()), ("sha", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64())]
)
ITEM_COLUMNS = {  # items.parquet: one row per indexed image, row-aligned with the vectors
    "path": pl.String,
    "sha": pl.String,
    "size": pl.Int64,
    "mtime_ns": pl.Int64,
    "width": pl.Int32,
    "height": pl.Int32,
}


@dataclass
class IndexSummary:
    index_dir: Path
    images: int
    ocr_now: int
    embedded_now: int
    reused: int
    removed: int
    errors: int
    seconds: float
    index: str = "Flat"  # the faiss index chosen (see hopid.index.choose)
    repaired: str = ""  # what was wrong with the previous index, rebuilt from the cache by this run


def _hashes(source: ImageSource, files: list[ImageFile], previous: dict[str, dict], errors: ErrorLog) -> dict[str, str]:
    """Content hash per path, reusing the previous run's hash when size and mtime are unchanged."""
    hashes = {}
    for image in files:
        before = previous.get(image.path)
        if before and before["size"] == image.size and before["mtime_ns"] == image.mtime_ns:
            hashes[image.path] = before["sha"]
            continue
        try:
            hashes[image.path] = source.hash(image.path)
        except OSError as exc:
            errors.add(image.path, f"cannot read file: {exc}")
    return hashes


class _Files:
    """The files of a source on this machine, by content hash: a remote file is fetched into the
    index's staging folder (see :meth:`ImageSource.local_file`) when a stage first needs it."""

    def __init__(self, source: ImageSource, staging: Path, errors: ErrorLog) -> None:
        self.source, self.staging, self.errors = source, staging, errors

    def paths(self, todo: list[tuple[str, str]]) -> list[tuple[str, Path]]:
        """``(key, local file)`` of each ``(key, stored path)``; a file that cannot be fetched is
        recorded and left out."""
        found = []
        for key, path in todo:
            try:
                found.append((key, self.source.local_file(path, key, self.staging)))
            except OSError as exc:
                self.errors.add(path, f"cannot read file: {exc}")
        return found


def _embed_missing(
    encoder: ImageEncoder,
    files: _Files,
    todo: list[tuple[str, str]],
    store: PartStore,
    errors: ErrorLog,
    progress: Progress | None,
    ocr_of: dict[str, list] | None = None,
) -> int:
    """Embed ``(key, path)`` items into ``store``; ``ocr_of`` gives each key's OCR tokens to a
    model that reads them."""
    done = 0
    for start in range(0, len(todo), EMBED_BATCH):
        images, keys = [], []
        chunk = todo[start : start + EMBED_BATCH]
        path_of = dict(chunk)
        for key, local in files.paths(chunk):
            try:
                images.append(load_rgb(local))
                keys.append(key)
            except ImageLoadError as exc:
                errors.add(path_of[key], str(exc))
        if images:
            ocr = [ocr_of.get(k, []) for k in keys] if ocr_of is not None else None
            vectors = encoder.encode_images(images, ocr)
            store.append([{"key": k, "vector": v.tolist()} for k, v in zip(keys, vectors, strict=True)])
        done = min(start + EMBED_BATCH, len(todo))
        if progress:
            progress("embed", done, len(todo))
    return done


def _previous_index(index_dir: Path) -> tuple[Generation | None, dict[str, dict], str]:
    """The committed generation when it is whole, the previous run's items by path (their content
    hashes are reused) and what was wrong with the index when it was not. Sizes are checked, and
    the contents of ``items.parquet`` only: the new generation reuses nothing else of it but the
    query files (checked when they are lent, :func:`save_index`). A damaged or old index only
    costs hashing the images again: the cache keeps their OCR and vectors."""
    if not (index_dir / MANIFEST).exists():
        return None, {}, ""
    generation = None
    try:
        manifest = read_manifest(index_dir)
        if "layout" in manifest or "generation" in manifest:
            generation = open_generation(index_dir)
            if problems := generation.problems(hashes={ITEMS_FILE}):
                raise HopidError(
                    f"index damaged: {'; '.join(problems)} in {generation.folder}; {repair_hint(generation.manifest)}"
                )
            items_path = generation.path(ITEMS_FILE)
        else:  # the flat layout of hopid before generations: upgraded by this run
            items_path = index_dir / ITEMS_FILE
        items = read_table(items_path, "items")
    except HopidError as exc:
        return None, {}, str(exc)
    return generation, {row["path"]: row for row in items.iter_rows(named=True)}, ""


def build_index(
    images_dir: str | Path,
    encoder: ImageEncoder,
    *,
    index_dir: str | Path | None = None,
    ocr_engine: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    ocr_cache: str | Path | None = None,
    index_type: str = "auto",
    query_precision: str = "int8",
    map_parts: PartMapper | None = None,
) -> IndexSummary:
    """Index ``images_dir`` (a folder, or a URI pyarrow reads; see :mod:`hopid.data.source`):
    only new or changed images are read; deleted ones drop out.

    ``ocr_cache`` may name another OCR cache (e.g. a dataset's ``.hopid-cache``) to reuse its results;
    without it the index keeps its own under ``cache/``. ``index_type``: auto (by size, see
    :mod:`hopid.index.choose`), flat, ivfflat, hnsw or ivfpq. A plain CLIP model embeds with its
    ONNX image tower and answers queries with its ONNX towers (:mod:`hopid.models.onnx_clip`),
    int8 where ``query_precision`` is int8 and the int8 vectors agree with fp32's. ``map_parts``
    adds the vectors of an IVF index in parts, e.g. on a Ray cluster (:func:`hopid.index.choose.build_faiss`)."""
    from hopid.ocr.registry import DEFAULT_ENGINE

    started = time.monotonic()
    source = ImageSource.of(images_dir)
    index_dir = resolved_index_dir(source, index_dir)
    with index_lock(index_dir):  # one writer at a time: a second run is a one-line error
        return _build_locked(
            source,
            encoder,
            index_dir,
            ocr_engine or DEFAULT_ENGINE,
            workers=workers,
            progress=progress,
            ocr_cache=ocr_cache,
            index_type=index_type,
            query_precision=query_precision,
            map_parts=map_parts,
            started=started,
        )


def resolved_index_dir(source: ImageSource, index_dir: str | Path | None) -> Path:
    """The index directory of ``source``: ``index_dir``, else the folder's own ``.hopid`` (a
    URI source needs one named: the index is written on this machine)."""
    if index_dir is not None:
        return Path(index_dir).resolve()
    if not source.local:
        raise HopidError(f"{source.uri}: name the index directory on this machine (--index DIR)")
    return default_index_dir(source.root)


def _build_locked(
    source: ImageSource,
    encoder: ImageEncoder,
    index_dir: Path,
    engine: str,
    *,
    workers: int | None,
    progress: Progress | None,
    ocr_cache: str | Path | None,
    index_type: str,
    query_precision: str,
    map_parts: PartMapper | None,
    started: float,
) -> IndexSummary:
    """:func:`build_index`'s work, with the index's writer lock held."""
    errors = ErrorLog("index")
    generation, previous, damage = _previous_index(index_dir)
    hash_parts = PartStore(index_dir / "cache" / "hashes", HASH_PART_SCHEMA)
    previous.update(_pipeline_hashes(hash_parts))  # what a Ray run hashed counts as known
    files = source.files(errors)
    hashes = _hashes(source, files, previous, errors)
    path_of_hash: dict[str, str] = {}
    for path, sha in hashes.items():
        path_of_hash.setdefault(sha, path)

    ocr_parts = ocr_store(Path(ocr_cache) if ocr_cache else index_dir / "cache", engine)
    encoder_for_images, vector_parts, towers = image_side(encoder, index_dir, engine, query_precision)
    local_files = _Files(source, index_dir / "cache" / STAGING_DIR, errors)
    read = done_keys(ocr_parts)  # read once: only the rest is located (a remote file fetched)
    ocr_now = run_ocr_parts(
        local_files.paths([(sha, path) for sha, path in path_of_hash.items() if sha not in read]),
        ocr_parts,
        engine,
        workers=workers,
        progress=progress,
        done=read,
    )
    ocr_table = ocr_parts.compact(set(path_of_hash))
    failed = failures(ocr_table)
    for path, sha in hashes.items():
        if sha in failed:
            errors.add(path, failed[sha])
    readable = set(ocr_table.column("key").to_pylist()) - set(failed)
    embedded_now = _embed_readable(
        encoder_for_images, local_files, path_of_hash, readable, ocr_table, vector_parts, errors, progress
    )
    vector_table = vector_parts.compact(set(path_of_hash))

    dim = encoder.dim
    stored, row_of = vector_matrix(vector_table, dim)
    size_of = {
        row["key"]: (row["width"], row["height"]) for row in ocr_table.select(["key", "width", "height"]).to_pylist()
    }
    by_path = {f.path: f for f in files}
    live = [path for path in sorted(hashes) if hashes[path] in row_of and hashes[path] in size_of]
    vectors = stored[np.asarray([row_of[hashes[p]] for p in live], dtype=np.int64)].reshape(len(live), dim)
    items = pl.DataFrame(
        {
            "path": live,
            "sha": [hashes[p] for p in live],
            "size": [by_path[p].size for p in live],
            "mtime_ns": [by_path[p].mtime_ns for p in live],
            "width": [size_of[hashes[p]][0] for p in live],
            "height": [size_of[hashes[p]][1] for p in live],
        },
        schema=ITEM_COLUMNS,
    )
    paths_of_hash: dict[str, list[str]] = {}
    for path in live:
        paths_of_hash.setdefault(hashes[path], []).append(path)
    ocr = parts_to_ocr_table(ocr_table, paths_of_hash, engine).sort(["image_id", "token_index"])  # any part order

    errors.save(index_dir)
    plan = save_index(
        index_dir,
        encoder,
        vectors,
        items,
        ocr,
        images_dir=source.uri,
        ocr_engine=engine,
        index_type=index_type,
        errors=len(errors),
        previous=generation,
        towers=towers,
        map_parts=map_parts,
    )
    shutil.rmtree(hash_parts.directory, ignore_errors=True)  # the committed items table has them now
    shutil.rmtree(local_files.staging, ignore_errors=True)  # fetched copies of remote files
    removed = len(set(previous) - set(hashes))
    return IndexSummary(
        index_dir,
        len(live),
        ocr_now,
        embedded_now,
        len(live) - embedded_now,
        removed,
        len(errors),
        time.monotonic() - started,
        plan.factory,
        damage,
    )


def vector_matrix(table: pa.Table, dim: int) -> tuple[np.ndarray, dict[str, int]]:
    """The vectors of a compacted vector-part table as one float32 matrix (no per-float Python
    objects: 1M x 512 vectors stay 2 GB) and each key's row in it."""
    column = table.column("vector").combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if len(values) != len(column) * dim:
        raise HopidError(
            f"vector cache damaged: vectors of another size than the model's {dim}; delete cache/vectors-* in the index"
        )
    keys = table.column("key").to_pylist()
    return values.reshape(len(keys), dim), {key: row for row, key in enumerate(keys)}


def known_hashes(index_dir: Path) -> dict[str, dict]:
    """Path -> ``{sha, size, mtime_ns}`` of every file an earlier run hashed: the committed items,
    then the hashes a Ray run left in the cache, which are newer."""
    _, previous, _ = _previous_index(index_dir)
    previous.update(_pipeline_hashes(PartStore(index_dir / "cache" / "hashes", HASH_PART_SCHEMA)))
    return previous


def _pipeline_hashes(hash_parts: PartStore) -> dict[str, dict]:
    return {row["key"]: {"path": row["key"], **row} for row in hash_parts.read().to_pylist()}


def image_side(
    encoder: ImageEncoder, index_dir: Path, engine: str, precision: str
) -> tuple[ImageEncoder, PartStore, Towers | None]:
    """What embeds the collection's images and the cache of its vectors, plus a plain CLIP model's
    ONNX towers (for the query side). On CPU the ONNX image tower embeds (faster than torch,
    docs/performance.md) where its preprocessing reproduces the model's; on a GPU, and for other
    models, the encoder itself. The local and Ray executors both ask here."""
    from hopid.models.factory import ClipEncoder

    towers = _fast_towers(encoder, index_dir, precision)
    vector_key = f"{encoder.fingerprint[:16]}-{cache_name(engine)}" if encoder.needs_ocr else encoder.fingerprint[:16]
    on_cpu = isinstance(encoder, ClipEncoder) and encoder.device == "cpu"
    if towers is not None and on_cpu and OnnxClipEncoder.can_read(towers.facts):
        encoder_for_images: ImageEncoder = OnnxClipEncoder.from_towers(towers, encoder)
        vector_key += "-int8" if towers.image_precision == "int8" else ""
    else:
        encoder_for_images = encoder
    return encoder_for_images, PartStore(index_dir / "cache" / f"vectors-{vector_key}", VECTOR_PART_SCHEMA), towers


def _fast_towers(encoder: ImageEncoder, index_dir: Path, precision: str) -> Towers | None:
    """A plain CLIP model's ONNX towers, prepared once per model and precision under the index's
    cache; None for other models, or where the export fails here (torch then does the work)."""
    from hopid.models.factory import ClipEncoder

    if not isinstance(encoder, ClipEncoder):
        return None
    try:
        return prepare_towers(
            encoder, index_dir / "cache" / f"towers-{encoder.fingerprint[:16]}-{precision}", precision
        )
    except Exception:  # noqa: BLE001 - no exporter or runtime for this model here: torch embeds and queries
        return None


def _embed_readable(
    encoder: ImageEncoder,
    files: _Files,
    path_of_hash: dict[str, str],
    readable: set[str],
    ocr_table: pa.Table,
    vector_parts: PartStore,
    errors: ErrorLog,
    progress: Progress | None,
) -> int:
    """Embed the ``readable`` images (their OCR succeeded) that have no vector yet, with their OCR
    tokens for a model that reads them; returns how many were embedded now."""
    have = vector_parts.done()
    todo = [(sha, path) for sha, path in path_of_hash.items() if sha in readable and sha not in have]
    ocr_of = _tokens_of_parts(ocr_table) if encoder.needs_ocr else None
    return _embed_missing(encoder, files, todo, vector_parts, errors, progress, ocr_of)


def save_index(
    index_dir: Path,
    encoder: ImageEncoder,
    vectors: np.ndarray,
    items: pl.DataFrame,
    ocr: pl.DataFrame,
    *,
    images_dir: str | Path,
    ocr_engine: str,
    index_type: str = "auto",
    errors: int = 0,
    previous: Generation | None = None,
    towers: Towers | None = None,
    map_parts: PartMapper | None = None,
) -> IndexPlan:
    """Write the searchable files of an index (FAISS index, vectors, items, OCR, the ONNX query
    encoder) into a new generation folder, then commit it by replacing the manifest (see
    :mod:`hopid.index.directory`); ``previous`` (the committed generation, sizes checked) lends
    its exported query files when the model is the same and their contents check; ``towers``: a
    plain CLIP model's prepared ONNX towers; ``map_parts``: see :func:`build_faiss`. The FAISS
    index and vectors are hashed as they are written; the other files are hashed once at the
    commit. Returns the index plan chosen."""
    from hopid.index.query_side import QUERY_FILES, export_query_encoder
    from hopid.scenetext.lexical import LexicalIndex

    plan = plan_index(len(vectors), vectors.shape[1], kind=index_type)
    index = build_faiss(vectors, plan, map_parts=map_parts)
    folder = new_generation(index_dir)
    hashes = {  # hashed as written (as write_faiss and np.save write them), not read back
        FAISS_FILE: write_hashed(folder / FAISS_FILE, lambda out: _write_faiss(index, out)),
        VECTORS_FILE: write_hashed(folder / VECTORS_FILE, lambda out: np.save(out, vectors, allow_pickle=False)),
    }
    if previous is not None and not _lends_query_side(previous, encoder, towers):
        previous = None
    elif previous is not None and previous.problems(hashes=[n for n in QUERY_FILES if previous.has(n)]):
        previous = None  # damaged: the query side is exported again
    write_table(items, folder / ITEMS_FILE, "items")
    write_table(ocr, folder / OCR_FILE, "ocr")
    LexicalIndex.from_table(items["path"].to_list(), ocr).save(str(folder / LEXICAL_FILE))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "hopid_version": __version__,
        "images_dir": str(images_dir),
        "model": encoder.spec.text,
        "model_fingerprint": encoder.fingerprint,
        "dim": int(vectors.shape[1]),
        "ocr_engine": ocr_engine,
        "faiss_index": plan.factory,
        "index_kind": plan.kind,
        "query_model": export_query_encoder(encoder, folder, previous, towers),  # query.onnx: queries without torch
        "images": len(vectors),
        "errors": errors,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    commit_generation(folder, manifest, hashes=hashes, previous=previous)
    return plan


def _write_faiss(index, out: HashingWriter) -> None:
    """``faiss.write_index`` into a stream (the bytes ``write_faiss`` writes to a path)."""
    import faiss

    writer = faiss.PyCallbackIOWriter(out.write)
    faiss.write_index(index, writer)
    del writer  # flushes what it buffered before the file is closed


def _lends_query_side(previous: Generation, encoder: ImageEncoder, towers: Towers | None) -> bool:
    """Whether the export step may link ``previous``'s query files: no prepared towers (those are
    linked instead) and an exported query side of the same model."""
    same_model = previous.manifest.get("model_fingerprint") == encoder.fingerprint
    return towers is None and previous.has(QUERY_MODEL) and same_model


def _tokens_of_parts(parts) -> dict[str, list]:
    """Each OCR part row (one image) as the token list a scene-text model reads."""
    from hopid.models.inputs import ocr_tokens

    return {
        row["key"]: ocr_tokens(row["texts"] or [], row["boxes"] or [], row["confidences"] or [])
        for row in parts.select(["key", "texts", "boxes", "confidences"]).to_pylist()
    }
