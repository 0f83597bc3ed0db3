"""A held-out set as a user would bring it: a folder of synthetic images plus a captions CSV.

Rendered with its own seed and the held-out vocabulary
(:mod:`hopid.synthetic.heldout_words`), whose names, phrases, numbers and plate codes the
training vocabulary can never write, for any seed; every written word is checked against the
training vocabulary before the folder is returned. The captions CSV keeps only the captions
that name their image's scene text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from hopid.data.schema import read_table
from hopid.entities.weak_labels import weak_spans
from hopid.synthetic import generate
from hopid.synthetic.heldout_words import HELDOUT_VOCABULARY, check_heldout

HELDOUT_SEED = 4242
HELDOUT_GROUPS = 24  # with 4 variants: 84 images with text, about 380 captions naming it
HELDOUT_VARIANTS = 4


def write_heldout_folder(
    out: str | Path,
    *,
    seed: int = HELDOUT_SEED,
    groups: int = HELDOUT_GROUPS,
    variants: int = HELDOUT_VARIANTS,
    split: str | None = None,
    extra_columns: dict[str, str] | None = None,
) -> Path:
    """Render into ``out`` and write ``out/captions.csv`` (columns ``image``, ``caption`` and any
    ``extra_columns`` with a constant value; image paths relative to the CSV). Returns the CSV.

    Captions come from every image (``split``: only the images the generator put in that split;
    all images stay in the folder either way). Raises :class:`~hopid.errors.HopidError` if any
    written word could have been written in training (it never should)."""
    out = Path(out)
    generate(out, seed=seed, groups=groups, variants=variants, vocabulary=HELDOUT_VOCABULARY)
    ocr = read_table(out / "ocr.parquet", "ocr")
    check_heldout(ocr["text"].to_list())
    images = read_table(out / "images.parquet", "images")
    if split is not None:
        images = images.filter(pl.col("split") == split)
    captions = read_table(out / "captions.parquet", "captions")
    words_of = dict(ocr.group_by("image_id").agg(pl.col("text")).iter_rows())
    texts_of = dict(captions.group_by("image_id", maintain_order=True).agg(pl.col("text")).iter_rows())
    rows = [
        {"image": path, "caption": text, **(extra_columns or {})}
        for image_id, path in images.select("image_id", "path").iter_rows()
        for text in texts_of.get(image_id, [])
        if weak_spans(text, words_of.get(image_id, []))
    ]
    path = out / "captions.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", *(extra_columns or {})])
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_heldout_identities(
    out: str | Path,
    *,
    seed: int = HELDOUT_SEED,
    identities: int = 30,
    views: int = 4,
    unnamed_rate: float = 0.25,
    explanations: str = "knowledge",
    logo_only_views: int = 0,
    slogans: bool = False,
) -> Path:
    """The identity benchmark rendered with its own seed and the held-out vocabulary (brands and
    plate codes training can never write), every image as ``test``, written as
    ``out/captions.csv`` with columns ``image, caption, object_id, split, explanation``; about
    ``unnamed_rate`` of the captions name no brand (and have no explanation). ``explanations``
    (``knowledge`` or ``template``) changes the explanation column only; in ``logo_only_views``
    views of each brand its name is not written (the logo only, and its slogan with ``slogans``).
    Returns the CSV."""
    from hopid.synthetic.identities import generate_identities

    out = Path(out)
    generate_identities(
        out,
        seed=seed,
        identities=identities,
        views=views,
        unnamed_rate=unnamed_rate,
        vocabulary=HELDOUT_VOCABULARY,
        explanations=explanations,
        logo_only_views=logo_only_views,
        slogans=slogans,
    )
    check_heldout(read_table(out / "ocr.parquet", "ocr")["text"].to_list())
    images = read_table(out / "images.parquet", "images").select("image_id", "path", "object_id")
    captions = read_table(out / "captions.parquet", "captions").join(images, on="image_id")
    path = out / "captions.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", "object_id", "split", "explanation"])
        writer.writeheader()
        writer.writerows(
            {
                "image": row["path"],
                "caption": row["text"],
                "object_id": row["object_id"],
                "split": "test",
                "explanation": row["explanation"] or "",
            }
            for row in captions.iter_rows(named=True)
        )
    for name in ("images", "captions", "ocr"):  # a user's folder: images and a captions file only
        (out / f"{name}.parquet").unlink()
    return path


def prepare_heldout(root: str | Path, name: str, write=write_heldout_folder) -> Path:
    """``root/name``: the held-out folder that ``write`` renders (under ``root/name-source``) as a
    user would prepare it (`hopid prepare folder`), its scene text read by the default OCR engine;
    reused when already there."""
    from hopid.data.dataset import Dataset
    from hopid.data.folder import prepare_folder
    from hopid.ocr.registry import DEFAULT_ENGINE
    from hopid.ocr.stage import ocr_dataset

    dataset = Path(root) / name
    if not (dataset / "ocr.parquet").is_file():
        source = Path(root) / f"{name}-source"
        prepare_folder(source / "images", dataset, write(source))
        ocr_dataset(Dataset.open(dataset), DEFAULT_ENGINE)
    return dataset
