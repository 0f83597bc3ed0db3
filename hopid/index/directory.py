"""The index directory of ``hopid index`` (``IMAGES_DIR/.hopid/`` by default): its file names and
its manifest, the one place both the builder (:mod:`hopid.index.build`) and the readers
(:mod:`hopid.search`, :mod:`hopid.index.export`) take them from; docs/data-model.md describes it.

- ``manifest.json``: what was indexed, with which model and OCR engine, and which faiss index;
- ``index.faiss`` and ``vectors.npy``: one row per indexed image;
- ``items.parquet``: row -> image path, content hash, size, mtime, upright size;
- ``ocr.parquet``: the OCR words of every indexed image; ``lexical.npz``: their lookup tables;
- ``query.onnx``/``query.json`` (+ a run's ``query-entities.json`` and ``query-references.npy``):
  the torch-free text side;
- ``errors.parquet``: files that could not be indexed; ``cache/``: resumable work in progress.
"""

from __future__ import annotations

import json
from pathlib import Path

from hopid.data.schema import SCHEMA_VERSION
from hopid.errors import HopidError

INDEX_DIRNAME = ".hopid"
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
LEXICAL_FILE = "lexical.npz"
QUERY_MODEL = "query.onnx"
QUERY_INFO = "query.json"
QUERY_ENTITIES = "query-entities.json"
QUERY_REFERENCES = "query-references.npy"


def default_index_dir(images_dir: Path) -> Path:
    return images_dir / INDEX_DIRNAME


def read_manifest(index_dir: Path) -> dict:
    """The manifest of an index; a missing or old one is a one-line error saying to (re)build."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise HopidError(f"{index_dir}: no hopid index here; build one with `hopid index IMAGES_DIR`")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError) as exc:
        raise HopidError(f"{path}: unreadable manifest ({exc}); rebuild with `hopid index`") from exc
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise HopidError(
            f"{index_dir}: index schema version {manifest.get('schema_version')} but this hopid reads "
            f"{SCHEMA_VERSION}; rebuild it with `hopid index {manifest.get('images_dir', 'IMAGES_DIR')}`"
        )
    return manifest
