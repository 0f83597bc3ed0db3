"""Converters from benchmarks as their authors released them to hopid's tables.

``CONVERTERS[name](root, out, images)`` reads the release under ``root`` and returns the
collected rows (with errors and size notes); :func:`prepare_benchmark` writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from hopid.data.datasets.base import Collected
from hopid.data.datasets.karpathy import convert_karpathy
from hopid.data.datasets.pedes import convert_pedes
from hopid.errors import HopidError

Converter = Callable[[Path, Path, Path | None], Collected]

CONVERTERS: dict[str, Converter] = {
    "coco": partial(convert_karpathy, "coco"),
    "flickr30k": partial(convert_karpathy, "flickr30k"),
    "cuhk-pedes": partial(convert_pedes, "cuhk-pedes"),
    "icfg-pedes": partial(convert_pedes, "icfg-pedes"),
    "rstpreid": partial(convert_pedes, "rstpreid"),
}


def prepare_benchmark(name: str, root: str | Path, out: str | Path, images: str | Path | None = None) -> Collected:
    """Convert the release of benchmark ``name`` under ``root`` into the dataset directory ``out``."""
    if name not in CONVERTERS:
        raise HopidError(f"unknown benchmark {name!r}; known: {', '.join(CONVERTERS)}")
    root = Path(root)
    if not root.is_dir():
        raise HopidError(f"{root}: no such folder; ROOT is the dataset's folder as released and unpacked")
    if images is not None and not Path(images).is_dir():
        raise HopidError(f"--images {images}: no such folder")
    collected = CONVERTERS[name](root, Path(out), Path(images) if images else None)
    collected.write()
    return collected
