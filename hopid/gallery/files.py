"""Indexed image files for the gallery: only images of the index are served, by their path as
``hopid query --json`` prints it; thumbnails are made once and kept beside the index."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import threading
from pathlib import Path

from hopid.data.images import ImageLoadError, load_rgb
from hopid.data.schema import atomic_write_bytes

THUMB_DIR = "thumbs"
THUMB_SIZE = 320  # pixels, longest side
THUMB_QUALITY = 85


class FileRefused(Exception):
    """A path that is not served: ``status`` 403 (outside the index folder) or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GalleryFiles:
    """Maps a requested path to an indexed image and serves it or its thumbnail."""

    def __init__(self, root: Path, paths: list[str], row_of: dict[str, int], index_dir: Path) -> None:
        """``paths``: the indexed images relative to ``root``; ``row_of``: path -> row."""
        self.root = root.resolve()
        self.paths = paths
        self.row_of = row_of
        self.thumb_dir = index_dir / THUMB_DIR
        self._lock = threading.Lock()

    def row(self, requested: str) -> int:
        """The index row of ``requested`` (absolute, or relative to the images folder)."""
        if not requested or "\x00" in requested:
            raise FileRefused(404, "no path given")
        target = Path(os.path.normpath(self.root / requested))  # an absolute path replaces the root
        try:
            relative = target.relative_to(self.root).as_posix()
        except ValueError:
            raise FileRefused(403, "only images inside the index folder are served") from None
        row = self.row_of.get(relative)
        if row is None:
            raise FileRefused(404, f"{relative} is not an indexed image")
        return row

    def path(self, requested: str) -> Path:
        """The file of ``requested`` on disk (a :class:`FileRefused` when it is not served)."""
        return self.root / self.paths[self.row(requested)]

    def image(self, requested: str) -> tuple[bytes, str]:
        """The original file's bytes and content type."""
        path = self.path(requested)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileRefused(404, f"cannot read {path.name}: {exc.strerror}") from None
        return data, mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    def thumbnail(self, requested: str) -> bytes:
        """An upright JPEG of at most THUMB_SIZE pixels, made on first request and cached."""
        path = self.path(requested)
        try:
            stat = path.stat()
        except OSError as exc:
            raise FileRefused(404, f"cannot read {path.name}: {exc.strerror}") from None
        key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{THUMB_SIZE}".encode()).hexdigest()
        cached = self.thumb_dir / f"{key}.jpg"
        if cached.is_file():
            return cached.read_bytes()
        try:
            image = load_rgb(path)
        except ImageLoadError as exc:
            raise FileRefused(404, str(exc)) from None
        image.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=THUMB_QUALITY)
        data = buffer.getvalue()
        with self._lock:
            self.thumb_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cached, lambda tmp: Path(tmp).write_bytes(data))
        return data
