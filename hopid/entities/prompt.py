"""The HOPID text prompt built from a caption's inferred scene-text words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hopid.entities.text import STOPWORDS
from hopid.entities.text import words as split_words
from hopid.entities.types import Entity

NO_TEXT_PROMPT = "There are no scene texts in this image."


def prompt_words(entities: Iterable[Entity]) -> list[str]:
    """The words of the entities, in order, without stop-words and case-insensitive repeats."""
    found = [w.text for entity in entities for w in split_words(entity.text) if w.key not in STOPWORDS]
    return dedupe(found)


def dedupe(items: Iterable[str]) -> list[str]:
    """Stripped, non-empty items with case-insensitive repeats removed, first spelling kept."""
    seen: set[str] = set()
    kept = []
    for item in items:
        item = item.strip()
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def hopid_prompt(words: Sequence[str]) -> str:
    """``There are scene texts: "w1", "w2" in this image.`` (or the no-text sentence)."""
    kept = dedupe(w.replace('"', "'") for w in words)
    if not kept:
        return NO_TEXT_PROMPT
    return "There are scene texts: " + ", ".join(f'"{w}"' for w in kept) + " in this image."
