"""What the gallery page shows for a search: the hits as ``hopid query --json`` gives them,
each with its image size and OCR words (boxes, which words matched the query), and the
entity words inferred from the query."""

from __future__ import annotations

from hopid.data.scan import stored_name
from hopid.scenetext.lexical import ocr_word_matches
from hopid.search.searcher import Hit, HitWord, Searcher


def _word(word: HitWord, hit: Hit) -> dict:
    return {
        "text": word.text,
        "box": [round(v, 4) for v in word.box],
        "confidence": round(word.confidence, 3),
        "matched": ocr_word_matches(word.text, list(hit.matched)),
    }


def gallery_results(searcher: Searcher, hits: list[Hit], query: str | None) -> dict:
    """``{"hits": [...], "entities": [...], "alpha": float}`` for the page (entities: the query's
    inferred words; alpha: the weight of the scene-text score in a hit's score). Each hit has a
    ``ref``: its path relative to the images folder in stored form (valid UTF-8 whatever the
    name's bytes), what the page asks ``/thumb``, ``/image`` and ``like`` for."""
    words = searcher.hit_words(hits)
    relative = {hit.path: hit.path[len(searcher.root_prefix) :] for hit in hits}
    sizes = {hit.path: searcher.image_size(searcher.row_of[relative[hit.path]]) for hit in hits}
    entities = []
    if query:
        entities = [query[start:end] for start, end in searcher.entity_spans(query)]
    return {
        "hits": [
            hit.as_dict()
            | {
                "ref": stored_name(relative[hit.path]),
                "ocr": [_word(w, hit) for w in words[hit.path]],
                "size": sizes[hit.path],
            }
            for hit in hits
        ],
        "entities": entities,
        "alpha": float(searcher.encoder.fusion_alpha),
    }
