"""Held-out sets of other styles than the training generator, for the question "does the network
read words it has never seen?" (docs/unseen-words.md).

Two styles, each drawn by its own code (not :mod:`hopid.synthetic.scenes`), with TrueType fonts
the training images never use, and words from :mod:`hopid.synthetic.heldout_style_words`:

- ``brands`` (style A): a brand label (label, tag, badge or banner) anywhere on a patterned
  background; 60 look-alike groups of 5: four spellings of one long invented brand that differ
  by one or two letters, plus the first spelling on a label of another colour. Mixed case
  (``STUZUGROL``, ``Toraitroul``, ``KleslaGraul``).
- ``signs`` (style B): a street sign with two lines, a two-word name and a code (``KP4821``)
  or a six-digit number, left-aligned or centred, at the top, middle or bottom of a street
  scene; 60 groups of 5 that differ in one letter of a name word and/or one or two digits.

Each image gets two captions naming everything that tells it from its group. A set is written as a
user would bring it: ``images/*.png`` and ``captions.csv`` (``image``, ``caption``), plus
``words.csv`` (the written words of each image, ground truth for checks).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hopid.errors import HopidError
from hopid.synthetic.heldout_style_words import (
    change_digits,
    foreign_tokens,
    look_alike,
    make_brand,
    make_sign_code,
    make_sign_name,
    make_sign_number,
)
from hopid.synthetic.scenes import COLORS, RGB, contrast, distance, shade

SIZE = 256
GROUPS = 60
PER_GROUP = 5
CAPTIONS_PER_IMAGE = 2
STYLE_SEEDS = {"brands": 7101, "signs": 7202}
MIN_FONT = 16
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
BRAND_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf", "LiberationSans-Bold.ttf", "LiberationSerif-Bold.ttf")
SIGN_FONTS = ("DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Bold.ttf", "DejaVuSansMono-Bold.ttf")
INKS: tuple[RGB, ...] = ((250, 250, 250), (20, 20, 24))
PATTERNS = ("plain", "stripes", "dots", "gradient", "checks")
SHAPES = {
    "label": ("label", "sticker"),
    "tag": ("price tag", "tag"),
    "badge": ("badge", "round sticker"),
    "banner": ("banner", "ribbon"),
}
BRAND_TEMPLATES = (
    "{a_color} {thing} of the brand {text}",
    "{text} on {a_color} {thing}",
    "the {text} logo on {a_color} {thing}",
    "{a_color} {thing} branded {text}",
    "a product {thing} in {color} that reads {text}",
    "{color} {thing}: {text}",
)
SIGN_TEMPLATES = (
    "{a_color} street sign for {name} with the code {code}",
    "{name} {code} on {a_color} signboard",
    "the sign of {name}, unit {code}",
    "{a_color} board reading {name} and {code}",
    "signboard: {name} ({code})",
)
NUMBER_TEMPLATES = (
    "{a_color} street sign for {name}, number {code}",
    "{name} number {code} on {a_color} signboard",
    "the sign of {name} with the number {code}",
)


@cache
def font_path(name: str) -> str | None:
    """Where the TrueType font ``name`` is installed (None: Pillow's built-in font is used)."""
    for root in FONT_DIRS:
        found = sorted(Path(root).rglob(name)) if Path(root).is_dir() else []
        if found:
            return str(found[0])
    return None


@cache
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = font_path(name)
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)  # type: ignore[return-value]


@dataclass(frozen=True)
class Board:
    """One picture: a patterned background and a board (shape, place, colour) with lines of text."""

    shape: str
    rect: tuple[int, int, int, int]
    color: str
    background: tuple[RGB, RGB]
    pattern: str
    font: str
    lines: tuple[str, ...]
    align: str = "center"
    logo: bool = False

    @property
    def words(self) -> list[str]:
        return [w for line in self.lines for w in line.split()]


@dataclass(frozen=True)
class Picture:
    board: Board
    group: int
    captions: tuple[str, ...]


def article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _two_colours(rng: random.Random) -> tuple[str, str]:
    """Two object colours far apart (a look-alike that differs by colour only)."""
    names = sorted(COLORS)
    first = rng.choice(names)
    second = rng.choice([n for n in names if distance(COLORS[n], COLORS[first]) > 150])
    return first, second


def _background(rng: random.Random, board: str) -> tuple[RGB, RGB]:
    """Two background colours that keep the board visible."""
    while True:
        a = tuple(rng.randrange(40, 240) for _ in range(3))
        if distance(a, COLORS[board]) > 110:
            return a, shade(a, rng.choice((0.7, 1.3)))  # type: ignore[return-value]


def _cased(word: str, style: str, rng: random.Random) -> str:
    if style == "upper":
        return word.upper()
    if style == "camel":  # a capital inside the word, e.g. KleslaGraul
        at = rng.randrange(3, len(word) - 3)
        return word[:at].title() + word[at:].title()
    return word.title()


def _caption_case(text: str, rng: random.Random) -> str:
    """How a user types the written text: mostly as written, else lower or Title case."""
    roll = rng.random()
    return text if roll < 0.5 else text.lower() if roll < 0.75 else text.title()


def plan_brands(seed: int = STYLE_SEEDS["brands"], groups: int = GROUPS) -> list[Picture]:
    """Style A: ``groups`` look-alike groups of five brand labels (see the module docstring)."""
    rng = random.Random(seed)
    used: set[str] = set()
    pictures: list[Picture] = []
    for g in range(groups):
        while True:
            base = make_brand(rng)
            spellings = [base, look_alike(base, 1, rng), look_alike(base, 2, rng), look_alike(base, 1, rng)]
            if len(set(spellings)) == 4 and not used & set(spellings):
                break
        used |= set(spellings)
        case = rng.choice(("upper", "title", "camel"))
        written = [_cased(word, case, random.Random(f"{seed}:{g}")) for word in spellings]
        first, second = _two_colours(rng)
        for _ in range(100):  # a layout every spelling fits
            shape = rng.choice(sorted(SHAPES))
            width, height = rng.randrange(176, 248), rng.randrange(52, 84)
            x0, y0 = rng.randrange(4, SIZE - width - 3), rng.randrange(8, SIZE - height - 8)
            common = {
                "shape": shape,
                "rect": (x0, y0, x0 + width, y0 + height),
                "background": _background(rng, first),
                "pattern": rng.choice(PATTERNS),
                "font": rng.choice(BRAND_FONTS),
                "logo": rng.random() < 0.5,
            }
            if all(fits(Board(color=first, lines=(word,), **common)) for word in written):
                break
        members = [(written[0], first), (written[1], first), (written[2], first), (written[3], first)]
        members.append((written[0], second))
        for text, color in members:
            board = Board(color=color, lines=(text,), **common)
            things = SHAPES[shape]
            templates = rng.sample(BRAND_TEMPLATES, CAPTIONS_PER_IMAGE)
            captions = tuple(
                t.format(
                    text=_caption_case(text, rng),
                    color=color,
                    a_color=article(color),
                    thing=rng.choice(things),
                )
                for t in templates
            )
            pictures.append(Picture(board, g, captions))
    return pictures


def plan_signs(seed: int = STYLE_SEEDS["signs"], groups: int = GROUPS) -> list[Picture]:
    """Style B: ``groups`` look-alike groups of five two-line street signs (see the module docstring)."""
    rng = random.Random(seed)
    used: set[tuple[str, str]] = set()
    pictures: list[Picture] = []
    for g in range(groups):
        first, second = make_sign_name(rng), make_sign_name(rng)
        numbered = rng.random() < 0.3
        code = make_sign_number(rng) if numbered else make_sign_code(rng)
        variants = [
            (first, second, code),
            (first, look_alike(second, 1, rng, brand=False), code),
            (first, second, change_digits(code, 1, rng)),
            (first, look_alike(second, rng.choice((1, 2)), rng, brand=False), change_digits(code, 2, rng)),
            (look_alike(first, 1, rng, brand=False), second, code),
        ]
        upper = rng.random() < 0.4
        color = rng.choice(sorted(COLORS))
        width, height = rng.randrange(188, 246), rng.randrange(72, 100)
        x0 = rng.randrange(4, SIZE - width - 4)
        y0 = {
            "top": rng.randrange(6, 40),
            "middle": (SIZE - height) // 2,
            "bottom": SIZE - height - rng.randrange(8, 40),
        }[rng.choice(("top", "middle", "bottom"))]
        common = {
            "shape": "sign",
            "rect": (x0, y0, x0 + width, y0 + height),
            "color": color,
            "background": _background(rng, color),
            "pattern": rng.choice(("street", "wall", "sky")),
            "font": rng.choice(SIGN_FONTS),
            "align": rng.choice(("left", "center")),
        }
        while not all(fits(Board(lines=(f"{a} {b}".upper(), c), **common)) for a, b, c in variants):
            x0, y0, x1, y1 = common["rect"]
            common["rect"] = (max(2, x0 - 8), y0, min(SIZE - 2, x1 + 8), y1)
            common["font"] = SIGN_FONTS[0]
            if common["rect"] == (2, y0, SIZE - 2, y1):
                break
        for a, b, c in variants:
            name = f"{a} {b}".upper() if upper else f"{a.title()} {b.title()}"
            if (name, c) in used:
                continue  # a repeated look-alike (rare): the group keeps four
            used.add((name, c))
            pool = NUMBER_TEMPLATES if numbered else SIGN_TEMPLATES
            captions = tuple(
                t.format(name=_caption_case(name, rng), code=c, a_color=article(color))
                for t in rng.sample(pool, CAPTIONS_PER_IMAGE)
            )
            pictures.append(Picture(Board(lines=(name, c), **common), g, captions))
    return pictures


PLANS: dict[str, Callable[..., list[Picture]]] = {"brands": plan_brands, "signs": plan_signs}
STYLE_VOCABULARY = {"brands": "brand", "signs": "sign"}


def _draw_background(draw: ImageDraw.ImageDraw, board: Board) -> None:
    a, b = board.background
    draw.rectangle((0, 0, SIZE, SIZE), fill=a)
    if board.pattern == "stripes":
        for x in range(-SIZE, SIZE, 24):
            draw.line([(x, SIZE), (x + SIZE, 0)], fill=b, width=6)
    elif board.pattern == "dots":
        for y in range(8, SIZE, 22):
            for x in range(8 + (y // 22 % 2) * 11, SIZE, 22):
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=b)
    elif board.pattern == "gradient":
        for y in range(SIZE):
            t = y / (SIZE - 1)
            draw.line([(0, y), (SIZE, y)], fill=tuple(round(p + (q - p) * t) for p, q in zip(a, b, strict=True)))
    elif board.pattern == "checks":
        for y in range(0, SIZE, 32):
            for x in range((y // 32 % 2) * 32, SIZE, 64):
                draw.rectangle((x, y, x + 31, y + 31), fill=b)
    elif board.pattern == "street":
        draw.rectangle((0, int(SIZE * 0.8), SIZE, SIZE), fill=(90, 90, 94))
        draw.rectangle((0, int(SIZE * 0.8), SIZE, int(SIZE * 0.82)), fill=(170, 170, 170))
    elif board.pattern == "wall":
        for y in range(0, SIZE, 16):
            for x in range((y // 16 % 2) * 16, SIZE, 32):
                draw.rectangle((x, y, x + 30, y + 14), outline=b)
    elif board.pattern == "sky":
        draw.rectangle((0, int(SIZE * 0.65), SIZE, SIZE), fill=b)


def inner_rect(board: Board) -> tuple[int, int, int, int]:
    """The rectangle of the board that its text must fit in (right of the logo, if any)."""
    x0, y0, x1, y1 = board.rect
    if board.shape == "badge":
        x0, y0, x1, y1 = x0 + (x1 - x0) // 10, y0 + (y1 - y0) // 6, x1 - (x1 - x0) // 10, y1 - (y1 - y0) // 6
    elif board.shape == "banner":
        notch = (y1 - y0) // 3
        x0, x1 = x0 + notch, x1 - notch
    elif board.shape == "tag":
        x0 += 16
    elif board.shape == "sign":
        x0, y0, x1, y1 = x0 + 6, y0 + 4, x1 - 6, y1 - 4
    if board.logo:
        x0 += 2 * ((y1 - y0) // 5) + 8
    return x0, y0, x1, y1


def fits(board: Board) -> bool:
    x0, y0, x1, y1 = inner_rect(board)
    return _fit(board.lines, board.font, x1 - x0, y1 - y0) is not None


def _draw_board(draw: ImageDraw.ImageDraw, board: Board, ink: RGB) -> None:
    """The board's shape (and its logo: a ring left of the text)."""
    x0, y0, x1, y1 = board.rect
    fill, edge = COLORS[board.color], shade(COLORS[board.color], 0.55)
    if board.shape == "badge":
        draw.ellipse(board.rect, fill=fill, outline=edge, width=3)
    elif board.shape == "banner":
        notch, mid = (y1 - y0) // 3, (y0 + y1) // 2
        draw.polygon([(x0, y0), (x1, y0), (x1 - notch, mid), (x1, y1), (x0, y1), (x0 + notch, mid)], fill=fill)
    elif board.shape == "tag":
        draw.rounded_rectangle(board.rect, radius=6, fill=fill, outline=edge, width=2)
        draw.ellipse((x0 + 5, (y0 + y1) // 2 - 4, x0 + 13, (y0 + y1) // 2 + 4), fill=board.background[0])
    elif board.shape == "sign":
        post = (x0 + x1) // 2
        draw.rectangle((post - 4, y1, post + 4, SIZE), fill=(110, 110, 116))
        draw.rectangle(board.rect, fill=fill, outline=(240, 240, 240), width=3)
    else:
        draw.rounded_rectangle(board.rect, radius=12, fill=fill, outline=edge, width=3)
    if board.logo:
        tx0, ty0, _, ty1 = inner_rect(board)
        r = (ty1 - ty0) // 5
        left = tx0 - 2 * r - 4
        draw.ellipse((left, (ty0 + ty1) // 2 - r, left + 2 * r, (ty0 + ty1) // 2 + r), outline=ink, width=2)


def _fit(lines: tuple[str, ...], font: str, width: int, height: int) -> int | None:
    """The largest font size at which ``lines`` fit ``width`` x ``height`` (None: none from MIN_FONT)."""
    for size in range(min(40, height), MIN_FONT - 1, -1):
        f = load_font(font, size)
        tall = sum(f.getbbox(line)[3] - f.getbbox(line)[1] for line in lines) + size * 0.35 * (len(lines) - 1)
        if tall <= height * 0.86 and max(f.getlength(line) for line in lines) <= width * 0.9:
            return size
    return None


def render(board: Board) -> Image.Image:
    """Draw one picture (deterministic for the same board and installed fonts)."""
    image = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(image)
    _draw_background(draw, board)
    ink = max(INKS, key=lambda c: contrast(c, COLORS[board.color]))
    _draw_board(draw, board, ink)
    x0, y0, x1, y1 = inner_rect(board)
    size = _fit(board.lines, board.font, x1 - x0, y1 - y0)
    if size is None:
        raise HopidError(f"held-out style: {' / '.join(board.lines)!r} does not fit its board")
    f = load_font(board.font, size)
    heights = [f.getbbox(line)[3] - f.getbbox(line)[1] for line in board.lines]
    gap = size * 0.35
    top = (y0 + y1) / 2 - (sum(heights) + gap * (len(heights) - 1)) / 2
    for line, tall in zip(board.lines, heights, strict=True):
        width = f.getlength(line)
        x = x0 + (x1 - x0) * 0.05 if board.align == "left" else (x0 + x1 - width) / 2
        draw.text((x, top - f.getbbox(line)[1]), line, font=f, fill=ink)
        top += tall + gap
    return image


def write_style_folder(out: str | Path, style: str, *, seed: int | None = None, groups: int = GROUPS) -> Path:
    """Render the held-out set of ``style`` (``brands`` or ``signs``) into ``out``: ``images/``,
    ``captions.csv`` (``image``, ``caption``) and ``words.csv`` (``image``, ``group``, ``text``).
    Returns the captions CSV. Raises :class:`HopidError` if a written word is not of the style's
    own vocabulary (training's, the other sets')."""
    if style not in PLANS:
        raise HopidError(f"held-out style {style!r}: choose one of {', '.join(PLANS)}")
    pictures = PLANS[style](STYLE_SEEDS[style] if seed is None else seed, groups)
    foreign = foreign_tokens([w for p in pictures for w in p.board.words], STYLE_VOCABULARY[style])
    if foreign:
        raise HopidError(f"held-out style {style}: words outside its vocabulary: {', '.join(foreign[:10])}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    captions, words = [], []
    for index, picture in enumerate(pictures):
        rel = f"images/{style}-{index:04d}.png"
        render(picture.board).save(out / rel, format="PNG")
        captions += [{"image": rel, "caption": text} for text in picture.captions]
        words.append({"image": rel, "group": picture.group, "text": " / ".join(picture.board.lines)})
    for name, rows in (("words.csv", words), ("captions.csv", captions)):
        with open(out / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return out / "captions.csv"


def brands_folder(out: str | Path) -> Path:
    """Style A into ``out`` (for :func:`hopid.synthetic.heldout.prepare_heldout`)."""
    return write_style_folder(out, "brands")


def signs_folder(out: str | Path) -> Path:
    """Style B into ``out`` (for :func:`hopid.synthetic.heldout.prepare_heldout`)."""
    return write_style_folder(out, "signs")
