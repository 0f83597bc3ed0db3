"""``hopid eval``: the published protocols on a dataset split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import MODEL_HELP, err, handle_errors, out, print_json, progress_bar, summary_table


@handle_errors
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    split: Annotated[
        str | None,
        typer.Option(help="train, val or test (default: test; word retrieval on a folder of one split: that one)."),
    ] = None,
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
        str | None,
        typer.Option(
            help="Which OCR rows of the dataset to use (default: a real engine's; ground truth only when it is "
            "all there is, and then said loudly)."
        ),
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
    explained: Annotated[
        bool,
        typer.Option(
            "--explained",
            help="Enhance each query by its caption's explanation (captions.explanation) through the run's "
            "EntityCLIP experts (a run trained with model.explanation_experts); with model.explained_words "
            "the words it names join the query's.",
        ),
    ] = False,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="words: word retrieval (one word per query, AP over every image, mAP) on any folder with "
            "ground-truth words. Default: the benchmark card's protocol."
        ),
    ] = None,
    queries: Annotated[
        str | None,
        typer.Option(
            help="Word retrieval queries: all (every ground-truth word) or N (the N words in the most images). "
            "Default: the benchmark's rule (SVT: every word; ICDAR 2015: MSTAR's top 100)."
        ),
    ] = None,
) -> None:
    """Evaluate under the benchmark's published protocol (from its benchmark.json, see docs/datasets.md).

    CTC/COCO/Flickr30K/TextCaps and the news sets: R@1/5/10 both ways and rSum. Person sets,
    CUB and Flowers: Rank-1/5/10, mAP and mINP by identity. Other folders: R@K, plus the
    identity metrics when every image has an object_id. SVT and ICDAR 2015: word retrieval mAP,
    each query word ranked as `hopid query WORD` ranks it, with a real OCR engine's words."""
    import polars as pl

    from hopid.data.dataset import GROUNDTRUTH_ENGINE, Dataset, real_ocr_engine
    from hopid.data.schema import SPLITS, table_path, write_table
    from hopid.errors import HopidError
    from hopid.eval.evaluate import evaluate as run
    from hopid.eval.evaluate import evaluate_words
    from hopid.eval.protocols import WORDS, plan
    from hopid.eval.words import query_rule
    from hopid.models.factory import load_encoder
    from hopid.models.spec import parse_model_spec

    if split is not None and split not in SPLITS:
        raise HopidError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    if protocol not in (None, WORDS):
        raise HopidError(f"--protocol {protocol!r}: choose {WORDS} (or leave it out for the benchmark's own)")
    parse_model_spec(model)  # a wrong --model fails before any work
    data = Dataset.open(dataset, need_captions=False)
    words = protocol == WORDS or plan(data.benchmark(), subset, folds).protocol == WORDS
    if words and (subset or folds or rerank or explained):
        raise HopidError(
            "word retrieval ranks every image of the split: --subset, --folds, --rerank and --explained do not apply"
        )
    if queries is not None and not words:
        raise HopidError("--queries is for word retrieval (SVT, ICDAR 2015 or --protocol words)")
    query_rule(data.benchmark(), queries)  # a wrong --queries fails before any work
    splits = set(data.images["split"].unique().to_list())
    if split is None:
        split = "test" if "test" in splits or not words or len(splits) != 1 else splits.pop()
        if split != "test":
            err.print(f"[yellow]note:[/] {dataset} holds only its {split} split: evaluating that one")
    encoder = load_encoder(model)
    with progress_bar() as update:
        present = data.ocr_engines()
        uses_ocr = encoder.needs_ocr or not dense_only
        missing = real_ocr_engine(present) not in present if words else uses_ocr and not present
        if missing and ocr_engine is None:
            from hopid.ocr.registry import DEFAULT_ENGINE
            from hopid.ocr.stage import ocr_dataset

            err.print(f"{dataset} has no scene text read by an OCR engine yet: reading it with {DEFAULT_ENGINE}")
            ocr_dataset(data, DEFAULT_ENGINE, progress=update)
        options = {"split": split, "dense_only": dense_only, "ocr_engine": ocr_engine, "alpha": alpha}
        if words:
            result = evaluate_words(data, encoder, queries=queries, progress=update, **options)
        else:
            extra = {"subset": subset, "folds": folds, "rerank": rerank, "rerank_k": rerank_k, "explained": explained}
            result = run(data, encoder, rerank_beta=rerank_beta, progress=update, **options, **extra)
    label = result.plan.label
    target = out_dir or dataset / "eval" / (f"{split}-{label}" if label else split)
    title = (
        f"{split} split of {dataset}{f' ({label})' if label else ''}: {result.plan.protocol} protocol, "
        + ("dense only" if dense_only else "fused")
        + (f", {rerank} re-ranking" if rerank else "")
        + (", explained queries" if explained else "")
        + (f", OCR: {result.ocr_engine}" if result.ocr_engine else ", no OCR")
    )
    if result.ocr_engine == GROUNDTRUTH_ENGINE:
        err.print(
            "[yellow]note:[/] scene text from the dataset's GROUND-TRUTH words, not an OCR engine: an upper bound"
            f" (read it with `hopid ocr {dataset}`, then this uses that engine)"
        )
    metrics = pl.DataFrame({"metric": list(result.metrics), "value": list(result.metrics.values())}).with_columns(
        split=pl.lit(split),
        model=pl.lit(model),
        protocol=pl.lit(result.plan.protocol),
        subset=pl.lit(label or None),
        ocr_engine=pl.lit(result.ocr_engine),
    )
    write_table(metrics, table_path(target, "metrics"), "metrics")
    write_table(result.per_query, table_path(target, "per_query"), "per_query")
    if len(result.errors):
        result.errors.save(dataset)
        err.print(f"[yellow]{len(result.errors)} image(s) unreadable[/]: see {dataset / 'errors.parquet'}")
    shown = result.metrics
    if words:  # mAP as a fraction in JSON and Parquet (like the identity protocol's), in percent in the table
        shown = {"mAP %": 100 * shown["map"], "ocr engine": result.ocr_engine}
    if as_json:
        found = result.metrics
        if words:
            found = {"map": found["map"], "queries": int(found["queries"])}
        print_json(found | {"ocr_engine": result.ocr_engine})
        err.print(summary_table(title, shown))
    else:
        out.print(summary_table(title, shown | result.counts))
