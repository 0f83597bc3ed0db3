"""``hopid index --executor ray``: the OCR and embedding of a folder as a Ray Data pipeline.

Stages (see docs/scale.md): the driver lists the files and reuses the content hashes it already
knows -> read tasks read each file's bytes and hash them -> an actor pool of OCR engines (one
engine per actor, loaded once, single-threaded as the local pool's workers) -> an actor pool of
image encoders (one GPU each where the cluster has GPUs) -> Parquet parts in the index's own
``cache/`` (OCR parts and vector parts keyed by content hash, hashes by path). Stages that would
only add processes run inside the OCR actors: the reading of a local folder (nothing to wait on)
and, on a cluster without GPUs, the embedding (an image tower costs a fraction of the OCR; a pool
of its own would take cores from it). The index itself is
then committed by :func:`hopid.index.build.build_index`, the local executor's code path, which
finds every image already read and embedded: the two executors leave the same index.

Resumable like the local engine: the driver skips hashes already cached; a batch is written as
one part named after its keys, so a batch that Ray retries after an actor died replaces its own
part instead of adding a second copy. Ray is imported here only, and only when a run starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from hopid.data.error_log import ErrorLog
from hopid.data.images import ImageLoadError, decode_rgb
from hopid.data.parts import PartStore
from hopid.data.source import ImageSource
from hopid.errors import HopidError
from hopid.index.build import (
    HASH_PART_SCHEMA,
    IndexSummary,
    build_index,
    image_side,
    known_hashes,
    resolved_index_dir,
)
from hopid.index.directory import index_lock
from hopid.models.encoder import ImageEncoder
from hopid.models.onnx_clip import OnnxClipEncoder
from hopid.ocr.stage import OCR_PART_SCHEMA, done_keys, failures, ocr_store
from hopid.ocr.worker import SINGLE_THREAD_ENV, EngineFactory, build_engine
from hopid.progress import Progress

RAY_HINT = 'pip install "hopid[ray]"'
OCR_BATCH = 8
MAX_BLOCKS = 20_000
EMBED_BATCH = 32
READ_CPUS = 0.1  # reading and hashing waits on storage: a read task reserves a tenth of a core
READ_TASKS = 2
EMBED_CPUS = 0.5  # an embedding actor's reservation besides its GPU (or on CPUs: beside the OCR)
LOCAL_OBJECT_STORE = 256 * 1024**2  # bytes: a local Ray's object store (images in flight only)
CONNECT_SECONDS = 5.0
DEATHS_PER_IMAGE = 2  # an image that kills an OCR actor twice is recorded as a failure (as the local pool)
ATTEMPTS_DIR = "ray-attempts"  # markers of OCR batches and images in flight, to tell a retried one

# what flows from the read stage to the OCR stage to the embedding stage, one row per file
ROW_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("sha", pa.string()),  # null: the file could not be read (the commit step records why)
        ("data", pa.large_binary()),  # the file's bytes, only while a later stage needs them
        ("need_ocr", pa.bool_()),
        ("need_embed", pa.bool_()),
        ("texts", pa.list_(pa.string())),
        ("confidences", pa.list_(pa.float32())),
        ("boxes", pa.list_(pa.list_(pa.float32()))),
        ("ocr_failed", pa.bool_()),
        ("ocr_now", pa.bool_()),
        ("embedded_now", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class StagePlan:
    """How many actors each stage runs and what each reserves from the cluster."""

    ocr_actors: int
    embed_actors: int
    ocr_cpus: float
    embed_cpus: float
    embed_gpus: float
    embed_threads: int


def plan_stages(cpus: float, gpus: float, ocr_actors: int | None = None, embed_actors: int | None = None) -> StagePlan:
    """Size the stages for a cluster of ``cpus`` cores and ``gpus`` GPUs.

    Embedding: one actor per GPU (one GPU each); without GPUs none (0: the OCR actors embed too,
    on one thread each) unless ``embed_actors`` asks for a CPU pool. OCR: one actor per core. The
    reservations are scaled down together when they would not fit, so that every actor starts
    (OCR is the heavy stage on CPUs; the embedding and read stages share the cores with it)."""
    embed_actors = embed_actors or (max(1, int(gpus)) if gpus else 0)
    embed_gpus = min(1.0, gpus / embed_actors) if gpus else 0.0
    ocr_actors = ocr_actors or max(1, int(cpus))
    left = cpus - READ_TASKS * READ_CPUS - embed_actors * EMBED_CPUS
    if left <= 0:
        raise HopidError(
            f"the Ray cluster has {cpus:g} CPU(s): too few for {ocr_actors} OCR and {embed_actors} embedding actors"
        )
    ocr_cpus = min(1.0, left / ocr_actors)
    # an embedding pool on CPUs gets the cores the OCR actors leave; fused, one thread beside the OCR
    threads = max(1, int(cpus) - ocr_actors) if embed_actors and not embed_gpus else 1
    return StagePlan(ocr_actors, embed_actors, round(ocr_cpus, 3), EMBED_CPUS, embed_gpus, threads)


@dataclass(frozen=True)
class RaySettings:
    """Where a Ray run's work goes: the cluster (``address``; None: a Ray started here on
    ``num_cpus`` cores, default every core), the stage sizes (None: :func:`plan_stages`) and an
    OCR engine factory that replaces the named engine (tests)."""

    address: str | None = None
    ocr_actors: int | None = None
    embed_actors: int | None = None
    num_cpus: int | None = None
    engine_factory: EngineFactory | None = None


def index_with_ray(
    images_dir: str | Path,
    encoder: ImageEncoder,
    *,
    index_dir: str | Path | None = None,
    ocr_engine: str | None = None,
    address: str | None = None,
    ocr_actors: int | None = None,
    embed_actors: int | None = None,
    num_cpus: int | None = None,
    progress: Progress | None = None,
    engine_factory: EngineFactory | None = None,
    **build_options: Any,
) -> IndexSummary:
    """Index ``images_dir`` as :func:`hopid.index.build.build_index` does, the OCR and embedding
    done by a Ray Data pipeline on the cluster at ``address`` (None: a Ray started here on
    ``num_cpus`` cores, default every core; a Ray already started in this process is used as it
    is). ``engine_factory`` (picklable) replaces the engine the OCR actors build from
    ``ocr_engine``, e.g. to test a failing engine; ``build_options`` go to the commit step."""
    from hopid.ocr.registry import DEFAULT_ENGINE, engine_problem

    started = time.monotonic()
    source = ImageSource.of(images_dir)
    index_dir = resolved_index_dir(source, index_dir)
    engine = ocr_engine or DEFAULT_ENGINE
    if engine_factory is None and (problem := engine_problem(engine)):
        raise HopidError(problem)
    if address and address != "auto":
        check_reachable(address)  # before any work: an unreachable head is a one-line error at once
    settings = RaySettings(address, ocr_actors, embed_actors, num_cpus, engine_factory)
    with index_lock(index_dir):  # held from the pipeline through the commit (build_index re-enters it)
        stats = run_pipeline(source, encoder, index_dir, engine, settings, progress, build_options)
        summary = build_index(
            source.uri,
            encoder,
            index_dir=index_dir,
            ocr_engine=engine,
            progress=progress,
            map_parts=RayParts(settings),
            **build_options,
        )
    return replace(
        summary,
        ocr_now=summary.ocr_now + stats["ocr_now"],
        embedded_now=summary.embedded_now + stats["embedded_now"],
        reused=max(0, summary.images - summary.embedded_now - stats["embedded_now"]),
        seconds=time.monotonic() - started,
    )


def run_pipeline(
    source: ImageSource,
    encoder: ImageEncoder,
    index_dir: Path,
    engine: str,
    settings: RaySettings | None = None,
    progress: Progress | None = None,
    build_options: dict | None = None,
) -> dict[str, int]:
    """OCR and embed every image of ``source`` not yet in ``index_dir``'s cache, on Ray; returns
    how many images were read (``ocr_now``) and embedded (``embedded_now``) now."""
    options, settings = build_options or {}, settings or RaySettings()
    # markers of an earlier run (interrupted, or another index's) would make this run's batches
    # look retried; with the index's writer lock held no other run here is using them
    shutil.rmtree(index_dir / "cache" / ATTEMPTS_DIR, ignore_errors=True)
    errors = ErrorLog("index")
    files = source.files(errors)
    known = known_hashes(index_dir)
    ocr_parts = ocr_store(index_dir / "cache", engine)
    ocr_table = ocr_parts.read()
    done = done_keys(ocr_parts)  # without the failures of an older engine version: those are read again
    ocr_failed = set(failures(ocr_table)) & done
    ocr_ok = done - ocr_failed
    precision = options.get("query_precision", "int8")
    images_encoder, vector_parts, _ = image_side(encoder, index_dir, engine, precision)
    vectors_done = vector_parts.done()
    todo = []
    for image in files:
        sha = known.get(image.path, {}).get("sha")
        before = known.get(image.path)
        if before and (before["size"], before["mtime_ns"]) != (image.size, image.mtime_ns):
            sha = None
        if sha and (sha in ocr_failed or (sha in ocr_ok and sha in vectors_done)):
            continue  # nothing to do for this file
        todo.append({"path": image.path, "size": image.size, "mtime_ns": image.mtime_ns, "sha": sha})
    counts = {"ocr_now": 0, "embedded_now": 0}
    if not todo:
        return counts
    hash_parts = PartStore(index_dir / "cache" / "hashes", HASH_PART_SCHEMA)
    with ray_session(settings.address, settings.num_cpus) as ray:
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 1.0), resources.get("GPU", 0.0)
        plan = plan_stages(cpus, gpus, settings.ocr_actors, settings.embed_actors)
        dataset = pipeline(
            ray,
            todo,
            source,
            plan,
            engine=engine,
            engine_factory=settings.engine_factory,
            ocr_dir=ocr_parts.directory,
            vector_dir=vector_parts.directory,
            model=encoder_spec(encoder),
            index_dir=index_dir,
            options=options,
            ocr_ok=ocr_ok,
            ocr_failed=ocr_failed,
            vectors_done=vectors_done,
            needs_tokens=bool(images_encoder.needs_ocr),
            # on CPUs, the ONNX image tower itself (pickled as its paths): the actors skip torch
            ready=images_encoder if isinstance(images_encoder, OnnxClipEncoder) else None,
        )
        done = 0
        if progress:
            progress("ray", 0, len(todo))
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            rows = batch.select(["path", "sha", "size", "mtime_ns", "ocr_now", "embedded_now"]).to_pylist()
            hashed = [r for r in rows if r["sha"]]
            hash_parts.append(
                [{"key": r["path"], "sha": r["sha"], "size": r["size"], "mtime_ns": r["mtime_ns"]} for r in hashed]
            )
            counts["ocr_now"] += sum(bool(r["ocr_now"]) for r in rows)
            counts["embedded_now"] += sum(bool(r["embedded_now"]) for r in rows)
            done += len(rows)
            if progress:
                progress("ray", done, len(todo))
    shutil.rmtree(index_dir / "cache" / ATTEMPTS_DIR, ignore_errors=True)
    return counts


def encoder_spec(encoder: ImageEncoder) -> tuple[str, str]:
    """The ``--model`` text and fingerprint an actor rebuilds ``encoder`` from (and checks)."""
    return encoder.spec.text, encoder.fingerprint


def pipeline(ray: Any, todo: list[dict], source: ImageSource, plan: StagePlan, **stage: Any) -> Any:
    """The Ray dataset of the stages (lazy: it runs as its batches are taken)."""
    from ray.data import ActorPoolStrategy

    blocks = min(MAX_BLOCKS, -(-len(todo) // OCR_BATCH))  # a block per OCR batch: every actor gets work
    dataset = ray.data.from_items(todo, override_num_blocks=blocks)
    read = {
        "source": source,
        "ocr_ok": stage["ocr_ok"],
        "ocr_failed": stage["ocr_failed"],
        "vectors_done": stage["vectors_done"],
        "needs_tokens": stage["needs_tokens"],
    }
    if not source.local:  # object storage: reads wait on the network, in tasks of their own
        dataset = dataset.map_batches(
            read_and_hash,
            batch_format="pyarrow",
            batch_size=None,  # a block at a time
            num_cpus=READ_CPUS,
            compute=ray.data.TaskPoolStrategy(size=READ_TASKS),
            fn_kwargs=read,
        )
    embed = {
        "model": stage["model"],
        "index_dir": str(stage["index_dir"]),
        "engine": stage["engine"],
        "store": str(stage["vector_dir"]),
        "options": stage["options"],
        "threads": plan.embed_threads,
        "device": "cuda" if plan.embed_gpus else "cpu",
        "ready": None if plan.embed_gpus else stage["ready"],
    }
    # Ray Data restarts a dead actor and runs its batch again (max_restarts and max_task_retries
    # default to unlimited for actor pools); OcrActor stops an image that keeps killing actors.
    ocr = bound(
        OcrActor,
        engine=stage["engine_factory"] or stage["engine"],
        store=str(stage["ocr_dir"]),
        read=read if source.local else None,  # a local folder is read inside the OCR actors
        embed=None if plan.embed_actors else embed,
    )
    dataset = dataset.map_batches(
        ocr,
        batch_format="pyarrow",
        batch_size=OCR_BATCH,
        compute=ActorPoolStrategy(size=plan.ocr_actors),
        num_cpus=plan.ocr_cpus,
    )
    if not plan.embed_actors:
        return dataset
    return dataset.map_batches(
        bound(EmbedActor, **embed),
        batch_format="pyarrow",
        batch_size=EMBED_BATCH,
        compute=ActorPoolStrategy(size=plan.embed_actors),
        num_cpus=plan.embed_cpus,
        num_gpus=plan.embed_gpus,
    )


def bound(cls: type, **kwargs: Any) -> type:
    """``cls`` with its constructor arguments built in: they travel with the class to each actor
    (and to a restarted one) instead of through the object store."""
    return type(cls.__name__, (cls,), {"__init__": lambda self: cls.__init__(self, **kwargs)})


def read_and_hash(
    batch: pa.Table, *, source: ImageSource, ocr_ok: set, ocr_failed: set, vectors_done: set, needs_tokens: bool
) -> pa.Table:
    """The read stage: each file's bytes and content hash, and which later stages it needs."""
    rows = []
    for row in batch.to_pylist():
        try:
            data = source.read(row["path"])
        except OSError:
            rows.append(_row(row, None, b"", False, False))
            continue
        sha = hashlib.blake2b(data, digest_size=16).hexdigest()  # hopid.data.scan.content_hash of the file
        need_embed = sha not in vectors_done and sha not in ocr_failed
        need_ocr = sha not in ocr_ok and sha not in ocr_failed or (need_embed and needs_tokens)
        rows.append(_row(row, sha, data if need_ocr or need_embed else b"", need_ocr, need_embed))
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def _row(item: dict, sha: str | None, data: bytes, need_ocr: bool, need_embed: bool) -> dict:
    return {
        **{k: item[k] for k in ("path", "size", "mtime_ns")},
        "sha": sha,
        "data": data,
        "need_ocr": need_ocr,
        "need_embed": need_embed,
        "texts": [],
        "confidences": [],
        "boxes": [],
        "ocr_failed": False,
        "ocr_now": False,
        "embedded_now": False,
    }


def batch_tag(keys: Iterable[str]) -> str:
    """A part name for a batch of keys: the same batch run again replaces its own part."""
    return hashlib.blake2b("\n".join(sorted(keys)).encode(), digest_size=12).hexdigest()


class OcrActor:
    """The OCR stage: one engine per actor, loaded once; writes the batch's OCR part. With
    ``read`` (:func:`read_and_hash`'s options) it reads the files itself first; with ``embed``
    (:class:`EmbedActor`'s arguments) it embeds the batch after."""

    def __init__(
        self, engine: str | EngineFactory, store: str, read: dict | None = None, embed: dict | None = None
    ) -> None:
        # single-threaded as a local pool worker, set as it does (a runtime_env would cost every
        # run new worker processes: 1.5-3 s of 27 on 2 cores)
        os.environ.update(SINGLE_THREAD_ENV)
        self.engine = build_engine(engine, threads=1)
        self.store = PartStore(store, OCR_PART_SCHEMA)
        self.attempts = Path(store).parent / ATTEMPTS_DIR
        self.read = read
        self.embed = EmbedActor(**embed) if embed else None

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.read is not None:
            batch = read_and_hash(batch, **self.read)
        batch = self.ocr(batch)
        return self.embed(batch) if self.embed else batch

    def ocr(self, batch: pa.Table) -> pa.Table:
        """OCR the rows that need it (the batch's rows come back with their words)."""
        rows = batch.to_pylist()
        todo = [row for row in rows if row["need_ocr"]]
        if not todo:
            return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
        # named by the batch's paths (unique in a run; the same when Ray runs the batch again)
        tag = batch_tag(r["path"] for r in todo)
        batch_marker = self.attempts / f"batch-{tag}"
        retried = batch_marker.exists()  # this batch was in flight on an actor that died
        self.attempts.mkdir(parents=True, exist_ok=True)
        batch_marker.touch()
        parts = [self._read(row, retried, self.attempts / f"image-{tag}-{n}") for n, row in enumerate(todo)]
        self.store.append(parts, tag=batch_tag(p["key"] for p in parts))
        batch_marker.unlink(missing_ok=True)
        return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)

    def _read(self, row: dict, retried: bool, marker: Path) -> dict:
        """OCR one row's image into its part row (and the row itself); in a retried batch each
        image is marked (``marker``: its own, the batch's and its place there) while it is read,
        so one that kills an actor again is recorded instead."""
        from hopid.ocr.base import failure_reason

        width = height = 0
        words, error = [], None
        if retried and marker.exists():
            error = f"the image killed the OCR actor {DEATHS_PER_IMAGE} times (out of memory or a native error)"
        else:
            if retried:
                marker.touch()
            try:
                image = decode_rgb(row["data"], row["path"])
                width, height = image.size
                words = self.engine.read(image)
            except ImageLoadError as exc:
                error = str(exc) or failure_reason(exc)
            except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch (as ocr_one)
                error, width, height = f"OCR failed: {failure_reason(exc)}", 0, 0
            marker.unlink(missing_ok=True)
        part = {
            "key": row["sha"],
            "width": width,
            "height": height,
            "texts": [w.text for w in words],
            "confidences": [float(w.confidence) for w in words],
            "boxes": [list(map(float, w.box)) for w in words],
            "error": error,
        }
        row.update(texts=part["texts"], confidences=part["confidences"], boxes=part["boxes"])
        row.update(ocr_failed=error is not None, ocr_now=True, need_embed=row["need_embed"] and error is None)
        if not row["need_embed"]:
            row["data"] = b""
        return part


class EmbedActor:
    """The embedding stage: the index's image encoder, loaded once per actor (on a GPU where the
    actor holds one); writes the batch's vector part."""

    def __init__(
        self,
        model: tuple[str, str],
        index_dir: str,
        engine: str,
        store: str,
        options: dict,
        threads: int,
        device: str,
        ready: OnnxClipEncoder | None = None,
    ) -> None:
        from hopid.index.build import VECTOR_PART_SCHEMA

        self.store = PartStore(store, VECTOR_PART_SCHEMA)
        if ready is not None:  # the driver's ONNX image tower: no torch or open_clip to load here
            self.encoder = ready.on_threads(threads)
            return
        import torch

        from hopid.models.factory import load_encoder

        torch.set_num_threads(threads)
        encoder = load_encoder(model[0], device=device)
        if encoder.fingerprint != model[1]:
            raise HopidError(f"--model {model[0]!r} loads different weights on this Ray worker than on the driver")
        precision = options.get("query_precision", "int8")
        self.encoder, store_here, _ = image_side(encoder, Path(index_dir), engine, precision)
        if str(store_here.directory) != store:
            raise HopidError(f"the embedding actor's vector cache {store_here.directory} is not the driver's {store}")

    def __call__(self, batch: pa.Table) -> pa.Table:
        from hopid.models.inputs import ocr_tokens

        rows = batch.to_pylist()
        todo, images = [], []
        for row in rows:
            if row["need_embed"]:
                try:
                    images.append(decode_rgb(row["data"], row["path"]))
                    todo.append(row)
                except ImageLoadError:
                    continue  # the commit step records it
        if images:
            ocr = (
                [ocr_tokens(r["texts"], r["boxes"], r["confidences"]) for r in todo] if self.encoder.needs_ocr else None
            )
            vectors = self.encoder.encode_images(images, ocr)
            parts = [{"key": r["sha"], "vector": v.tolist()} for r, v in zip(todo, vectors, strict=True)]
            self.store.append(parts, tag=batch_tag(p["key"] for p in parts))
            for row in todo:
                row["embedded_now"] = True
        for row in rows:
            row["data"] = b""
        return pa.Table.from_pylist(rows, schema=ROW_SCHEMA).drop_columns(["data", "texts", "confidences", "boxes"])


class RayParts:
    """A :data:`hopid.index.choose.PartMapper` that adds an IVF index's parts as Ray tasks, one
    core each, on the cluster the pipeline ran on (started only when an index needs it)."""

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings

    def __call__(self, add: Any, empty: bytes, vectors: Any, spans: list[tuple[int, int]]) -> list[bytes]:
        with ray_session(self.settings.address, self.settings.num_cpus) as ray:
            task = ray.remote(num_cpus=1)(add)
            empty_ref, vectors_ref = ray.put(empty), ray.put(vectors)  # sent once, shared by the tasks
            return ray.get([task.remote(empty_ref, vectors_ref, span) for span in spans])


class ray_session:  # noqa: N801 - used as a context manager, like open()
    """Ray for one run: connect to ``address`` (checked first: an unreachable head is a one-line
    error, not a minute of retries), or start a local Ray on ``num_cpus`` cores; a Ray already
    started in this process is used and left running."""

    def __init__(self, address: str | None, num_cpus: int | None) -> None:
        self.address, self.num_cpus, self.started = address, num_cpus, False
        self.warnings = warnings.catch_warnings()

    def __enter__(self) -> Any:
        ray = import_ray()
        self.warnings.__enter__()  # Ray Data's advice on small inputs is not for the user's terminal
        warnings.filterwarnings("ignore", module=r"ray\.")
        logging.getLogger("ray").setLevel(logging.ERROR)
        quiet_data(ray)
        if ray.is_initialized():
            return ray
        if self.address and self.address != "auto":
            check_reachable(self.address)
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
            else:
                from hopid.ocr.pool import default_workers

                ray.init(
                    num_cpus=self.num_cpus or default_workers(),
                    object_store_memory=LOCAL_OBJECT_STORE,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
        except ConnectionError as exc:
            raise HopidError(f"--ray-address {self.address}: {str(exc).splitlines()[0]}") from None
        self.started = True
        return ray

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import ray

            ray.shutdown()
        self.warnings.__exit__(*exc)


def import_ray() -> Any:
    """The ray package, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library (ray[data])
    except ImportError:
        raise HopidError(f"--executor ray needs Ray Data: {RAY_HINT}") from None
    return ray


def quiet_data(ray: Any) -> None:
    """No Ray Data progress bars or per-dataset log lines on the user's terminal."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def check_reachable(address: str) -> None:
    """A one-line HopidError unless something listens at ``address`` (``host:port`` or
    ``ray://host:port``)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise HopidError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise HopidError(f"--ray-address {address}: no Ray head answers there ({exc.strerror or exc})") from None
