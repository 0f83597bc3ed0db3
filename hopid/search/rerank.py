"""Reference-based re-ranking (MMRef): ``s + beta * s_ref`` on each query's top-k.

``s_ref`` is the cosine of the query's and the candidate's profiles over the training
references (:meth:`hopid.models.mmref.References.profiles`). Profiles are non-negative, so
``s_ref >= 0`` and a re-scored candidate never falls below one outside the top-k: the order
beyond k is the original one.
"""

from __future__ import annotations

import numpy as np

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
