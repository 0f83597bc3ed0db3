"""The entity record shared by the rule fallback, the tagger and the stored ``entities`` table."""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = ("tagger", "rules", "spacy-pretrained")


@dataclass(frozen=True)
class Entity:
    """A caption (or query) span that is probably written in the image.

    ``start``/``end`` are character offsets into the text, ``score`` is a confidence in
    0..1 and ``source`` says what found it (one of :data:`SOURCES`).
    """

    text: str
    start: int
    end: int
    score: float
    source: str

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end
