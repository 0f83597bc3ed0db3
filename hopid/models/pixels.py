"""CLIP's evaluation preprocessing without torch: PIL resize and crop, numpy normalisation.

The same pixels as open_clip's ``image_transform`` for ``resize_mode`` ``shortest`` (resize the
shorter side, centre crop) and ``squash`` (resize to the square); the torch-free image query
reads the model's ``preprocess_cfg`` from ``query.json`` and feeds these to the ONNX image tower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

RESIZE_MODES = ("shortest", "squash")
FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def supports(config: dict[str, Any]) -> bool:
    """Whether :func:`pixel_batch` reproduces the transform this ``preprocess_cfg`` describes."""
    return config.get("resize_mode", "shortest") in RESIZE_MODES and config.get("interpolation") in FILTERS


def _size(config: dict[str, Any]) -> tuple[int, int]:
    size = config["size"]
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _resized_centre_crop(image: Image.Image, height: int, width: int, resample: Image.Resampling) -> Image.Image:
    """Shorter side to the crop's (torchvision's rounding), then the centred crop."""
    w, h = image.size
    short = min(height, width)
    if w <= h:
        new_w, new_h = short, int(short * h / w)
    else:
        new_w, new_h = int(short * w / h), short
    image = image.resize((new_w, new_h), resample)
    top, left = int(round((new_h - height) / 2.0)), int(round((new_w - width) / 2.0))
    return image.crop((left, top, left + width, top + height))


def pixels(image: Image.Image, config: dict[str, Any]) -> np.ndarray:
    """``[3, H, W]`` float32: the image as the model's evaluation transform gives it."""
    if not supports(config):
        raise ValueError(f"preprocessing {config.get('resize_mode')!r}/{config.get('interpolation')!r}: not reproduced")
    height, width = _size(config)
    resample = FILTERS[config["interpolation"]]
    if config.get("resize_mode", "shortest") == "squash":
        image = image.resize((width, height), resample)
    else:
        image = _resized_centre_crop(image, height, width, resample)
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    mean = np.asarray(config["mean"], dtype=np.float32)
    std = np.asarray(config["std"], dtype=np.float32)
    return ((array - mean) / std).transpose(2, 0, 1).copy()


def pixel_batch(images: Sequence[Image.Image], config: dict[str, Any]) -> np.ndarray:
    """``[N, 3, H, W]``: :func:`pixels` of each image."""
    height, width = _size(config)
    if not images:
        return np.zeros((0, 3, height, width), dtype=np.float32)
    return np.stack([pixels(image, config) for image in images])
