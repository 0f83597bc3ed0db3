"""What the gallery page shows for a search: the hits as ``hopid query --json`` gives them,
each with its image size and OCR words (boxes, which words matched the query), and the
entity words inferred from the query."""

from __future__ import annotations

import polars as pl

from hopid.entities.text import STOPWORDS, fold, fuzzy_match
from hopid.search.searcher import Hit, Searcher

PART_LENGTH = 5  # a matched query word this long also lights up OCR words that contain it


def word_matches(word: str, matched: list[str]) -> bool:
    """Whether an OCR word stands for one of the query words that matched its image: alike,
    holding a long query word ("coronavirusinfection"), or part of a joined one ("Harbour")."""
    key = fold(word)
    if not key or key in STOPWORDS:
        return False
    for query_word in matched:
        other = fold(query_word)
        if fuzzy_match(key, other) or (len(other) >= PART_LENGTH and other in key):
            return True
        if len(key) >= PART_LENGTH - 1 and len(other) > len(key) and (other.startswith(key) or other.endswith(key)):
            return True
    return False


def ocr_words(searcher: Searcher, hits: list[Hit]) -> dict[str, list[dict]]:
    """The OCR words of each hit's image in reading order, keyed by the hit's path."""
    relative = {hit.path[len(searcher.root_prefix) :]: hit for hit in hits}
    rows = searcher.ocr.filter(pl.col("image_id").is_in(list(relative))).sort("image_id", "token_index")
    found: dict[str, list[dict]] = {hit.path: [] for hit in hits}
    for image_id, text, box, confidence in rows.select("image_id", "text", "box", "confidence").iter_rows():
        hit = relative[image_id]
        found[hit.path].append(
            {
                "text": text,
                "box": [round(float(v), 4) for v in box],
                "confidence": round(float(confidence), 3),
                "matched": word_matches(text, list(hit.matched)),
            }
        )
    return found


def gallery_results(searcher: Searcher, hits: list[Hit], query: str | None) -> dict:
    """``{"hits": [...], "entities": [...], "alpha": float}`` for the page (entities: the query's
    inferred words; alpha: the weight of the scene-text score in a hit's score)."""
    words = ocr_words(searcher, hits)
    sizes = {hit.path: searcher.image_size(searcher.row_of[hit.path[len(searcher.root_prefix) :]]) for hit in hits}
    entities = []
    if query:
        entities = [query[start:end] for start, end in searcher.entity_spans(query)]
    return {
        "hits": [hit.as_dict() | {"ocr": words[hit.path], "size": sizes[hit.path]} for hit in hits],
        "entities": entities,
        "alpha": float(searcher.encoder.fusion_alpha),
    }
