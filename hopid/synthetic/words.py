"""Seeded invented words for the synthetic benchmark: brand names, numbers, short phrases.

Names are built from syllables, so a different seed gives words never seen before; they
are long enough (5+ letters, with at least one rare consonant or cluster) that they are
almost never real dictionary words. Letters OCR engines confuse across case (I/l/1,
O/0) are left out of names so ground truth stays unambiguous.

:func:`training_can_emit` describes, from the same constants, every token this vocabulary can
write for any seed; the held-out vocabulary (:mod:`hopid.synthetic.heldout_words`) is
checked against it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from hopid.entities.text import fold
from hopid.synthetic.captions import caption_vocabulary

ONSETS = ("b", "d", "f", "g", "k", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "st", "zh")
VOWELS = ("a", "e", "o", "u", "a", "e", "o", "y")
CODAS = ("", "", "", "x", "n", "r", "s", "k", "m", "z")
RARE = frozenset("kzvxy")
CODE_LETTERS = "ABCDEFGHJKMNPRSTUVWXYZ"
NUMBER_DIGITS = (2, 2, 3, 4)  # a number's digit count is drawn from these
COUNTED = (2, 100)  # the counted phrases' numbers: randrange(*COUNTED)
CODE_NUMBERS = (10, 1000)  # a plate code's number: randrange(*CODE_NUMBERS)

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


LOOKALIKE_VOWELS = "aeouy"
LOOKALIKE_CONSONANTS = "bdfgkmnprstvz"


def look_alike_name(word: str, rng: random.Random) -> str | None:
    """``word`` (a name) with one or two letters swapped for others of their kind, still a name
    this vocabulary can write, in lower case (``zorbex`` -> ``zarbex``); None when no try is."""
    for _ in range(50):
        out = list(word.lower())
        for at in rng.sample(range(len(out)), rng.choice((1, 1, 2))):
            pool = LOOKALIKE_VOWELS if out[at] in LOOKALIKE_VOWELS else LOOKALIKE_CONSONANTS
            if out[at] in pool:
                out[at] = rng.choice([c for c in pool if c != out[at]])
        candidate = "".join(out)
        if candidate != word.lower() and training_can_emit(candidate):
            return candidate
    return None


def make_number(rng: random.Random) -> str:
    """A 2-4 digit number without a leading zero, e.g. ``63`` or ``1207``."""
    digits = rng.choice(NUMBER_DIGITS)
    return str(rng.randrange(10 ** (digits - 1), 10**digits))


def make_phrase(rng: random.Random) -> str:
    """A short upper-case phrase, e.g. ``FRESH BREAD`` or ``OPEN 24H``."""
    if rng.random() < 0.3:
        return rng.choice(PHRASE_WORDS["counted"]).format(n=rng.randrange(*COUNTED))
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
    return "".join(rng.choice(CODE_LETTERS) for _ in range(rng.choice((1, 2)))) + str(rng.randrange(*CODE_NUMBERS))


@dataclass(frozen=True)
class Vocabulary:
    """Where a benchmark's written words come from: a raw-text source per word kind (styled as
    written on the object by :func:`styled`) and a distractor-code source for plates."""

    sources: dict[str, Callable[[random.Random], str]]
    code: Callable[[random.Random], str]

    def word(self, rng: random.Random, kind: str = "name") -> str:
        """One word (or short phrase) of ``kind`` in its on-object style."""
        return styled(self.sources[kind](rng), kind, rng)

    def name(self, rng: random.Random) -> str:
        """A brand name in lower case (the identity benchmark's brands)."""
        return self.sources["name"](rng)


TRAINING_VOCABULARY = Vocabulary(WORD_SOURCES, make_code)


def _digits(low: int, stop: int) -> str:
    """A regex matching the numbers ``low`` to ``stop - 1`` (and a few more: every number with
    as many digits, no leading zero)."""
    shortest, longest = len(str(low)), len(str(stop - 1))
    return f"[1-9][0-9]{{{shortest - 1},{longest - 1}}}"


def _alternatives(parts: Iterable[str]) -> str:
    """A regex group matching any of the (non-empty) ``parts``, longest first."""
    options = sorted({p for p in parts if p}, key=lambda p: (-len(p), p))
    return "(?:" + "|".join(re.escape(p) for p in options) + ")"


@cache
def _training_patterns() -> tuple[re.Pattern[str], ...]:
    """Folded-token patterns covering every scene-text token the training vocabulary can write.

    Built from the generators' own constants, so they follow any change to them: names
    (syllables of ``ONSETS`` + ``VOWELS``, an optional coda), numbers (``NUMBER_DIGITS``), the
    counted phrases' number-bearing tokens ("24", "24H") and the plate codes ("KX42").
    Deliberately a little wider than the generators (any name length, every number with as
    many digits as the generator's range): a superset is what a disjointness check needs.
    """
    syllable = _alternatives(ONSETS) + _alternatives(VOWELS)
    coda = _alternatives(CODAS)
    counted = {
        _digits(*COUNTED).join(re.escape(fold(piece)) for piece in token.split("{n}"))
        for template in PHRASE_WORDS["counted"]
        for token in template.split()
        if "{n}" in token
    }
    numbers = f"[1-9][0-9]{{{min(NUMBER_DIGITS) - 1},{max(NUMBER_DIGITS) - 1}}}"
    letters = _alternatives(CODE_LETTERS.lower())
    return (
        re.compile(f"(?:{syllable})+{coda}?"),
        re.compile(numbers),
        *(re.compile(pattern) for pattern in sorted(counted)),
        re.compile(f"{letters}{{1,2}}{_digits(*CODE_NUMBERS)}"),
    )


@cache
def training_words() -> frozenset[str]:
    """Folded keys of every fixed word a model trained on the benchmark can see: the phrase
    words, the counted phrases' words and every word of the caption templates, object nouns
    and colour names."""
    phrases = [w for group in ("adjective", "noun") for w in PHRASE_WORDS[group]]
    counted = [token for template in PHRASE_WORDS["counted"] for token in template.split() if "{n}" not in token]
    return frozenset(fold(w) for w in [*phrases, *counted, *caption_vocabulary()] if fold(w))


def training_can_emit(token: str) -> bool:
    """Whether the training vocabulary can write ``token`` (compared folded: case and
    punctuation ignored) for any seed, or training captions contain it as a word."""
    key = fold(token)
    return key in training_words() or any(p.fullmatch(key) for p in _training_patterns())
