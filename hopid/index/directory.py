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
generation or the new one, never a mix (as SQLite and LMDB commit). The generation it replaced
is kept until the next save (a ``hopid serve`` opened on it reads its files lazily); older ones
are removed. One writer at a time: :func:`index_lock`. Beside them stay ``errors.parquet`` (files
that could not be indexed) and ``cache/`` (resumable work, keyed by content hash: never discarded
because an index file is damaged).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

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
LOCK_FILE = ".lock"
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
    verified: dict[str, str] = field(default_factory=dict, compare=False)  # name -> hash, read and matching

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

    def problems(self, *, hashes: bool | Collection[str] = False) -> list[str]:
        """What is wrong with the files the manifest names: missing ones and wrong sizes, and with
        ``hashes`` wrong contents (True: of every file, for verification; a collection: of those
        files only, e.g. the ones a new generation reuses). Matching hashes go to ``verified``."""
        found = []
        for name, expected in self.manifest["files"].items():
            check = hashes is True or (not isinstance(hashes, bool) and name in hashes)
            path = self.path(name)
            try:
                size = path.stat().st_size
            except OSError:
                found.append(f"{name} is missing")
                continue
            if size != expected["size"]:
                found.append(f"{name} is {size:,} bytes, the manifest says {expected['size']:,}")
            elif check and name not in self.verified:
                if (digest := content_hash(path)) != expected.get("blake2b"):
                    found.append(f"{name} does not have the contents the manifest names")
                else:
                    self.verified[name] = digest
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


_HELD: dict[Path, tuple[int, int]] = {}  # index dir -> (lock file descriptor, depth) in this process
_HELD_GUARD = threading.Lock()


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``index_dir``'s writer lock (an exclusive ``flock`` of its ``.lock`` file) for the
    block: a second ``hopid index`` of the same index is a one-line error at once instead of
    deleting the first one's work. Re-entrant within a process (the Ray executor's commit step
    runs the local builder). Where ``fcntl`` is missing (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not Linux or macOS
        yield
        return
    key = Path(os.path.abspath(index_dir))
    with _HELD_GUARD:
        if key in _HELD:
            descriptor, depth = _HELD[key]
            _HELD[key] = (descriptor, depth + 1)
        else:
            key.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(descriptor)
                raise HopidError(
                    f"another hopid index is writing {key}; wait for it to finish (or stop it) and run this again"
                ) from None
            _HELD[key] = (descriptor, 1)
    try:
        yield
    finally:
        with _HELD_GUARD:
            descriptor, depth = _HELD[key]
            if depth > 1:
                _HELD[key] = (descriptor, depth - 1)
            else:
                del _HELD[key]
                os.close(descriptor)  # releases the flock


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder after every existing one; folders of saves that never
    committed (a crash mid-save) and generations older than the one the current manifest replaced
    are removed first: the committed generation and its predecessor always stay."""
    index_dir.mkdir(parents=True, exist_ok=True)
    keep = _committed_names(index_dir)
    numbers = [0]
    for folder in index_dir.glob(f"{GENERATION_PREFIX}*"):
        if match := _GENERATION.fullmatch(folder.name):
            numbers.append(int(match[1]))
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
    folder = index_dir / f"{GENERATION_PREFIX}{max(numbers) + 1:06d}"
    folder.mkdir()
    return folder


class HashingWriter:
    """A binary file's ``write`` that also hashes what passes (as :func:`content_hash` would the
    file): a new generation's file gets its manifest hash without being read back."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.blake2b(digest_size=16)

    def write(self, data) -> int:
        self.digest.update(data)
        return self.handle.write(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def write_hashed(path: Path, write: Callable[[HashingWriter], object]) -> str:
    """Create ``path`` with ``write(stream)`` (sequential writes only) and return its content hash."""
    with open(path, "wb") as handle:
        stream = HashingWriter(handle)
        write(stream)
    return stream.hexdigest()


def commit_generation(
    folder: Path, manifest: dict, *, hashes: dict[str, str] | None = None, previous: Generation | None = None
) -> dict:
    """Make ``folder`` the index's generation: its files are synced, then ``manifest.json``
    (``manifest`` plus the generation and each file's size and hash) replaces the old one in one
    rename; generations older than the replaced one and flat-layout files are removed after.
    ``hashes``: the hashes of files the caller hashed as it wrote them; a file linked from
    ``previous`` whose contents it verified takes that hash; only the rest are read to hash them.
    Returns the manifest."""
    index_dir = folder.parent
    known = dict(hashes or {})
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name not in GENERATION_FILES:
            raise ValueError(f"{path}: not a file of an index generation")
        _sync(path)
        digest = known.get(path.name) or _verified_link(path, previous) or content_hash(path)
        files[path.name] = {"size": path.stat().st_size, "blake2b": digest}
    _sync(folder)
    replaced = _current_name(index_dir)
    if replaced == folder.name or not (replaced and (index_dir / replaced).is_dir()):
        replaced = None
    manifest = {
        **manifest,
        "layout": LAYOUT,
        "generation": folder.name,
        "previous_generation": replaced,
        "files": files,
    }
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
    for old in index_dir.glob(f"{GENERATION_PREFIX}*"):  # the replaced one stays for readers still on it
        if old.name not in (folder.name, replaced) and _GENERATION.fullmatch(old.name):
            shutil.rmtree(old, ignore_errors=True)
    for name in GENERATION_FILES:  # an index upgraded from the flat layout
        (index_dir / name).unlink(missing_ok=True)
    return manifest


def _verified_link(path: Path, previous: Generation | None) -> str | None:
    """The verified hash of ``previous``'s file that ``path`` is a hard link of, else None."""
    if previous is None or path.name not in previous.verified:
        return None
    try:
        return previous.verified[path.name] if os.path.samefile(path, previous.path(path.name)) else None
    except OSError:
        return None


def _read_current(index_dir: Path) -> dict:
    try:
        manifest = json.loads((index_dir / MANIFEST).read_bytes())
    except (ValueError, OSError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _current_name(index_dir: Path) -> str | None:
    name = _read_current(index_dir).get("generation")
    return name if isinstance(name, str) else None


def _committed_names(index_dir: Path) -> set[str]:
    """The generation the manifest names and the one it replaced (readers may still be on it)."""
    manifest = _read_current(index_dir)
    return {n for n in (manifest.get("generation"), manifest.get("previous_generation")) if isinstance(n, str)}


def _sync(path: Path) -> None:
    """Flush a file's (or a folder's entries') writes to disk before the commit depends on them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
