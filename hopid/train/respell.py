"""Re-spelling augmentation: the written words of a training batch pass through one random cipher.

Trained on a few hundred invented names, the network can match a caption's word to an image's
OCR word by memory, and memory fails on a word it never saw. Re-spelt, every name is new in
every batch, so only its spelling (the sketch, the characters the text tower reads) can tell
which image writes it. One cipher serves the whole batch, captions' entity words and images'
OCR words alike, so a word still matches itself. It swaps letters within their kind (vowels
with vowels, consonants with consonants, digits with digits) and keeps case: look-alike names
stay one letter apart and a word keeps its shape. Only a word whose letters are all among the
shuffled ones is re-spelt; the others (with ``c h i j l q w``, the letters that mark the held-out
vocabularies, hopid.synthetic.heldout_style_words) stay as written, so a re-spelt training
word is never a held-out word (docs/unseen-words.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

VOWELS = "aeouy"
CONSONANTS = "bdfgkmnprstvxz"
DIGITS = "0123456789"


@dataclass(frozen=True)
class Cipher:
    """A letter-for-letter substitution (``str.translate`` table)."""

    table: dict[int, str]

    def __call__(self, text: str) -> str:
        """``text`` re-spelt, or as it is when one of its letters is not shuffled."""
        if any(ch.isalpha() and ord(ch) not in self.table for ch in text):
            return text
        return text.translate(self.table)


def random_cipher(rng: random.Random) -> Cipher:
    """A cipher that shuffles each kind of character among itself, upper and lower case alike."""
    table: dict[int, str] = {}
    for kind in (VOWELS, CONSONANTS, DIGITS):
        for source, target in zip(kind, rng.sample(kind, len(kind)), strict=True):
            table[ord(source)] = target
            table[ord(source.upper())] = target.upper()
    return Cipher(table)


def step_cipher(seed: int, step: int, rate: float) -> Cipher | None:
    """The cipher of one training step (None for a step left as written, ``1 - rate`` of them);
    the same on every rank and after a resume."""
    rng = random.Random(f"respell:{seed}:{step}")
    return random_cipher(rng) if rate > 0 and rng.random() < rate else None
