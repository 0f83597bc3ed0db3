"""The synthetic identity benchmark: one brand (``object_id``) seen on several objects.

Each identity is an invented brand of some kind (a coffee brand, a transport company, ...).
Its ``views`` images show the brand written on different objects the kind goes with, in
different colours, backgrounds and layouts, so only the written name ties the views
together; a share of the captions names no brand at all. Every caption of an identity
carries the same templated ``explanation`` (what kind of brand it is and where it appears),
the offline text EntityCLIP learns from. Rank-1, mAP and mINP of the identity protocol
measure MMRef and EntityCLIP on this machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw

from hopid.errors import HopidError
from hopid.progress import Progress
from hopid.synthetic import (
    PLATE_INK,
    SyntheticSummary,
    _ocr_rows,
    _plate_text,
    _split_of_groups,
    start_rendering,
    write_tables,
)
from hopid.synthetic.captions import OBJECT_NOUNS, make_captions
from hopid.synthetic.scenes import BASE, MAX_FONT, MIN_FONT, Word, draw_words, fit_text, plan_scene, render_base
from hopid.synthetic.scenes import text_color_for as ink_for
from hopid.synthetic.words import TRAINING_VOCABULARY, Vocabulary

BRAND_KINDS: dict[str, tuple[str, ...]] = {
    "coffee brand": ("mug", "bottle", "storefront", "box"),
    "transport company": ("bus", "truck", "train", "flag"),
    "sportswear label": ("tshirt", "flag", "poster", "box"),
    "music festival": ("poster", "tshirt", "flag", "mug"),
    "soft drink": ("bottle", "truck", "poster", "storefront"),
}


LOGO_SHAPES = ("circle", "square", "triangle", "star", "diamond", "cross")
LOGO_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (214, 40, 40),
    "green": (36, 160, 70),
    "blue": (36, 90, 210),
    "orange": (245, 140, 20),
    "purple": (128, 50, 170),
    "yellow": (245, 215, 30),
}
LOGO_SIZE = 0.2  # the badge's side, as a share of the image side
EXPLANATIONS = ("knowledge", "template")


@dataclass(frozen=True)
class BrandFacts:
    """What pictures of a brand show besides its name, and no caption says: the logo (every
    view) and, where the benchmark has slogans, the slogan (under the name, or alone without it)."""

    logo_shape: str
    logo_color: str
    slogan: str | None = None


def brand_facts(seed: int, identity: int) -> BrandFacts:
    """The brand's logo, from its own random stream (names and scenes do not move)."""
    rng = random.Random(f"brand-facts:{seed}:{identity}")
    return BrandFacts(rng.choice(LOGO_SHAPES), rng.choice(sorted(LOGO_COLORS)))


def brand_slogan(seed: int, identity: int, brand: str, vocabulary: Vocabulary) -> str:
    """A one-word slogan, an invented word of ``vocabulary`` other than the brand's name, from its
    own random stream (one word fits under the name on most objects; two seldom do)."""
    rng = random.Random(f"brand-slogan:{seed}:{identity}")
    while (word := vocabulary.name(rng)).lower() == brand.lower():
        pass
    return word


def explanation(brand: str, kind: str, facts: BrandFacts | None = None) -> str:
    """The identity's explanation: its visible facts (``facts`` given) or the template."""
    if facts is not None:
        slogan = f'; its slogan is "{facts.slogan}"' if facts.slogan else ""
        return (
            f"{brand} is a {kind}; its logo is a {facts.logo_color} {facts.logo_shape} badge "
            f"printed in a corner of everything it brands{slogan}."
        )
    places = [_plural(OBJECT_NOUNS[obj][0]) for obj in BRAND_KINDS[kind]]
    return f"{brand} is a {kind}; its name appears on {', '.join(places[:-1])} and {places[-1]}."


def names_brand(caption: str, brand: str) -> bool:
    return brand.lower() in caption.lower()


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch")) else "s")


def generate_identities(
    out: Path | str,
    *,
    seed: int = 0,
    identities: int = 40,
    views: int = 4,
    size: int = 256,
    captions_per_image: int = 3,
    unnamed_rate: float = 0.2,
    progress: Progress | None = None,
    vocabulary: Vocabulary = TRAINING_VOCABULARY,
    explanations: str = "knowledge",
    logo_only_views: int = 0,
    slogans: bool = False,
) -> SyntheticSummary:
    """Render ``identities`` brands x ``views`` images into ``out`` (tables written last, as in
    :func:`hopid.synthetic.generate`); ``unnamed_rate`` of the captions name no brand.
    Brand names and plate codes come from ``vocabulary``; ``explanations`` is ``knowledge`` or
    ``template`` (the images are the same either way). In ``logo_only_views`` views of each
    identity (drawn from their own random stream) the brand's name is not written: its panel
    stays blank, the logo (and any plate code) is drawn as always, and the captions are the same
    as they would be (they may name the brand: a person knows it by its logo). With 0 (the
    default) every view is exactly what it was before the option existed. With ``slogans`` each
    brand also gets a slogan (:func:`brand_slogan`), stated by the knowledge explanations and
    written on the panel: under the name where it fits, alone in the views without the name.
    The scenes and captions do not move."""
    if identities < 1 or views < 1 or captions_per_image < 1:
        raise HopidError("synthetic identities: identities, views and captions per image must each be at least 1")
    if explanations not in EXPLANATIONS:
        raise HopidError(f"synthetic identities: explanations {explanations!r} is not one of {', '.join(EXPLANATIONS)}")
    if not isinstance(slogans, bool):
        raise HopidError(f"synthetic identities: slogans must be true or false, not {slogans!r}")
    if not 0 <= logo_only_views <= views:
        raise HopidError(f"synthetic identities: logo_only_views {logo_only_views} is not from 0 to views ({views})")
    out = start_rendering(out, size)
    rng = random.Random(f"identities:{seed}")
    k = size / BASE
    splits = _split_of_groups(identities, rng)
    kinds = sorted(BRAND_KINDS)
    used: set[str] = set()
    image_rows: list[dict] = []
    caption_rows: list[dict] = []
    ocr_rows: list[dict] = []
    for identity in range(identities):
        kind = kinds[identity % len(kinds)]
        brand = vocabulary.name(rng)
        while brand.lower() in used:
            brand = vocabulary.name(rng)
        used.add(brand.lower())
        objects = list(BRAND_KINDS[kind])
        rng.shuffle(objects)
        object_id = f"brand-{identity:04d}"
        facts = brand_facts(seed, identity)
        if slogans:
            facts = replace(facts, slogan=brand_slogan(seed, identity, brand, vocabulary))
        explained = explanation(brand, kind, facts if explanations == "knowledge" else None)
        unnamed = logo_only(seed, identity, views, logo_only_views)
        for view in range(views):
            image_id = f"{object_id}-v{view}"
            words, scene = _render_view(
                out / "images" / f"{image_id}.png",
                brand,
                objects,
                view,
                size,
                k,
                rng,
                vocabulary.code,
                facts,
                write_name=view not in unnamed,
            )
            image_rows.append(
                {
                    "image_id": image_id,
                    "path": f"images/{image_id}.png",
                    "split": splits[identity],
                    "width": size,
                    "height": size,
                    "object_id": object_id,
                }
            )
            texts = make_captions(
                scene.obj, scene.color, scene.bg_color, brand, "name", rng, captions_per_image, unnamed_rate
            )
            caption_rows += [
                {
                    "caption_id": f"{image_id}-c{i}",
                    "image_id": image_id,
                    "text": text,
                    "split": splits[identity],
                    "explanation": explained if names_brand(text, brand) else None,
                }
                for i, text in enumerate(texts)
            ]
            ocr_rows += _ocr_rows(image_id, words, size)
            if progress is not None:
                progress("render", len(image_rows), identities * views)
    return write_tables(out, image_rows, caption_rows, ocr_rows, splits)


def _render_view(
    path: Path,
    brand: str,
    objects: list[str],
    view: int,
    size: int,
    k: float,
    rng: random.Random,
    make_code: Callable[[random.Random], str],
    facts: BrandFacts,
    *,
    write_name: bool = True,
):
    """Draw ``brand`` on the first of the identity's objects (from this view's turn on) it fits,
    with its slogan under it if the brand has one and it fits too, a ``make_code`` distractor on
    its plate if it has one, and the brand's logo. Without ``write_name`` the scene is chosen the
    same way (the same random draws) but the panel shows the slogan alone or, without one,
    stays blank."""
    for turn in range(len(objects)):
        scene = plan_scene(rng, objects[(view + turn) % len(objects)])
        image, layout = render_base(scene, size)
        fit = fit_text(brand, layout.panel, MIN_FONT * k, MAX_FONT * k)
        if fit is None:
            continue
        ink = ink_for(layout.panel_color, scene.accent)
        shown = _panel_fit(brand if write_name else None, facts.slogan, layout.panel, k)
        shown = shown or (fit if write_name else None)
        words: list[Word] = draw_words(image, layout.panel, shown, ink) if shown is not None else []
        if layout.plate is not None:
            _, plate_fit = _plate_text(layout, k, rng, make_code)
            words += draw_words(image, layout.plate, plate_fit, PLATE_INK)
        draw_logo(image, facts, [layout.panel] + ([layout.plate] if layout.plate is not None else []))
        image.save(path, format="PNG")
        return words, scene
    raise HopidError(f"synthetic: the brand {brand!r} fits none of its objects at this image size; use a larger size")


def _panel_fit(brand: str | None, slogan: str | None, panel, k: float):
    """The fit of the brand with its slogan under it, or of the slogan alone (no ``brand``); None
    when there is no slogan or it does not fit."""
    if not slogan:
        return None
    return fit_text(f"{brand} {slogan}" if brand else slogan, panel, MIN_FONT * k, MAX_FONT * k)


def logo_only(seed: int, identity: int, views: int, count: int) -> frozenset[int]:
    """Which ``count`` of the identity's views show the logo without the name (their own random
    stream: the names and scenes do not move)."""
    if count == 0:
        return frozenset()
    return frozenset(random.Random(f"logo-only:{seed}:{identity}").sample(range(views), count))


def logo_box(size: int, keep_clear: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """The corner square for the logo that overlaps the rectangles in ``keep_clear`` least."""
    side, margin = LOGO_SIZE * size, 0.03 * size
    corners = [
        (margin, margin),
        (size - margin - side, margin),
        (margin, size - margin - side),
        (size - margin - side, size - margin - side),
    ]

    def overlap(x: float, y: float) -> float:
        return sum(
            max(0.0, min(x + side, r[2]) - max(x, r[0])) * max(0.0, min(y + side, r[3]) - max(y, r[1]))
            for r in keep_clear
        )

    x, y = min(corners, key=lambda c: overlap(*c))
    return (x, y, x + side, y + side)


def draw_logo(image: Image.Image, facts: BrandFacts, keep_clear: list[tuple[float, float, float, float]]) -> None:
    """The brand's badge: a white rounded square with its shape in its colour on top."""
    x0, y0, x1, y1 = logo_box(image.width, keep_clear)
    draw = ImageDraw.Draw(image)
    side = x1 - x0
    draw.rounded_rectangle((x0, y0, x1, y1), radius=side / 6, fill=(250, 250, 250), outline=(30, 30, 30), width=2)
    fill = LOGO_COLORS[facts.logo_color]
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, side * 0.36
    if facts.logo_shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif facts.logo_shape == "square":
        draw.rectangle((cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85), fill=fill)
    elif facts.logo_shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    elif facts.logo_shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif facts.logo_shape == "cross":
        t = r * 0.35
        draw.rectangle((cx - t, cy - r, cx + t, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - t, cx + r, cy + t), fill=fill)
    else:  # star
        points = [
            (
                cx + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
                cy - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5),
            )
            for i in range(10)
        ]
        draw.polygon(points, fill=fill)
