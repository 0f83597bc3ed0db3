"""CLIP's byte-level BPE tokenizer in plain Python (no torch, no open_clip import).

The cold query path must not import torch or open_clip (seconds); this reads open_clip's own
vocabulary file and gives the same token ids as ``open_clip.get_tokenizer`` for the CLIP
text towers (tested against it).
"""

from __future__ import annotations

import gzip
import html
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2  # the merges CLIP's vocabulary uses
SPECIAL = ("<start_of_text>", "<end_of_text>")
WORD_END = "</w>"


def vocab_path() -> Path:
    """open_clip's BPE vocabulary, found without importing open_clip."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed: its BPE vocabulary is needed")
    return Path(next(iter(spec.submodule_search_locations))) / VOCAB_FILE


def byte_symbols() -> tuple[list[str], dict[int, str]]:
    """One printable character per byte value, in CLIP's vocabulary order: the printable
    Latin-1 bytes stand for themselves, the others borrow characters from 256 on."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = [b for b in range(256) if b not in set(printable)]
    symbols = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(others)}
    return [symbols[b] for b in printable + others], symbols


class ClipBPE:
    def __init__(self, path: Path | None = None, context_length: int = 77) -> None:
        import regex

        with gzip.open(path or vocab_path()) as handle:
            lines = handle.read().decode("utf-8").split("\n", MERGES + 1)[1 : MERGES + 1]
        halves = "\n".join(lines).split()  # one split, not one per line: half the start-up time
        merges = list(zip(halves[0::2], halves[1::2], strict=True))
        order, self.byte_symbol = byte_symbols()
        tokens = order + [s + WORD_END for s in order] + ["".join(m) for m in merges] + list(SPECIAL)
        self.ids = {token: i for i, token in enumerate(tokens)}
        self.rank = {pair: i for i, pair in enumerate(merges)}
        self.start, self.end = self.ids[SPECIAL[0]], self.ids[SPECIAL[1]]
        self.context_length = context_length
        words = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
        self.pattern = regex.compile("|".join(SPECIAL) + "|" + words, regex.IGNORECASE)
        self._pieces = lru_cache(maxsize=50_000)(self._merge)

    @staticmethod
    def clean(text: str) -> str:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        return " ".join(text.split()).lower()

    def _merge(self, word: str) -> tuple[str, ...]:
        """A word's BPE pieces: repeatedly join the adjacent pair of lowest merge rank."""
        if word in SPECIAL:
            return (word,)
        parts = list(word[:-1]) + [word[-1] + WORD_END]
        while len(parts) > 1:
            pairs = zip(parts[:-1], parts[1:], strict=True)
            best, at = min((self.rank.get(pair, MERGES), i) for i, pair in enumerate(pairs))
            if best == MERGES:
                break
            pair = (parts[at], parts[at + 1])
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.pattern.findall(self.clean(text)):
            mapped = word if word in SPECIAL else "".join(self.byte_symbol[b] for b in word.encode("utf-8"))
            ids += [self.ids[piece] for piece in self._pieces(mapped)]
        return ids

    def __call__(self, texts: list[str]) -> np.ndarray:
        """``[len(texts), context_length]`` int64 ids: start, the text, end, zero padding
        (a text too long is cut and ends with the end token)."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start, *self.encode(text), self.end][: self.context_length]
            ids[-1] = self.end
            out[row, : len(ids)] = ids
        return out
