"""Spelling features: a hashed character n-gram sketch of a word.

A random-init or small text tower tells unseen words apart poorly and OCR misspellings
("HarbourFr0nt") not at all; the sketch gives every word a fixed vector in which words that
share most of their letters are close. It is concatenated to the frozen tower's word
embedding (``NetConfig.spelling_dim``; 0 turns it off), needs no training and no weights.
"""

from __future__ import annotations

import zlib

import torch

NGRAMS = (1, 2, 3)


def spelling_sketch(word: str, dim: int) -> torch.Tensor:
    """An L2-normalised ``[dim]`` signed count of the word's case-folded 1-, 2- and 3-grams."""
    vector = torch.zeros(dim)
    text = f"<{word.casefold().strip()}>"
    if dim <= 0 or text == "<>":
        return vector
    for n in NGRAMS:
        for i in range(len(text) - n + 1):
            code = zlib.crc32(f"{n}:{text[i : i + n]}".encode())
            vector[code % dim] += 1.0 if (code >> 16) & 1 else -1.0
    return vector / vector.norm().clamp_min(1e-6)


def spelling_sketches(words: list[str], dim: int) -> torch.Tensor:
    return torch.stack([spelling_sketch(w, dim) for w in words]) if words else torch.zeros(0, dim)
