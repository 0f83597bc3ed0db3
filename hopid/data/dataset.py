"""A dataset directory: the tables of docs/data-model.md beside (or pointing at) the image files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hopid.data.engines import DEFAULT_OCR_ENGINE, GROUNDTRUTH_ENGINE
from hopid.data.scan import os_name
from hopid.data.schema import check_splits, read_optional, read_table, table_path
from hopid.errors import HopidError

BENCHMARK_CARD = "benchmark.json"  # written by `hopid prepare`: which benchmark, counts, notes


def real_ocr_engine(engines: list[str]) -> str:
    """Of the OCR engines present, the one scores are ranked with when none is named: the default
    engine, else the only other real one; never ground truth (the default engine when none is
    present, to be run)."""
    real = [engine for engine in engines if engine != GROUNDTRUTH_ENGINE]
    return DEFAULT_OCR_ENGINE if DEFAULT_OCR_ENGINE in real or not real else real[0]


def _chosen_engine(present: list[str]) -> str | None:
    """Of the engines present, a real one (:func:`real_ocr_engine`), else ground truth, else None."""
    if any(found != GROUNDTRUTH_ENGINE for found in present):
        return real_ocr_engine(present)
    return GROUNDTRUTH_ENGINE if present else None


@dataclass
class Dataset:
    root: Path
    images: pl.DataFrame
    captions: pl.DataFrame

    @classmethod
    def open(cls, root: str | Path, *, need_captions: bool = True) -> Dataset:
        root = Path(root)
        if not root.is_dir():
            raise HopidError(f"{root}: no such dataset directory; create one with `hopid prepare`")
        images = read_table(table_path(root, "images"), "images")
        check_splits(images, str(table_path(root, "images")))
        captions_path = table_path(root, "captions")
        captions = read_table(captions_path, "captions") if need_captions else read_optional(captions_path, "captions")
        return cls(root, images, captions)

    def image_path(self, path: str) -> Path:
        """The file of an ``images.path`` value (relative to the dataset root unless absolute; a
        name that is not UTF-8 in the stored form of :func:`hopid.data.scan.stored_name`)."""
        candidate = Path(os_name(path))
        return candidate if candidate.is_absolute() else self.root / candidate

    def split(self, split: str | None, subset: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Images and captions of one split (all of them when ``split`` is None), optionally only
        the images of a named ``subset`` (e.g. ``ctc1k``)."""
        if split is None and subset is None:
            return self.images, self.captions
        images = self.images if split is None else self.images.filter(pl.col("split") == split)
        if subset is not None:
            present = sorted(self.images["subset"].drop_nulls().unique().to_list())
            if subset not in present:
                raise HopidError(f"{self.root}: no subset {subset!r} (present: {', '.join(present) or 'none'})")
            images = images.filter(pl.col("subset") == subset)
        if images.is_empty():
            raise HopidError(f"{self.root}: no images in split {split!r}; choose one of train, val, test")
        captions = self.captions.filter(pl.col("image_id").is_in(images["image_id"].implode()))
        return images, captions

    def ocr_engines(self) -> list[str]:
        """The engines with rows in ``ocr.parquet`` (sorted; empty without one)."""
        ocr = read_optional(table_path(self.root, "ocr"), "ocr")
        return sorted(ocr["engine"].unique().to_list())

    def ocr_engine(self, engine: str | None = None) -> str | None:
        """The engine whose rows :meth:`ocr` gives: ``engine`` if named, else a real engine
        present (:func:`real_ocr_engine`), else ground truth when it is all there is, else None."""
        return engine if engine is not None else _chosen_engine(self.ocr_engines())

    def ocr(self, engine: str | None = None) -> pl.DataFrame:
        """OCR rows of one engine, chosen by :meth:`ocr_engine` (no rows when there is no OCR)."""
        ocr = read_optional(table_path(self.root, "ocr"), "ocr")
        present = sorted(ocr["engine"].unique().to_list())
        engine = engine if engine is not None else _chosen_engine(present)  # the table is read once
        if engine is None:
            return ocr
        if engine not in present:
            raise HopidError(
                f"{self.root}: no OCR from engine {engine!r} (present: {', '.join(present) or 'none'}); "
                f"run `hopid ocr {self.root} --engine {engine}`"
            )
        return ocr.filter(pl.col("engine") == engine)

    def entities(self) -> pl.DataFrame | None:
        path = table_path(self.root, "entities")
        return read_table(path, "entities") if path.is_file() else None

    def benchmark(self) -> str | None:
        """The benchmark ``hopid prepare`` converted this folder from (None for other folders)."""
        path = self.root / BENCHMARK_CARD
        if not path.is_file():
            return None
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HopidError(f"{path}: not readable JSON ({exc})") from exc
        name = card.get("benchmark") if isinstance(card, dict) else None
        if not isinstance(name, str):
            raise HopidError(f"{path}: expected an object with a string 'benchmark'")
        return name
