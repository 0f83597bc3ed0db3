"""Reference-based re-ranking (MMRef): ``s + beta * s_ref`` on each query's top-k.

``s_ref`` is the cosine of the query's and the candidate's profiles over the training
references (:meth:`hopid.models.mmref.References.profiles`). Profiles are non-negative, so
``s_ref >= 0`` and a re-scored candidate never falls below one outside the top-k: the order
beyond k is the original one.
"""

from __future__ import annotations

import numpy as np

from hopid.errors import HopidError
from hopid.models.encoder import ReferenceEncoder, TextEncoder

RERANK_CHOICES = ("reference",)


def rerank_top_k(
    scores: np.ndarray,
    query_profiles: np.ndarray,
    gallery_profiles: np.ndarray,
    k: int,
    beta: float,
    chunk: int = 256,
) -> np.ndarray:
    """``scores`` (queries x gallery) with each row's top-k re-scored by ``s + beta * s_ref``."""
    out = np.array(scores, dtype=np.float32, copy=True)
    k = min(int(k), scores.shape[1])
    if k < 1 or beta == 0:
        return out
    for start in range(0, len(scores), chunk):
        rows = slice(start, start + chunk)
        top = np.argpartition(-scores[rows], k - 1, axis=1)[:, :k]
        reference = np.einsum("qr,qkr->qk", query_profiles[rows], gallery_profiles[top])
        np.put_along_axis(out[rows], top, np.take_along_axis(scores[rows], top, axis=1) + beta * reference, axis=1)
    return out


def rerank_setting(encoder: TextEncoder, method: str, k: int | None, beta: float | None) -> tuple[int, float]:
    """The re-ranking ``(k, beta)``: as given, else the run's (chosen on val); a one-line error
    for an unknown method or a model without references."""
    if method not in RERANK_CHOICES:
        raise HopidError(f"--rerank {method!r}: choose one of {', '.join(RERANK_CHOICES)}")
    if not isinstance(encoder, ReferenceEncoder):
        raise HopidError("--rerank reference needs a trained run with model.mmref: true")
    defaults = encoder.rerank_defaults
    return int(defaults.get("k", 10) if k is None else k), float(defaults.get("beta", 0.0) if beta is None else beta)


def reference_reranked(
    encoder: TextEncoder,
    scores: np.ndarray,
    query_vectors: np.ndarray,
    gallery_vectors: np.ndarray,
    method: str,
    k: int | None,
    beta: float | None,
) -> np.ndarray:
    """Queries x gallery ``scores`` with each query's top-k re-ranked by reference profiles
    (MMRef); ``k``/``beta`` default to the values the run chose on its validation split."""
    k, beta = rerank_setting(encoder, method, k, beta)
    queries, gallery = encoder.reference_profiles(query_vectors), encoder.reference_profiles(gallery_vectors)
    return rerank_top_k(scores, queries, gallery, k, beta)
