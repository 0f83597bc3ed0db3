"""Seeded invented words for the synthetic benchmark: brand names, numbers, short phrases.

Names are built from syllables, so a different seed gives words never seen before; they
are long enough (5+ letters, with at least one rare consonant or cluster) that they are
almost never real dictionary words. Letters OCR engines confuse across case (I/l/1,
O/0) are left out of names so ground truth stays unambiguous.
"""

from __future__ import annotations

import random
from collections.abc import Callable

ONSETS = ("b", "d", "f", "g", "k", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "st", "zh")
VOWELS = ("a", "e", "o", "u", "a", "e", "o", "y")
CODAS = ("", "", "", "x", "n", "r", "s", "k", "m", "z")
RARE = frozenset("kzvxy")

PHRASE_WORDS = {
    "adjective": ("FRESH", "HOT", "BIG", "COLD", "BEST", "NEW", "FREE", "SUPER", "CITY", "DAILY", "FAST", "GREEN"),
    "noun": (
        "BREAD",
        "COFFEE",
        "SALE",
        "PIZZA",
        "BOOKS",
        "TACOS",
        "FRUIT",
        "MUSIC",
        "PARTS",
        "SHOES",
        "TEA",
        "DONUTS",
        "PARK",
        "MARKET",
        "BAKERY",
        "GAMES",
    ),
    "counted": ("OPEN {n}H", "ROOM {n}", "GATE {n}", "DOCK {n}", "UNIT {n}", "ROUTE {n}"),
}

WORD_KINDS = ("name", "number", "phrase")


def make_name(rng: random.Random) -> str:
    """An invented brand-like name in lower case, e.g. ``zorbex`` or ``stadrek``."""
    while True:
        count = rng.choice((2, 2, 3))
        word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(count)) + rng.choice(CODAS)
        if 5 <= len(word) <= 9 and (RARE & set(word) or len(word) >= 7):
            return word


def make_number(rng: random.Random) -> str:
    """A 2-4 digit number without a leading zero, e.g. ``63`` or ``1207``."""
    digits = rng.choice((2, 2, 3, 4))
    return str(rng.randrange(10 ** (digits - 1), 10**digits))


def make_phrase(rng: random.Random) -> str:
    """A short upper-case phrase, e.g. ``FRESH BREAD`` or ``OPEN 24H``."""
    if rng.random() < 0.3:
        return rng.choice(PHRASE_WORDS["counted"]).format(n=rng.randrange(2, 100))
    return f"{rng.choice(PHRASE_WORDS['adjective'])} {rng.choice(PHRASE_WORDS['noun'])}"


WORD_SOURCES: dict[str, Callable[[random.Random], str]] = {
    "name": make_name,
    "number": make_number,
    "phrase": make_phrase,
}


def styled(text: str, kind: str, rng: random.Random) -> str:
    """The text as written on the object: names Title or UPPER, phrases mostly UPPER."""
    if kind == "name":
        return text.upper() if rng.random() < 0.4 else text.title()
    if kind == "phrase":
        return text.title() if rng.random() < 0.25 else text.upper()
    return text


def make_word(rng: random.Random, kind: str = "name") -> str:
    """One word (or short phrase) of ``kind`` in its on-object style."""
    return styled(WORD_SOURCES[kind](rng), kind, rng)


def make_code(rng: random.Random) -> str:
    """A short plate/sticker code for distractor text, e.g. ``KX42`` or ``T318``."""
    letters = "ABCDEFGHJKMNPRSTUVWXYZ"
    return "".join(rng.choice(letters) for _ in range(rng.choice((1, 2)))) + str(rng.randrange(10, 1000))
