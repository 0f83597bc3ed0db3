"""Safe image loading: every file becomes an upright RGB image or a clear reason why not."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
HEIC_SUFFIXES = frozenset({".heic", ".heif"})
MAX_PIXELS = 100_000_000  # beyond this a file is treated as a decompression bomb

_heic_ready: bool | None = None


class ImageLoadError(Exception):
    """An image file that cannot be used; the message is the reason recorded in errors."""


def heic_supported() -> bool:
    """Register pillow-heif when installed (once); True when HEIC files can be read."""
    global _heic_ready
    if _heic_ready is None:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
            _heic_ready = True
        except ImportError:
            _heic_ready = False
    return _heic_ready


def supported_suffixes() -> frozenset[str]:
    return IMAGE_SUFFIXES | HEIC_SUFFIXES if heic_supported() else IMAGE_SUFFIXES


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        span = float(array.max() - array.min()) or 1.0
        image = Image.fromarray(((array - array.min()) / span * 255.0).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def upright_rgb(image: Image.Image) -> Image.Image:
    """A loaded image EXIF-rotated upright and converted to RGB (alpha on white, 16-bit scaled)."""
    return _to_rgb(ImageOps.exif_transpose(image))


def load_rgb(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``path`` as an upright (EXIF-rotated) RGB image; raise ImageLoadError otherwise."""
    path = Path(path)
    return _upright_from(path, path.suffix, lambda: path.stat().st_size, max_pixels)


def decode_rgb(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The bytes of an image file named ``name`` (for its suffix) as :func:`load_rgb` gives the file."""
    return _upright_from(io.BytesIO(data), Path(name).suffix, lambda: len(data), max_pixels)


def _upright_from(source: Path | io.BytesIO, suffix: str, size: Callable[[], int], max_pixels: int) -> Image.Image:
    if suffix.lower() in HEIC_SUFFIXES:
        heic_supported()
    try:
        if size() == 0:
            raise ImageLoadError("empty file (0 bytes)")
        with Image.open(source) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise ImageLoadError(f"image too large ({width}x{height} pixels, limit {max_pixels:,})")
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                opened.load()
            return upright_rgb(opened)
    except ImageLoadError:
        raise
    except FileNotFoundError as exc:
        raise ImageLoadError("file not found") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError("not an image file Pillow can read") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"image too large (decompression bomb): {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(f"corrupt or truncated image: {exc}") from exc


def upright_size(path: str | Path) -> tuple[int, int]:
    """Width and height after EXIF rotation, reading only the header."""
    with Image.open(path) as opened:
        width, height = opened.size
        orientation = opened.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
