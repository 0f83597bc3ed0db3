"""The held-out vocabulary: invented words, phrases, numbers and codes that the training
vocabulary (:mod:`hopid.synthetic.words`) can never write, for any seed.

Disjointness holds by construction, token by token (OCR tokens are the written words split
at spaces); names are re-checked against :func:`~hopid.synthetic.words.training_can_emit`
as they are drawn, and the writers of :mod:`hopid.synthetic.heldout` check every written
word with :func:`check_heldout`:

- names contain ``c``, ``j``, ``q`` or ``w`` (each has a syllable opening with one of
  ``MARKER_ONSETS``), letters no training name is built from;
- numbers have five digits, training numbers at most four;
- phrases use their own adjectives and nouns, and counted phrases end in a number followed by
  a letter other than H ("PIER 7B"); training writes "OPEN 24H" and never a digit-first
  token with another letter;
- plate codes are three digits then two letters ("318KX"); training codes start with a letter.

Names also avoid stop-words and every caption word, so a held-out word is never read as
ordinary caption vocabulary.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from hopid.entities.text import STOPWORDS, fold
from hopid.errors import HopidError
from hopid.synthetic.words import CODAS, CODE_LETTERS, ONSETS, VOWELS, Vocabulary, training_can_emit

MARKER_ONSETS = ("c", "ch", "cr", "j", "qu", "w", "sw", "tw", "kw")
MARKER_LETTERS = frozenset("cjqw")
NUMBER_RANGE = (10_000, 100_000)  # five digits
COUNTED_SUFFIXES = "ABCDEFG"
PHRASE_WORDS = {
    "adjective": ("WARM", "CRISP", "JUMBO", "LUCKY", "ROYAL", "SWEET", "TINY", "QUICK", "WILD", "SMART", "HAPPY"),
    "noun": (
        "SOUP",
        "JUICE",
        "CANDY",
        "TOYS",
        "WAFFLES",
        "LAMPS",
        "HATS",
        "SOCKS",
        "NOODLES",
        "BAGELS",
        "PIES",
        "TICKETS",
        "BIKES",
        "KEYS",
        "CHEESE",
        "JEANS",
    ),
    "counted": ("PIER {n}", "LANE {n}", "BAY {n}", "TRACK {n}", "HALL {n}", "LEVEL {n}"),
}


def _fresh(text: str) -> bool:
    """Whether every word of ``text`` is outside the training vocabulary."""
    return not any(training_can_emit(word) for word in text.split())


def make_heldout_name(rng: random.Random) -> str:
    """An invented name in lower case with at least one marker letter, e.g. ``quzobe``."""
    while True:
        count = rng.choice((2, 2, 3))
        marked = rng.randrange(count)
        onsets = [rng.choice(MARKER_ONSETS if i == marked else ONSETS + MARKER_ONSETS) for i in range(count)]
        word = "".join(onset + rng.choice(VOWELS) for onset in onsets) + rng.choice(CODAS)
        if 5 <= len(word) <= 9 and word not in STOPWORDS and _fresh(word):
            return word


def make_heldout_number(rng: random.Random) -> str:
    """A five-digit number, e.g. ``40517``."""
    return str(rng.randrange(*NUMBER_RANGE))


def make_heldout_phrase(rng: random.Random) -> str:
    """A short upper-case phrase of held-out words, e.g. ``WARM SOUP`` or ``PIER 7B``."""
    if rng.random() < 0.3:
        number = f"{rng.randrange(1, 100)}{rng.choice(COUNTED_SUFFIXES)}"
        return rng.choice(PHRASE_WORDS["counted"]).format(n=number)
    return f"{rng.choice(PHRASE_WORDS['adjective'])} {rng.choice(PHRASE_WORDS['noun'])}"


def make_heldout_code(rng: random.Random) -> str:
    """A plate code: three digits then two letters, e.g. ``318KX``."""
    return str(rng.randrange(100, 1000)) + "".join(rng.choice(CODE_LETTERS) for _ in range(2))


HELDOUT_VOCABULARY = Vocabulary(
    {"name": make_heldout_name, "number": make_heldout_number, "phrase": make_heldout_phrase},
    make_heldout_code,
)


def heldout_phrase_words() -> list[str]:
    """Every fixed word of the held-out phrases (the counted phrases without their numbers)."""
    counted = [w for template in PHRASE_WORDS["counted"] for w in template.split() if "{n}" not in w]
    return [*PHRASE_WORDS["adjective"], *PHRASE_WORDS["noun"], *counted]


def seen_in_training(tokens: Iterable[str]) -> list[str]:
    """The ``tokens`` the training vocabulary can write (folded, in order, without repeats)."""
    return list(dict.fromkeys(fold(t) for t in tokens if training_can_emit(t)))


def check_heldout(tokens: Iterable[str]) -> None:
    """Raise :class:`HopidError` when any of ``tokens`` could have been written in training."""
    leaked = seen_in_training(tokens)
    if leaked:
        raise HopidError(f"held-out words the training vocabulary can write: {', '.join(leaked[:10])}")
