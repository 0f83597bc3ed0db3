"""``hopid entities``: train the scene-text entity tagger and infer entity words of captions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import handle_errors, out, progress_bar, summary_table

app = typer.Typer(
    help="Discriminative entity inferring: which caption words are probably written in the image.", no_args_is_help=True
)


@app.command("train")
@handle_errors
def train(
    dataset: Annotated[Path, typer.Argument(help="Dataset with captions and OCR (weak labels come from their match).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the trained tagger.")],
    epochs: Annotated[
        int, typer.Option(min=1, help="Most training epochs (the best on val is kept; stops early).")
    ] = 15,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a spaCy tagger from spacy.blank("en") on weak labels (caption words found in the image's OCR)."""
    from hopid.entities.tagger import train_tagger

    with progress_bar() as update:
        report = train_tagger(dataset, out_dir, epochs=epochs, seed=seed, progress=update)
    out.print(summary_table(f"tagger saved to {out_dir}", _flat(report.to_dict())))


@app.command("infer")
@handle_errors
def infer(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    tagger: Annotated[
        Path | None,
        typer.Option(help="Tagger directory from `hopid entities train`; without it a rule-based fallback is used."),
    ] = None,
) -> None:
    """Write entities.parquet and the HOPID text prompt of every caption (prompts.parquet)."""
    from hopid.entities.infer import infer_dataset

    with progress_bar() as update:
        summary = infer_dataset(dataset, tagger, progress=update)
    out.print(summary_table(f"entities of {dataset}", _flat(vars(summary))))


def _flat(values: dict) -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in _flat(value).items()})
        else:
            flat[key] = value
    return flat
