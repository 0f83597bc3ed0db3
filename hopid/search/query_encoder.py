"""The query side without torch: the text side exported to ONNX when the index is built.

Importing torch and open_clip costs seconds, spaCy seconds more; onnxruntime a fifth of one.
``hopid index`` writes ``query.onnx`` and ``query.json`` (kind, the model's fingerprint,
context length, ...) into the index's generation, and ``hopid query`` then encodes its text with
onnxruntime and the pure-Python tokenizer of :mod:`hopid.models.bpe`:

- a plain CLIP model: its text and image towers, optimized and int8 where that agrees with
  fp32 (``query.onnx``, ``query-image.onnx``), :class:`hopid.models.onnx_clip.OnnxClipEncoder`:
  text and image queries without torch (an index from before keeps :class:`OnnxTextEncoder`);
- a trained run: its whole text side (:mod:`hopid.models.query_export`), with the entity words
  found by the run's light tagger (``query-entities.json``, :mod:`hopid.entities.light`)
  instead of spaCy, and MMRef's references (``query-references.npy``) for re-ranking:
  :class:`OnnxRunTextEncoder`. A run without a light tagger (trained before it existed)
  keeps the full encoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hopid.errors import HopidError
from hopid.index.directory import (
    QUERY_ENTITIES,
    QUERY_IMAGE_MODEL,
    QUERY_INFO,
    QUERY_MODEL,
    QUERY_REFERENCES,
    Generation,
    open_generation,
)
from hopid.models.encoder import EntityEncoder, ReferenceEncoder, TextEncoder, encode_with_own_entities
from hopid.models.onnx_clip import OnnxClipEncoder
from hopid.models.tower_export import open_session
from hopid.scenetext.fusion import DEFAULT_ALPHA


def open_query_encoder(index: Path | Generation, spec, fingerprint: str):
    """The light (ONNX) query encoder of an index (its directory or an opened generation), or
    None when the index has none for this model; a damaged one is a one-line HopidError."""
    generation = index if isinstance(index, Generation) else open_generation(Path(index))
    if not (generation.has(QUERY_MODEL) and generation.has(QUERY_INFO)):
        return None
    try:
        facts = json.loads(generation.path(QUERY_INFO).read_bytes())
        if not isinstance(facts, dict) or not isinstance(facts.get("context_length"), int):
            raise ValueError("not the object hopid index writes")
    except (ValueError, OSError) as exc:
        raise generation.damaged(QUERY_INFO, f"is not readable ({exc})") from exc
    if facts.get("fingerprint") != fingerprint:
        return None
    run = facts.get("kind", "clip") == "run"
    if run and not generation.has(QUERY_ENTITIES):
        return None
    try:
        if not run and generation.has(QUERY_IMAGE_MODEL) and OnnxClipEncoder.can_read(facts):
            image_graph = generation.path(QUERY_IMAGE_MODEL)
            encoder = OnnxClipEncoder(generation.path(QUERY_MODEL), image_graph, facts, spec, int(facts["dim"]))
            encoder.session("text")  # opened now: a query needs it, and a damaged graph is one line here
            return encoder
        kind = OnnxRunTextEncoder if run else OnnxTextEncoder
        return kind(generation.folder, spec, facts)
    except Exception as exc:  # noqa: BLE001 - onnxruntime, numpy and the tagger each fail in their own way
        raise generation.damaged(QUERY_MODEL, f"or its companions cannot be loaded ({type(exc).__name__})") from exc


class OnnxTextEncoder(TextEncoder):
    """Text -> vector with onnxruntime; the same vectors as the exported CLIP encoder (tested)."""

    needs_ocr = False
    fusion_alpha = DEFAULT_ALPHA

    def __init__(self, index_dir: Path, spec, info: dict) -> None:
        from hopid.models.bpe import ClipBPE

        self.session = open_session(index_dir / QUERY_MODEL, optimized=bool(info.get("optimized")))
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = ClipBPE(context_length=info["context_length"])
        self.fingerprint = info["fingerprint"]
        self.dim = info["dim"]
        self.spec = spec

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run({"ids": self.tokenizer(list(texts))})

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The graph on the inputs it reads (the exporter drops the ones a network ignores)."""
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0].astype(np.float32)


class OnnxRunTextEncoder(OnnxTextEncoder, EntityEncoder, ReferenceEncoder):
    """A trained run's text side with onnxruntime; entity words from the run's light tagger."""

    def __init__(self, index_dir: Path, spec, info: dict) -> None:
        from hopid.entities.light import LightTagger

        super().__init__(index_dir, spec, info)
        self.light = LightTagger.load(index_dir / QUERY_ENTITIES)
        self.uses_entities = bool(info["uses_entities"])
        self.spelling_dim = int(info["spelling_dim"])
        self.max_entities = int(info["max_entities"])
        self.fusion_alpha = float(info.get("fusion_alpha", DEFAULT_ALPHA))
        self.rerank_defaults = dict(info.get("rerank") or {})
        self.profile_temperature = float(info.get("profile_temperature", 0.1))
        references = index_dir / QUERY_REFERENCES
        self.references = np.load(references, allow_pickle=False) if references.is_file() else None

    def entities(self, texts: Sequence[str]) -> list:
        """The light tagger's entities of each text (what the searcher's scene-text score uses)."""
        return self.light.entities(texts)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """T per text, with the entity words the light tagger infers."""
        return encode_with_own_entities(self, texts)

    def encode_with_words(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None) -> np.ndarray:
        """T per text with the given entity words per text, as ``RunEncoder.encode_with_words``."""
        from hopid.entities.prompt import hopid_prompt
        from hopid.models.spelling import sketch_arrays

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        words = [list(w) for w in words] if words is not None else [[] for _ in texts]
        prompts = [hopid_prompt(w) for w in words]
        count = max(1, min(self.max_entities, max(len(w) for w in words)))
        length = self.tokenizer.context_length
        ids = np.zeros((len(texts), count, length), dtype=np.int64)
        sketches = np.zeros((len(texts), count, self.spelling_dim), dtype=np.float32)
        mask = np.zeros((len(texts), count), dtype=bool)
        for row, found in enumerate(words):
            found = found[:count]
            if found:
                ids[row, : len(found)] = self.tokenizer(found)
                sketches[row, : len(found)] = sketch_arrays(found, self.spelling_dim)
                mask[row, : len(found)] = True
        feed = {
            "caption": self.tokenizer(list(texts)),
            "prompt": self.tokenizer(prompts),
            "prompt_sketch": sketch_arrays(prompts, self.spelling_dim),
            "words": ids,
            "word_sketch": sketches,
            "word_mask": mask,
        }
        return self._run(feed)

    def reference_profiles(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's profile over the run's references (MMRef), as ``References.profiles``."""
        if self.references is None:
            raise HopidError("--rerank reference needs a model trained with model.mmref: true")
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        logits = unit.astype(np.float32) @ self.references.T / self.profile_temperature
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        profile = weights / weights.sum(axis=1, keepdims=True)
        return (profile / np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)).astype(np.float32)
