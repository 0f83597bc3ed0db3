"""Finding the images of a folder and telling which ones changed since the last run."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from hopid.data.images import supported_suffixes

SKIP_DIRS = frozenset({".hopid", ".hopid-cache", ".git", "__pycache__"})


@dataclass(frozen=True)
class ImageFile:
    """An image file under the indexed folder: its POSIX path relative to the folder, size and mtime."""

    path: str
    size: int
    mtime_ns: int


def scan_images(root: Path) -> list[ImageFile]:
    """Every file with an image suffix under ``root`` (recursive, sorted), hidden index folders skipped."""
    suffixes = supported_suffixes()
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
        for name in files:
            if Path(name).suffix.lower() in suffixes:
                full = Path(directory) / name
                try:
                    stat = full.stat()
                except OSError:
                    continue
                found.append(ImageFile(full.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.path)


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """A hash of the file's bytes: the same picture under another name is recognised."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
