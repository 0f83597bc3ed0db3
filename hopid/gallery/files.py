"""Indexed image files for the gallery: only images of the index are served, by their path as
``hopid query --json`` prints it; thumbnails are made once and kept beside the index.

What is served is decided at request time, never by what the index says alone: the stored path
must name an indexed image, the file it resolves to (symlinks followed) must lie inside the
trusted images folder, be a regular file and have an image suffix. The images folder is trusted
only when the index proves it (see :func:`trusted_images_folder`).

A path is asked for as it is printed, or in its :func:`~hopid.data.scan.stored_name` form (each
byte that is not UTF-8 as NUL and two hex digits): the ``ref`` a gallery hit carries, which a
URL can hold whatever the file's name."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from hopid.data.images import HEIC_SUFFIXES, MAX_PIXELS, heic_supported, supported_suffixes, upright_rgb
from hopid.data.scan import os_name, shown_name
from hopid.data.schema import atomic_write_bytes
from hopid.errors import HopidError

THUMB_DIR = "thumbs"
THUMB_SIZE = 320  # pixels, longest side
THUMB_QUALITY = 85
CHUNK = 1 << 20  # bytes: what an original image is sent in
CONTENT_TYPES = {".heic": "image/heic", ".heif": "image/heif"}  # what mimetypes may not know
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class FileRefused(Exception):
    """A path that is not served: ``status`` 403 (outside the images folder) or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def trusted_images_folder(index_dir: Path, recorded: Path, given: Path | None = None) -> Path | None:
    """The resolved images folder whose files may be served, or None (serve no files).

    The folder the manifest records is trusted only when the index folder lies directly in it
    (``IMAGES/.hopid``, what ``hopid index IMAGES`` writes), or when the person serving names
    that same folder (``given``: ``hopid serve --images``). A copied or forged index elsewhere
    (its manifest saying ``images_dir: "/"``) serves nothing."""
    recorded = recorded.resolve()
    if given is not None:
        if given.resolve() != recorded:
            raise HopidError(
                f"--images {given} is not the folder this index was built from ({recorded}); "
                f"rebuild with `hopid index {given}`"
            )
        return recorded
    return recorded if index_dir.resolve().parent == recorded else None


@dataclass
class OpenedImage:
    """An indexed image file, opened and checked, to be sent in chunks; close it when done."""

    handle: BinaryIO
    size: int  # bytes, when it was opened: no more is sent
    content_type: str

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes, at most CHUNK at a time (fewer in all if it shrank meanwhile)."""
        left = self.size
        while left > 0:
            data = self.handle.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data

    def close(self) -> None:
        self.handle.close()


def content_type(path: Path) -> str | None:
    """The image content type of a served file's name, or None when it is not an image name."""
    suffix = path.suffix.lower()
    if suffix not in supported_suffixes():
        return None
    kind = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    return kind if kind and kind.startswith("image/") else None


class GalleryFiles:
    """Maps a requested path to an indexed image and serves it or its thumbnail."""

    def __init__(
        self, root: Path, paths: list[str], row_of: dict[str, int], index_dir: Path, folder: Path | None
    ) -> None:
        """``root``: the images folder as hits name it; ``paths``: the indexed images relative to
        it; ``row_of``: path -> row; ``folder``: the trusted images folder (None: serve no file)."""
        self.root = Path(os.path.abspath(root))
        self.paths = paths
        self.row_of = row_of
        self.folder = folder
        self.index_dir = index_dir
        self.thumb_dir = index_dir / THUMB_DIR
        self._lock = threading.Lock()

    def row(self, requested: str) -> int:
        """The index row of ``requested`` (absolute, or relative to the images folder; as printed
        or in stored form)."""
        requested = os_name(requested)
        if not requested:
            raise FileRefused(404, "no path given")
        if "\x00" in requested:  # a NUL that is not the escape of a byte: no file has it
            raise FileRefused(404, "not a path: it holds a NUL")
        target = Path(os.path.normpath(self.root / requested))  # an absolute path replaces the root
        try:
            relative = target.relative_to(self.root).as_posix()
        except ValueError:
            raise FileRefused(403, "only images inside the index folder are served") from None
        row = self.row_of.get(relative)
        if row is None:
            raise FileRefused(404, f"{shown_name(relative)} is not an indexed image")
        return row

    def _open(self, requested: str) -> tuple[int, Path]:
        """A read descriptor of the indexed file ``requested`` names, and its resolved path."""
        row = self.row(requested)
        name = shown_name(self.paths[row])
        if self.folder is None:
            raise FileRefused(
                403,
                f"{self.index_dir} does not lie in its images folder {self.root}; to serve its images, "
                f"run hopid serve --images {self.root}",
            )
        try:
            real = (self.folder / self.paths[row]).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, dangling link, link loop (RuntimeError before 3.13)
            raise FileRefused(404, f"{name} cannot be read") from None
        if not real.is_relative_to(self.folder):
            raise FileRefused(403, "only images inside the index folder are served")
        if content_type(real) is None:
            raise FileRefused(404, f"{name} is not an image file")
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except OSError as exc:
            raise FileRefused(404, f"{name} cannot be read: {exc.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileRefused(404, f"{name} is not a regular file")
            opened = Path(f"/proc/self/fd/{fd}")  # what was opened, should a folder be swapped meanwhile
            if opened.exists() and not Path(os.readlink(opened)).is_relative_to(self.folder):
                raise FileRefused(403, "only images inside the index folder are served")
        except BaseException:
            os.close(fd)
            raise
        return fd, real

    def image(self, requested: str) -> OpenedImage:
        """The original file, opened and checked, to be streamed from the descriptor checked."""
        fd, real = self._open(requested)
        handle = os.fdopen(fd, "rb", buffering=0)
        try:
            size = os.fstat(fd).st_size
        except BaseException:
            handle.close()
            raise
        return OpenedImage(handle, size, content_type(real) or "application/octet-stream")

    def thumbnail(self, requested: str) -> bytes:
        """An upright JPEG of at most THUMB_SIZE pixels, made on first request and cached."""
        fd, real = self._open(requested)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            key = os.fsencode(real) + f"|{info.st_ino}|{info.st_size}|{info.st_mtime_ns}|{THUMB_SIZE}".encode()
            cached = self.thumb_dir / f"{hashlib.sha1(key).hexdigest()}.jpg"
            if cached.is_file():
                return cached.read_bytes()
            data = handle.read()
        thumb = make_thumbnail(data, real.suffix.lower() in HEIC_SUFFIXES)
        with self._lock:
            self.thumb_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cached, lambda tmp: Path(tmp).write_bytes(thumb))
        return thumb


def make_thumbnail(data: bytes, heic: bool = False) -> bytes:
    """An upright JPEG of at most THUMB_SIZE pixels of the image file ``data``.

    Thread-safe: no warnings filter is touched (``warnings.catch_warnings`` is process-wide);
    the pixel limit is checked here, and a DecompressionBombWarning that someone else's filter
    turns into an error is a refusal like any other."""
    if heic:
        heic_supported()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise FileRefused(404, f"image too large ({width}x{height} pixels, limit {MAX_PIXELS:,})")
            opened.draft("RGB", (THUMB_SIZE, THUMB_SIZE))  # JPEG: decode at a fraction of the size
            opened.load()
            image = upright_rgb(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FileRefused(404, f"image too large: {exc}") from None
    except UnidentifiedImageError:
        raise FileRefused(404, "not an image file Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise FileRefused(404, f"corrupt or truncated image: {exc}") from None
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMB_QUALITY)
    return buffer.getvalue()
