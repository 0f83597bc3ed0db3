"""``hopid eval``: the published protocols on a dataset split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import err, handle_errors, out, print_json, progress_bar, summary_table


@handle_errors
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    model: Annotated[
        str, typer.Option(help="tiny | RUN_DIR (from hopid train) | ARCH:PRETRAINED | ARCH:/path/to/weights.")
    ] = "tiny",
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    subset: Annotated[
        str | None,
        typer.Option(
            help="A benchmark's test protocol: ctc1k | ctc5k (CTC), coco1k (five folds of 1,000) | coco5k (COCO), "
            "or any images.subset value. Default: the whole split."
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(min=1, help="Average R@K over N equal folds of the images (COCO 1K: --folds 5 on the 5K test)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the metrics as one JSON object on stdout.")
    ] = False,
    dense_only: Annotated[
        bool, typer.Option("--dense-only", help="Score by the model alone, without scene text.")
    ] = False,
    ocr_engine: Annotated[
        str | None, typer.Option(help="Which OCR rows of the dataset to use (default: the best present).")
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(help="fusion.alpha: weight of the scene-text score (default: the model's, 0.5 for CLIP)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where metrics.parquet and per_query.parquet go (default: DATASET/eval/SPLIT)."),
    ] = None,
    rerank: Annotated[
        str | None,
        typer.Option(help="reference: re-rank each query's top-k by MMRef reference profiles (an mmref run)."),
    ] = None,
    rerank_k: Annotated[
        int | None, typer.Option(min=1, help="Top-k to re-rank (default: the run's, from val).")
    ] = None,
    rerank_beta: Annotated[
        float | None, typer.Option(min=0.0, help="Weight of the reference score (default: the run's, from val).")
    ] = None,
) -> None:
    """Evaluate under the benchmark's published protocol (from its benchmark.json, see docs/datasets.md).

    CTC/COCO/Flickr30K/TextCaps and the news sets: R@1/5/10 both ways and rSum. Person sets,
    CUB and Flowers: Rank-1/5/10, mAP and mINP by identity. Other folders: R@K, plus the
    identity metrics when every image has an object_id."""
    import polars as pl

    from hopid.data.dataset import Dataset
    from hopid.data.schema import SPLITS, table_path, write_table
    from hopid.errors import HopidError
    from hopid.eval.evaluate import evaluate as run
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec

    if split not in SPLITS:
        raise HopidError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    parse_model_spec(model)  # a wrong --model fails before any work
    data = Dataset.open(dataset)
    encoder = load_encoder(model)
    with progress_bar() as update:
        if encoder.needs_ocr and not table_path(dataset, "ocr").is_file():
            from hopid.ocr.registry import DEFAULT_ENGINE
            from hopid.ocr.stage import ocr_dataset

            err.print(f"the model reads scene text and {dataset} has none yet: reading it with {DEFAULT_ENGINE}")
            ocr_dataset(data, DEFAULT_ENGINE, progress=lambda d, t: update("ocr", d, t))
        result = run(
            data,
            encoder,
            split=split,
            subset=subset,
            folds=folds,
            dense_only=dense_only,
            ocr_engine=ocr_engine,
            alpha=alpha,
            rerank=rerank,
            rerank_k=rerank_k,
            rerank_beta=rerank_beta,
            progress=update,
        )
    label = result.plan.label
    target = out_dir or dataset / "eval" / (f"{split}-{label}" if label else split)
    title = (
        f"{split} split of {dataset}{f' ({label})' if label else ''}: {result.plan.protocol} protocol, "
        + ("dense only" if dense_only else "fused")
        + (f", {rerank} re-ranking" if rerank else "")
    )
    metrics = pl.DataFrame({"metric": list(result.metrics), "value": list(result.metrics.values())}).with_columns(
        split=pl.lit(split), model=pl.lit(model), protocol=pl.lit(result.plan.protocol), subset=pl.lit(label or None)
    )
    write_table(metrics, table_path(target, "metrics"), "metrics")
    write_table(result.per_query, table_path(target, "per_query"), "per_query")
    if len(result.errors):
        result.errors.save(dataset)
        err.print(f"[yellow]{len(result.errors)} image(s) unreadable[/]: see {dataset / 'errors.parquet'}")
    if as_json:
        print_json(result.metrics)
        err.print(summary_table(title, result.metrics))
    else:
        out.print(summary_table(title, result.metrics | result.counts))
