"""The OCR interface shared by every engine: words with normalised quadrilaterals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

_TOKEN = re.compile(r"\S+")
SAME_PLACE_IOU = 0.5  # two boxes overlapping this much show the same word


@dataclass(frozen=True)
class OcrWord:
    """One recognised word.

    ``box`` is the word's quadrilateral as 8 floats ``x1,y1,x2,y2,x3,y3,x4,y4`` (top-left,
    top-right, bottom-right, bottom-left), divided by the image width/height so it lies in 0..1.
    """

    text: str
    confidence: float
    box: tuple[float, ...]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned ``(left, top, right, bottom)`` of the box, normalised."""
        xs, ys = self.box[0::2], self.box[1::2]
        return min(xs), min(ys), max(xs), max(ys)


class OcrEngine(Protocol):
    """What every OCR engine offers."""

    name: str

    def read(self, image: Image.Image) -> list[OcrWord]:
        """All words of an RGB image, in reading order (top-to-bottom, left-to-right)."""
        ...

    def read_word(self, image: Image.Image) -> str:
        """Recognition only, for an already-cropped single word."""
        ...


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def normalise_quad(quad: Sequence[Sequence[float]], width: int, height: int) -> tuple[float, ...]:
    """Four pixel points -> 8 floats in 0..1."""
    if len(quad) != 4:
        raise ValueError(f"a quadrilateral needs 4 points, got {len(quad)}")
    out: list[float] = []
    for x, y in quad:
        out += [_clip(float(x) / width), _clip(float(y) / height)]
    return tuple(out)


def rect_quad(left: float, top: float, right: float, bottom: float) -> list[tuple[float, float]]:
    """The quadrilateral of an axis-aligned rectangle (pixels)."""
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def split_line(text: str, quad: Sequence[Sequence[float]], confidence: float, width: int, height: int) -> list[OcrWord]:
    """Split a recognised line into whitespace-separated words with their own sub-quadrilaterals.

    Each word's corners are interpolated along the line's top edge (top-left -> top-right) and
    bottom edge (bottom-left -> bottom-right) in proportion to its character positions in ``text``.
    """
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = ((float(x), float(y)) for x, y in quad)
    n = len(text)

    def top(f: float) -> tuple[float, float]:
        return tlx + (trx - tlx) * f, tly + (try_ - tly) * f

    def bottom(f: float) -> tuple[float, float]:
        return blx + (brx - blx) * f, bly + (bry - bly) * f

    words = []
    for match in _TOKEN.finditer(text):
        start, end = match.start() / n, match.end() / n
        sub = [top(start), top(end), bottom(end), bottom(start)]
        words.append(OcrWord(match.group(), _clip(float(confidence)), normalise_quad(sub, width, height)))
    return words


def bounds_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of axis-aligned boxes ``(left, top, right, bottom)``: ``a`` [N, 4]
    x ``b`` [M, 4] -> [N, M] (0 where a box has no area)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None]
    inter = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None).prod(axis=-1)
    union = (a[..., 2:] - a[..., :2]).prod(axis=-1) + (b[..., 2:] - b[..., :2]).prod(axis=-1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def dedupe_words(words: Sequence[OcrWord], overlap: float = SAME_PLACE_IOU) -> list[OcrWord]:
    """The words without repeats: of two readings of the same text in the same place (case
    ignored), the more confident stays; different readings of one place all stay."""
    kept: list[OcrWord] = []
    for word in sorted(words, key=lambda w: -w.confidence):
        same = [k.bounds for k in kept if k.text.casefold() == word.text.casefold()]
        if not same or bounds_overlap([word.bounds], same).max() < overlap:
            kept.append(word)
    return kept


def reading_order(words: Sequence[OcrWord]) -> list[OcrWord]:
    """Sort words top-to-bottom into lines (vertical centres within half a word height), then left-to-right."""
    pending = sorted(words, key=lambda w: (w.bounds[1] + w.bounds[3]) / 2)
    lines: list[list[OcrWord]] = []
    line_centre = line_height = 0.0
    for word in pending:
        left, top, right, bottom = word.bounds
        centre, height = (top + bottom) / 2, bottom - top
        if lines and abs(centre - line_centre) <= max(min(height, line_height), 1e-6) / 2:
            lines[-1].append(word)
            continue
        lines.append([word])
        line_centre, line_height = centre, height
    return [word for line in lines for word in sorted(line, key=lambda w: w.bounds[0])]


def rgb_array(image: Image.Image) -> np.ndarray:
    """The image as a contiguous H x W x 3 uint8 RGB array."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def failure_reason(exc: BaseException) -> str:
    """``Type: message`` of an exception, never blank: an empty message borrows that of the
    exception it was raised from (RapidOCR's ``ResizeImgError()``), else says there was none."""
    message, cause, depth = "", exc, 0
    while cause is not None and not message and depth < 8:
        message, cause, depth = str(cause).strip(), cause.__cause__ or cause.__context__, depth + 1
    return f"{type(exc).__name__}: {message or 'no message given'}"
