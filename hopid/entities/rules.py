"""The rule fallback used without a trained tagger: word shapes that suggest written text.

Marked: quoted strings, capitalised words not at a sentence start, ALL-CAPS words,
numbers and alphanumerics ("7", "A4", "24h"), words with internal capitals
("HarbourFront", "iPhone"), and words of four or more letters that English does not use
("a badge branded deirlami": not among the 82,765 words of symspellpy's English frequency
list). Stop-words are never marked alone. Marked words separated by nothing but spaces or
hyphens merge into one entity.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from hopid.entities.text import STOPWORDS, Word, words
from hopid.entities.types import Entity

SOURCE = "rules"
QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|(?<![\w'])'([^']+)'(?!\w)")
SENTENCE_END = ".!?"
QUOTED_SCORE = 0.9
SHAPE_SCORE = 0.8
CAPITAL_SCORE = 0.6
RARE_SCORE = 0.5
RARE_MIN_LETTERS = 4
ENGLISH_LIST = ("symspellpy", "frequency_dictionary_en_82_765.txt")


@cache
def english_words() -> frozenset[str] | None:
    """The words of the English frequency list (lower case); None where it is not installed."""
    package, name = ENGLISH_LIST
    spec = find_spec(package)  # found, not imported: only its data file is read
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        return None
    return frozenset(path.read_text(encoding="utf-8").split()[::2])  # "word count" pairs


def is_rare(word: str) -> bool:
    """A word of only letters, at least ``RARE_MIN_LETTERS`` of them, that English does not use."""
    english = english_words()
    return english is not None and len(word) >= RARE_MIN_LETTERS and word.isalpha() and word.lower() not in english


def at_sentence_start(text: str, word: Word) -> bool:
    """True when only opening punctuation stands between ``word`` and a sentence start."""
    before = text[: word.start].rstrip().rstrip("\"'“‘([")
    return not before or before[-1] in SENTENCE_END


def shape_score(text: str, word: Word) -> float:
    """How much the word's shape suggests written text (0: not at all)."""
    letters = [ch for ch in word.text if ch.isalpha()]
    if any(ch.isdigit() for ch in word.text):
        return SHAPE_SCORE
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return SHAPE_SCORE
    if any(ch.isupper() for ch in letters[1:]):
        return SHAPE_SCORE
    if letters and letters[0].isupper() and not at_sentence_start(text, word):
        return CAPITAL_SCORE
    if is_rare(word.text):
        return RARE_SCORE
    return 0.0


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """The character spans of quoted strings (inside the quotes)."""
    spans = []
    for match in QUOTED.finditer(text):
        group = next(g for g in range(1, 5) if match.group(g) is not None)
        spans.append(match.span(group))
    return spans


def quoted_entities(text: str) -> list[Entity]:
    """Quoted strings that hold at least one non-stop-word."""
    found = []
    for start, end in quoted_spans(text):
        inner = text[start:end]
        stripped = inner.strip()
        start += len(inner) - len(inner.lstrip())
        if any(w.key not in STOPWORDS for w in words(stripped)):
            found.append(Entity(stripped, start, start + len(stripped), QUOTED_SCORE, SOURCE))
    return found


def rule_entities(text: str) -> list[Entity]:
    """Entities of ``text`` by quoting and word shape, in text order."""
    quoted = quoted_entities(text)
    found: list[Entity] = []
    for word in words(text):
        if word.key in STOPWORDS or any(q.start <= word.start < q.end for q in quoted):
            continue
        score = shape_score(text, word)
        if not score:
            continue
        previous = found[-1] if found else None
        if previous and not text[previous.end : word.start].strip(" -"):
            start = previous.start
            found[-1] = Entity(text[start : word.end], start, word.end, max(previous.score, score), SOURCE)
        else:
            found.append(Entity(word.text, word.start, word.end, score, SOURCE))
    return sorted(quoted + found, key=lambda e: e.start)
