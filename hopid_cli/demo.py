"""``hopid demo``: the whole pipeline on the built-in synthetic benchmark, offline, in a few minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hopid_cli.common import err, handle_errors, out, progress_bar

EXAMPLE_QUERIES = 3
TAGGER_EPOCHS = 8
SHOWN = ("t2i_r1", "t2i_r5", "i2t_r1", "i2t_r5", "rsum", "rank1", "map")


@handle_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Working directory (reused: finished steps are skipped).")
    ] = Path("hopid-demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic benchmark.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="OCR worker processes (default: every usable core).")
    ] = None,
) -> None:
    """The whole pipeline on synthetic data: prepare, entities, OCR, index, queries, eval (dense vs fused)."""
    from hopid.data.dataset import Dataset
    from hopid.data.schema import table_path
    from hopid.data.synthetic import generate
    from hopid.entities.infer import infer_dataset
    from hopid.entities.tagger import train_tagger
    from hopid.eval.evaluate import evaluate
    from hopid.index.build import build_index
    from hopid.models.factory import load_encoder
    from hopid.ocr.registry import DEFAULT_ENGINE
    from hopid.ocr.stage import CACHE_DIR, ocr_dataset
    from hopid.search.searcher import Searcher

    dataset_dir, tagger_dir, index_dir = out_dir / "synthetic", out_dir / "tagger", out_dir / "index"
    with progress_bar() as update:
        if not table_path(dataset_dir, "ocr").is_file():
            err.print("1/6 rendering the synthetic scene-text benchmark")
            generate(dataset_dir, seed=seed, progress=lambda d, t: update("render", d, t))
        err.print("2/6 training the entity tagger on weak labels (caption words found in the OCR)")
        report = train_tagger(dataset_dir, tagger_dir, epochs=TAGGER_EPOCHS, seed=seed, progress=update)
        infer_dataset(dataset_dir, tagger_dir)
        err.print(f"3/6 reading the scene text with {DEFAULT_ENGINE}")
        data = Dataset.open(dataset_dir)
        ocr_dataset(data, DEFAULT_ENGINE, workers=workers, progress=lambda d, t: update("ocr", d, t))
        err.print("4/6 indexing the images (tiny random-init CLIP: its dense part is near chance)")
        encoder = load_encoder("tiny")
        images_folder = data.image_path(data.images["path"][0]).parent
        build_index(
            images_folder,
            encoder,
            index_dir=index_dir,
            workers=workers,
            progress=update,
            ocr_cache=dataset_dir / CACHE_DIR,
        )
        err.print("5/6 evaluating the test split three ways")
        runs = {
            "dense only": evaluate(data, encoder, dense_only=True),
            "fused, true OCR": evaluate(data, encoder, ocr_engine="groundtruth"),
            f"fused, {DEFAULT_ENGINE}": evaluate(data, encoder, ocr_engine=DEFAULT_ENGINE),
        }
    err.print("6/6 example queries")
    searcher = Searcher(index_dir, encoder=encoder, tagger_dir=tagger_dir)
    _, captions = data.split("test")
    picks = captions.filter(captions["caption_id"].str.ends_with("1")).gather_every(7)[:EXAMPLE_QUERIES]
    for caption in picks.iter_rows(named=True):
        out.print(_side_by_side(searcher, caption["text"], caption["image_id"]))
    out.print(_metrics_table(runs))
    out.print(
        f"tagger F1 on test {report.test.f1:.3f} · dataset {dataset_dir} · index {index_dir}\n"
        f'try: hopid query "{picks["text"][0]}" --index {index_dir}'
    )


def _side_by_side(searcher, text: str, image_id: str) -> Table:
    table = Table(title=escape(f"query: {text!r}  (✓ = the image it describes)"), title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("dense only")
    table.add_column("fused with scene text")
    dense = searcher.search(text, 3, dense_only=True)
    fused = searcher.search(text, 3)
    for rank, (d, f) in enumerate(zip(dense, fused, strict=True), start=1):
        matched = escape(f"  [{', '.join(f.matched)}]") if f.matched else ""
        table.add_row(str(rank), _cell(d, image_id), _cell(f, image_id) + matched)
    return table


def _cell(hit, image_id: str) -> str:
    mark = "✓ " if Path(hit.path).stem == Path(image_id).stem else "  "
    return f"{mark}{Path(hit.path).name} ({hit.score:.2f})"


def _metrics_table(runs: dict) -> Table:
    table = Table(title="test split: the value of scene text", title_justify="left")
    table.add_column("scoring")
    shown = [m for m in SHOWN if all(m in r.metrics for r in runs.values())]
    for metric in shown:
        table.add_column(metric, justify="right")
    for name, result in runs.items():
        table.add_row(name, *(f"{result.metrics[m]:.1f}" if m == "rsum" else f"{result.metrics[m]:.3f}" for m in shown))
    return table
