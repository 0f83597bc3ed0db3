"""``hopid demo``: the whole pipeline on the built-in synthetic benchmark, offline, in a few minutes.

It renders the benchmark, trains the entity tagger, reads the scene text with the default
OCR engine, trains a tiny HOPID and the tiny CLIP-only baseline, indexes the images with
HOPID and compares, on the test split and on example queries, the training-free search
(tiny random CLIP fused with scene text), the CLIP-only baseline and HOPID, and ends by
drawing the pictures (contact sheet, retrieval examples, t-SNE, attention) into OUT/figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hopid_cli.common import err, handle_errors, out, progress_bar

EXAMPLE_QUERIES = 3
TAGGER_EPOCHS = 8
SHOWN = ("t2i_r1", "t2i_r5", "i2t_r1", "i2t_r5", "rsum")
RECIPES = {"hopid": "demo-tiny", "cliponly": "demo-tiny-cliponly"}


@handle_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Working directory (reused: finished steps are skipped).")
    ] = Path("hopid-demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic benchmark.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="OCR worker processes (default: every usable core).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Training epochs (default: the recipes').")] = None,
) -> None:
    """The whole pipeline on synthetic data: prepare, entities, OCR, train HOPID and the CLIP-only
    baseline, index, queries, and eval of training-free vs CLIP-only vs HOPID."""
    from hopid.data.dataset import Dataset
    from hopid.data.schema import table_path
    from hopid.entities.infer import infer_dataset
    from hopid.entities.tagger import train_tagger
    from hopid.eval.evaluate import evaluate
    from hopid.index.build import build_index
    from hopid.models.factory import load_encoder
    from hopid.models.run import RunEncoder
    from hopid.ocr.registry import DEFAULT_ENGINE
    from hopid.ocr.stage import CACHE_DIR, ocr_dataset
    from hopid.search.searcher import Searcher
    from hopid.synthetic import generate
    from hopid.train.loop import RUN_FILE, train
    from hopid.train.recipe import load_recipe

    dataset_dir, tagger_dir, index_dir = out_dir / "synthetic", out_dir / "tagger", out_dir / "index"
    with progress_bar() as update:
        if not table_path(dataset_dir, "ocr").is_file():
            err.print("1/7 rendering the synthetic scene-text benchmark")
            generate(dataset_dir, seed=seed, progress=update)
        err.print("2/7 training the entity tagger on weak labels (caption words found in the OCR)")
        report = train_tagger(dataset_dir, tagger_dir, epochs=TAGGER_EPOCHS, seed=seed, progress=update)
        infer_dataset(dataset_dir, tagger_dir)
        err.print(f"3/7 reading the scene text with {DEFAULT_ENGINE}")
        data = Dataset.open(dataset_dir)
        ocr_dataset(data, DEFAULT_ENGINE, workers=workers, progress=update)
        runs = {}
        for step, (key, recipe_name) in enumerate(RECIPES.items(), start=4):
            run_dir = out_dir / "runs" / key
            err.print(f"{step}/7 training {recipe_name} (tiny backbone; ground-truth OCR made noisy)")
            overrides = [f"data.dataset={dataset_dir}", f"tagger.copy_from={tagger_dir}"]
            overrides += [f"train.epochs={epochs}"] if epochs else []
            if not (run_dir / RUN_FILE).is_file():
                recipe = load_recipe(recipe_name, overrides)
                train(recipe, run_dir, resume=True, progress=update, note=err.print)
            runs[key] = RunEncoder(run_dir, device="cpu")
        err.print("6/7 indexing the images with HOPID, and evaluating the test split with the OCR engine's text")
        build_index(
            data.image_path(data.images["path"][0]).parent,
            runs["hopid"],
            index_dir=index_dir,
            workers=workers,
            progress=update,
            ocr_cache=dataset_dir / CACHE_DIR,
        )
        tiny = load_encoder("tiny")
        results = {
            "training-free (tiny CLIP + scene text)": evaluate(data, tiny, ocr_engine=DEFAULT_ENGINE),
            "CLIP-only baseline, trained": evaluate(data, runs["cliponly"], dense_only=True, ocr_engine=DEFAULT_ENGINE),
            "HOPID, network alone": evaluate(data, runs["hopid"], dense_only=True, ocr_engine=DEFAULT_ENGINE),
            "HOPID + scene text": evaluate(data, runs["hopid"], ocr_engine=DEFAULT_ENGINE),
        }
    err.print("7/7 example queries and pictures")
    searcher = Searcher(index_dir, encoder=runs["hopid"])
    _, captions = data.split("test")
    picks = captions.filter(captions["caption_id"].str.ends_with("1")).gather_every(7)[:EXAMPLE_QUERIES]
    for caption in picks.iter_rows(named=True):
        out.print(_side_by_side(searcher, caption["text"], caption["image_id"]))
    out.print(_metrics_table(results))
    from hopid.viz.figures import demo_figures

    figures = demo_figures(data, runs["hopid"], runs["cliponly"], searcher, picks["text"][0], out_dir / "figures")
    folder = out_dir / "figures"
    listed = ", ".join(f"{path.name} ({what})" for what, path in figures.items())
    out.print(escape(f"pictures in {folder}: {listed}"))
    out.print(
        f"tagger F1 on test {report.test.f1:.3f} · dataset {dataset_dir} · runs {out_dir / 'runs'}"
        f" · index {index_dir}\n"
        f'try: hopid query "{picks["text"][0]}" --index {index_dir}'
    )


def _side_by_side(searcher, text: str, image_id: str) -> Table:
    table = Table(title=escape(f"query: {text!r}  (✓ = the image it describes)"), title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("HOPID, network alone")
    table.add_column("HOPID + scene text")
    dense = searcher.search(text, 3, dense_only=True)
    fused = searcher.search(text, 3)
    for rank, (d, f) in enumerate(zip(dense, fused, strict=True), start=1):
        matched = escape(f"  [{', '.join(f.matched)}]") if f.matched else ""
        table.add_row(str(rank), _cell(d, image_id), _cell(f, image_id) + matched)
    return table


def _cell(hit, image_id: str) -> str:
    mark = "✓ " if Path(hit.path).stem == Path(image_id).stem else "  "
    return f"{mark}{Path(hit.path).name} ({hit.score:.2f})"


def _metrics_table(results: dict) -> Table:
    engines = sorted({result.ocr_engine for result in results.values() if result.ocr_engine})
    title = f"test split, OCR: {', '.join(engines) or 'none'}: {', '.join(SHOWN)}"
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    for metric in SHOWN:
        table.add_column(metric, justify="right")
    for name, result in results.items():
        table.add_row(name, *(f"{result.metrics[m]:.1f}" if m == "rsum" else f"{result.metrics[m]:.3f}" for m in SHOWN))
    return table
