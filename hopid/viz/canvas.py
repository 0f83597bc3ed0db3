"""What the pictures share: a figure on the Agg canvas, saving, images and OCR boxes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from hopid.data.images import ImageLoadError, load_rgb
from hopid.errors import HopidError

RIGHT = "#1a9850"  # the right answer: green
WRONG = "#d73027"  # a failure: red
BOX = "#ff2a2a"  # an OCR box
MATCH = "#00c853"  # an OCR box whose word the query matched
DPI = 100


def new_figure(width: float, height: float):
    """A matplotlib Figure drawn by the Agg backend (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, out: str | Path) -> Path:
    """Write ``figure`` as a PNG at ``out`` (parent folders created)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise HopidError(f"{out}: pictures are written as PNG; give a file name ending in .png")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out


def open_image(path: str | Path) -> Image.Image:
    """An RGB image, or a one-line HopidError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise HopidError(f"{path}: no such image file")
    try:
        return load_rgb(path)
    except ImageLoadError as exc:
        raise HopidError(f"{path}: {exc}") from exc


def thumbnail(image: Image.Image, size: int) -> Image.Image:
    """A copy of ``image`` fitted into ``size`` x ``size`` pixels, aspect kept."""
    small = image.copy()
    small.thumbnail((size, size))
    return small


def box_outline(box: Sequence[float], width: float, height: float, left: float = 0, top: float = 0) -> np.ndarray:
    """A normalised 8-float OCR box as a closed polygon in pixels of a ``width`` x ``height``
    image, shifted by ``(left, top)`` (a crop's offset)."""
    points = np.asarray(box, dtype=np.float64).reshape(4, 2) * (width, height) - (left, top)
    return np.vstack([points, points[:1]])


def draw_boxes(axes, boxes: Sequence[Sequence[float]], size: tuple[int, int], colors=None, **style) -> None:
    """Outline OCR boxes (normalised) over an image of ``size`` shown on ``axes``."""
    for i, box in enumerate(boxes):
        outline = box_outline(box, *size)
        color = colors[i] if colors is not None else BOX
        axes.plot(outline[:, 0], outline[:, 1], color=color, **({"linewidth": 1.5} | style))


def frame(axes, color: str, width: float = 4) -> None:
    """A coloured frame around an image axes (ticks hidden)."""
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def bare(axes) -> None:
    """An axes with no ticks and no frame."""
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
