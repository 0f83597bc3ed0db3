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

import random
from collections.abc import Callable
from pathlib import Path

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


def explanation(brand: str, kind: str) -> str:
    """The templated explanation of one identity."""
    places = [_plural(OBJECT_NOUNS[obj][0]) for obj in BRAND_KINDS[kind]]
    return f"{brand} is a {kind}; its name appears on {', '.join(places[:-1])} and {places[-1]}."


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
) -> SyntheticSummary:
    """Render ``identities`` brands x ``views`` images into ``out`` (tables written last, as in
    :func:`hopid.synthetic.generate`); ``unnamed_rate`` of the captions name no brand.
    Brand names and plate codes come from ``vocabulary``."""
    if identities < 1 or views < 1 or captions_per_image < 1:
        raise HopidError("synthetic identities: identities, views and captions per image must each be at least 1")
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
        for view in range(views):
            image_id = f"{object_id}-v{view}"
            words, scene = _render_view(
                out / "images" / f"{image_id}.png", brand, objects, view, size, k, rng, vocabulary.code
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
                    "explanation": explanation(brand, kind),
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
):
    """Draw ``brand`` on the first of the identity's objects (from this view's turn on) it fits,
    with a ``make_code`` distractor on its plate if it has one."""
    for turn in range(len(objects)):
        scene = plan_scene(rng, objects[(view + turn) % len(objects)])
        image, layout = render_base(scene, size)
        fit = fit_text(brand, layout.panel, MIN_FONT * k, MAX_FONT * k)
        if fit is None:
            continue
        words: list[Word] = draw_words(image, layout.panel, fit, ink_for(layout.panel_color, scene.accent))
        if layout.plate is not None:
            _, plate_fit = _plate_text(layout, k, rng, make_code)
            words += draw_words(image, layout.plate, plate_fit, PLATE_INK)
        image.save(path, format="PNG")
        return words, scene
    raise HopidError(f"synthetic: the brand {brand!r} fits none of its objects at this image size; use a larger size")
