"""Spelling features: a hashed character n-gram sketch of a word.

A random-init or small text tower tells unseen words apart poorly and OCR misspellings
("HarbourFr0nt") not at all; the sketch gives every word a fixed vector in which words that
share most of their letters are close. It is concatenated to the frozen tower's word
embedding (``NetConfig.spelling_dim``; 0 turns it off), needs no training and no weights. With
``NetConfig.spelling_channel`` the mean sketch of an image's OCR words and of a caption's entity
words also enter V and T directly, so their cosine is part of the score (docs/unseen-words.md).
The numpy form serves the torch-free query path; the tensor form wraps it.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NGRAMS = (1, 2, 3)


def sketch_array(word: str, dim: int) -> np.ndarray:
    """An L2-normalised float32 ``[dim]`` signed count of the word's case-folded 1-, 2- and 3-grams."""
    vector = np.zeros(max(dim, 0), dtype=np.float32)
    text = f"<{word.casefold().strip()}>"
    if dim <= 0 or text == "<>":
        return vector
    for n in NGRAMS:
        for i in range(len(text) - n + 1):
            code = zlib.crc32(f"{n}:{text[i : i + n]}".encode())
            vector[code % dim] += 1.0 if (code >> 16) & 1 else -1.0
    return vector / max(float(np.linalg.norm(vector)), 1e-6)


def sketch_arrays(words: list[str], dim: int) -> np.ndarray:
    """``[len(words), dim]`` sketches."""
    return np.stack([sketch_array(w, dim) for w in words]) if words else np.zeros((0, max(dim, 0)), np.float32)


def spelling_sketch(word: str, dim: int) -> torch.Tensor:
    import torch

    return torch.from_numpy(sketch_array(word, dim))


def spelling_sketches(words: list[str], dim: int) -> torch.Tensor:
    import torch

    return torch.from_numpy(sketch_arrays(words, dim))
