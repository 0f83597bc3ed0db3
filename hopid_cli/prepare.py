"""``hopid prepare``: turn a source of images into a dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import err, handle_errors, out, progress_bar, summary_table

app = typer.Typer(
    help="Make a dataset directory (images.parquet, captions.parquet, ...) from a source.", no_args_is_help=True
)


@app.command("synthetic")
@handle_errors
def synthetic(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Dataset directory to write.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same dataset.")] = 0,
    groups: Annotated[int | None, typer.Option(help="Scene groups (each rendered with different words).")] = None,
    variants: Annotated[int | None, typer.Option(help="Images per group, identical but for their words.")] = None,
    size: Annotated[int | None, typer.Option(help="Image side in pixels.")] = None,
) -> None:
    """The built-in synthetic scene-text benchmark, with ground-truth OCR."""
    from hopid.data.synthetic import generate

    options = {k: v for k, v in {"groups": groups, "variants": variants, "size": size}.items() if v is not None}
    with progress_bar() as update:
        summary = generate(out_dir, seed=seed, progress=lambda d, t: update("render", d, t), **options)
    out.print(summary_table(f"synthetic dataset in {out_dir}", vars(summary)))


@app.command("folder")
@handle_errors
def folder(
    images: Annotated[Path, typer.Argument(help="Folder of images (searched recursively).")],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Dataset directory to write.")],
    captions: Annotated[
        Path | None,
        typer.Option(help="Captions CSV/TSV/JSONL: columns image, caption[, split, object_id, explanation]."),
    ] = None,
    image_column: Annotated[str, typer.Option(help="Name of the image column in the captions file.")] = "image",
    caption_column: Annotated[str, typer.Option(help="Name of the caption column.")] = "caption",
    split_column: Annotated[str, typer.Option(help="Name of the split column (train/val/test).")] = "split",
    object_column: Annotated[str, typer.Option(help="Name of the object/identity column.")] = "object_id",
    explanation_column: Annotated[str, typer.Option(help="Name of the explanation column.")] = "explanation",
) -> None:
    """Any folder of images (jpg, png, webp, bmp, gif, tiff, HEIC with pillow-heif), with optional captions."""
    from hopid.data.folder import prepare_folder

    columns = {
        "image": image_column,
        "caption": caption_column,
        "split": split_column,
        "object_id": object_column,
        "explanation": explanation_column,
    }
    summary = prepare_folder(images, out_dir, captions, columns)
    for note in summary.notes:
        err.print(f"[yellow]note:[/] {note}")
    if summary.errors:
        err.print(f"[yellow]{summary.errors} item(s) skipped[/]: see {out_dir / 'errors.parquet'}")
    out.print(
        summary_table(
            f"dataset in {out_dir}", {"images": summary.images, "captions": summary.captions, "errors": summary.errors}
        )
    )
