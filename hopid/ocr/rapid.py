"""RapidOCR: PaddleOCR detection/recognition models run by onnxruntime, bundled in the wheel.

Two backends, chosen at construction: ``rapidocr`` (3.x, PP-OCRv6 small multilingual models,
preferred) and ``rapidocr_onnxruntime`` (1.x, PP-OCRv4 Chinese models, the fallback). The
PP-OCRv4 Chinese recogniser often drops the spaces of English lines ("Cleanhandswithsoap"),
which is why the 3.x models are preferred (docs/ocr.md has the figures).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from hopid.errors import HopidError
from hopid.ocr.base import OcrWord, bounds_overlap, dedupe_words, reading_order, rgb_array, split_line


@dataclass(frozen=True)
class BoxSetting:
    """How text boxes are cut from the detector's probability map (DB post-processing):
    pixels above ``thresh`` are text, boxes scoring below ``box_thresh`` are dropped, and each
    box is grown by ``unclip_ratio``; ``dilate`` joins touching regions first."""

    thresh: float
    box_thresh: float
    unclip_ratio: float
    dilate: bool


@dataclass(frozen=True)
class DetectorPass:
    """One run of the detector, on the image scaled so its short side is ``short_side`` pixels,
    whose map is cut into boxes under every setting of ``cuts`` (all of them are read)."""

    short_side: int
    cuts: tuple[BoxSetting, ...]


# A tight and a loose cut of the same text give the recogniser two views of it, and words one
# cut loses the other often keeps; "best" adds a pass at a larger scale for small text
# (docs/benchmarks.md: word-retrieval mAP and speed on the SVT and IC15 training splits).
LIBRARY_DEFAULT = BoxSetting(0.3, 0.5, 1.6, True)
TIGHT = BoxSetting(0.4, 0.5, 1.6, False)
LOOSE = BoxSetting(0.3, 0.5, 2.0, True)
FAINT = BoxSetting(0.3, 0.3, 1.6, False)  # keeps boxes of weak, low-contrast text
LIBRARY_SHORT_SIDE = 736
FAST = DetectorPass(LIBRARY_SHORT_SIDE, (TIGHT, LOOSE, FAINT))
PASSES: dict[str, tuple[DetectorPass, ...]] = {  # per quality (registry.QUALITIES)
    "fast": (FAST,),
    "best": (FAST, DetectorPass(1088, (LIBRARY_DEFAULT, TIGHT))),
}
DEFAULT_QUALITY = "fast"
# RapidOCR first shrinks an image to 2000 px on its long side, then rounds each side to a multiple
# of 32: a side that rounds to 0 (a 12000 x 12 strip) fails with a bare ResizeImgError. Stretched
# images are padded first, to at most this width / height (RapidOCR then pads wide images to 8:1
# itself) and this height / width (a tall one would otherwise reach the detector 736 px wide and
# 18,000+ px high: 20 s and more per image).
MAX_WIDE = 50
MAX_TALL = 8
SAME_BOX_IOU = 0.9  # a box of a later cut overlapping an earlier one this much is not read again


class UnionOfBoxes:
    """DB post-processing under several :class:`BoxSetting`s on one detection map, boxes of all."""

    def __init__(self, settings: tuple[BoxSetting, ...]) -> None:
        from rapidocr.ch_ppocr_det.utils import DBPostProcess

        self.cuts = [
            DBPostProcess(thresh=s.thresh, box_thresh=s.box_thresh, unclip_ratio=s.unclip_ratio, use_dilation=s.dilate)
            for s in settings
        ]

    def __call__(self, pred: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, list[float]]:
        kept = np.zeros((0, 4, 2), np.float32)
        scores: list[float] = []
        for cut in self.cuts:
            found, found_scores = cut(pred, shape)
            if not len(found):
                continue
            found = np.asarray(found, dtype=np.float32)
            new = _overlap(found, kept).max(axis=1, initial=0.0) < SAME_BOX_IOU  # a box cut again is read once
            kept = np.concatenate([kept, found[new]])
            scores += [score for score, keep in zip(found_scores, new, strict=True) if keep]
        return kept, scores


def _overlap(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of the axis-aligned bounds of quadrilaterals, ``boxes`` x ``others``."""
    return bounds_overlap(_bounds(boxes), _bounds(others))


def _bounds(quads: np.ndarray) -> np.ndarray:
    """``(left, top, right, bottom)`` of each quadrilateral ``[N, 4, 2]``."""
    return np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)


def rapid_backend() -> str | None:
    """The importable RapidOCR package to use (``rapidocr`` preferred), or None."""
    for module in ("rapidocr", "rapidocr_onnxruntime"):
        if importlib.util.find_spec(module) is not None:
            return module
    return None


def _bgr(image: Image.Image) -> np.ndarray:
    # RapidOCR treats numpy input as OpenCV BGR; Pillow gives RGB.
    return np.ascontiguousarray(rgb_array(image)[:, :, ::-1])


def within_aspect(image: Image.Image, wide: int = MAX_WIDE, tall: int = MAX_TALL) -> Image.Image:
    """``image`` padded at the bottom or on the right, in its median colour, so that it is at most
    ``wide`` times wider than high and ``tall`` times higher than wide; pixel coordinates of the
    original are unchanged."""
    width, height = image.size
    size = (max(width, -(-height // tall)), max(height, -(-width // wide)))
    if size == (width, height):
        return image
    fill = tuple(int(v) for v in np.median(rgb_array(image).reshape(-1, 3), axis=0))
    padded = Image.new("RGB", size, fill)
    padded.paste(image.convert("RGB"), (0, 0))
    return padded


def rapid_params(threads: int | None = None) -> dict[str, Any]:
    """The RapidOCR 3.x parameters hopid's engine runs with (each detector pass adds its scale);
    ``threads`` (1 in pool workers) pins ONNX Runtime's thread pools."""
    # ONNX Runtime's memory arena (off in RapidOCR's defaults) reuses tensor buffers
    # between images: about 10 % faster per image for about 180 MiB more resident memory.
    params: dict[str, Any] = {
        "Global.log_level": "critical",
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
    }
    if threads is not None:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
        params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
    return params


def rapid_pipelines(
    threads: int | None = None, quality: str = DEFAULT_QUALITY, backend: str | None = None
) -> list[Any]:
    """The RapidOCR objects :class:`RapidOcrEngine` runs, one per detector pass of ``quality``
    (one object for the ``rapidocr_onnxruntime`` fallback); each reads an image (path or BGR
    array) when called as ``ocr(image, use_det=True, use_cls=True, use_rec=True)``. Also sets
    OpenCV's threads when ``threads`` is given. ``hopid bench`` times these against the engine."""
    backend = backend or rapid_backend()
    if threads is not None:
        import cv2

        cv2.setNumThreads(threads)
    if backend == "rapidocr":
        from rapidocr import RapidOCR

        return [_detector_pass(RapidOCR, rapid_params(threads), chosen) for chosen in PASSES[quality]]
    from rapidocr_onnxruntime import RapidOCR

    options = {} if threads is None else {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
    return [RapidOCR(**options)]


def _detector_pass(factory: Any, params: dict[str, Any], chosen: DetectorPass) -> Any:
    """A RapidOCR 3.x pipeline whose detector runs at ``chosen.short_side`` and reads the boxes
    of every cut (the detector's post-processing is swapped for :class:`UnionOfBoxes`)."""
    ocr = factory(params=params | {"Det.limit_side_len": chosen.short_side, "Det.limit_type": "min"})
    try:
        ocr._load_det_model().postprocess_op = UnionOfBoxes(chosen.cuts)
    except (AttributeError, ImportError) as exc:
        raise HopidError(f"rapidocr {exc}: install the tested version (pip install -c constraints.txt)") from exc
    return ocr


class RapidOcrEngine:
    """Detection + orientation classification + recognition with RapidOCR."""

    name = "rapidocr"

    def __init__(self, threads: int | None = None, backend: str | None = None, quality: str = DEFAULT_QUALITY) -> None:
        if quality not in PASSES:
            raise HopidError(f"OCR quality {quality!r}: choose one of {', '.join(PASSES)}")
        self.backend = backend or rapid_backend()
        self.quality = quality
        if self.backend != "rapidocr" and quality != DEFAULT_QUALITY:
            raise HopidError(f"OCR quality {quality!r} needs rapidocr 3.x: pip install 'rapidocr>=3'")
        pipelines = rapid_pipelines(threads, quality, self.backend)
        if self.backend == "rapidocr":
            self._passes = pipelines
        else:
            self._ocr = pipelines[0]

    def _lines(self, image: Image.Image) -> list[tuple[Any, str, float]]:
        image = within_aspect(image)
        if self.backend == "rapidocr":
            lines = []
            for ocr in self._passes:
                out = ocr(_bgr(image), use_det=True, use_cls=True, use_rec=True)  # flags are sticky in 3.x
                if out.boxes is not None and out.txts is not None:
                    lines += zip(out.boxes.tolist(), out.txts, out.scores, strict=True)
            return lines
        lines, _ = self._ocr(_bgr(image), use_det=True, use_cls=True, use_rec=True)
        return [(quad, text, score) for quad, text, score in lines or []]

    def read(self, image: Image.Image) -> list[OcrWord]:
        width, height = image.size
        words: list[OcrWord] = []
        for quad, text, score in self._lines(image):
            words += split_line(text, quad, float(score), width, height)
        return reading_order(dedupe_words(words))

    def read_word(self, image: Image.Image) -> str:
        if self.backend == "rapidocr":
            out = self._passes[0](_bgr(image), use_det=False, use_cls=False, use_rec=True)
            texts = list(out.txts or ())
        else:
            lines, _ = self._ocr(_bgr(image), use_det=False, use_cls=False, use_rec=True)
            texts = [line[0] for line in lines or []]
        return " ".join(str(text) for text in texts).strip()
