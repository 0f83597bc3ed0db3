"""``hopid index``: OCR and embed a folder of images into a searchable index."""

from __future__ import annotations

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
    images_dir: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="Folder of images (searched recursively), or a URI pyarrow reads (s3://bucket/photos, "
            "gs://..., file:///...; remote files are fetched while they are read; needs --index).",
        ),
    ],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    ocr_engine: Annotated[str | None, typer.Option(help="OCR engine (default: the measured best).")] = None,
    ocr_quality: Annotated[
        str,
        typer.Option(help="fast, or best: rapidocr reads more boxes per image, slower (docs/benchmarks.md)."),
    ] = "fast",
    index_dir: Annotated[
        Path | None, typer.Option("--index", help="Index directory (default: SOURCE/.hopid; a URI source needs one).")
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
    executor: Annotated[
        str,
        typer.Option(
            help="Where the work runs: local (this machine's OCR processes) or ray (a Ray Data pipeline: OCR "
            'and embedding actor pools, on a Ray cluster or a Ray started here; pip install "hopid\\[ray]"; '
            "docs/scale.md)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="--executor ray: the cluster's head (HOST:PORT, ray://HOST:PORT or auto); default: start Ray here."
        ),
    ] = None,
    ocr_actors: Annotated[
        int | None, typer.Option(min=1, help="--executor ray: OCR actors (default: one per CPU of the cluster).")
    ] = None,
    embed_actors: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="--executor ray: embedding actors (default: one per GPU; none without GPUs: the OCR actors embed).",
        ),
    ] = None,
    shard: Annotated[str | None, typer.Option(hidden=True, help="Gone: use --executor ray.")] = None,
    query_precision: Annotated[
        str,
        typer.Option(
            help="int8: a plain CLIP model's ONNX towers quantized where their vectors agree with fp32 "
            "(cosine >= 0.99, top-10 overlap >= 0.95; faster to load and run), else fp32 (docs/performance.md)."
        ),
    ] = "int8",
) -> None:
    """Index new or changed images only; deleted ones drop out; an interrupted run resumes."""
    from hopid.errors import HopidError
    from hopid.index.build import build_index
    from hopid.index.choose import INDEX_KINDS
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec
    from hopid.models.tower_export import PRECISIONS
    from hopid.ocr.registry import DEFAULT_ENGINE, engine_problem, engine_spec

    if shard is not None or torchrun_launch().size > 1:
        raise HopidError(
            "--shard and torchrun are gone from hopid index: run it once with --executor ray "
            "(a Ray cluster, or Ray on this machine; docs/scale.md)"
        )
    if executor not in ("local", "ray"):
        raise HopidError(f"--executor {executor!r}: choose local or ray")
    ray_only = {"--ray-address": ray_address, "--ocr-actors": ocr_actors, "--embed-actors": embed_actors}
    if executor == "local" and (given := [name for name, value in ray_only.items() if value is not None]):
        raise HopidError(f"{', '.join(given)}: only with --executor ray")
    if executor == "ray" and workers is not None:
        raise HopidError("--workers: with --executor ray, size the OCR stage with --ocr-actors")
    if "://" not in images_dir and not Path(images_dir).is_dir():
        raise HopidError(f"{images_dir}: no such folder")
    parse_model_spec(model)
    if ocr_engine or ocr_quality != "fast":
        ocr_engine = engine_spec(ocr_engine or DEFAULT_ENGINE, ocr_quality)
        if problem := engine_problem(ocr_engine):
            raise HopidError(problem)
    if query_precision not in PRECISIONS:
        raise HopidError(f"--query-precision {query_precision!r}: choose {' or '.join(PRECISIONS)}")
    if index_type not in ("auto", *INDEX_KINDS):
        raise HopidError(f"--index-type {index_type!r}: choose auto, {', '.join(INDEX_KINDS)}")
    if executor == "ray":
        from hopid.index.ray_executor import import_ray

        import_ray()  # a one-line error before the model loads when Ray is not installed
    encoder = load_encoder(model)
    options = {"index_dir": index_dir, "ocr_engine": ocr_engine, "index_type": index_type}
    options["query_precision"] = query_precision
    with terminate_as_interrupt(), progress_bar() as update:
        if executor == "ray":
            from hopid.index.ray_executor import index_with_ray

            ray = {"address": ray_address, "ocr_actors": ocr_actors, "embed_actors": embed_actors}
            summary = index_with_ray(images_dir, encoder, progress=update, **ray, **options)
        else:
            summary = build_index(images_dir, encoder, progress=update, workers=workers, **options)
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
