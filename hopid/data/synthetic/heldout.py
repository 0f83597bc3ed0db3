"""A held-out set as a user would bring it: a folder of synthetic images plus a captions CSV.

Rendered with its own seed (so its invented words are new to a model trained on the default
benchmark), keeping only the captions that name their image's scene text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from hopid.data.schema import read_table
from hopid.data.synthetic import generate
from hopid.entities.weak_labels import weak_spans

HELDOUT_SEED = 4242


def write_heldout_folder(
    out: str | Path,
    *,
    seed: int = HELDOUT_SEED,
    groups: int = 12,
    variants: int = 4,
    split: str = "test",
    extra_columns: dict[str, str] | None = None,
) -> Path:
    """Render into ``out`` and write ``out/captions.csv`` (columns ``image``, ``caption`` and any
    ``extra_columns`` with a constant value; image paths relative to the CSV). Returns the CSV."""
    out = Path(out)
    generate(out, seed=seed, groups=groups, variants=variants)
    images = read_table(out / "images.parquet", "images").filter(pl.col("split") == split)
    captions = read_table(out / "captions.parquet", "captions")
    words_of = dict(read_table(out / "ocr.parquet", "ocr").group_by("image_id").agg(pl.col("text")).iter_rows())
    rows = [
        {"image": path, "caption": text, **(extra_columns or {})}
        for image_id, path in images.select("image_id", "path").iter_rows()
        for text in captions.filter(pl.col("image_id") == image_id)["text"].to_list()
        if weak_spans(text, words_of.get(image_id, []))
    ]
    path = out / "captions.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", *(extra_columns or {})])
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_heldout_identities(
    out: str | Path, *, seed: int = HELDOUT_SEED, identities: int = 20, views: int = 4, unnamed_rate: float = 0.25
) -> Path:
    """The identity benchmark rendered with its own seed (brands unseen in training), every image
    as ``test``, written as ``out/captions.csv`` with columns ``image, caption, object_id, split``;
    about ``unnamed_rate`` of the captions name no brand. Returns the CSV."""
    from hopid.data.synthetic.identities import generate_identities

    out = Path(out)
    generate_identities(out, seed=seed, identities=identities, views=views, unnamed_rate=unnamed_rate)
    images = read_table(out / "images.parquet", "images").select("image_id", "path", "object_id")
    captions = read_table(out / "captions.parquet", "captions").join(images, on="image_id")
    path = out / "captions.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", "object_id", "split"])
        writer.writeheader()
        writer.writerows(
            {"image": row["path"], "caption": row["text"], "object_id": row["object_id"], "split": "test"}
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
