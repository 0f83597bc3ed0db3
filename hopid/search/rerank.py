"""Reference-based re-ranking (MMRef): ``s + beta * s_ref`` on each query's top-k.

``s_ref`` is the cosine of two profiles over the training references
(:meth:`hopid.models.mmref.References.profiles`): the candidate's and, with ``query="caption"``
(the paper's), the query's own; with ``query="top"`` that of the query's best candidate, so
candidates are compared to the image the query matched best, within one modality (measured
better on unseen identities: docs/model.md). Profiles are non-negative, so ``s_ref >= 0`` and a
re-scored candidate never falls below one outside the top-k: the order beyond k is the original
one; with ``query="top"`` the best candidate gets the largest ``s_ref`` (1) and stays first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hopid.errors import HopidError
from hopid.models.encoder import ReferenceEncoder, TextEncoder

RERANK_CHOICES = ("reference",)
RERANK_QUERIES = ("caption", "top")  # whose profile a candidate is compared with


def rerank_top_k(
    scores: np.ndarray,
    query_profiles: np.ndarray,
    gallery_profiles: np.ndarray,
    k: int,
    beta: float,
    chunk: int = 256,
    query: str = "caption",
) -> np.ndarray:
    """``scores`` (queries x gallery) with each row's top-k re-scored by ``s + beta * s_ref``,
    ``s_ref`` against the query's own profile (``query="caption"``) or its best candidate's
    (``"top"``)."""
    if query not in RERANK_QUERIES:
        raise HopidError(f"re-ranking query {query!r}: choose one of {', '.join(RERANK_QUERIES)}")
    out = np.array(scores, dtype=np.float32, copy=True)
    k = min(int(k), scores.shape[1])
    if k < 1 or beta == 0:
        return out
    for start in range(0, len(scores), chunk):
        rows = slice(start, start + chunk)
        top = np.argpartition(-scores[rows], k - 1, axis=1)[:, :k]
        anchor = query_profiles[rows] if query == "caption" else gallery_profiles[scores[rows].argmax(axis=1)]
        reference = np.einsum("qr,qkr->qk", anchor, gallery_profiles[top])
        np.put_along_axis(out[rows], top, np.take_along_axis(scores[rows], top, axis=1) + beta * reference, axis=1)
    return out


def rerank_setting(
    encoder: TextEncoder, method: str, k: int | None, beta: float | None, fused: bool = False
) -> tuple[int, float, str]:
    """The re-ranking ``(k, beta, query)``: ``k`` and ``beta`` as given, else the run's, chosen on
    val for dense scores or, with ``fused``, for fused ones (runs that chose once use that choice
    for both); ``query`` the run's (``caption`` for runs that predate the choice). A one-line
    error for an unknown method or a model without references."""
    if method not in RERANK_CHOICES:
        raise HopidError(f"--rerank {method!r}: choose one of {', '.join(RERANK_CHOICES)}")
    if not isinstance(encoder, ReferenceEncoder):
        raise HopidError("--rerank reference needs a trained run with model.mmref: true")
    defaults = rerank_choice(encoder.rerank_defaults, fused)
    k = int(defaults.get("k", 10) if k is None else k)
    return k, float(defaults.get("beta", 0.0) if beta is None else beta), str(defaults.get("query", "caption"))


def rerank_choice(defaults: dict[str, Any], fused: bool) -> dict[str, Any]:
    """A run's re-ranking choice (``run.json``'s ``rerank``) for dense or ``fused`` scores; a run
    that chose once (before fused scores were calibrated apart) uses that choice for both."""
    return defaults["fused"] if fused and "fused" in defaults else defaults


def rerank_depth(defaults: dict[str, Any]) -> int:
    """How many candidates the run's re-ranking reads: the larger of its dense and fused ``k``."""
    return int(max(defaults.get("k", 0), (defaults.get("fused") or {}).get("k", 0)))


def reference_reranked(
    encoder: TextEncoder,
    scores: np.ndarray,
    query_vectors: np.ndarray,
    gallery_vectors: np.ndarray,
    method: str,
    k: int | None,
    beta: float | None,
    fused: bool = False,
) -> np.ndarray:
    """Queries x gallery ``scores`` (fused with scene text when ``fused``) with each query's
    top-k re-ranked by reference profiles (MMRef); ``k``/``beta`` (and whose profile) default to
    what the run chose on its val split for that kind of score."""
    k, beta, query = rerank_setting(encoder, method, k, beta, fused)
    queries, gallery = encoder.reference_profiles(query_vectors), encoder.reference_profiles(gallery_vectors)
    return rerank_top_k(scores, queries, gallery, k, beta, query=query)
