"""Embeddings and OCR of an index for other tools, in clip-retrieval's layout.

``OUT/img_emb/img_emb_0.npy`` (float32, one row per image, L2-normalised: what autofaiss
and clip-retrieval's back-end read), ``OUT/metadata/metadata_0.parquet`` (``image_path`` and
the items table, row-aligned with the embeddings) and ``OUT/ocr.parquet`` (the index's OCR).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl

from hopid.data.schema import read_table, table_path
from hopid.errors import HopidError
from hopid.index.directory import read_manifest


def export_index(index_dir: str | Path, out: str | Path) -> int:
    """Write the export into ``out``; returns how many images it holds."""
    index_dir, out = Path(index_dir), Path(out)
    manifest = read_manifest(index_dir)
    if out.exists() and any(out.iterdir()):
        raise HopidError(f"{out}: not empty; choose a new folder for the export")
    vectors = np.load(index_dir / "vectors.npy", mmap_mode="r")
    items = read_table(table_path(index_dir, "items"), "items")
    root = Path(manifest["images_dir"])
    metadata = items.with_columns(image_path=pl.col("path").map_elements(lambda p: str(root / p), pl.String))
    (out / "img_emb").mkdir(parents=True)
    (out / "metadata").mkdir()
    np.save(out / "img_emb" / "img_emb_0.npy", np.asarray(vectors, dtype=np.float32))
    metadata.select("image_path", *items.columns).write_parquet(out / "metadata" / "metadata_0.parquet")
    shutil.copyfile(table_path(index_dir, "ocr"), out / "ocr.parquet")
    return items.height
