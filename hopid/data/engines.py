"""Names of the OCR sources a dataset's ``ocr.parquet`` can hold (light: the cold query path reads them)."""

from __future__ import annotations

GROUNDTRUTH_ENGINE = "groundtruth"  # human annotations (or a synthetic recipe's own words), not an OCR engine
DEFAULT_OCR_ENGINE = "rapidocr"  # read when none is named (docs/ocr.md: best recall, fastest)
