"""Word retrieval, the protocol of the scene-text retrieval literature (Mishra et al. 2013,
TDSL CVPR'21, MSTAR; docs/benchmarks.md).

Each query is one word; an image is relevant when its ground-truth words hold it; every image
of the split is ranked; the score is the mean over queries of the average precision (AP).
The queries follow the published rules:

- SVT: every distinct lower-cased ground-truth word;
- ICDAR 2015 (MSTAR's rule): lower-case, drop ``. # ! & $``, split on spaces, words of three
  or more characters, the 100 words found in the most images (ties alphabetical; MSTAR breaks
  them in file order, so a few of its queries may differ).

A folder of another kind gets MSTAR's normalisation with every word as a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hopid.errors import HopidError

MSTAR_DROPPED = str.maketrans("", "", ".#!&$")
MSTAR_MIN_LENGTH = 3
ILLEGIBLE = "###"
DEFAULT_QUERIES: dict[str, tuple[str, int | None]] = {"svt": ("svt", None), "icdar15": ("mstar", 100)}


@dataclass(frozen=True)
class WordQuery:
    """One query word and the rows (in the ranked image list) whose ground truth holds it."""

    word: str
    relevant: tuple[int, ...]


def svt_words(text: str) -> list[str]:
    """SVT: the annotated word, lower-cased (an empty or illegible one gives nothing)."""
    word = text.strip().lower()
    return [] if not word or word == ILLEGIBLE else [word]


def mstar_words(text: str) -> list[str]:
    """MSTAR's IC15 rule: lower-case, drop ``. # ! & $``, split on spaces, 3+ characters."""
    if text.strip() == ILLEGIBLE:
        return []
    return [w for w in text.lower().translate(MSTAR_DROPPED).split() if len(w) >= MSTAR_MIN_LENGTH]


def query_rule(benchmark: str | None, queries: str | None) -> tuple[str, int | None]:
    """``(rule, top)`` for a benchmark and the ``--queries`` choice (None: the benchmark's own;
    ``all``: every word; a number N: the N words found in the most images)."""
    rule, top = DEFAULT_QUERIES.get(benchmark or "", ("mstar", None))
    if queries is None:
        return rule, top
    if queries == "all":
        return rule, None
    if queries.isdigit() and int(queries) > 0:
        return rule, int(queries)
    raise HopidError(f"--queries {queries!r}: choose all or a number of words (default: the benchmark's own)")


def build_queries(
    image_ids: Sequence[str], words_of: Mapping[str, Iterable[str]], rule: str, top: int | None
) -> list[WordQuery]:
    """The protocol's queries over the images ``image_ids`` (their ranked order), given each
    image's ground-truth transcriptions; sorted by the number of relevant images, then the word."""
    split = svt_words if rule == "svt" else mstar_words
    holders: dict[str, set[int]] = {}
    for row, image_id in enumerate(image_ids):
        for text in words_of.get(image_id, ()):
            for word in split(text):
                holders.setdefault(word, set()).add(row)
    ordered = sorted(holders, key=lambda w: (-len(holders[w]), w))
    if top is not None:
        ordered = ordered[:top]
    return [WordQuery(word, tuple(sorted(holders[word]))) for word in ordered]


def average_precision(scores: np.ndarray, relevant: Sequence[int]) -> float:
    """AP of one query over every image; ties are broken against the query (an irrelevant image
    scoring the same as a relevant one ranks above it), so a constant scorer never looks good."""
    if not len(relevant):
        raise ValueError("a query needs at least one relevant image")
    is_relevant = np.zeros(len(scores), dtype=bool)
    is_relevant[list(relevant)] = True
    order = np.lexsort((is_relevant, -scores))  # by score, irrelevant first among equals
    hit_ranks = np.flatnonzero(is_relevant[order]) + 1
    return float(np.mean(np.arange(1, len(hit_ranks) + 1) / hit_ranks))
