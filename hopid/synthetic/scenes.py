"""Pillow drawings of simple word-carrying objects, and exact per-word text placement.

A :class:`Scene` fixes everything about a picture except its words: object, colours,
background and layout. :func:`render_base` draws it once and returns the text panel
(where the main words go) and, optionally, a small plate for distractor text;
:func:`draw_words` then writes words into a copy and returns each word's exact box.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels

BASE = 256.0  # drawings are designed on a 256 x 256 canvas and scaled to the image size

COLORS: dict[str, RGB] = {
    "red": (205, 32, 38),
    "blue": (30, 72, 190),
    "green": (28, 138, 58),
    "yellow": (245, 205, 30),
    "orange": (242, 122, 22),
    "purple": (118, 48, 160),
    "black": (28, 28, 30),
    "white": (244, 244, 240),
    "grey": (128, 130, 134),
    "pink": (240, 128, 182),
    "brown": (122, 76, 38),
}

BACKGROUND_COLORS: dict[str, RGB] = {
    "light blue": (188, 220, 242),
    "beige": (236, 224, 198),
    "light grey": (214, 214, 216),
    "pale green": (204, 234, 204),
    "lavender": (226, 214, 242),
    "dark grey": (68, 70, 76),
    "navy": (34, 44, 82),
    "teal": (56, 128, 130),
}

BACKGROUND_STYLES = ("plain", "wall", "tiles", "gradient", "street")
TEXT_COLORS: tuple[RGB, ...] = ((252, 252, 252), (18, 18, 20), (252, 224, 40), (20, 34, 90))
LABEL_COLORS: tuple[RGB, ...] = ((246, 240, 222), (252, 252, 252), (28, 28, 30))
WALL_COLORS: tuple[RGB, ...] = ((228, 216, 196), (196, 120, 96), (200, 200, 204))

MIN_FONT = 20.0  # at the 256 px base size; OCR engines read this reliably
MAX_FONT = 46.0
PLATE_FONT = 18.0


@dataclass(frozen=True)
class Scene:
    """Everything about a picture except its words."""

    obj: str
    color: str
    background: str
    bg_color: str
    bg_color2: str
    scale: float
    dx: float
    dy: float
    mirror: bool
    plate: bool
    accent: int  # picks secondary colours (label, wall, text) deterministically


@dataclass(frozen=True)
class Layout:
    panel: Rect
    panel_color: RGB
    plate: Rect | None


@dataclass(frozen=True)
class Word:
    text: str
    quad: tuple[float, ...]  # x1, y1, ..., x4, y4 in pixels: TL, TR, BR, BL


def shade(color: RGB, factor: float) -> RGB:
    """Darken (factor < 1) or lighten toward white (factor > 1)."""
    if factor <= 1:
        return tuple(int(c * factor) for c in color)  # type: ignore[return-value]
    return tuple(int(c + (255 - c) * min(factor - 1, 1)) for c in color)  # type: ignore[return-value]


def luminance(color: RGB) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def distance(a: RGB, b: RGB) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def text_color_for(panel: RGB, pick: int) -> RGB:
    """A clearly contrasting text colour for ``panel``; ``pick`` chooses among the good ones."""
    good = [c for c in TEXT_COLORS if contrast(c, panel) >= 5.5]
    good = good or [max(TEXT_COLORS, key=lambda c: contrast(c, panel))]
    return good[pick % len(good)]


@lru_cache(maxsize=256)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


class Painter:
    """Draws in 256-unit design coordinates, applying the scene's scale, shift and mirror."""

    def __init__(self, draw: ImageDraw.ImageDraw, size: int, scene: Scene) -> None:
        self.draw, self.k, self.scene = draw, size / BASE, scene

    def pt(self, x: float, y: float) -> tuple[float, float]:
        s = self.scene
        if s.mirror:
            x = BASE - x
        x = BASE / 2 + (x - BASE / 2) * s.scale + s.dx
        y = BASE / 2 + (y - BASE / 2) * s.scale + s.dy
        return x * self.k, y * self.k

    def box(self, x0: float, y0: float, x1: float, y1: float) -> Rect:
        (ax, ay), (bx, by) = self.pt(x0, y0), self.pt(x1, y1)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def w(self, width: float) -> int:
        return max(1, round(width * self.scene.scale * self.k))

    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        fill: RGB,
        outline: RGB | None = None,
        width: float = 2,
        radius: float = 0,
    ) -> Rect:
        r = self.box(x0, y0, x1, y1)
        self.draw.rounded_rectangle(
            r,
            radius=radius * self.scene.scale * self.k,
            fill=fill,
            outline=outline,
            width=self.w(width) if outline else 0,
        )
        return r

    def poly(self, points: Sequence[tuple[float, float]], fill: RGB, outline: RGB | None = None) -> None:
        self.draw.polygon([self.pt(x, y) for x, y in points], fill=fill, outline=outline)

    def ellipse(
        self, x0: float, y0: float, x1: float, y1: float, fill: RGB | None, outline: RGB | None = None, width: float = 2
    ) -> None:
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline, width=self.w(width))

    def circle(self, x: float, y: float, r: float, fill: RGB, outline: RGB | None = None) -> None:
        self.ellipse(x - r, y - r, x + r, y + r, fill, outline)

    def line(self, points: Sequence[tuple[float, float]], fill: RGB, width: float) -> None:
        self.draw.line([self.pt(x, y) for x, y in points], fill=fill, width=self.w(width))

    def wheel(self, x: float, y: float, r: float) -> None:
        self.circle(x, y, r, (30, 30, 32))
        self.circle(x, y, r * 0.45, (170, 170, 176))


GLASS: RGB = (196, 228, 246)


def _truck(p: Painter, c: RGB, scene: Scene) -> Layout:
    edge = shade(c, 0.6)
    p.rect(18, 62, 162, 172, c, edge, radius=4)
    p.poly([(164, 96), (204, 96), (228, 128), (228, 172), (164, 172)], c, edge)
    p.poly([(172, 103), (201, 103), (219, 128), (172, 128)], GLASS)
    p.rect(164, 168, 232, 176, (150, 150, 156))
    for x in (50, 120, 204):
        p.wheel(x, 176, 16)
    return Layout(p.box(24, 68, 156, 160), c, p.box(166, 132, 226, 162))


def _bus(p: Painter, c: RGB, scene: Scene) -> Layout:
    edge = shade(c, 0.6)
    p.rect(14, 58, 242, 178, c, edge, radius=14)
    for i in range(5):
        p.rect(26 + i * 42, 68, 60 + i * 42, 102, GLASS, edge, width=1.5, radius=3)
    for x in (56, 198):
        p.wheel(x, 178, 17)
    return Layout(p.box(24, 110, 170, 166), c, p.box(176, 112, 238, 144))


def _storefront(p: Painter, c: RGB, scene: Scene) -> Layout:
    wall = WALL_COLORS[scene.accent % len(WALL_COLORS)]
    p.rect(16, 36, 240, 236, wall, shade(wall, 0.7))
    p.rect(24, 44, 232, 104, c, shade(c, 0.55), width=3)
    for i in range(8):
        p.rect(24 + i * 26, 104, 50 + i * 26, 120, c if i % 2 == 0 else (248, 248, 248))
    p.rect(32, 130, 142, 214, GLASS, (60, 60, 64), width=3)
    p.rect(156, 130, 218, 236, (96, 62, 34), (50, 32, 18), width=2)
    return Layout(p.box(28, 48, 228, 100), c, p.box(158, 140, 216, 170))


def _bottle(p: Painter, c: RGB, scene: Scene) -> Layout:
    label = LABEL_COLORS[scene.accent % len(LABEL_COLORS)]
    if distance(label, c) < 120:
        label = LABEL_COLORS[(scene.accent + 1) % len(LABEL_COLORS)]
    p.rect(110, 16, 146, 32, (40, 40, 44), radius=3)
    p.rect(114, 30, 142, 66, c, shade(c, 0.6))
    p.poly([(114, 64), (142, 64), (186, 100), (70, 100)], c, shade(c, 0.6))
    p.rect(68, 96, 188, 236, c, shade(c, 0.6), radius=14)
    p.rect(68, 118, 188, 194, label, shade(label, 0.7), width=1.5)
    return Layout(p.box(70, 120, 186, 192), label, p.box(92, 200, 164, 230))


def _tshirt(p: Painter, c: RGB, scene: Scene) -> Layout:
    points = [
        (68, 44),
        (104, 28),
        (152, 28),
        (188, 44),
        (236, 96),
        (204, 124),
        (190, 108),
        (190, 238),
        (66, 238),
        (66, 108),
        (52, 124),
        (20, 96),
    ]
    p.poly(points, c, shade(c, 0.6))
    p.ellipse(106, 20, 150, 44, shade(c, 0.7))
    return Layout(p.box(70, 108, 186, 198), c, p.box(74, 56, 136, 86))


def _poster(p: Painter, c: RGB, scene: Scene) -> Layout:
    p.rect(40, 16, 216, 240, (250, 250, 250), (70, 70, 74), width=2)
    p.rect(48, 24, 208, 232, c)
    deco = shade(c, 0.7) if luminance(c) > 0.3 else shade(c, 1.35)
    p.circle(80, 174, 24, deco)
    p.poly([(108, 196), (136, 150), (164, 196)], deco)
    return Layout(p.box(54, 32, 202, 142), c, p.box(136, 200, 204, 228))


def _box(p: Painter, c: RGB, scene: Scene) -> Layout:
    edge = shade(c, 0.55)
    p.poly([(30, 96), (70, 64), (230, 64), (190, 96)], shade(c, 1.25), edge)
    p.poly([(190, 96), (230, 64), (230, 200), (190, 232)], shade(c, 0.72), edge)
    p.rect(30, 96, 190, 232, c, edge)
    p.poly([(98, 96), (138, 64), (156, 64), (116, 96)], shade(c, 1.5))
    return Layout(p.box(36, 102, 184, 184), c, p.box(114, 192, 184, 224))


def _flag(p: Painter, c: RGB, scene: Scene) -> Layout:
    p.rect(30, 18, 38, 244, (120, 120, 126), (70, 70, 74), width=1)
    p.circle(34, 16, 6, (210, 176, 60))
    p.rect(38, 28, 232, 140, c, shade(c, 0.6))
    p.rect(38, 130, 232, 140, shade(c, 0.7))
    p.rect(20, 226, 48, 244, (90, 90, 96))
    return Layout(p.box(44, 34, 226, 128), c, p.box(52, 190, 124, 222))


def _train(p: Painter, c: RGB, scene: Scene) -> Layout:
    edge = shade(c, 0.6)
    p.line([(0, 204), (256, 204)], (90, 80, 72), 4)
    for x in range(8, 256, 24):
        p.rect(x, 200, x + 12, 210, (110, 80, 50))
    p.rect(12, 56, 244, 70, shade(c, 0.7), radius=6)
    p.rect(8, 66, 248, 190, c, edge, radius=10)
    for i in range(5):
        p.rect(20 + i * 45, 76, 56 + i * 45, 106, GLASS, edge, width=1.5, radius=3)
    for x in (40, 76, 180, 216):
        p.wheel(x, 192, 11)
    return Layout(p.box(18, 114, 176, 176), c, p.box(182, 114, 242, 146))


def _mug(p: Painter, c: RGB, scene: Scene) -> Layout:
    edge = shade(c, 0.6)
    p.ellipse(170, 96, 226, 178, None, c, width=13)
    p.rect(44, 66, 186, 222, c, edge, radius=14)
    p.ellipse(44, 56, 186, 80, shade(c, 0.55), edge)
    return Layout(p.box(50, 88, 180, 168), c, p.box(76, 176, 152, 208))


OBJECTS: dict[str, Callable[[Painter, RGB, Scene], Layout]] = {
    "truck": _truck,
    "bus": _bus,
    "storefront": _storefront,
    "bottle": _bottle,
    "tshirt": _tshirt,
    "poster": _poster,
    "box": _box,
    "flag": _flag,
    "train": _train,
    "mug": _mug,
}


def _background(image: Image.Image, scene: Scene) -> None:
    draw = ImageDraw.Draw(image)
    size = image.width
    a, b = BACKGROUND_COLORS[scene.bg_color], BACKGROUND_COLORS[scene.bg_color2]
    draw.rectangle((0, 0, size, size), fill=a)
    step = max(8, size // 8)
    if scene.background == "wall":
        for x in range(step // 2, size, step):
            draw.line([(x, 0), (x, size)], fill=shade(a, 0.92), width=max(1, size // 64))
    elif scene.background == "tiles":
        for v in range(0, size, step):
            draw.line([(v, 0), (v, size)], fill=b, width=max(1, size // 128))
            draw.line([(0, v), (size, v)], fill=b, width=max(1, size // 128))
    elif scene.background == "gradient":
        for y in range(size):
            t = y / max(1, size - 1)
            draw.line([(0, y), (size, y)], fill=tuple(round(x + (z - x) * t) for x, z in zip(a, b, strict=True)))
    elif scene.background == "street":
        draw.rectangle((0, int(size * 0.72), size, size), fill=(96, 96, 100))
        draw.rectangle((0, int(size * 0.72), size, int(size * 0.74)), fill=(150, 150, 150))


def render_base(scene: Scene, size: int) -> tuple[Image.Image, Layout]:
    """The scene without words: background, object, and an empty distractor plate if any."""
    image = Image.new("RGB", (size, size))
    _background(image, scene)
    draw = ImageDraw.Draw(image)
    layout = OBJECTS[scene.obj](Painter(draw, size, scene), COLORS[scene.color], scene)
    if scene.plate and layout.plate is not None:
        fill = (252, 252, 246) if luminance(layout.panel_color) < 0.5 else (250, 222, 60)
        draw.rounded_rectangle(
            layout.plate, radius=size / 128, fill=fill, outline=(40, 40, 44), width=max(1, size // 256)
        )
    else:
        layout = Layout(layout.panel, layout.panel_color, None)
    return image, layout


@dataclass(frozen=True)
class TextFit:
    lines: tuple[tuple[str, ...], ...]
    size: int


WORD_GAP = 1.2  # inter-word gap in em: wide, so OCR engines see (and output) the space between words


def _gap(f: ImageFont.FreeTypeFont) -> float:
    return max(f.getlength(" "), WORD_GAP * f.size)


def _line_width(f: ImageFont.FreeTypeFont, words: Sequence[str]) -> float:
    return sum(f.getlength(w) for w in words) + _gap(f) * (len(words) - 1)


def fit_text(text: str, rect: Rect, min_size: float, max_size: float) -> TextFit | None:
    """Largest font size (and line split) that fits ``text`` in ``rect`` with margins; None if none."""
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    avail_w, avail_h = width * 0.86, height * 0.84
    words = tuple(text.split())
    splits = [(words,)] + ([tuple((w,) for w in words)] if len(words) > 1 else [])
    best: TextFit | None = None
    for lines in splits:
        size = int(max_size)
        while size >= min_size:
            f = font(size)
            ascent, descent = f.getmetrics()
            block = len(lines) * (ascent + descent) + (len(lines) - 1) * size * 0.15
            if block <= avail_h and max(_line_width(f, line) for line in lines) <= avail_w:
                break
            size -= 1
        if size >= min_size and (best is None or size > best.size * 1.25):
            best = TextFit(lines, size)
    return best


def draw_words(image: Image.Image, rect: Rect, fit: TextFit, fill: RGB) -> list[Word]:
    """Write ``fit``'s lines centred in ``rect`` word by word; return each word's exact box."""
    draw = ImageDraw.Draw(image)
    f = font(fit.size)
    ascent, descent = f.getmetrics()
    gap = fit.size * 0.15
    block = len(fit.lines) * (ascent + descent) + (len(fit.lines) - 1) * gap
    top = (rect[1] + rect[3]) / 2 - block / 2
    words: list[Word] = []
    space = _gap(f)
    for i, line in enumerate(fit.lines):
        baseline = round(top + i * (ascent + descent + gap) + ascent)
        x = round((rect[0] + rect[2]) / 2 - _line_width(f, line) / 2)
        for word in line:
            draw.text((x, baseline), word, font=f, fill=fill, anchor="ls")
            x0, y0, x1, y1 = draw.textbbox((x, baseline), word, font=f, anchor="ls")
            words.append(Word(word, (x0, y0, x1, y0, x1, y1, x0, y1)))
            x = round(x + f.getlength(word) + space)
    return words


def plan_scene(rng: random.Random, obj: str | None = None) -> Scene:
    """Draw a random scene: object, contrasting background and a small layout jitter."""
    obj = obj or rng.choice(sorted(OBJECTS))
    color = rng.choice(sorted(COLORS))
    rgb = COLORS[color]
    backgrounds = sorted(n for n, bg in BACKGROUND_COLORS.items() if distance(bg, rgb) > 120)
    bg = rng.choice(backgrounds)
    bg2 = rng.choice([n for n in backgrounds if n != bg] or backgrounds)
    vehicle = obj in ("truck", "bus", "train")
    style = "street" if vehicle and rng.random() < 0.6 else rng.choice(BACKGROUND_STYLES[:4])
    return Scene(
        obj=obj,
        color=color,
        background=style,
        bg_color=bg,
        bg_color2=bg2,
        scale=rng.uniform(0.86, 1.0),
        dx=rng.uniform(-8, 8),
        dy=rng.uniform(-8, 8),
        mirror=vehicle and rng.random() < 0.5,
        plate=rng.random() < 0.35,
        accent=rng.randrange(1000),
    )
