"""Discriminative Entity Inferring: which caption or query words are probably written in the image.

Weak labels from OCR (:mod:`.weak_labels`), a spaCy tagger trained on them (:mod:`.tagger`),
a rule fallback (:mod:`.rules`), the HOPID text prompt (:mod:`.prompt`) and the dataset
stage that writes ``entities`` and ``prompts`` tables (:mod:`.infer`). Only the light names
are imported here; import the tagger and inference from their modules.
"""

from __future__ import annotations

from hopid.entities.prompt import hopid_prompt, prompt_words
from hopid.entities.rules import rule_entities
from hopid.entities.types import Entity

__all__ = ["Entity", "hopid_prompt", "prompt_words", "rule_entities"]
