"""Word-level text handling shared by entity inference and lexical search.

Words are compared after *folding*: lower case, accents removed, punctuation dropped,
so "HarbourFront", "harbourfront" and "Harbour-Front" are the same key. Fuzzy
similarity tolerates OCR noise ("Reserver" ~ "Reserved") but demands exactness from
short words, where one wrong letter makes another word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Indel

WORD_PATTERN = re.compile(r"[^\W_]+(?:[-'’.&][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a an the and or but if then of on in at to from by for with without into onto over under above
    below near next beside behind is are was were be been being am it its this that these those
    there here their his her he she they them we you i me my our your some any each every all both
    few more most other such no nor not only own same so than too very can will just do does did has
    have had having as up down out off again further once while about against between through during
    before after which who whom what when where why how photo photograph picture image shows showing
    show shown reads reading read says saying say written writing word words text letters letter
    sign labeled labelled label saying that's
    """.split()  # noqa: SIM905 - a word list reads best as text
)


@dataclass(frozen=True)
class Word:
    """A word of a text with its character span and folded key."""

    text: str
    start: int
    end: int
    key: str


def fold(text: str) -> str:
    """Lower case, strip accents and everything that is not a letter or digit."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped.casefold() if ch.isalnum())


def words(text: str) -> list[Word]:
    """Every word of ``text`` (hyphenated and dotted forms stay whole) with its span."""
    found = []
    for match in WORD_PATTERN.finditer(text):
        key = fold(match.group())
        if key:
            found.append(Word(match.group(), match.start(), match.end(), key))
    return found


def content_words(text: str) -> list[Word]:
    """The words of ``text`` that are not stop-words."""
    return [w for w in words(text) if w.key not in STOPWORDS]


def min_similarity(key: str) -> float:
    """The similarity a fuzzy match needs: exact for short keys and for numbers."""
    if len(key) <= 3 or key.rstrip("%").isdigit():
        return 1.0
    if len(key) <= 5:
        return 0.85
    return 0.8


def similarity(a: str, b: str) -> float:
    """Normalised similarity of two folded keys in [0, 1] (1 - normalised indel distance)."""
    return Indel.normalized_similarity(a, b)


def fuzzy_match(a: str, b: str) -> float:
    """The similarity of two folded keys when it passes the threshold of the shorter key, else 0."""
    if a == b:
        return 1.0
    score = similarity(a, b)
    return score if score >= min_similarity(a if len(a) <= len(b) else b) else 0.0
