"""Finding the images of a folder and telling which ones changed since the last run.

File names are kept exactly. A name that is not valid UTF-8 (``os.fsdecode`` gives it lone
surrogates U+DC80..U+DCFF for the undecodable bytes) is stored in tables in an escaped form,
:func:`stored_name`: each undecodable byte becomes NUL and two lowercase hex digits. No file
name holds a NUL, so the form is unambiguous, and every UTF-8 name is stored as it is;
:func:`os_name` turns it back into the name ``open`` takes (``os.fsencode`` of it gives the
original bytes).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Protocol

from hopid.data.images import supported_suffixes

SKIP_DIRS = frozenset({".hopid", ".hopid-cache", ".git", "__pycache__"})
ESCAPE = "\x00"
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_ESCAPED = re.compile("\x00([0-9a-f]{2})")


class ErrorSink(Protocol):
    def add(self, item: str, reason: str) -> None: ...


def stored_name(name: str) -> str:
    """``name`` (as ``os.fsdecode`` gives it) in the form kept in tables: valid UTF-8 throughout."""
    if not _UNDECODABLE.search(name):
        return name
    return _UNDECODABLE.sub(lambda m: f"{ESCAPE}{ord(m[0]) - 0xDC00:02x}", name)


def os_name(stored: str) -> str:
    """The file name of a :func:`stored_name` form, as ``open`` and ``os.fsencode`` take it."""
    if ESCAPE not in stored:
        return stored
    return _ESCAPED.sub(lambda m: chr(0xDC00 + int(m[1], 16)), stored)


def shown_name(name: str) -> str:
    """A name (OS or stored form) fit for a terminal or a message: undecodable bytes as ``\\xNN``."""
    return os.fsencode(os_name(name)).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class ImageFile:
    """An image file under the indexed folder: its POSIX path relative to the folder (in
    :func:`stored_name` form), size and mtime."""

    path: str
    size: int
    mtime_ns: int


def image_file(root: Path, stored: str) -> Path:
    """The file on disk of a stored relative path."""
    return root / os_name(stored)


def scan_images(root: Path, errors: ErrorSink | None = None) -> list[ImageFile]:
    """Every file with an image suffix under ``root`` (recursive, sorted), hidden index folders
    skipped. Symbolic links to folders are not followed; they, dangling links, link loops and
    unreadable folders or files are recorded in ``errors`` (relative stored names)."""
    suffixes = supported_suffixes()
    found = []

    def record(full: Path, reason: str) -> None:
        if errors is not None:
            errors.add(stored_name(Path(os.path.relpath(full, root)).as_posix()), reason)

    def unreadable_folder(exc: OSError) -> None:
        record(Path(exc.filename or root), f"cannot read folder: {exc.strerror or exc}")

    for directory, subdirs, files in os.walk(root, onerror=unreadable_folder):
        kept = []
        for name in sorted(subdirs):
            full = Path(directory) / name
            if name in SKIP_DIRS:
                continue
            if full.is_symlink():
                record(full, _folder_link_reason(full))
                continue
            kept.append(name)
        subdirs[:] = kept
        for name in files:
            full = Path(directory) / name
            image = Path(name).suffix.lower() in suffixes
            if not image and not full.is_symlink():
                continue
            try:
                stat = full.stat()
            except OSError as exc:
                record(full, _stat_failure(full, exc))
                continue
            if image and not S_ISREG(stat.st_mode):  # a FIFO or device: opening it could block forever
                record(full, "not a regular file")
                continue
            if image:
                relative = full.relative_to(root).as_posix()
                found.append(ImageFile(stored_name(relative), stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.path)


def _folder_link_reason(link: Path) -> str:
    target, shown = Path(os.path.realpath(link)), shown_name(os.readlink(link))
    if target in (link.parent, *link.parent.parents):
        return f"symbolic link loop: points to an enclosing folder ({shown}), not followed"
    return f"symbolic link to a folder ({shown}): not followed; index that folder itself"


def _stat_failure(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if path.is_symlink() and exc.errno == errno.ENOENT:
        return f"dangling symbolic link to {shown_name(os.readlink(path))}"
    return f"cannot read file: {exc.strerror or exc}"


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """A hash of the file's bytes: the same picture under another name is recognised."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
