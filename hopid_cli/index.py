"""``hopid index``: OCR and embed a folder of images into a searchable index."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hopid.torchrun import torchrun_launch
from hopid_cli.common import (
    MODEL_HELP,
    err,
    handle_errors,
    out,
    progress_bar,
    summary_table,
    terminate_as_interrupt,
)


@handle_errors
def index(
    images_dir: Annotated[Path, typer.Argument(help="Folder of images (searched recursively).")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    ocr_engine: Annotated[str | None, typer.Option(help="OCR engine (default: the measured best).")] = None,
    ocr_quality: Annotated[
        str,
        typer.Option(help="fast, or best: rapidocr reads more boxes per image, slower (docs/benchmarks.md)."),
    ] = "fast",
    index_dir: Annotated[
        Path | None, typer.Option("--index", help="Index directory (default: IMAGES_DIR/.hopid).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="OCR worker processes (default: every usable core).")
    ] = None,
    index_type: Annotated[
        str,
        typer.Option(
            help="auto (exact Flat while fast, IVF-Flat beyond, IVF-PQ when vectors exceed memory), flat, "
            "ivfflat, hnsw or ivfpq."
        ),
    ] = "auto",
    shard: Annotated[
        str | None,
        typer.Option(
            help="I/N: only OCR and embed shard I of N (by path), into the index's cache; run the shards "
            "anywhere (same folder), then `hopid index` without --shard merges them. Under torchrun, "
            "RANK/WORLD_SIZE pick the shard and rank 0 merges."
        ),
    ] = None,
) -> None:
    """Index new or changed images only; deleted ones drop out; an interrupted run resumes."""
    from hopid.errors import HopidError
    from hopid.index.build import build_index, parse_shard
    from hopid.index.choose import INDEX_KINDS
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec
    from hopid.ocr.pool import default_workers
    from hopid.ocr.registry import DEFAULT_ENGINE, engine_problem, engine_spec

    if not images_dir.is_dir():
        raise HopidError(f"{images_dir}: no such folder")
    parse_model_spec(model)
    if ocr_engine or ocr_quality != "fast":
        ocr_engine = engine_spec(ocr_engine or DEFAULT_ENGINE, ocr_quality)
        if problem := engine_problem(ocr_engine):
            raise HopidError(problem)
    if index_type not in ("auto", *INDEX_KINDS):
        raise HopidError(f"--index-type {index_type!r}: choose auto, {', '.join(INDEX_KINDS)}")
    parsed = parse_shard(shard) if shard else None
    world, rank = torchrun_launch().size, torchrun_launch().rank
    if parsed is None and world > 1:  # torchrun: one shard per process
        parsed = (rank, world)
        workers = workers or max(1, default_workers() // world)
    encoder = load_encoder(model)
    options = {"index_dir": index_dir, "ocr_engine": ocr_engine, "workers": workers, "index_type": index_type}
    with terminate_as_interrupt(), progress_bar() as update:
        summary = build_index(images_dir, encoder, progress=update, shard=parsed, **options)
        if world > 1 and shard is None and rank == 0:
            summary = _merge_when_done(images_dir, encoder, summary.index_dir, world, update, options)
    if summary.errors:
        err.print(
            f"[yellow]{summary.errors} file(s) could not be indexed[/]: see {summary.index_dir / 'errors.parquet'}"
        )
    if summary.repaired:
        from rich.markup import escape

        why = escape(summary.repaired)
        err.print(f"[yellow]repaired[/]: rebuilt from the cache; the previous index was unusable: {why}")
    rows = {key: value for key, value in vars(summary).items() if key != "repaired"}
    out.print(summary_table(f"index {summary.index_dir}", rows))


def _merge_when_done(images_dir: Path, encoder, index_dir: Path, world: int, update, options: dict):
    """Rank 0 under torchrun: wait for every shard, then build the index from their parts."""
    from hopid.index.build import build_index, shards_done

    while len(done := shards_done(index_dir, world)) < world:
        update("shards done", len(done), world)
        time.sleep(1.0)
    return build_index(images_dir, encoder, progress=update, **options)
