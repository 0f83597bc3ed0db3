"""How the dense and scene-text scores combine: ``score = dense + fusion.alpha * text``.

``dense`` is the cosine similarity of the model's text and image vectors, ``text`` the
lexical scene-text score in 0..1 (see :mod:`hopid.scenetext.lexical`). A query whose words
appear in no image's OCR leaves ``text`` at 0 everywhere, so ranking falls back to the
model alone. ``fusion.alpha`` was chosen on the synthetic validation split
(docs/search.md); a full scene-text match outweighs any dense difference a CLIP model
makes between two images, a partial match a smaller one.
"""

from __future__ import annotations

import numpy as np

DEFAULT_ALPHA = 0.5


def fuse(dense: np.ndarray, text: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    return dense + np.float32(alpha) * text
