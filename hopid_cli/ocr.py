"""``hopid ocr``: read the scene text of every image of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid.errors import HopidError
from hopid_cli.common import err, handle_errors, out, progress_bar, summary_table, terminate_as_interrupt


@handle_errors
def ocr(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory (made by hopid prepare).")],
    engine: Annotated[
        str | None, typer.Option(help="rapidocr, easyocr or tesseract (default: the measured best).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: every usable core).")] = None,
    quality: Annotated[
        str,
        typer.Option(
            help="fast, or best: rapidocr reads more boxes per image (slower; docs/benchmarks.md). Rows of a "
            "best reading go by the engine name rapidocr:best."
        ),
    ] = "fast",
) -> None:
    """OCR every image into ocr.parquet; resumable: a rerun reads only what is missing."""
    from hopid.data.dataset import Dataset
    from hopid.ocr.registry import DEFAULT_ENGINE, engine_problem, engine_spec
    from hopid.ocr.stage import ocr_dataset

    engine = engine_spec(engine or DEFAULT_ENGINE, quality)
    problem = engine_problem(engine)
    if problem:
        raise HopidError(problem)
    data = Dataset.open(dataset, need_captions=False)
    with terminate_as_interrupt(), progress_bar() as update:
        summary = ocr_dataset(data, engine, workers=workers, progress=update)
    if summary.errors:
        err.print(f"[yellow]{summary.errors} image(s) failed[/]: see {dataset / 'errors.parquet'}")
    out.print(summary_table(f"OCR of {dataset}", vars(summary)))
