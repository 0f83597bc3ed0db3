"""Converters from benchmarks as their authors released them to hopid's tables.

``CONVERTERS[name](root, out, images)`` reads the release under ``root`` and returns the
collected rows (with errors and size notes); :func:`prepare_benchmark` writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from hopid.errors import HopidError
from hopid.prepare.base import Collected
from hopid.prepare.ctc import convert_ctc
from hopid.prepare.finegrained import convert_finegrained
from hopid.prepare.icdar15 import convert_icdar15
from hopid.prepare.karpathy import convert_karpathy
from hopid.prepare.news import convert_goodnews, convert_n24news, convert_visualnews
from hopid.prepare.pedes import convert_pedes
from hopid.prepare.svt import convert_svt
from hopid.prepare.textcaps import convert_textcaps

Converter = Callable[[Path, Path, Path | None], Collected]

CONVERTERS: dict[str, Converter] = {
    "ctc": convert_ctc,
    "coco": partial(convert_karpathy, "coco"),
    "flickr30k": partial(convert_karpathy, "flickr30k"),
    "cuhk-pedes": partial(convert_pedes, "cuhk-pedes"),
    "icfg-pedes": partial(convert_pedes, "icfg-pedes"),
    "rstpreid": partial(convert_pedes, "rstpreid"),
    "textcaps": convert_textcaps,
    "cub": partial(convert_finegrained, "cub"),
    "flowers": partial(convert_finegrained, "flowers"),
    "n24news": convert_n24news,
    "goodnews": convert_goodnews,
    "visualnews": convert_visualnews,
    "svt": convert_svt,
    "icdar15": convert_icdar15,
}

OCR_RELEASES = ("ctc",)


def prepare_benchmark(
    name: str,
    root: str | Path,
    out: str | Path,
    images: str | Path | None = None,
    ocr_dir: str | Path | None = None,
) -> Collected:
    """Convert the release of benchmark ``name`` under ``root`` into the dataset directory ``out``
    (``ocr_dir``: where a release that ships OCR keeps it, when not in its usual folder)."""
    if name not in CONVERTERS:
        raise HopidError(f"unknown benchmark {name!r}; known: {', '.join(CONVERTERS)}")
    root = Path(root)
    if not root.is_dir():
        raise HopidError(f"{root}: no such folder; ROOT is the dataset's folder as released and unpacked")
    if images is not None and not Path(images).is_dir():
        raise HopidError(f"--images {images}: no such folder")
    if ocr_dir is not None and name not in OCR_RELEASES:
        raise HopidError(f"--ocr-dir: {name} ships no OCR files (only {', '.join(OCR_RELEASES)} do)")
    if ocr_dir is not None and not Path(ocr_dir).is_dir():
        raise HopidError(f"--ocr-dir {ocr_dir}: no such folder")
    options = {"ocr_dir": Path(ocr_dir)} if ocr_dir is not None else {}
    collected = CONVERTERS[name](root, Path(out), Path(images) if images else None, **options)
    collected.write()
    return collected
