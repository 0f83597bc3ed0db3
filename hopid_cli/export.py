"""``hopid export``: an index's embeddings and OCR as NumPy/Parquet for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import handle_errors, out


@handle_errors
def export(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="New folder for the export.")],
    index_dir: Annotated[
        Path | None, typer.Option("--index", help="Index directory (default: the index of this folder).")
    ] = None,
) -> None:
    """clip-retrieval's layout: img_emb/img_emb_0.npy, metadata/metadata_0.parquet (image_path, ...),
    and ocr.parquet; autofaiss and clip-retrieval's back-end read it as it is."""
    from hopid.index.export import export_index
    from hopid.search.searcher import find_index_dir

    count = export_index(find_index_dir(index_dir), out_dir)
    out.print(f"exported {count:,} images to {out_dir}")
