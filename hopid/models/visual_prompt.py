"""The HOPID visual prompt: OCR boxes drawn as outlines onto the pixels before the image tower."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

Box = Sequence[float]  # 8 floats: the word's quadrilateral, normalised to the image size


def draw_ocr_boxes(
    image: Image.Image, boxes: Sequence[Box], color: Sequence[int] = (255, 0, 0), width: int = 2
) -> Image.Image:
    """A copy of ``image`` with every box outlined in ``color``; ``width`` is in pixels of the
    image as given (at least 1). No boxes gives an unchanged copy."""
    out = image.copy()
    if not boxes:
        return out
    draw = ImageDraw.Draw(out)
    w, h = out.size
    fill = tuple(int(c) for c in color)
    for box in boxes:
        points = [(float(box[i]) * w, float(box[i + 1]) * h) for i in range(0, 8, 2)]
        draw.line([*points, points[0]], fill=fill, width=max(1, int(width)), joint="curve")
    return out
