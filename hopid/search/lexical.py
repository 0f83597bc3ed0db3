"""The scene-text score: how well a query's content words are found among an image's OCR words.

Every content word of the query (stop-words removed, case and accents folded) is looked
up fuzzily in the vocabulary of OCR words, including pairs of adjacent OCR words joined
("Harbour" + "Front" ~ "harbourfront"); a query word may also join its neighbour
("coca cola" ~ "CocaCola"). A word found in few images weighs more (inverse document
frequency), an inferred entity word weighs more than a plain content word, and the score
is the weighted share of the query's findable words that the image contains: 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from hopid.entities.text import Word, content_words, fold, min_similarity

ENTITY_WEIGHT = 1.0
PLAIN_WEIGHT = 0.5
JOIN_SIMILARITY = 0.9  # a query word joined with its neighbour must match almost exactly
PART_MIN_LENGTH = 5  # words this long are also found inside longer OCR tokens ("coronavirusinfection")
PART_SIMILARITY = 0.9  # ... when partial_ratio reaches this; such a find scores this much


@dataclass(frozen=True)
class QueryTerm:
    """One query word, its weight, and the folded keys that may stand for it in OCR: the word
    itself first, then the word joined with a neighbour."""

    word: str
    keys: tuple[str, ...]
    weight: float


@dataclass
class LexicalScores:
    """Scores of one query against every image, and which query words each image matched."""

    scores: np.ndarray  # (n_images,) float32 in 0..1
    terms: list[QueryTerm]
    matches: np.ndarray  # (n_terms, n_images) float32 similarity of each term's best OCR word

    def matched_words(self, row: int) -> list[str]:
        return [term.word for t, term in enumerate(self.terms) if self.matches[t, row] > 0]


def query_terms(text: str, entity_spans: Sequence[tuple[int, int]] = ()) -> list[QueryTerm]:
    """The content words of ``text``; words overlapping an entity span get the entity weight."""
    found: list[Word] = content_words(text)
    terms = []
    for i, word in enumerate(found):
        keys = [word.key]
        if i + 1 < len(found):
            keys.append(word.key + found[i + 1].key)
        if i > 0:
            keys.append(found[i - 1].key + word.key)
        is_entity = any(start < word.end and word.start < end for start, end in entity_spans)
        terms.append(QueryTerm(word.text, tuple(keys), ENTITY_WEIGHT if is_entity else PLAIN_WEIGHT))
    return terms


class LexicalIndex:
    """OCR words of a gallery of images, ready for fuzzy lookup of query words."""

    def __init__(
        self, n_images: int, token_rows: Sequence[int], token_texts: Sequence[str], token_order: Sequence[int]
    ):
        """``token_rows[i]`` is the gallery row of OCR word ``token_texts[i]``; ``token_order`` its reading order."""
        self.n_images = n_images
        keys = [fold(text) for text in token_texts]
        rows = np.asarray(token_rows, dtype=np.int64)
        order = np.lexsort((np.asarray(token_order, dtype=np.int64), rows))
        entries: list[tuple[int, str]] = [(int(rows[i]), keys[i]) for i in order if keys[i]]
        # adjacent OCR words of the same image, joined: "Harbour" "Front" -> "harbourfront"
        for (row_a, key_a), (row_b, key_b) in zip(entries, entries[1:], strict=False):
            if row_a == row_b:
                entries.append((row_a, key_a + key_b))
        vocabulary = sorted({key for _, key in entries})
        position = {key: i for i, key in enumerate(vocabulary)}
        self.vocabulary = vocabulary
        self.entry_rows = np.asarray([row for row, _ in entries], dtype=np.int64)
        self.entry_vocab = np.asarray([position[key] for _, key in entries], dtype=np.int64)
        self.vocab_lengths = np.asarray([len(key) for key in vocabulary], dtype=np.int64)
        self.vocab_thresholds = np.asarray([min_similarity(key) for key in vocabulary], dtype=np.float32)

    @classmethod
    def from_ocr(
        cls, image_ids: Sequence[str], ocr_image_ids: Sequence[str], texts: Sequence[str], order: Sequence[int]
    ):
        """Build from OCR rows; OCR of images outside ``image_ids`` is ignored."""
        row_of = {image_id: row for row, image_id in enumerate(image_ids)}
        keep = [i for i, image_id in enumerate(ocr_image_ids) if image_id in row_of]
        return cls(
            len(image_ids),
            [row_of[ocr_image_ids[i]] for i in keep],
            [texts[i] for i in keep],
            [order[i] for i in keep],
        )

    def _vocab_similarity(self, key: str, joined: bool) -> np.ndarray:
        """Similarity of ``key`` to every vocabulary word, 0 where below the needed threshold."""
        sims = process.cdist([key], self.vocabulary, scorer=Indel.normalized_similarity, dtype=np.float32)[0]
        if joined:
            needed = np.float32(JOIN_SIMILARITY)
        else:
            needed = np.where(self.vocab_lengths < len(key), self.vocab_thresholds, np.float32(min_similarity(key)))
        sims[sims < needed] = 0.0
        if not joined and len(key) >= PART_MIN_LENGTH:
            longer = np.flatnonzero(self.vocab_lengths > len(key))
            if len(longer):
                parts = (
                    process.cdist(
                        [key], [self.vocabulary[i] for i in longer], scorer=fuzz.partial_ratio, dtype=np.float32
                    )[0]
                    / 100.0
                )
                found = np.where(parts >= PART_SIMILARITY, np.float32(PART_SIMILARITY), np.float32(0.0))
                sims[longer] = np.maximum(sims[longer], found)
        return sims

    def term_matches(self, term: QueryTerm) -> np.ndarray:
        """Per image, the best similarity of any of the term's keys to any of its OCR words."""
        best = np.zeros(self.n_images, dtype=np.float32)
        if not len(self.entry_rows):
            return best
        vocab_best = np.max([self._vocab_similarity(key, i > 0) for i, key in enumerate(term.keys)], axis=0)
        np.maximum.at(best, self.entry_rows, vocab_best[self.entry_vocab])
        return best

    def score(self, terms: Sequence[QueryTerm]) -> LexicalScores:
        """The scene-text score of every image for a query given as terms."""
        terms = list(terms)
        matches = np.zeros((len(terms), self.n_images), dtype=np.float32)
        weights = np.zeros(len(terms), dtype=np.float32)
        for t, term in enumerate(terms):
            matches[t] = self.term_matches(term)
            found_in = int(np.count_nonzero(matches[t]))
            if found_in:
                weights[t] = term.weight * np.log((self.n_images + 1) / (found_in + 0.5))
        total = float(weights.sum())
        scores = (weights @ matches) / total if total > 0 else np.zeros(self.n_images, dtype=np.float32)
        return LexicalScores(scores.astype(np.float32), terms, matches)
