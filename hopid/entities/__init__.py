"""Discriminative Entity Inferring: which caption or query words are probably written in the image.

Weak labels from OCR (:mod:`.weak_labels`), a spaCy tagger trained on them (:mod:`.tagger`),
a rule fallback (:mod:`.rules`), the HOPID text prompt (:mod:`.prompt`) and the dataset
stage that writes ``entities`` and ``prompts`` tables (:mod:`.infer`). Light names are
imported here; the tagger and inference functions load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from hopid.entities.prompt import hopid_prompt, prompt_words
from hopid.entities.rules import rule_entities
from hopid.entities.types import Entity

_LAZY = {
    "weak_spans": "weak_labels",
    "label_dataset": "weak_labels",
    "score_spans": "weak_labels",
    "Tagger": "tagger",
    "TaggerReport": "tagger",
    "train_tagger": "tagger",
    "load_tagger": "tagger",
    "InferSummary": "infer",
    "infer_dataset": "infer",
    "infer_texts": "infer",
}

__all__ = ["Entity", "hopid_prompt", "prompt_words", "rule_entities", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
