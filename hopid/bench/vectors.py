"""Embeddings shaped like CLIP's: image and text vectors in two shifted cones (the modality gap),
sharing a clustered latent, so a text finds its image by inner product but sits outside the
image cloud, as real queries do (uniform random vectors make every approximate index look broken)."""

from __future__ import annotations

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def gap_embeddings(count: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images ``[count, dim]``, text queries ``[queries, dim]``, each query's target image row);
    all float32 and L2-normalised. Image-image cosines average about 0.5, image-text about 0.3."""
    rng = np.random.default_rng(seed)
    image_axis, text_axis = _unit(rng.standard_normal((2, dim)))
    clusters = _unit(rng.standard_normal((max(1, int(np.sqrt(count))), dim)))
    images = np.empty((count, dim), dtype=np.float32)
    latent_of = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        latent = _unit(0.8 * clusters[rng.integers(0, len(clusters), n)] + 0.6 * _unit(rng.standard_normal((n, dim))))
        latent_of[start : start + n] = latent
        images[start : start + n] = _unit(image_axis + latent)
    targets = rng.integers(0, count, queries)
    noise = _unit(rng.standard_normal((queries, dim)))
    texts = _unit(text_axis + 0.9 * latent_of[targets] + 0.35 * noise).astype(np.float32)
    return images, texts, targets
