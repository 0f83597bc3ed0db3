"""Tesseract through its command-line binary (``tesseract``), TSV output for word boxes."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess

from PIL import Image, ImageOps

from hopid.errors import HopidError
from hopid.ocr.base import OcrWord, normalise_quad, reading_order, rect_quad

TIMEOUT_S = 120
MIN_WORD_HEIGHT = 64  # Tesseract reads small crops badly; cropped words are scaled up to this


def tesseract_binary() -> str | None:
    """Path of the tesseract binary, or None when it is not on PATH."""
    return shutil.which("tesseract")


class TesseractEngine:
    """Word boxes and confidences from ``tesseract ... tsv``.

    Page segmentation mode 11 ("sparse text") suits scene photographs better than the default 3
    (fully automatic page layout); mode 8 ("single word") is used for crops.
    """

    name = "tesseract"

    def __init__(self, threads: int | None = None, language: str = "eng", psm: int = 11) -> None:
        binary = tesseract_binary()
        if binary is None:
            raise HopidError("tesseract is not installed: install it (e.g. apt-get install tesseract-ocr)")
        self._binary = binary
        self._language = language
        self._psm = psm
        self._env = dict(os.environ)
        if threads is not None:
            self._env["OMP_THREAD_LIMIT"] = str(threads)

    def _run(self, image: Image.Image, psm: int, output: str) -> str:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        command = [self._binary, "stdin", "stdout", "-l", self._language, "--psm", str(psm)]
        if output:
            command.append(output)
        done = subprocess.run(
            command, input=buffer.getvalue(), capture_output=True, env=self._env, timeout=TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"tesseract failed: {message[-1] if message else done.returncode}")
        return done.stdout.decode("utf-8", "replace")

    def read(self, image: Image.Image) -> list[OcrWord]:
        width, height = image.size
        words = []
        table = csv.DictReader(io.StringIO(self._run(image, self._psm, "tsv")), delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in table:
            text = (row.get("text") or "").strip()
            conf = float(row.get("conf") or -1)
            if conf < 0 or not text:
                continue
            left, top = float(row["left"]), float(row["top"])
            right, bottom = left + float(row["width"]), top + float(row["height"])
            quad = rect_quad(left, top, right, bottom)
            words.append(OcrWord(text, min(1.0, conf / 100.0), normalise_quad(quad, width, height)))
        return reading_order(words)

    def read_word(self, image: Image.Image) -> str:
        image = image.convert("RGB")
        if image.height < MIN_WORD_HEIGHT:
            scale = MIN_WORD_HEIGHT / image.height
            image = image.resize((max(1, round(image.width * scale)), MIN_WORD_HEIGHT), Image.Resampling.LANCZOS)
        image = ImageOps.expand(image, border=image.height // 4, fill=_border_colour(image))
        return " ".join(self._run(image, 8, "").split())


def _border_colour(image: Image.Image) -> tuple[int, ...]:
    """The median colour of the image's outer pixels, so padding looks like background."""
    grey = image.convert("L")
    width, height = grey.size
    edge = [grey.getpixel((x, 0)) for x in range(width)] + [grey.getpixel((x, height - 1)) for x in range(width)]
    value = sorted(edge)[len(edge) // 2]
    return (value, value, value)
