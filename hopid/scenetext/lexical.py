"""The scene-text score: how well a query's words are found among an image's OCR words.

Every content word of the query (stop-words removed unless the query is one or two words,
quoted, or nothing else; case and accents folded) is looked up fuzzily in the vocabulary of
OCR words, which also holds pairs of adjacent OCR words joined ("Harbour" + "Front" ~
"harbourfront") and the words glued inside one token ("Shop&Dine", "10%OFF"); a query word may
also join its neighbour ("coca cola" ~ "CocaCola"). Weaker kinds of finding score less: inside a
longer token, at a token's start or end ("DAYSINN"), one letter off ("GFT" for "get"), cut by
the edge of its box ("ARBUCKSCOFFEE" for "starbucks"); the letters of a widely spaced sign are
joined ("M A R K ET"), a number typed with "%" keeps it; the OCR engine's confidence orders equal
finds. A word found in few images weighs more (inverse
document frequency), an inferred entity word weighs more than a plain content word, and the
score is the weighted share of the query's findable words that the image contains: 0..1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from hopid.entities.rules import quoted_spans
from hopid.entities.text import STOPWORDS, Word, fold, fuzzy_match, min_similarity, words

ENTITY_WEIGHT = 1.0
PLAIN_WEIGHT = 0.5
JOIN_SIMILARITY = 0.9  # a query word joined with its neighbour must match almost exactly
PART_MIN_LENGTH = 5  # words this long are also found inside longer OCR tokens ("coronavirusinfection")
PART_SIMILARITY = 0.9  # ... when partial_ratio reaches this; such a find scores this much
AFFIX_MIN_LENGTH = 3  # words this long are also found at the start or end of a longer OCR token ...
AFFIX_SIMILARITY = 0.7  # ... scoring below any whole-word match
LOOSE_SIMILARITY = 0.65  # below the usual threshold but this alike: one letter wrong in a 3-letter word ...
LOOSE_WEIGHT = 0.6  # ... scores its similarity times this, under every other kind of match
LOOSE_MIN_LENGTH = 3
CUT_MIN_LENGTH = 6  # a word this long is found when the OCR box cut it ("ARBUCKS" for "starbucks") ...
CUT_MIN_SHARE = 0.7  # ... keeping at least this share of it; scores the share times LOOSE_WEIGHT
CONFIDENCE_WEIGHT = 0.1  # a match's score falls by this share of the OCR engine's doubt in the word
LEXICAL_FORMAT = 3  # lexical.npz layout: 2 added the words inside glued tokens and confidences, 3 "10%"
SPACED_MAX_LENGTH = 2  # runs of OCR words this short ...
SPACED_MIN_RUN = 3  # ... and at least this many are also joined: a letter-spaced sign
SHORT_QUERY_WORDS = 2  # a query this short is searched word for word, stop-words included
SHOWN_PART_LENGTH = 4  # shown as matched: a query word this long inside an OCR word, or the reverse


WORD_PIECE = re.compile(r"[^\W_]+")
PERCENT = re.compile(r"(\d+)\s?%")  # "10%" is searched with its sign: "10%OFF", not "L10"


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
    matches: list[tuple[np.ndarray, np.ndarray]]  # per term: the rows it is found in, and how well

    def matched_words(self, row: int) -> list[str]:
        return [term.word for term, (rows, _) in zip(self.terms, self.matches, strict=True) if _contains(rows, row)]


def _contains(sorted_rows: np.ndarray, row: int) -> bool:
    at = int(np.searchsorted(sorted_rows, row))
    return at < len(sorted_rows) and int(sorted_rows[at]) == row


def token_parts(text: str) -> list[str]:
    """The folded words glued inside one OCR token (none when it holds only one): split at
    punctuation, between letters and digits, and at a change to capitals ("BlueCollar",
    "ShopSDine" -> "shop", "s", "dine"; "FOR$128NETT" -> "for", "128", "nett")."""
    parts = [part for piece in WORD_PIECE.findall(text) for part in _glued(piece)]
    folded = [key for key in (fold(part) for part in parts) if key]
    return folded if len(folded) > 1 else []


def _glued(piece: str) -> list[str]:
    """``piece`` (letters and digits only) cut between letters and digits, before a capital that
    follows a lower-case letter, and before the last capital of a run followed by lower case."""
    parts: list[str] = []
    start = 0
    for i in range(1, len(piece)):
        before, here = piece[i - 1], piece[i]
        digit_change = before.isdigit() != here.isdigit()
        camel = before.islower() and here.isupper()
        capitals_end = before.isupper() and here.islower() and i - 1 > start
        if digit_change or camel:
            parts.append(piece[start:i])
            start = i
        elif capitals_end:
            parts.append(piece[start : i - 1])
            start = i - 1
    parts.append(piece[start:])
    return parts


def _spaced_runs(tokens: Sequence[tuple[int, str, float, str]]) -> list[tuple[int, list[tuple[str, float]]]]:
    """Runs of at least SPACED_MIN_RUN consecutive OCR words of at most SPACED_MAX_LENGTH
    characters in one image (``tokens`` as (row, key, confidence, text) in reading order)."""
    runs: list[tuple[int, list[tuple[str, float]]]] = []
    current: list[tuple[str, float]] = []
    current_row = -1
    for row, key, conf, _ in [*tokens, (-1, "", 0.0, "")]:
        if row == current_row and 0 < len(key) <= SPACED_MAX_LENGTH:
            current.append((key, conf))
            continue
        if len(current) >= SPACED_MIN_RUN:
            runs.append((current_row, current))
        current_row, current = row, ([(key, conf)] if 0 < len(key) <= SPACED_MAX_LENGTH else [])
    return runs


def ocr_word_matches(word: str, matched: Sequence[str]) -> bool:
    """Whether an OCR word stands for one of the query words that matched its image (for
    display): alike, holding a query word ("CocaCola" for "cola", "DAYSINN" for "inn"), or part
    of a joined one ("Harbour" for "harbourfront"); a stop-word only when it was searched itself."""
    key = fold(word)
    if not key:
        return False
    for query_word in matched:
        other = fold(query_word)
        if key in STOPWORDS and key != other:
            continue
        if fuzzy_match(key, other) or (len(other) >= SHOWN_PART_LENGTH and other in key):
            return True
        if len(other) >= AFFIX_MIN_LENGTH and (
            key.startswith(other) or key.endswith(other) or other in token_parts(word)
        ):
            return True
        if len(key) >= SHOWN_PART_LENGTH and len(other) > len(key) and (other.startswith(key) or other.endswith(key)):
            return True
        if any(key.startswith(tail) or key.endswith(head) for _, tail, head in cut_pieces(other)):
            return True
    return False


def cut_pieces(word: str) -> list[tuple[float, str, str]]:
    """What is left of ``word`` when an OCR box edge cuts it: ``(share kept, its end, found at the
    start of a token, its start, found at the end of one)``, for words of CUT_MIN_LENGTH+ letters."""
    if len(word) < CUT_MIN_LENGTH:
        return []
    kept_sizes = range(math.ceil(CUT_MIN_SHARE * len(word)), len(word))
    return [(kept / len(word), word[-kept:], word[:kept]) for kept in kept_sizes]


def searched_words(text: str) -> list[Word]:
    """The words of a query that are looked up in OCR: its content words, but every word of a
    query of one or two words ("the", "exit here"), of a quoted phrase, or of a query made of
    stop-words only, since a user who types just those means them."""
    every = words(text)
    if len(every) <= SHORT_QUERY_WORDS:
        return every
    quoted = quoted_spans(text)
    kept = [w for w in every if w.key not in STOPWORDS or any(s <= w.start < e for s, e in quoted)]
    return kept or every


def signed_key(word: Word, text: str) -> str:
    """The word's key, with its percent sign when the query writes one after a number ("10%")."""
    return word.key + "%" if word.key.isdigit() and text[word.end : word.end + 1] == "%" else word.key


def query_terms(text: str, entity_spans: Sequence[tuple[int, int]] = ()) -> list[QueryTerm]:
    """The searched words of ``text``; words overlapping an entity span get the entity weight."""
    found: list[Word] = searched_words(text)
    terms = []
    for i, word in enumerate(found):
        keys = [signed_key(word, text)]
        if i + 1 < len(found):
            keys.append(word.key + found[i + 1].key)
        if i > 0:
            keys.append(found[i - 1].key + word.key)
        is_entity = any(start < word.end and word.start < end for start, end in entity_spans)
        terms.append(QueryTerm(word.text, tuple(keys), ENTITY_WEIGHT if is_entity else PLAIN_WEIGHT))
    return terms


class LexicalIndex:
    """OCR words of a gallery of images, ready for fuzzy lookup of query words.

    Each vocabulary word lists the gallery rows it occurs in (CSR: ``vocab_start`` into
    ``vocab_rows``), so a query touches only the rows of the words it matches, not the whole
    gallery. ``save``/``load`` keep it beside an index (``lexical.npz``), built once.
    """

    def __init__(
        self,
        n_images: int,
        vocabulary: Sequence[str],
        vocab_start: np.ndarray,
        vocab_rows: np.ndarray,
        vocab_confidence: np.ndarray | None = None,
    ):
        self.n_images = n_images
        self.vocabulary = list(vocabulary)
        self.vocab_start = np.asarray(vocab_start, dtype=np.int64)
        self.vocab_rows = np.asarray(vocab_rows, dtype=np.int64)
        # the OCR engine's best confidence in each (word, row) pair, aligned with vocab_rows
        confidence = np.ones(len(self.vocab_rows)) if vocab_confidence is None else vocab_confidence
        self.vocab_confidence = np.asarray(confidence, dtype=np.float32)
        self.vocab_lengths = np.asarray([len(key) for key in self.vocabulary], dtype=np.int64)
        self.vocab_array = np.asarray(self.vocabulary, dtype=np.str_)
        self.vocab_thresholds = np.asarray([min_similarity(key) for key in self.vocabulary], dtype=np.float32)

    @classmethod
    def from_tokens(
        cls,
        n_images: int,
        token_rows: Sequence[int],
        token_texts: Sequence[str],
        token_order: Sequence[int],
        token_confidences: Sequence[float] | None = None,
    ) -> LexicalIndex:
        """``token_rows[i]`` is the gallery row of OCR word ``token_texts[i]``; ``token_order`` its
        reading order, ``token_confidences`` the engine's confidence in it (default 1)."""
        confidences = [1.0] * len(token_texts) if token_confidences is None else list(token_confidences)
        rows = np.asarray(token_rows, dtype=np.int64)
        order = np.lexsort((np.asarray(token_order, dtype=np.int64), rows))
        tokens = [(int(rows[i]), fold(token_texts[i]), float(confidences[i]), token_texts[i]) for i in order]
        tokens = [token for token in tokens if token[1]]
        entries: list[tuple[int, str, float]] = [(row, key, conf) for row, key, conf, _ in tokens]
        # adjacent OCR words of the same image, joined: "Harbour" "Front" -> "harbourfront"
        for (row_a, key_a, conf_a, _), (row_b, key_b, conf_b, _) in zip(tokens, tokens[1:], strict=False):
            if row_a == row_b:
                entries.append((row_a, key_a + key_b, min(conf_a, conf_b)))
        # letters read one by one on a widely spaced sign: "M" "A" "R" "K" "ET" -> "market"
        for row, run in _spaced_runs(tokens):
            entries.append((row, "".join(key for key, _ in run), min(conf for _, conf in run)))
        # the words inside glued OCR tokens: "Shop&Dine" -> "shop", "dine"; "10%OFF" -> "10", "off"
        for row, _, conf, text in tokens:
            parts = token_parts(text)
            entries += [(row, part, conf) for part in parts]
            entries += [(row, a + b, conf) for a, b in zip(parts, parts[1:], strict=False)]
            entries += [(row, number + "%", conf) for number in PERCENT.findall(text)]
        vocabulary = sorted({key for _, key, _ in entries})
        position = {key: i for i, key in enumerate(vocabulary)}
        words = np.asarray([position[key] for _, key, _ in entries], dtype=np.int64)
        where = np.asarray([row for row, _, _ in entries], dtype=np.int64)
        conf = np.asarray([c for _, _, c in entries], dtype=np.float32)
        order = np.lexsort((-conf, where, words))  # by word, row, most confident first
        first = np.ones(len(order), dtype=bool)
        first[1:] = (words[order][1:] != words[order][:-1]) | (where[order][1:] != where[order][:-1])
        keep = order[first]
        counts = np.bincount(words[keep], minlength=len(vocabulary))
        start = np.concatenate([[0], np.cumsum(counts)])
        return cls(n_images, vocabulary, start, where[keep], conf[keep])

    @classmethod
    def from_ocr(
        cls,
        image_ids: Sequence[str],
        ocr_image_ids: Sequence[str],
        texts: Sequence[str],
        order: Sequence[int],
        confidences: Sequence[float] | None = None,
    ) -> LexicalIndex:
        """Build from OCR rows; OCR of images outside ``image_ids`` is ignored."""
        row_of = {image_id: row for row, image_id in enumerate(image_ids)}
        keep = [i for i, image_id in enumerate(ocr_image_ids) if image_id in row_of]
        return cls.from_tokens(
            len(image_ids),
            [row_of[ocr_image_ids[i]] for i in keep],
            [texts[i] for i in keep],
            [order[i] for i in keep],
            None if confidences is None else [confidences[i] for i in keep],
        )

    @classmethod
    def from_table(cls, image_ids: Sequence[str], ocr) -> LexicalIndex:
        """Build from an ``ocr`` table (polars) of the images ``image_ids``."""
        columns = [ocr[name].to_list() for name in ("image_id", "text", "token_index", "confidence")]
        return cls.from_ocr(image_ids, *columns)

    def save(self, path: str) -> None:
        """Write the arrays to ``path`` (numpy's npz, no pickled objects)."""
        with open(path, "wb") as handle:
            np.savez(
                handle,
                format=np.int64(LEXICAL_FORMAT),
                n_images=np.int64(self.n_images),
                vocabulary=np.asarray(self.vocabulary, dtype=np.str_),
                vocab_start=self.vocab_start,
                vocab_rows=self.vocab_rows,
                vocab_confidence=self.vocab_confidence,
            )

    @classmethod
    def load(cls, path: str | Path) -> LexicalIndex | None:
        """The saved tables, or None when they were written in an older format (rebuild them)."""
        with np.load(path, allow_pickle=False) as saved:
            if "format" not in saved.files or int(saved["format"]) != LEXICAL_FORMAT:
                return None
            arrays = (saved[name] for name in ("vocab_start", "vocab_rows", "vocab_confidence"))
            return cls(int(saved["n_images"]), saved["vocabulary"].tolist(), *arrays)

    def _vocab_similarity(self, key: str, joined: bool) -> np.ndarray:
        """Similarity of ``key`` to every vocabulary word, 0 where below the needed threshold."""
        sims = process.cdist([key], self.vocabulary, scorer=Indel.normalized_similarity, dtype=np.float32)[0]
        if joined:
            needed = np.float32(JOIN_SIMILARITY)
        else:
            needed = np.where(self.vocab_lengths < len(key), self.vocab_thresholds, np.float32(min_similarity(key)))
        # a looser likeness (one wrong letter in "GFT" for "get") counts for less than any other match
        loose = (sims < needed) & (sims >= np.float32(LOOSE_SIMILARITY))
        if joined or len(key) < LOOSE_MIN_LENGTH:
            loose[:] = False
        sims[loose] *= np.float32(LOOSE_WEIGHT)
        sims[(sims < needed) & ~loose] = 0.0
        if not joined and len(key) >= AFFIX_MIN_LENGTH:  # glued at the start or end: "DAYSINN" holds "days", "inn"
            affix = (self.vocab_lengths > len(key)) & (
                np.char.startswith(self.vocab_array, key) | np.char.endswith(self.vocab_array, key)
            )
            sims[affix] = np.maximum(sims[affix], np.float32(AFFIX_SIMILARITY))
        for share, tail, head in [] if joined else cut_pieces(key):  # cut by the box: "ARBUCKSCOFFEE", "restaura"
            cut = np.char.startswith(self.vocab_array, tail) | np.char.endswith(self.vocab_array, head)
            sims[cut] = np.maximum(sims[cut], np.float32(LOOSE_WEIGHT * share))
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

    def term_matches(self, term: QueryTerm) -> tuple[np.ndarray, np.ndarray]:
        """The images with an OCR word like any of the term's keys (sorted rows), and the best
        similarity in each."""
        if not self.vocabulary:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        vocab_best = np.max([self._vocab_similarity(key, i > 0) for i, key in enumerate(term.keys)], axis=0)
        hits = np.flatnonzero(vocab_best)
        counts = self.vocab_start[hits + 1] - self.vocab_start[hits]
        spans = [self.vocab_rows[self.vocab_start[v] : self.vocab_start[v + 1]] for v in hits]
        rows = np.concatenate(spans) if spans else np.zeros(0, np.int64)
        confidence = (
            np.concatenate([self.vocab_confidence[self.vocab_start[v] : self.vocab_start[v + 1]] for v in hits])
            if len(hits)
            else np.zeros(0, np.float32)
        )
        sims = np.repeat(vocab_best[hits], counts) * (1 - np.float32(CONFIDENCE_WEIGHT) * (1 - confidence))
        order = np.lexsort((-sims, rows))  # by row, best first
        rows, sims = rows[order], sims[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        return rows[first], sims[first]

    def score(self, terms: Sequence[QueryTerm]) -> LexicalScores:
        """The scene-text score of every image for a query given as terms."""
        terms = list(terms)
        matches = [self.term_matches(term) for term in terms]
        weights = [
            term.weight * np.log((self.n_images + 1) / (len(rows) + 0.5))
            for term, (rows, _) in zip(terms, matches, strict=True)
        ]
        total = float(sum(w for w, (rows, _) in zip(weights, matches, strict=True) if len(rows)))
        scores = np.zeros(self.n_images, dtype=np.float32)
        if total > 0:
            for weight, (rows, sims) in zip(weights, matches, strict=True):
                scores[rows] += np.float32(weight / total) * sims
        return LexicalScores(scores, terms, matches)
