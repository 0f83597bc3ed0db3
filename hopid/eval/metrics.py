"""Retrieval metrics of the published protocols (docs/datasets.md#protocols), on a score matrix.

Ranks are 1-based and pessimistic on ties: an item tied with the true one counts as
ranked above it, so a constant scorer never looks good.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hopid.errors import HopidError

DEFAULT_KS = (1, 5, 10)


def rank_of(scores: np.ndarray, positives: np.ndarray) -> int:
    """1-based rank of the best-scored positive column in one row of scores."""
    best = scores[positives].max()
    return int(np.count_nonzero(scores >= best))


def t2i_ranks(scores: np.ndarray, caption_image: np.ndarray) -> np.ndarray:
    """For captions x images ``scores``: each caption's rank of its own image."""
    true = scores[np.arange(len(caption_image)), caption_image]
    return np.count_nonzero(scores >= true[:, None], axis=1)


def i2t_ranks(scores: np.ndarray, caption_image: np.ndarray) -> np.ndarray:
    """For captions x images ``scores``: each image's rank of its best-ranked own caption: one
    more than the other images' captions scoring at least as well (its own captions never push
    it down, as in the SCAN/VSE++ evaluation). 0 for an image without captions."""
    by_image = scores.T
    ranks = np.zeros(by_image.shape[0], dtype=np.int64)
    for image in range(by_image.shape[0]):
        own = caption_image == image
        if own.any():
            best = by_image[image][own].max()
            ranks[image] = 1 + int(np.count_nonzero(by_image[image][~own] >= best))
    return ranks


def recall_at(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[int, float]:
    """Share of queries whose rank is within each k (queries with rank 0 have no positive and are left out)."""
    valid = ranks[ranks > 0]
    return {k: float(np.mean(valid <= k)) if len(valid) else 0.0 for k in ks}


def caption_protocol(scores: np.ndarray, caption_image: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """COCO/Flickr/CTC style: t2i and i2t R@K as fractions and rSum (the six recalls x 100)."""
    t2i = recall_at(t2i_ranks(scores, caption_image), ks)
    i2t = recall_at(i2t_ranks(scores, caption_image), ks)
    metrics = {f"t2i_r{k}": v for k, v in t2i.items()} | {f"i2t_r{k}": v for k, v in i2t.items()}
    metrics["rsum"] = 100.0 * sum(metrics.values())
    return metrics


def identity_protocol(
    scores: np.ndarray, query_ids: Sequence[str], gallery_ids: Sequence[str], ks: Sequence[int] = DEFAULT_KS
) -> dict:
    """Person-retrieval style: Rank-K (CMC), mAP and mINP of queries x gallery ``scores``.

    A hit is a gallery item with the query's identity; queries without any are skipped.
    """
    query_ids = np.asarray(query_ids, dtype=object)
    gallery_ids = np.asarray(gallery_ids, dtype=object)
    first_hits, average_precisions, inverse_negative_penalties = [], [], []
    for q in range(scores.shape[0]):
        positives = gallery_ids == query_ids[q]
        n_pos = int(positives.sum())
        if not n_pos:
            continue
        order = np.lexsort((positives, -scores[q]))  # best first; among ties, non-hits first (pessimistic)
        hits = positives[order]
        hit_ranks = np.flatnonzero(hits) + 1
        first_hits.append(hit_ranks[0])
        average_precisions.append(float(np.mean(np.arange(1, n_pos + 1) / hit_ranks)))
        inverse_negative_penalties.append(n_pos / hit_ranks[-1])
    first = np.asarray(first_hits)
    metrics = {f"rank{k}": float(np.mean(first <= k)) if len(first) else 0.0 for k in ks}
    metrics["map"] = float(np.mean(average_precisions)) if average_precisions else 0.0
    metrics["minp"] = float(np.mean(inverse_negative_penalties)) if inverse_negative_penalties else 0.0
    return metrics


def fold_average(scores: np.ndarray, caption_image: np.ndarray, folds: int) -> dict[str, float]:
    """The caption protocol averaged over ``folds`` equal consecutive folds of the images, each
    fold's captions against that fold's images only (COCO 1K: five folds of 1,000 test images)."""
    n_images = scores.shape[1]
    if folds < 1 or n_images % folds:
        raise HopidError(f"--folds {folds}: the {n_images} images do not split into {folds} equal folds")
    size = n_images // folds
    results = []
    for fold in range(folds):
        rows = np.flatnonzero((caption_image >= fold * size) & (caption_image < (fold + 1) * size))
        block = scores[np.ix_(rows, np.arange(fold * size, (fold + 1) * size))]
        results.append(caption_protocol(block, caption_image[rows] - fold * size))
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}
