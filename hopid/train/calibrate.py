"""What training chooses on the val split once the weights are final: ``fusion.alpha`` and MMRef's
re-ranking ``(k, beta)``. Pure functions of score matrices and a metrics function."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from hopid.scenetext.fusion import fuse
from hopid.search.rerank import rerank_top_k

MetricsOf = Callable[[np.ndarray], dict[str, float]]  # val metrics of a captions x images score matrix


def choose_alpha(scores: dict[float, float], tolerance: float) -> float:
    """The largest alpha whose score is within ``tolerance`` of the best."""
    best = max(scores.values())
    return max(alpha for alpha, score in scores.items() if score >= best - tolerance)


def calibrate_alpha(
    dense: np.ndarray,
    lexical: np.ndarray,
    alphas: Iterable[float],
    tolerance: float,
    metrics_of: MetricsOf,
    select_on: str,
) -> tuple[float, dict[float, float]]:
    """``fusion.alpha`` for dense + alpha x scene-text scores: the largest alpha of the grid within
    ``tolerance`` of the best ``select_on``; returns it and every alpha's score."""
    tried = {float(alpha): metrics_of(fuse(dense, lexical, alpha))[select_on] for alpha in sorted(alphas)}
    return choose_alpha(tried, tolerance), tried


def calibrate_rerank(
    scores: np.ndarray,
    query_profiles: np.ndarray,
    gallery_profiles: np.ndarray,
    ks: Iterable[int],
    betas: Iterable[float],
    metrics_of: MetricsOf,
    select_on: str,
    queries: Iterable[str] = ("caption",),
) -> tuple[dict[str, float | str], dict[str, float]]:
    """MMRef's re-ranking: the ``(k, beta, query)`` with the best val mAP (``select_on`` without
    identities) among the settings that keep val Rank-1 (t2i R@1); beta 0 (off) when none
    improves. ``queries``: whose profile the candidates are compared with
    (:func:`hopid.search.rerank.rerank_top_k`). Returns the choice and every setting's score
    (keyed ``k{k}@beta{beta}``, then ``@{query}`` for a query other than ``caption``)."""
    ks, betas, queries = list(ks), list(betas), list(queries)

    def judge(matrix: np.ndarray) -> tuple[float, float]:
        found = metrics_of(matrix)
        return (found["map"], found["rank1"]) if "map" in found else (found[select_on], found["t2i_r1"])

    best, floor = judge(scores)
    chosen: dict[str, float | str] = {"k": int(ks[0]), "beta": 0.0, "query": queries[0]}
    tried = {}
    for query in queries:
        for k in ks:
            for beta in betas:
                found = rerank_top_k(scores, query_profiles, gallery_profiles, k, beta, query=query)
                score, first = judge(found)
                tried[f"k{k}@beta{beta}" + ("" if query == "caption" else f"@{query}")] = score
                if first >= floor and score > best + 1e-9:
                    best, chosen = score, {"k": int(k), "beta": float(beta), "query": query}
    return chosen, tried
