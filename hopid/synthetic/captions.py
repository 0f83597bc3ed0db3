"""Caption templates for synthetic scenes: object, colour and (usually) the written words."""

from __future__ import annotations

import random
import re

OBJECT_NOUNS: dict[str, tuple[str, ...]] = {
    "truck": ("truck", "delivery truck", "lorry"),
    "bus": ("bus", "city bus"),
    "storefront": ("shop sign", "storefront", "shop front"),
    "bottle": ("bottle", "glass bottle"),
    "tshirt": ("t-shirt", "shirt", "jersey"),
    "poster": ("poster", "wall poster"),
    "box": ("box", "parcel", "cardboard box"),
    "flag": ("flag", "banner"),
    "train": ("train", "train carriage"),
    "mug": ("mug", "coffee mug", "cup"),
}

SIDED = frozenset({"truck", "bus", "train", "box", "mug", "bottle"})

TEXT_TEMPLATES = (
    '{a_color} {obj} with "{text}" written on it',
    "{color} {obj} that says {lower}",
    "a photo of {a_color} {obj} labelled {text}",
    "{a_color} {obj} reading {text}",
    "the word {text} on {a_color} {obj}",
    "{text} written on {a_color} {obj}",
    '{a_color} {obj} showing the text "{text}"',
    "{a_obj} in {color} with {text} printed on it",
    "{a_color} {obj} with the text {text} on {a_bg} background",
    "{text}: {a_color} {obj}",
    "{A_color} {obj} with {lower} on it",
)
# more wording for the training set only (``generate`` with the training vocabulary): a tagger
# trained on varied wording finds entity words in unfamiliar captions (docs/unseen-words.md);
# the held-out sets and the identity benchmark keep TEXT_TEMPLATES alone
MORE_TEXT_TEMPLATES = (
    "{a_color} {obj} from {text}",
    "{text} {obj} in {color}",
    "{a_color} {obj}, {text}",
    "{a_obj} of {text}, painted {color}",
    "{a_color} {obj} with the name {text}",
    "{a_color} {obj} bearing {text}",
    "{text} in big letters on {a_color} {obj}",
)
SIDE_TEMPLATES = ('{a_color} {obj} with "{text}" written on its side', "{text} on the side of {a_color} {obj}")
NUMBER_TEMPLATES = (
    "The {obj} number {text} is {color}",
    "{a_color} {obj} with the number {text}",
    "{color} {obj} number {text}",
    "number {text} on {a_color} {obj}",
)
PLAIN_TEMPLATES = (
    "{a_color} {obj}",
    "a photo of {a_color} {obj} on {a_bg} background",
    "{a_obj} painted {color}",
    "a simple drawing of {a_color} {obj}",
    "there is {a_color} {obj} in the picture",
    "{A_color} {obj} against {a_bg} backdrop",
)


def caption_vocabulary() -> frozenset[str]:
    """Every word (lower case) the captions can hold besides the scene text: the templates'
    words, the object nouns (whole and split at hyphens), colour and background names."""
    from hopid.synthetic.scenes import BACKGROUND_COLORS, COLORS

    templates = TEXT_TEMPLATES + MORE_TEXT_TEMPLATES + SIDE_TEMPLATES + NUMBER_TEMPLATES + PLAIN_TEMPLATES
    text = " ".join(re.sub(r"\{[^}]*\}", " ", template) for template in templates)
    nouns = [noun for names in OBJECT_NOUNS.values() for noun in names]
    pieces = " ".join([text, *nouns, *COLORS, *BACKGROUND_COLORS]).lower()
    return frozenset(re.findall(r"[a-z0-9]+", pieces)) | frozenset(n.replace("-", "") for n in nouns if "-" in n)


def article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _render_text(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return text
    if roll < 0.75:
        return text.lower()
    return text.title() if roll < 0.9 else text.upper()


def make_captions(
    obj: str,
    color: str,
    background: str,
    text: str | None,
    kind: str | None,
    rng: random.Random,
    count: int = 5,
    no_text_rate: float = 0.1,
    text_templates: tuple[str, ...] = TEXT_TEMPLATES,
) -> list[str]:
    """``count`` distinct captions; with ``text`` most mention it (in ``text_templates`` and the
    side and number templates), about ``no_text_rate`` do not."""
    text_pool = list(text_templates) + (list(SIDE_TEMPLATES) if obj in SIDED else [])
    if kind == "number":
        text_pool += list(NUMBER_TEMPLATES) * 2
    plain_pool = list(PLAIN_TEMPLATES)
    captions: list[str] = []
    tries = 0
    while len(captions) < count:
        tries += 1
        plain = text is None or rng.random() < no_text_rate
        pool = plain_pool if plain else text_pool
        template = (
            pool.pop(rng.randrange(len(pool))) if pool else rng.choice(PLAIN_TEMPLATES if plain else text_templates)
        )
        noun = rng.choice(OBJECT_NOUNS[obj])
        shown = _render_text(text, rng) if text is not None else ""
        a_color = article(color)
        caption = template.format(
            obj=noun,
            color=color,
            a_color=a_color,
            A_color=a_color[0].upper() + a_color[1:],
            a_obj=article(noun),
            a_bg=article(background),
            text=shown,
            lower=shown.lower(),
        )
        caption = caption[0].upper() + caption[1:] if rng.random() < 0.3 else caption
        if caption not in captions or tries > 50:
            captions.append(caption)
    return captions
