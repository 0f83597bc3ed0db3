"""OCR-noise augmentation: real engines drop, misspell and merge words that ground truth has.

Misspellings are drawn from a few variants fixed per word (seeded), so every string the
network can see is known before training and its frozen embedding is computed once.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from hopid.models.inputs import OcrToken

CONFUSABLE = {"o": "0", "0": "o", "l": "1", "1": "l", "i": "l", "s": "5", "5": "s", "e": "c", "b": "8", "rn": "m"}


@dataclass(frozen=True)
class NoiseConfig:
    drop: float = 0.1
    misspell: float = 0.15
    merge: float = 0.05
    variants: int = 3

    @property
    def active(self) -> bool:
        return self.drop > 0 or self.misspell > 0 or self.merge > 0


def misspell(word: str, rng: random.Random) -> str:
    """One OCR-like error: a confusable character, a dropped, doubled or swapped character."""
    if len(word) < 2:
        return word
    lowered = word.lower()
    for source, target in CONFUSABLE.items():
        if source in lowered and rng.random() < 0.3:
            at = lowered.index(source)
            return word[:at] + target + word[at + len(source) :]
    at = rng.randrange(len(word))
    kind = rng.randrange(3)
    if kind == 0:
        return word[:at] + word[at + 1 :]
    if kind == 1:
        return word[:at] + word[at] + word[at:]
    at = min(at, len(word) - 2)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def misspellings(word: str, count: int, seed: int) -> list[str]:
    """``count`` fixed misspellings of ``word`` (the same for the same word and seed)."""
    rng = random.Random(zlib.crc32(word.encode()) ^ seed)
    return [misspell(word, rng) for _ in range(count)]


def merged(a: OcrToken, b: OcrToken) -> OcrToken:
    """Two adjacent words read as one, with the box around both."""
    xs = [*a.box[0::2], *b.box[0::2]]
    ys = [*a.box[1::2], *b.box[1::2]]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return OcrToken(a.text + b.text, (x0, y0, x1, y0, x1, y1, x0, y1), min(a.confidence, b.confidence))


def noisy_strings(tokens: Sequence[OcrToken], config: NoiseConfig, seed: int) -> list[str]:
    """Every string :func:`add_noise` can make from ``tokens`` (to embed them all up front)."""
    out = [t.text for t in tokens]
    if config.misspell > 0:
        for t in tokens:
            out += misspellings(t.text, config.variants, seed)
    if config.merge > 0:
        out += [a.text + b.text for a, b in zip(tokens, tokens[1:], strict=False)]
    return out


def add_noise(tokens: Sequence[OcrToken], config: NoiseConfig, rng: random.Random, seed: int) -> list[OcrToken]:
    """A noisy reading of ``tokens``: some dropped, some misspelt, some adjacent pairs merged.

    At least one token survives when there was any, so noise never turns text into no text."""
    out: list[OcrToken] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if config.merge > 0 and i + 1 < len(tokens) and rng.random() < config.merge:
            out.append(merged(token, tokens[i + 1]))
            i += 2
            continue
        i += 1
        if rng.random() < config.drop:
            continue
        if config.misspell > 0 and rng.random() < config.misspell:
            text = rng.choice(misspellings(token.text, config.variants, seed))
            token = OcrToken(text, token.box, token.confidence * 0.8)
        out.append(token)
    if not out and tokens:
        out.append(tokens[rng.randrange(len(tokens))])
    return out
