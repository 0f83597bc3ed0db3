"""The built-in synthetic scene-text benchmark.

Each group (``object_id``) is one drawn scene (object, colour, background, layout) in
``variants`` versions that differ only in the words written on the object, so only the
scene text tells them apart (in the training set, about half of the later variants re-spell
the group's first name by one or two letters: look-alike hard negatives). A few groups carry
no text (one image each); some scenes also carry a small distractor word on a plate that no
caption mentions. Ground-truth OCR gives every rendered word with its exact box. Everything
is seeded: the same seed gives byte-identical images and tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hopid.data.schema import SPLITS, table_path, write_table
from hopid.errors import HopidError
from hopid.progress import Progress
from hopid.synthetic.captions import MORE_TEXT_TEMPLATES, TEXT_TEMPLATES, make_captions
from hopid.synthetic.scenes import (
    BASE,
    MAX_FONT,
    MIN_FONT,
    OBJECTS,
    PLATE_FONT,
    Layout,
    Scene,
    TextFit,
    Word,
    draw_words,
    fit_text,
    plan_scene,
    render_base,
    text_color_for,
)
from hopid.synthetic.words import (
    TRAINING_VOCABULARY,
    WORD_KINDS,
    WORD_SOURCES,
    Vocabulary,
    look_alike_name,
    make_code,
    make_name,
    make_word,
    styled,
)

__all__ = [
    "KIND_WEIGHTS",
    "WORD_KINDS",
    "WORD_SOURCES",
    "TRAINING_VOCABULARY",
    "GENERATOR_VERSION",
    "SyntheticSummary",
    "Vocabulary",
    "generate",
    "make_code",
    "make_name",
    "make_word",
]

ENGINE = "groundtruth"
# the training benchmark's generator: bump when ``generate`` writes other data for the same
# settings, so a cached render (hopid.train.loop.synthetic_cache_dir) is not reused.
# 2: look-alike name variants and MORE_TEXT_TEMPLATES
GENERATOR_VERSION = 2
NO_TEXT_GROUP_RATE = 0.12
LOOKALIKE_RATE = 0.5  # training names: share of a group's later variants that re-spell its first name
PLATE_INK = (24, 24, 28)

KIND_WEIGHTS: dict[str, dict[str, float]] = {
    "truck": {"name": 0.65, "number": 0.15, "phrase": 0.2},
    "bus": {"name": 0.2, "number": 0.6, "phrase": 0.2},
    "storefront": {"name": 0.4, "number": 0.0, "phrase": 0.6},
    "bottle": {"name": 0.8, "number": 0.2, "phrase": 0.0},
    "tshirt": {"name": 0.5, "number": 0.5, "phrase": 0.0},
    "poster": {"name": 0.3, "number": 0.2, "phrase": 0.5},
    "box": {"name": 0.5, "number": 0.2, "phrase": 0.3},
    "flag": {"name": 0.7, "number": 0.3, "phrase": 0.0},
    "train": {"name": 0.6, "number": 0.4, "phrase": 0.0},
    "mug": {"name": 0.6, "number": 0.1, "phrase": 0.3},
}


@dataclass(frozen=True)
class SyntheticSummary:
    """What :func:`generate` wrote."""

    out: Path
    images: int
    captions: int
    ocr_tokens: int
    groups: int
    images_per_split: dict[str, int] = field(default_factory=dict)
    groups_per_split: dict[str, int] = field(default_factory=dict)


def _split_of_groups(groups: int, rng: random.Random) -> list[str]:
    """Roughly 70/15/15 train/val/test by group; every split gets a group when there are 3+."""
    order = list(range(groups))
    rng.shuffle(order)
    small = 1 if groups >= 3 else 0
    n_val = max(small, round(groups * 0.15))
    n_test = max(small, round(groups * 0.15))
    splits = [""] * groups
    for rank, g in enumerate(order):
        splits[g] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return splits


def _objects(groups: int, rng: random.Random) -> list[str]:
    """Object types balanced over groups: each run of 10 groups uses every type once."""
    names = sorted(OBJECTS)
    out: list[str] = []
    while len(out) < groups:
        cycle = names[:]
        rng.shuffle(cycle)
        out.extend(cycle)
    return out[:groups]


def _main_text(
    layout: Layout,
    scene: Scene,
    k: float,
    used: set[str],
    rng: random.Random,
    vocabulary: Vocabulary = TRAINING_VOCABULARY,
) -> tuple[str, str, TextFit]:
    """A fresh (dataset-unique when possible) word of a kind suited to the object, and how it fits."""
    weights = KIND_WEIGHTS[scene.obj]
    kinds = [kind for kind in WORD_KINDS if weights[kind] > 0]
    for attempt in range(200):
        kind = rng.choices(kinds, weights=[weights[kind] for kind in kinds])[0]
        text = vocabulary.word(rng, kind)
        if text.lower() in used and attempt < 150:
            continue
        fit = fit_text(text, layout.panel, MIN_FONT * k, MAX_FONT * k)
        if fit is not None:
            used.add(text.lower())
            return text, kind, fit
    raise HopidError(f"synthetic: no word fits a {scene.obj} at this image size; use a larger image size")


def _look_alike_text(
    first: str | None, layout: Layout, k: float, used: set[str], rng: random.Random
) -> tuple[str, str, TextFit] | None:
    """Sometimes (``LOOKALIKE_RATE``) a re-spelling of the group's first name that differs by one
    or two letters: look-alike hard negatives that only careful spelling tells apart."""
    if first is None or rng.random() >= LOOKALIKE_RATE:
        return None
    raw = look_alike_name(first, rng)
    if raw is None or raw in used:
        return None
    text = styled(raw, "name", rng)
    fit = fit_text(text, layout.panel, MIN_FONT * k, MAX_FONT * k)
    if fit is None:
        return None
    used.add(raw)
    return text, "name", fit


def _plate_text(
    layout: Layout, k: float, rng: random.Random, make: Callable[[random.Random], str] = make_code
) -> tuple[str, TextFit]:
    """A distractor code (from ``make``) that fits the scene's plate."""
    assert layout.plate is not None
    for _ in range(200):
        code = make(rng)
        fit = fit_text(code, layout.plate, min(14.0 * k, PLATE_FONT * k), PLATE_FONT * k)
        if fit is not None:
            return code, fit
    raise HopidError("synthetic: no distractor code fits its plate at this image size; use a larger image size")


def _ocr_rows(image_id: str, words: list[Word], size: int) -> list[dict]:
    rows = []
    for index, word in enumerate(words):
        box = [min(1.0, max(0.0, v / size)) for v in word.quad]
        rows.append(
            {
                "image_id": image_id,
                "token_index": index,
                "text": word.text,
                "confidence": 1.0,
                "box": box,
                "engine": ENGINE,
            }
        )
    return rows


def generate(
    out: Path | str,
    *,
    seed: int = 0,
    groups: int = 60,
    variants: int = 5,
    size: int = 256,
    captions_per_image: int = 5,
    progress: Progress | None = None,
    vocabulary: Vocabulary = TRAINING_VOCABULARY,
) -> SyntheticSummary:
    """Render the benchmark into ``out``: ``images/*.png`` then the images, captions and ocr tables.

    Tables are written only after every image, so a run cut short leaves no tables. The written
    words come from ``vocabulary`` (the held-out sets pass
    :data:`hopid.synthetic.heldout_words.HELDOUT_VOCABULARY`). With the training vocabulary,
    about ``LOOKALIKE_RATE`` of a group's later variants re-spell its first name by one or two
    letters, and captions also use ``MORE_TEXT_TEMPLATES``.
    """
    if groups < 1 or variants < 1 or captions_per_image < 1:
        raise HopidError("synthetic: groups, variants and captions per image must each be at least 1")
    out = start_rendering(out, size)

    rng = random.Random(seed)
    k = size / BASE
    objects = _objects(groups, rng)
    scenes = [plan_scene(rng, obj) for obj in objects]
    no_text_count = round(groups * NO_TEXT_GROUP_RATE) if groups >= 8 else 0
    no_text = set(rng.sample(range(groups), no_text_count))
    splits = _split_of_groups(groups, rng)
    total = sum(1 if g in no_text else variants for g in range(groups))

    image_rows: list[dict] = []
    caption_rows: list[dict] = []
    ocr_rows: list[dict] = []
    used: set[str] = set()
    training = vocabulary is TRAINING_VOCABULARY  # look-alike variants and more wording
    templates = TEXT_TEMPLATES + MORE_TEXT_TEMPLATES if training else TEXT_TEMPLATES
    index = 0
    for g, scene in enumerate(scenes):
        base, layout = render_base(scene, size)
        ink = text_color_for(layout.panel_color, scene.accent)
        object_id = f"syn-g{g:05d}"
        first: str | None = None  # the group's first name, which later variants may re-spell
        for _ in range(1 if g in no_text else variants):
            image_id = f"syn-{index:06d}"
            image = base.copy()
            words: list[Word] = []
            text = kind = None
            if g not in no_text:
                found = _look_alike_text(first, layout, k, used, rng) if training else None
                text, kind, fit = found or _main_text(layout, scene, k, used, rng, vocabulary)
                first = first or (text if kind == "name" else None)
                words += draw_words(image, layout.panel, fit, ink)
            if layout.plate is not None and g not in no_text:
                _, plate_fit = _plate_text(layout, k, rng, vocabulary.code)
                words += draw_words(image, layout.plate, plate_fit, PLATE_INK)
            rel = f"images/{image_id}.png"
            image.save(out / rel, format="PNG")
            image_rows.append(
                {
                    "image_id": image_id,
                    "path": rel,
                    "split": splits[g],
                    "width": size,
                    "height": size,
                    "object_id": object_id,
                }
            )
            texts = make_captions(
                scene.obj, scene.color, scene.bg_color, text, kind, rng, captions_per_image, text_templates=templates
            )
            caption_rows += [
                {
                    "caption_id": f"{image_id}-c{i}",
                    "image_id": image_id,
                    "text": t,
                    "split": splits[g],
                    "explanation": None,
                }
                for i, t in enumerate(texts)
            ]
            ocr_rows += _ocr_rows(image_id, words, size)
            index += 1
            if progress is not None:
                progress("render", index, total)

    return write_tables(out, image_rows, caption_rows, ocr_rows, splits)


def start_rendering(out: Path | str, size: int) -> Path:
    """Check the image size and clear ``out`` of earlier tables (a run cut short must not leave
    old tables behind); returns ``out`` with its ``images/`` folder made."""
    if size < 128:
        raise HopidError(f"synthetic: image size {size} is too small for legible text; use 128 or more")
    out = Path(out)
    for name in ("images", "captions", "ocr"):
        table_path(out, name).unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    return out


def write_tables(
    out: Path, image_rows: list[dict], caption_rows: list[dict], ocr_rows: list[dict], splits: list[str]
) -> SyntheticSummary:
    """Write the rendered rows, sorted, images last (its presence marks a complete run);
    ``splits`` is the split of each group."""
    image_rows.sort(key=lambda r: r["image_id"])
    caption_rows.sort(key=lambda r: r["caption_id"])
    ocr_rows.sort(key=lambda r: (r["image_id"], r["token_index"]))
    write_table(caption_rows, table_path(out, "captions"), "captions")
    write_table(ocr_rows, table_path(out, "ocr"), "ocr")
    write_table(image_rows, table_path(out, "images"), "images")
    return SyntheticSummary(
        out=out,
        images=len(image_rows),
        captions=len(caption_rows),
        ocr_tokens=len(ocr_rows),
        groups=len(splits),
        images_per_split={s: sum(r["split"] == s for r in image_rows) for s in SPLITS},
        groups_per_split={s: splits.count(s) for s in SPLITS},
    )
