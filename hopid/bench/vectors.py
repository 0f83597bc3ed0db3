"""Embeddings shaped like CLIP's: image and text vectors in two shifted cones (the modality gap),
sharing a clustered latent, so a text finds its image by inner product but sits outside the
image cloud, as real queries do (uniform random vectors make every approximate index look broken).

CLIP's 512 coordinates vary along far fewer directions (a low intrinsic dimension). The vectors
are therefore drawn in ``INTRINSIC_DIM`` dimensions and laid into the full width along random
orthonormal directions, with a little isotropic spread: inner products, and so neighbours and
the difficulty of an approximate index, stay those of the low-dimensional draw at any width,
while memory and scan cost are those of the full width. (Drawn in all 512 dimensions, the
noise cancels out and every text finds its image: an approximate index then looks perfect.)
"""

from __future__ import annotations

import numpy as np

INTRINSIC_DIM = 64
SPREAD = 0.05  # isotropic noise over the full width, relative to the unit signal
CHUNK = 100_000


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def gap_embeddings(count: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images ``[count, dim]``, text queries ``[queries, dim]``, each query's target image row);
    all float32 and L2-normalised. Image-image cosines average about 0.5; a text is nearer its
    own image (cosine about 0.4–0.5) than the image cone is on average (near 0)."""
    rng = np.random.default_rng(seed)
    layout = np.random.default_rng([seed, 1])  # the widening draws apart: the same low draw at any width
    low = min(dim, INTRINSIC_DIM)
    basis = np.linalg.qr(layout.standard_normal((dim, low)))[0].T if dim > low else np.eye(dim)  # [low, dim]
    image_axis, text_axis = _unit(rng.standard_normal((2, low)))
    clusters = _unit(rng.standard_normal((max(1, int(np.sqrt(count))), low)))

    def widen(vectors: np.ndarray) -> np.ndarray:
        if dim == low:
            return vectors
        spread = SPREAD * _unit(layout.standard_normal((len(vectors), dim)))
        return _unit(vectors @ basis + spread)

    images = np.empty((count, dim), dtype=np.float32)
    latent_of = np.empty((count, low), dtype=np.float32)
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        latent = _unit(0.8 * clusters[rng.integers(0, len(clusters), n)] + 0.6 * _unit(rng.standard_normal((n, low))))
        latent_of[start : start + n] = latent
        images[start : start + n] = widen(_unit(image_axis + latent))
    targets = rng.integers(0, count, queries)
    noise = _unit(rng.standard_normal((queries, low)))
    texts = widen(_unit(text_axis + 0.9 * latent_of[targets] + 0.35 * noise)).astype(np.float32)
    return images, texts, targets
