"""Measure the OCR engines on the real-world samples: word recall, scene-word recall, speed.

The samples live outside the repository (``shared/realworld`` next to the checkout, or
``$HOPID_REALWORLD``): ``words.csv`` (file,text) for cropped words in ``words/`` and
``scene_words.csv`` (file,word) for legible words of the photographs in ``scenes/``.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hopid.data.images import load_rgb
from hopid.entities.text import fold
from hopid.ocr.base import OcrEngine
from hopid.ocr.pool import ocr_paths
from hopid.ocr.registry import ENGINES, create_engine, engine_problem


@dataclass(frozen=True)
class EngineFigures:
    """One engine's measurements; ``problem`` is set (and figures are None) when it cannot run."""

    engine: str
    word_recall: float | None = None
    words: int = 0
    scene_recall: float | None = None
    scene_words: int = 0
    seconds_per_image: float | None = None
    load_seconds: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class PoolFigures:
    """Throughput of ``ocr_paths`` with a given number of workers (start-up included)."""

    engine: str
    workers: int
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def realworld_dir() -> Path | None:
    """The real-world sample folder ($HOPID_REALWORLD or ../shared/realworld), or None when absent."""
    configured = os.environ.get("HOPID_REALWORLD")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "realworld")
    return next((path for path in candidates if (path / "scene_words.csv").is_file()), None)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def scene_truth(root: Path) -> dict[str, list[str]]:
    """Every scene file of ``scenes/`` with its listed legible words (possibly none)."""
    truth: dict[str, list[str]] = {path.name: [] for path in sorted((root / "scenes").iterdir()) if path.is_file()}
    for row in _rows(root / "scene_words.csv"):
        truth.setdefault(row["file"], []).append(row["word"])
    return truth


def word_recall(engine: OcrEngine, root: Path) -> tuple[float, int]:
    """Share of cropped words whose recognition folds to the transcription, and the word count."""
    rows = _rows(root / "words.csv")
    hits = sum(fold(engine.read_word(load_rgb(root / "words" / row["file"]))) == fold(row["text"]) for row in rows)
    return hits / len(rows), len(rows)


def found_words(tokens: Sequence[str], expected: Sequence[str]) -> int:
    """How many expected words equal some OCR token after folding (case and punctuation ignored)."""
    keys = {fold(token) for token in tokens}
    return sum(fold(word) in keys for word in expected)


def scene_recall(engine: OcrEngine, root: Path) -> tuple[float, int, float]:
    """Scene-word recall, the number of listed words, and seconds per scene (after one warm-up image)."""
    truth = scene_truth(root)
    images = {name: load_rgb(root / "scenes" / name) for name in truth}
    engine.read(next(iter(images.values())))  # warm-up: first inference allocates and optimises
    found = total = 0
    started = time.perf_counter()
    for name, image in images.items():
        found += found_words([word.text for word in engine.read(image)], truth[name])
        total += len(truth[name])
    seconds = (time.perf_counter() - started) / len(images)
    return found / total, total, seconds


def measure_engine(name: str, root: Path) -> EngineFigures:
    """All single-process figures of one engine (its own default thread settings)."""
    problem = engine_problem(name)
    if problem:
        return EngineFigures(name, problem=problem)
    started = time.perf_counter()
    engine = create_engine(name)
    load = time.perf_counter() - started
    words, count = word_recall(engine, root)
    scenes, scene_count, seconds = scene_recall(engine, root)
    return EngineFigures(name, words, count, scenes, scene_count, seconds, load)


def measure_engines(root: Path, engines: Sequence[str] = ENGINES) -> list[EngineFigures]:
    """Figures for each engine in ``engines``."""
    return [measure_engine(name, root) for name in engines]


def measure_pool(
    root: Path, engine: str, workers: Sequence[int] = (1, 2), repeat: int = 3, rounds: int = 3
) -> list[PoolFigures]:
    """Images per second of ``ocr_paths`` over the scenes (listed ``repeat`` times), per worker
    count: each count first runs once over the scenes listed once (warm-up), then the counts
    take turns for ``rounds`` rounds (see :func:`hopid.bench.timing.alternate`); the seconds are
    each count's median, whole jobs (worker and engine start-up included)."""
    from hopid.bench.timing import alternate

    scenes = sorted(path for path in (root / "scenes").iterdir() if path.is_file())
    paths = scenes * repeat

    def job(subset: list[Path], count: int) -> int:
        return len(list(ocr_paths(subset, engine, workers=count)))

    for count in workers:
        job(scenes, count)
    seconds = alternate({str(n): lambda n=n: job(paths, n) for n in workers}, rounds, warmup=0).medians()
    return [PoolFigures(engine, count, len(paths), seconds[str(count)]) for count in workers]
