"""OCR: three engines behind one interface, a parallel runner over image files, and measurements."""

from hopid.ocr.base import OcrEngine, OcrWord, split_line
from hopid.ocr.registry import DEFAULT_ENGINE, ENGINES, create_engine, engine_problem

__all__ = ["DEFAULT_ENGINE", "ENGINES", "OcrEngine", "OcrWord", "create_engine", "engine_problem", "split_line"]
