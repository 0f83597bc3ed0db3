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

from hopid.data.scan import os_name, stored_name
from hopid.data.schema import read_table
from hopid.errors import HopidError
from hopid.index.directory import ITEMS_FILE, OCR_FILE, VECTORS_FILE, open_generation


def export_index(index_dir: str | Path, out: str | Path) -> int:
    """Write the export into ``out``; returns how many images it holds. ``image_path`` is in the
    stored-name form of :mod:`hopid.data.scan` (the name itself unless it is not UTF-8)."""
    index_dir, out = Path(index_dir), Path(out)
    generation = open_generation(index_dir)
    if out.exists() and any(out.iterdir()):
        raise HopidError(f"{out}: not empty; choose a new folder for the export")
    try:
        vectors = np.load(generation.path(VECTORS_FILE), mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise generation.damaged(VECTORS_FILE, f"is not a readable array ({type(exc).__name__})") from exc
    items = read_table(generation.path(ITEMS_FILE), "items")
    root = Path(generation.manifest["images_dir"])
    metadata = items.with_columns(
        image_path=pl.col("path").map_elements(lambda p: stored_name(str(root / os_name(p))), pl.String)
    )
    (out / "img_emb").mkdir(parents=True)
    (out / "metadata").mkdir()
    np.save(out / "img_emb" / "img_emb_0.npy", np.asarray(vectors, dtype=np.float32))
    metadata.select("image_path", *items.columns).write_parquet(out / "metadata" / "metadata_0.parquet")
    shutil.copyfile(generation.path(OCR_FILE), out / "ocr.parquet")
    return items.height
