"""What every benchmark converter shares: reading the released annotation file, finding image
files, collecting rows and errors, checking split sizes against the official ones, writing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hopid.data.dataset import BENCHMARK_CARD, GROUNDTRUTH_ENGINE
from hopid.data.error_log import ErrorLog
from hopid.data.images import upright_size
from hopid.data.schema import SPLITS, atomic_write_bytes, table_path, write_table
from hopid.errors import HopidError
from hopid.eval.protocols import PROTOCOLS
from hopid.ocr.base import OcrWord, reading_order


def list_of(path: Path, value: Any, what: str, key: str | None = None) -> list:
    """``value`` (or ``value[key]`` of a JSON object) when it is a list; else a one-line error saying ``what``."""
    if key is not None:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, list):
        raise HopidError(f"{path}: expected {what}")
    return value


def load_json(root: Path, names: Iterable[str]) -> tuple[Path, Any]:
    """The first of ``names`` that exists under ``root`` (or its parents' usual spots), parsed."""
    names = list(names)
    for name in names:
        path = root / name
        if path.is_file():
            try:
                return path, json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise HopidError(f"{path}: not readable JSON ({exc})") from exc
    raise HopidError(f"{root}: annotation file {' or '.join(names)} not found; is ROOT the dataset as released?")


def pixel_box(coords: Iterable[float], width: int, height: int) -> list[float]:
    """A quadrilateral ``x1,y1,…,x4,y4`` in pixels as fractions of the image size, clamped to [0, 1]."""
    return [min(1.0, max(0.0, v / (width if i % 2 == 0 else height))) for i, v in enumerate(coords)]


def groundtruth_rows(image_id: str, words: Iterable[tuple[str, list[float]]]) -> list[dict]:
    """OCR rows (``engine = groundtruth``, confidence 1) of one image's ``(text, normalised box)``
    words, numbered in reading order."""
    ordered = reading_order([OcrWord(text, 1.0, tuple(box)) for text, box in words])
    return [
        {
            "image_id": image_id,
            "token_index": index,
            "text": word.text,
            "confidence": 1.0,
            "box": list(word.box),
            "engine": GROUNDTRUTH_ENGINE,
        }
        for index, word in enumerate(ordered)
    ]


class ImageFinder:
    """Image files named by an annotation: relative to ROOT, to ``--images``, to a usual image
    folder, else by file name anywhere under ROOT (an index built on first need)."""

    def __init__(self, root: Path, images: Path | None, usual: Iterable[str] = ()) -> None:
        self.bases = [b for b in (images, root, *(root / u for u in usual)) if b is not None]
        self.root = images or root
        self._by_name: dict[str, Path] | None = None

    def find(self, reference: str) -> Path | None:
        for base in self.bases:
            candidate = base / reference
            if candidate.is_file():
                return candidate
        if self._by_name is None:
            self._by_name = {}
            for folder, _, files in os.walk(self.root):
                for name in files:
                    self._by_name.setdefault(name, Path(folder) / name)
        return self._by_name.get(Path(reference).name)


@dataclass
class Collected:
    """Rows of a converted dataset; ``add_image`` checks the file and records what fails."""

    name: str
    out: Path
    errors: ErrorLog = field(init=False)
    images: dict[str, dict] = field(default_factory=dict)
    captions: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    per_image: dict[str, int] = field(default_factory=dict)
    extra_tables: dict[str, list[dict]] = field(default_factory=dict)  # e.g. the release's own OCR

    def __post_init__(self) -> None:
        self.errors = ErrorLog(f"prepare:{self.name}")

    def add_image(self, image_id: str, file: Path | None, split: str, object_id: str | None, where: str) -> bool:
        """Record one image; False (and an errors row) when its file is missing or unreadable."""
        if image_id in self.images:
            return self.images[image_id]["split"] == split
        if split not in SPLITS:
            self.errors.add(where, f"split {split!r} is not one of {', '.join(SPLITS)}")
            return False
        if file is None:
            self.errors.add(where, f"image {image_id} not found")
            return False
        try:
            width, height = upright_size(file)
        except Exception as exc:  # Pillow raises many types for unreadable headers
            self.errors.add(where, f"image {image_id} unreadable: {exc}")
            return False
        self.images[image_id] = {
            "image_id": image_id,
            "path": os.path.relpath(file.resolve(), self.out.resolve()),
            "split": split,
            "width": width,
            "height": height,
            "object_id": object_id,
            "subset": None,
        }
        return True

    def add_example(
        self,
        image_id: str,
        file: Path | None,
        split: str,
        object_id: str | None,
        captions: Iterable[Any],
        where: str,
        context: str | None = None,
    ) -> None:
        """One image and its captions; the captions are skipped when the image is not usable."""
        if self.add_image(image_id, file, split, object_id, where):
            for caption in captions:
                self.add_caption(image_id, caption, where, context)

    def add_caption(self, image_id: str, text: Any, where: str, context: str | None = None) -> None:
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            self.errors.add(where, "empty caption")
            return
        index = self.per_image.get(image_id, 0)
        self.per_image[image_id] = index + 1
        self.captions.append(
            {
                "caption_id": f"{image_id}#{index}",
                "image_id": image_id,
                "text": text,
                "split": self.images[image_id]["split"],
                "explanation": None,
                "context": context,
            }
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Images, captions and identities per split."""
        out = {}
        for split in SPLITS:
            rows = [r for r in self.images.values() if r["split"] == split]
            out[split] = {
                "images": len(rows),
                "captions": sum(1 for c in self.captions if c["split"] == split),
                "identities": len({r["object_id"] for r in rows if r["object_id"] is not None}),
            }
        return out

    def check_sizes(self, expected: Mapping[str, Mapping[str, int]]) -> None:
        """A note per split whose counts differ from the official ones."""
        counts = self.counts()
        for split, numbers in expected.items():
            for what, want in numbers.items():
                got = counts[split][what]
                if got != want:
                    self.notes.append(f"{split} split: {got:,} {what}, the official release has {want:,}")

    def write(self) -> None:
        if not self.images:
            raise HopidError(f"{self.name}: no usable image was found; check ROOT (or pass --images DIR)")
        self.out.mkdir(parents=True, exist_ok=True)
        write_table(self.captions, table_path(self.out, "captions"), "captions")
        for name, rows in self.extra_tables.items():
            write_table(rows, table_path(self.out, name), name)
        write_table(list(self.images.values()), table_path(self.out, "images"), "images")
        self.errors.save(self.out)
        card = {
            "benchmark": self.name,
            "protocol": PROTOCOLS[self.name].name,
            "counts": self.counts(),
            "errors": len(self.errors),
            "notes": self.notes,
        }
        text = json.dumps(card, indent=2, ensure_ascii=False)
        atomic_write_bytes(self.out / BENCHMARK_CARD, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
