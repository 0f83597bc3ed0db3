"""What an encoder is and what it may also do, declared once.

Every encoder turns texts into L2-normalised float32 vectors (:class:`TextEncoder`). The others
are abilities an encoder declares by subclassing them, and callers ask with ``isinstance``:

- :class:`ImageEncoder`: images (with their OCR tokens) into the same space (``ClipEncoder``,
  ``RunEncoder``; not the ONNX query encoders, which only read queries);
- :class:`EntityEncoder`: infers a text's entity words with its own tagger and takes them as
  input (a trained run, full or ONNX);
- :class:`ReferenceEncoder`: MMRef reference profiles for re-ranking (a run with references);
- :class:`ExplainedEncoder`: texts enhanced by their explanations (EntityCLIP's text experts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from hopid.entities.types import Entity
    from hopid.models.spec import ModelSpec


@runtime_checkable
class TextEncoder(Protocol):
    """Texts into vectors (two encoders with the same fingerprint give the same vectors)."""

    spec: ModelSpec
    dim: int | None
    fingerprint: str  # a hash of the weights
    needs_ocr: bool  # whether its image vectors read the image's OCR tokens
    fusion_alpha: float  # the weight of the scene-text score fused with its dense score

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class ImageEncoder(TextEncoder, Protocol):
    """Also images, each with its OCR tokens (ignored by models that do not read them)."""

    def encode_images(self, images: Sequence[Image.Image], ocr: Sequence[Sequence] | None = None) -> np.ndarray: ...


@runtime_checkable
class EntityEncoder(TextEncoder, Protocol):
    """Infers each text's entity words with its own tagger and encodes a text with them."""

    uses_entities: bool  # whether its text side takes the entity words at all

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]: ...

    def encode_with_words(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None) -> np.ndarray: ...


def encode_with_own_entities(encoder: EntityEncoder, texts: Sequence[str]) -> np.ndarray:
    """Each text encoded with the entity words the encoder's own tagger infers (its
    ``encode_texts``, the same for the full network and its ONNX export)."""
    from hopid.entities.prompt import prompt_words

    words = [prompt_words(found) for found in encoder.entities(texts)] if encoder.uses_entities else None
    return encoder.encode_with_words(texts, words)


def explanations_or_texts(explanations: Sequence[str | None], texts: Sequence[str]) -> list[str]:
    """Each text's explanation, or the text itself where it has none (EntityCLIP, as in training)."""
    return [e if e and e.strip() else t for e, t in zip(explanations, texts, strict=True)]


def words_with_explanations(
    encoder: EntityEncoder, texts: Sequence[str], explanations: Sequence[str]
) -> list[list[str]]:
    """Each text's entity words (the encoder's own tagger) followed by its explanation's
    (:func:`with_explanation_words`), repeats dropped."""
    from hopid.entities.prompt import prompt_words

    own = [prompt_words(found) for found in encoder.entities(texts)]
    return with_explanation_words(own, explanations)


def with_explanation_words(own: Sequence[list[str]], explanations: Sequence[str]) -> list[list[str]]:
    """``own`` words per text, then the words its explanation quotes or shapes like a name (the
    rules of :mod:`hopid.entities.rules`: the tagger learnt captions, not explanations, and
    marks their common words), repeats dropped."""
    from hopid.entities.infer import infer_texts
    from hopid.entities.prompt import dedupe, prompt_words

    told = [prompt_words(found) for found in infer_texts(explanations)]
    return [dedupe([*mine, *more]) for mine, more in zip(own, told, strict=True)]


@runtime_checkable
class ReferenceEncoder(Protocol):
    """MMRef: vectors' profiles over the training references, and the re-ranking chosen on val."""

    rerank_defaults: dict[str, Any]  # MMRef's k, beta and query chosen on val, and under "fused" (empty: none)

    def reference_profiles(self, vectors: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class ExplainedEncoder(Protocol):
    """EntityCLIP: texts enhanced by their explanations through the explanation experts."""

    def encode_explained(
        self, texts: Sequence[str], explanations: Sequence[str | None], *, explained_words: bool | None = None
    ) -> np.ndarray: ...
