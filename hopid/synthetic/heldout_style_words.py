"""The words of the held-out styles (:mod:`hopid.synthetic.heldout_styles`): two vocabularies that
share no token with training, with the first held-out vocabulary
(:mod:`hopid.synthetic.heldout_words`) or with each other, for any seed.

Disjointness holds by construction, letter by letter (tokens compared folded, as
:func:`~hopid.entities.text.fold` does), and is re-checked as words are drawn:

- training names use only the letters of ``ONSETS``/``VOWELS``/``CODAS`` (no ``c h i j l q w``,
  ``h`` only in ``zh``, never two vowels in a row); the first held-out names always hold one of
  ``c j q w``;
- **brand** names (style A) always hold ``l`` or ``i`` and never ``c h j q w``: long invented
  brands such as ``Stuzugrol`` or ``Toraitroul``;
- **sign** names (style B) always hold an ``h`` outside ``zh`` (``th``, ``sh``, ``ph``, ...)
  and never ``c i j l q w``; sign codes are two letters then four digits (``KP4821``: training
  codes end in two or three digits, held-out ones in two letters) and sign numbers have six
  digits (training at most four, the first held-out set five).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from hopid.entities.text import STOPWORDS, fold
from hopid.synthetic.heldout_words import MARKER_LETTERS, heldout_phrase_words
from hopid.synthetic.words import VOWELS, training_can_emit

BRAND_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
BRAND_ONSETS += ("bl", "fl", "gl", "gr", "pl", "sl", "st", "tr", "dr", "br", "kl", "vl")
BRAND_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ei", "io", "au")
BRAND_CODAS = ("", "", "l", "n", "r", "s", "x", "t", "nd", "rt")
BRAND_MARKERS = frozenset("il")
BRAND_CONSONANTS = "bdfgklmnprstvxz"
BRAND_VOWEL_LETTERS = "aeiou"

SIGN_MARKER_ONSETS = ("h", "th", "sh", "ph", "gh", "kh")
SIGN_ONSETS = ("b", "d", "f", "g", "k", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "tr", "st")
SIGN_CODAS = ("", "", "n", "r", "s", "sh", "th", "m")
SIGN_CONSONANTS = "bdfgkmnprstvz"
SIGN_CODE_LETTERS = "ABDEFGHKMNPRSTUVXYZ"  # none of the first held-out markers c j q w
SIGN_DIGITS = 4  # in a sign code, after two letters
SIGN_NUMBER_RANGE = (100_000, 1_000_000)  # six digits

FORBIDDEN_BRAND = frozenset("chjqw")
FORBIDDEN_SIGN = frozenset("cijlqw")


def _free(word: str) -> bool:
    """Not a training token, a stop-word or a token of the first held-out set's shapes."""
    return not training_can_emit(word) and fold(word) not in STOPWORDS and not _heldout_token(fold(word))


def is_brand(word: str) -> bool:
    """Whether ``word`` (folded) has the letters of a style-A brand name."""
    key = fold(word)
    return key.isalpha() and bool(BRAND_MARKERS & set(key)) and not FORBIDDEN_BRAND & set(key)


def is_sign_name(word: str) -> bool:
    """Whether ``word`` (folded) has the letters of a style-B sign name."""
    key = fold(word)
    return key.isalpha() and "h" in key.replace("zh", "") and not FORBIDDEN_SIGN & set(key)


def make_brand(rng: random.Random) -> str:
    """A long invented brand in lower case with an ``i`` or ``l``, e.g. ``stuzugrol``."""
    while True:
        count = rng.choice((3, 3, 4))
        word = "".join(rng.choice(BRAND_ONSETS) + rng.choice(BRAND_VOWELS) for _ in range(count))
        word += rng.choice(BRAND_CODAS)
        if 7 <= len(word) <= 11 and is_brand(word) and _free(word):
            return word


def _substitute(word: str, at: int, rng: random.Random, consonants: str, vowels: str) -> str:
    letters = vowels if word[at] in vowels else consonants
    choice = rng.choice([c for c in letters if c != word[at]])
    return word[:at] + choice + word[at + 1 :]


def look_alike(word: str, edits: int, rng: random.Random, *, brand: bool = True) -> str:
    """``word`` with ``edits`` letters swapped for others of their kind (vowel for vowel,
    consonant for consonant), keeping it inside its style's vocabulary."""
    consonants = BRAND_CONSONANTS if brand else SIGN_CONSONANTS
    vowels = BRAND_VOWEL_LETTERS if brand else "aeouy"
    check = is_brand if brand else is_sign_name
    for _ in range(200):
        out = word
        for at in rng.sample(range(len(word)), edits):
            if out[at] in consonants + vowels:
                out = _substitute(out, at, rng, consonants, vowels)
        if out != word and check(out) and _free(out):
            return out
    raise ValueError(f"no look-alike of {word!r}")  # cannot happen for the names drawn here


def make_sign_name(rng: random.Random) -> str:
    """An invented sign word in lower case with an ``h`` onset, e.g. ``thavo`` or ``bresham``."""
    while True:
        count = rng.choice((2, 2, 3))
        marked = rng.randrange(count)
        onsets = [rng.choice(SIGN_MARKER_ONSETS if i == marked else SIGN_ONSETS) for i in range(count)]
        word = "".join(onset + rng.choice(VOWELS) for onset in onsets) + rng.choice(SIGN_CODAS)
        if 5 <= len(word) <= 9 and is_sign_name(word) and _free(word):
            return word


def make_sign_code(rng: random.Random) -> str:
    """Two letters then four digits, e.g. ``KP4821``."""
    letters = "".join(rng.choice(SIGN_CODE_LETTERS) for _ in range(2))
    return letters + str(rng.randrange(10 ** (SIGN_DIGITS - 1), 10**SIGN_DIGITS))


def make_sign_number(rng: random.Random) -> str:
    """A six-digit number, e.g. ``482913``."""
    return str(rng.randrange(*SIGN_NUMBER_RANGE))


def change_digits(text: str, edits: int, rng: random.Random) -> str:
    """``text`` with ``edits`` of its digits changed (never a leading digit to 0)."""
    spots = [i for i, ch in enumerate(text) if ch.isdigit()]
    out = list(text)
    for at in rng.sample(spots, edits):
        low = 1 if at == spots[0] else 0
        out[at] = rng.choice([str(d) for d in range(low, 10) if str(d) != text[at]])
    return "".join(out)


def _heldout_token(key: str) -> bool:
    """Whether a folded token is of the first held-out vocabulary's shapes: a marker name, a
    fixed phrase word, a five-digit number, a code like ``318kx`` or a counted ``7b``."""
    fixed = {fold(w) for w in heldout_phrase_words()}
    shapes = (r"[0-9]{5}", r"[0-9]{3}[a-z]{2}", r"[0-9]{1,2}[a-z]")
    return bool(MARKER_LETTERS & set(key)) or key in fixed or any(re.fullmatch(p, key) for p in shapes)


def style_of(token: str) -> str | None:
    """Which vocabulary a written token belongs to: ``training``, ``heldout`` (the first held-out
    set), ``brand`` (style A), ``sign`` (style B: names, codes, six-digit numbers) or None."""
    key = fold(token)
    if training_can_emit(token):
        return "training"
    if _heldout_token(key):
        return "heldout"
    if is_brand(key):
        return "brand"
    if is_sign_name(key) or re.fullmatch(rf"[0-9]{{6}}|[a-z]{{2}}[0-9]{{{SIGN_DIGITS}}}", key):
        return "sign"
    return None


def foreign_tokens(tokens: Iterable[str], style: str) -> list[str]:
    """The ``tokens`` that are not of ``style`` (folded, without repeats): training words,
    the other styles' words, or words of no known style."""
    return list(dict.fromkeys(fold(t) for t in tokens if style_of(t) != style))
