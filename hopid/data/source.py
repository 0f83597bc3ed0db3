"""Where the images of an index come from: a local folder, or a URI that pyarrow's filesystems
read (``s3://bucket/photos``, ``gs://…``, ``file:///…``).

A remote file is read through pyarrow; where a stage needs a file on disk (the OCR worker
processes, the local embedding loop) it is fetched into a staging folder once, named by its
content hash, and the staging folder goes when the index is committed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from hopid.data.images import supported_suffixes
from hopid.data.scan import SKIP_DIRS, ErrorSink, ImageFile, content_hash, image_file, scan_images
from hopid.errors import HopidError


def is_uri(text: str) -> bool:
    """Whether ``text`` names a URI (``scheme://…``) rather than a local path."""
    return "://" in text


@lru_cache(maxsize=8)
def _filesystem(uri: str) -> tuple[Any, str]:
    """pyarrow's filesystem for ``uri`` and the path within it (one client per URI and process)."""
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError
        raise HopidError(f"{uri}: pyarrow cannot open it ({str(exc).splitlines()[0]})") from None


@dataclass(frozen=True)
class ImageSource:
    """A local folder (``uri`` is its absolute path) or a folder under a URI."""

    uri: str

    @classmethod
    def of(cls, text: str | Path) -> ImageSource:
        """The source ``text`` names; a one-line HopidError when it is not a folder."""
        text = str(text)
        if not is_uri(text):
            root = Path(text).resolve()
            if not root.is_dir():
                raise HopidError(f"{text}: no such folder")
            return cls(str(root))
        from pyarrow import fs

        filesystem, base = _filesystem(text)
        try:
            kind = filesystem.get_file_info(base).type
        except OSError as exc:
            raise HopidError(f"{text}: cannot be listed ({str(exc).splitlines()[0]})") from None
        if kind != fs.FileType.Directory:
            raise HopidError(f"{text}: no such folder")
        return cls(text.rstrip("/"))

    @property
    def local(self) -> bool:
        return not is_uri(self.uri)

    @property
    def root(self) -> Path:
        """The local folder (a local source only)."""
        if not self.local:
            raise HopidError(f"{self.uri}: not a local folder")
        return Path(self.uri)

    def location(self, path: str) -> str:
        """Where the file at stored relative ``path`` is: a local path or a URI."""
        return str(image_file(self.root, path)) if self.local else f"{self.uri}/{path}"

    def files(self, errors: ErrorSink) -> list[ImageFile]:
        """Every image file, sorted, as :func:`hopid.data.scan.scan_images` lists a local folder."""
        if self.local:
            return scan_images(self.root, errors)
        from pyarrow import fs

        filesystem, base = _filesystem(self.uri)
        suffixes, found = supported_suffixes(), []
        try:
            listing = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
        except OSError as exc:
            raise HopidError(f"{self.uri}: cannot be listed ({str(exc).splitlines()[0]})") from None
        for info in listing:
            relative = PurePosixPath(info.path).relative_to(base).as_posix()
            if info.type != fs.FileType.File or PurePosixPath(relative).suffix.lower() not in suffixes:
                continue
            if SKIP_DIRS.intersection(relative.split("/")[:-1]):
                continue
            found.append(ImageFile(relative, int(info.size or 0), int(info.mtime_ns or 0)))
        return sorted(found, key=lambda f: f.path)

    def read(self, path: str) -> bytes:
        """The bytes of the file at stored relative ``path`` (OSError when it cannot be read)."""
        if self.local:
            return image_file(self.root, path).read_bytes()
        filesystem, base = _filesystem(self.uri)
        with filesystem.open_input_stream(f"{base.rstrip('/')}/{path}") as stream:
            return stream.read()

    def hash(self, path: str) -> str:
        """The content hash of the file at ``path`` (:func:`hopid.data.scan.content_hash`)."""
        if self.local:
            return content_hash(image_file(self.root, path))
        return hashlib.blake2b(self.read(path), digest_size=16).hexdigest()

    def local_file(self, path: str, sha: str, staging: Path) -> Path:
        """The file at ``path`` on this machine: itself for a local source, else a copy fetched
        once into ``staging`` under its content hash ``sha`` (OSError when it cannot be read)."""
        if self.local:
            return image_file(self.root, path)
        target = staging / f"{sha}{PurePosixPath(path).suffix.lower()}"
        if not target.exists():
            staging.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            partial.write_bytes(self.read(path))
            partial.replace(target)  # never a half-written copy under the final name
        return target
