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
    identities: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Render the identity benchmark instead: this many brands (object_id), each on --views "
            "different objects, with an explanation per brand (for MMRef and EntityCLIP).",
        ),
    ] = None,
    views: Annotated[int, typer.Option(min=1, help="Images per identity (with --identities).")] = 4,
    logo_only_views: Annotated[
        int, typer.Option(min=0, help="Views per identity that do not show its name (with --identities).")
    ] = 0,
    slogans: Annotated[
        bool,
        typer.Option(
            "--slogans",
            help="Give each brand a slogan its explanation states, written under the name and alone in the "
            "views without it (with --identities).",
        ),
    ] = False,
) -> None:
    """The built-in synthetic scene-text benchmark, with ground-truth OCR."""
    from hopid.errors import HopidError

    options = {k: v for k, v in {"groups": groups, "variants": variants, "size": size}.items() if v is not None}
    with progress_bar() as update:
        render = {"seed": seed, "progress": update}
        if identities is None:
            from hopid.synthetic import generate

            if logo_only_views or slogans:
                raise HopidError("--logo-only-views and --slogans shape the identity benchmark; add --identities N")

            summary = generate(out_dir, **render, **options)
        else:
            from hopid.synthetic.identities import generate_identities

            if groups is not None or variants is not None:
                raise HopidError("--identities renders brands x --views; --groups and --variants do not apply")
            summary = generate_identities(
                out_dir,
                identities=identities,
                views=views,
                size=size or 256,
                logo_only_views=logo_only_views,
                slogans=slogans,
                **render,
            )
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


BENCHMARKS = {
    "ctc": "CTC (CTC-1K ⊂ CTC-5K) as released with ViSTA: TSV caption lists and per-image OCR files.",
    "coco": "COCO captions in Karpathy's split (dataset_coco.json); restval joins train.",
    "flickr30k": "Flickr30K in Karpathy's split (dataset_flickr30k.json); images in flickr30k-images/.",
    "cuhk-pedes": "CUHK-PEDES person retrieval (reid_raw.json); identity = id.",
    "icfg-pedes": "ICFG-PEDES person retrieval (ICFG-PEDES.json or ICFG_PEDES.json); the JSON's split is the split.",
    "rstpreid": "RSTPReid person retrieval (data_captions.json); images under imgs/.",
    "textcaps": "TextCaps (TextCaps_0.1_{train,val}.json; val becomes test) with TextVQA Rosetta OCR when present.",
    "cub": "CUB-200-2011 with Reed et al.'s captions (text_c10/, class split files); identity = class.",
    "flowers": "Oxford Flowers-102 with Reed et al.'s captions (text_c10/, class split files); identity = class.",
    "n24news": "N24News (nytimes_dataset.json or its train/dev/test JSONs); headline, abstract, body as context.",
    "goodnews": "GoodNews (captioning_dataset.json, img_splits.json); the article as context.",
    "visualnews": "VisualNews (origin/data.json); the article text as context.",
    "svt": "Street View Text (train.xml, test.xml; images by file name); the tagged words as ground-truth OCR.",
    "icdar15": "ICDAR 2015 (gt_img_N.txt files or PaddleOCR label files); legible words as ground-truth OCR.",
}


def _benchmark_command(name: str, summary: str):
    @handle_errors
    def command(
        root: Annotated[Path, typer.Argument(help="The dataset's folder as released and unpacked.")],
        out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Dataset directory to write.")],
        images: Annotated[
            Path | None, typer.Option(help="Folder of the image files (default: found from the annotations).")
        ] = None,
        ocr_dir: Annotated[
            Path | None, typer.Option(help="Folder of the release's OCR files (ctc: default ROOT/ctc_ocr).")
        ] = None,
    ) -> None:
        from hopid.prepare import prepare_benchmark

        collected = prepare_benchmark(name, root, out_dir, images, ocr_dir)
        for note in collected.notes:
            err.print(f"[yellow]note:[/] {note}")
        if len(collected.errors):
            err.print(f"[yellow]{len(collected.errors)} item(s) skipped[/]: see {out_dir / 'errors.parquet'}")
        rows = [(f"{split} {what}", n) for split, c in collected.counts().items() for what, n in c.items() if n]
        out.print(summary_table(f"{name} in {out_dir}", [*rows, ("errors", len(collected.errors))]))

    command.__doc__ = summary
    return command


for _name, _summary in BENCHMARKS.items():
    app.command(_name)(_benchmark_command(_name, _summary))
