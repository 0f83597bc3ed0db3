"""Weak labels: the caption words that match an OCR word of the caption's own image.

A caption word is a positive when its folded key fuzzily matches (``text.fuzzy_match``)
an OCR token, or two adjacent OCR tokens joined ("HarbourFront" ~ "Harbour" "Front");
two adjacent caption words joined may match one OCR token ("Harbour Front" ~
"HarbourFront") when the pair matches better than either word alone. Stop-words never
match alone. Matched words separated only by spaces or a hyphen merge into one span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import polars as pl

from hopid.data.dataset import Dataset
from hopid.entities.text import STOPWORDS, Word, fold, fuzzy_match, words

Span = tuple[int, int]
Labelled = tuple[str, str, list[Span]]


def best_match(key: str, candidates: Sequence[str]) -> float:
    """The best fuzzy similarity of ``key`` to any candidate key (0 when none passes)."""
    return max((fuzzy_match(key, c) for c in candidates), default=0.0)


def matched_words(caption: str, ocr_words: Sequence[str]) -> list[Word]:
    """The caption words that are written, per the OCR words, in the image."""
    ocr_keys = [key for key in (fold(w) for w in ocr_words) if key]
    if not ocr_keys:
        return []
    joined_ocr = [a + b for a, b in pairwise(ocr_keys)]
    single_targets = list(dict.fromkeys(ocr_keys + joined_ocr))
    found = words(caption)
    scores = [0.0 if w.key in STOPWORDS else best_match(w.key, single_targets) for w in found]
    hit = [s > 0 for s in scores]
    for i in range(len(found) - 1):
        pair = found[i].key + found[i + 1].key
        if not caption[found[i].end : found[i + 1].start].strip(" -"):
            score = best_match(pair, ocr_keys)
            stop_pair = found[i].key in STOPWORDS or found[i + 1].key in STOPWORDS
            if score > max(scores[i], scores[i + 1]) and (score == 1.0 or not stop_pair):
                hit[i] = hit[i + 1] = True
    return [w for w, h in zip(found, hit, strict=True) if h]


def merge_words(caption: str, found: Sequence[Word]) -> list[Span]:
    """Spans of runs of words separated by nothing but spaces or hyphens."""
    spans: list[Span] = []
    for word in found:
        if spans and not caption[spans[-1][1] : word.start].strip(" -"):
            spans[-1] = (spans[-1][0], word.end)
        else:
            spans.append((word.start, word.end))
    return spans


def weak_spans(caption: str, ocr_words: Sequence[str]) -> list[Span]:
    """Character spans of the caption words that match the image's OCR words."""
    return merge_words(caption, matched_words(caption, ocr_words))


def ocr_by_image(ocr: pl.DataFrame) -> dict[str, list[str]]:
    """Each image's OCR words in reading (token_index) order."""
    if ocr.is_empty():
        return {}
    grouped = ocr.sort("image_id", "token_index").group_by("image_id", maintain_order=True).agg(pl.col("text"))
    return dict(zip(grouped["image_id"].to_list(), grouped["text"].to_list(), strict=True))


def label_dataset(dataset_dir: str | Path, split: str | None = None, *, engine: str | None = None) -> list[Labelled]:
    """``(caption_id, text, spans)`` for every caption of ``split`` (all when None).

    OCR comes from ``engine`` (default: the one present, see ``Dataset.ocr``).
    """
    dataset = Dataset.open(dataset_dir)
    captions = dataset.captions
    if split is not None:
        captions = captions.filter(pl.col("split") == split)
    tokens = ocr_by_image(dataset.ocr(engine))
    return [
        (cid, text, weak_spans(text, tokens.get(image_id, [])))
        for cid, image_id, text in zip(captions["caption_id"], captions["image_id"], captions["text"], strict=True)
    ]


@dataclass(frozen=True)
class SpanScores:
    """Word-level agreement of predicted spans with (weak) gold spans, stop-words left out."""

    precision: float
    recall: float
    f1: float
    captions: int
    gold_words: int
    predicted_words: int
    correct_words: int


def covered_words(text: str, spans: Sequence[Span]) -> set[int]:
    """Indices of the non-stop-words of ``text`` that overlap any span."""
    return {
        i
        for i, w in enumerate(words(text))
        if w.key not in STOPWORDS and any(start < w.end and w.start < end for start, end in spans)
    }


def score_spans(
    texts: Sequence[str], gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]]
) -> SpanScores:
    """Precision, recall and F1 of ``predicted`` against ``gold``, counted over caption words."""
    correct = n_gold = n_predicted = 0
    for text, gold_spans, predicted_spans in zip(texts, gold, predicted, strict=True):
        gold_words, predicted_words = covered_words(text, gold_spans), covered_words(text, predicted_spans)
        correct += len(gold_words & predicted_words)
        n_gold += len(gold_words)
        n_predicted += len(predicted_words)
    precision = correct / n_predicted if n_predicted else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SpanScores(precision, recall, f1, len(texts), n_gold, n_predicted, correct)
