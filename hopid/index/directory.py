"""The index directory of ``hopid index`` (``IMAGES_DIR/.hopid/`` by default): its file names,
its generations and its manifest, the one place both the builder (:mod:`hopid.index.build`) and
the readers (:mod:`hopid.search`, :mod:`hopid.index.export`) take them from; docs/data-model.md
describes it.

Each save writes a new **generation** folder (``gen-000007/``) holding every searchable file:

- ``index.faiss`` and ``vectors.npy``: one row per indexed image;
- ``items.parquet``: row -> image path, content hash, size, mtime, upright size;
- ``ocr.parquet``: the OCR words of every indexed image; ``lexical.npz``: their lookup tables;
- ``query.onnx``/``query.json`` (+ a run's ``query-entities.json`` and ``query-references.npy``):
  the torch-free text side.

and then commits it by replacing ``manifest.json`` in one atomic rename: the manifest names
its generation and every file of it with its size and hash, so a reader sees either the old
generation or the new one, never a mix (as SQLite and LMDB commit). Beside them stay
``errors.parquet`` (files that could not be indexed) and ``cache/`` (resumable work, keyed by
content hash: never discarded because an index file is damaged).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hopid.data.scan import content_hash
from hopid.data.schema import SCHEMA_VERSION
from hopid.errors import HopidError

INDEX_DIRNAME = ".hopid"
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
ITEMS_FILE = "items.parquet"
OCR_FILE = "ocr.parquet"
LEXICAL_FILE = "lexical.npz"
QUERY_MODEL = "query.onnx"
QUERY_IMAGE_MODEL = "query-image.onnx"  # a plain CLIP model's image tower, for image queries without torch
QUERY_INFO = "query.json"
QUERY_ENTITIES = "query-entities.json"
QUERY_REFERENCES = "query-references.npy"
REQUIRED_FILES = (FAISS_FILE, VECTORS_FILE, ITEMS_FILE, OCR_FILE, LEXICAL_FILE)
GENERATION_FILES = (*REQUIRED_FILES, QUERY_MODEL, QUERY_IMAGE_MODEL, QUERY_INFO, QUERY_ENTITIES, QUERY_REFERENCES)
LAYOUT = 2  # 2: generation folders named by the manifest; an index without "layout" has flat files
GENERATION_PREFIX = "gen-"
_GENERATION = re.compile(r"gen-(\d{6,})")


def default_index_dir(images_dir: Path) -> Path:
    return images_dir / INDEX_DIRNAME


def repair_hint(manifest: dict | None, index_dir: Path | None = None) -> str:
    """What to run: the images folder from the manifest, else the one a default index sits in."""
    images_dir = manifest.get("images_dir") if isinstance(manifest, dict) else None
    if not images_dir and index_dir is not None and index_dir.name == INDEX_DIRNAME:
        images_dir = index_dir.parent
    return f"run `hopid index {images_dir or 'IMAGES_DIR'}` again to repair it (the OCR and embedding cache is kept)"


def read_manifest(index_dir: Path) -> dict:
    """The manifest of an index; a missing, damaged or old one is a one-line error saying what to do."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise HopidError(f"{index_dir}: no hopid index here; build one with `hopid index IMAGES_DIR`")
    try:
        manifest = json.loads(path.read_bytes())
    except (ValueError, OSError) as exc:
        raise HopidError(f"index damaged: {path} is not readable JSON ({exc}); {repair_hint(None, index_dir)}") from exc
    if not isinstance(manifest, dict):
        raise HopidError(f"index damaged: {path} is not a JSON object; {repair_hint(None, index_dir)}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise HopidError(
            f"{index_dir}: index schema version {manifest.get('schema_version')} but this hopid reads "
            f"{SCHEMA_VERSION}; rebuild it with `hopid index {manifest.get('images_dir', 'IMAGES_DIR')}`"
        )
    return manifest


@dataclass(frozen=True)
class Generation:
    """One committed generation of an index: its manifest and the folder of its files."""

    index_dir: Path
    manifest: dict

    @property
    def folder(self) -> Path:
        return self.index_dir / self.manifest["generation"]

    def path(self, name: str) -> Path:
        return self.folder / name

    def has(self, name: str) -> bool:
        return name in self.manifest["files"]

    def damaged(self, name: str, reason: str) -> HopidError:
        """The one-line error for a file of this generation that cannot be read."""
        return HopidError(f"index damaged: {self.path(name)} {reason}; {repair_hint(self.manifest)}")

    def problems(self, *, hashes: bool = False) -> list[str]:
        """What is wrong with the files the manifest names: missing ones and wrong sizes, and with
        ``hashes`` wrong contents (reads every file: for repair and verification, not queries)."""
        found = []
        for name, expected in self.manifest["files"].items():
            path = self.path(name)
            try:
                size = path.stat().st_size
            except OSError:
                found.append(f"{name} is missing")
                continue
            if size != expected["size"]:
                found.append(f"{name} is {size:,} bytes, the manifest says {expected['size']:,}")
            elif hashes and content_hash(path) != expected["blake2b"]:
                found.append(f"{name} does not have the contents the manifest names")
        return found


def _generation_of(index_dir: Path, manifest: dict) -> Generation:
    if "layout" not in manifest and "generation" not in manifest:
        images_dir = manifest.get("images_dir", "IMAGES_DIR")
        raise HopidError(
            f"{index_dir}: an index in the old flat layout; run `hopid index {images_dir}` again to upgrade it "
            "(the OCR and embedding cache is reused)"
        )
    name, files = manifest.get("generation"), manifest.get("files")
    valid_files = isinstance(files, dict) and all(
        file in GENERATION_FILES and isinstance(facts, dict) and isinstance(facts.get("size"), int)
        for file, facts in files.items()
    )
    valid_name = isinstance(name, str) and _GENERATION.fullmatch(name)
    if manifest.get("layout") != LAYOUT or not valid_name or not valid_files:
        raise HopidError(f"index damaged: {index_dir / MANIFEST} does not name a generation; {repair_hint(manifest)}")
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise HopidError(f"index damaged: {index_dir / MANIFEST} lacks {', '.join(missing)}; {repair_hint(manifest)}")
    return Generation(index_dir, manifest)


def open_generation(index_dir: Path, *, hashes: bool = False) -> Generation:
    """The committed generation of an index, checked: every file there with its recorded size
    (and contents, with ``hashes``); a one-line "index damaged" error otherwise. A generation
    replaced while it was being opened is opened again from the new manifest."""
    index_dir = Path(index_dir)
    generation = _generation_of(index_dir, read_manifest(index_dir))
    problems = generation.problems(hashes=hashes)
    if problems:
        latest = _generation_of(index_dir, read_manifest(index_dir))
        if latest.manifest["generation"] != generation.manifest["generation"]:
            generation, problems = latest, latest.problems(hashes=hashes)
    if problems:
        found = "; ".join(problems)
        raise HopidError(f"index damaged: {found} in {generation.folder}; {repair_hint(generation.manifest)}")
    return generation


def previous_generation(index_dir: Path) -> Generation | None:
    """The committed generation when it is readable and whole (contents checked), else None."""
    try:
        return open_generation(index_dir, hashes=True)
    except HopidError:
        return None


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder after every existing one; folders of saves that never
    committed (a crash mid-save) are removed first."""
    index_dir.mkdir(parents=True, exist_ok=True)
    current = _current_name(index_dir)
    numbers = [0]
    for folder in index_dir.glob(f"{GENERATION_PREFIX}*"):
        if match := _GENERATION.fullmatch(folder.name):
            numbers.append(int(match[1]))
            if folder.name != current:
                shutil.rmtree(folder, ignore_errors=True)
    folder = index_dir / f"{GENERATION_PREFIX}{max(numbers) + 1:06d}"
    folder.mkdir()
    return folder


def commit_generation(folder: Path, manifest: dict) -> dict:
    """Make ``folder`` the index's generation: its files are synced, then ``manifest.json``
    (``manifest`` plus the generation and each file's size and hash) replaces the old one in one
    rename; older generations and flat-layout files are removed after. Returns the manifest."""
    index_dir = folder.parent
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name not in GENERATION_FILES:
            raise ValueError(f"{path}: not a file of an index generation")
        _sync(path)
        files[path.name] = {"size": path.stat().st_size, "blake2b": content_hash(path)}
    _sync(folder)
    manifest = {**manifest, "layout": LAYOUT, "generation": folder.name, "files": files}
    tmp = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, index_dir / MANIFEST)  # the commit
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync(index_dir)
    for old in index_dir.glob(f"{GENERATION_PREFIX}*"):
        if old.name != folder.name and _GENERATION.fullmatch(old.name):
            shutil.rmtree(old, ignore_errors=True)
    for name in GENERATION_FILES:  # an index upgraded from the flat layout
        (index_dir / name).unlink(missing_ok=True)
    return manifest


def _current_name(index_dir: Path) -> str | None:
    try:
        manifest = json.loads((index_dir / MANIFEST).read_bytes())
    except (ValueError, OSError):
        return None
    return manifest.get("generation") if isinstance(manifest, dict) else None


def _sync(path: Path) -> None:
    """Flush a file's (or a folder's entries') writes to disk before the commit depends on them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
