"""A trained run directory as an encoder, for ``hopid index``, ``query`` and ``eval``.

Images are encoded with their OCR tokens (V), texts with the entity words the run's own
tagger infers (T), exactly as in training. Nothing is downloaded: the backbone's
architecture is built empty and filled from ``model.safetensors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hopid.data.scan import content_hash
from hopid.entities.types import Entity
from hopid.errors import HopidError
from hopid.models.encoder import (
    EntityEncoder,
    ExplainedEncoder,
    ImageEncoder,
    ReferenceEncoder,
    encode_with_own_entities,
    explanations_or_texts,
    words_with_explanations,
)
from hopid.models.inputs import (
    OcrToken,
    entity_batch,
    image_vectors,
    keep_tokens,
    ocr_batch,
    prompted_image,
    text_vectors,
)
from hopid.models.network import HopidNet, NetConfig, WordBank
from hopid.models.run_dir import TAGGER_DIR, WEIGHTS_FILE, load_weights, read_run_config
from hopid.models.spec import ModelSpec
from hopid.scenetext.fusion import DEFAULT_ALPHA

ENTITY_MEMORY = 50_000  # texts whose entities are remembered


class RunEncoder(ImageEncoder, EntityEncoder, ReferenceEncoder, ExplainedEncoder):
    """The HOPID (or baseline) network of a run; L2-normalised float32 vectors like ClipEncoder."""

    def __init__(self, run_dir: str | Path, device: str = "cpu") -> None:
        from hopid.models.factory import build_architecture

        self.run_dir = Path(run_dir).resolve()
        self.recipe, self.info = read_run_config(self.run_dir)
        self.config = NetConfig.from_dict(self.recipe["model"])
        backbone = build_architecture(self.config.backbone, device)
        references = int(self.info.get("references", 0))
        self.net = HopidNet(backbone.model, backbone.tokenizer, self.config, references).to(device)
        state = load_weights(self.run_dir / WEIGHTS_FILE)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as exc:
            raise HopidError(f"{self.run_dir}: the weights do not fit the run's configuration ({exc})") from exc
        self.net.eval()
        self.preprocess = backbone.preprocess
        if self.info.get("preprocess"):  # the backbone's own (a pretrained tag may differ from the defaults)
            from open_clip.transform import PreprocessCfg, image_transform_v2

            self.preprocess = image_transform_v2(PreprocessCfg(**self.info["preprocess"]), is_train=False)
        self.device = device
        self.bank = WordBank(self.net)
        self.dim = self.net.out_dim
        self.spec = ModelSpec(str(self.run_dir), "run", "run", str(self.run_dir))
        self.needs_ocr = self.config.needs_ocr
        self.fusion_alpha = float(self.info.get("fusion_alpha", DEFAULT_ALPHA))
        self._tagger = None
        self._entities_of: dict[str, list[Entity]] = {}
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of the weights file."""
        if self._fingerprint is None:
            self._fingerprint = content_hash(self.run_dir / WEIGHTS_FILE)
        return self._fingerprint

    @property
    def tagger_dir(self) -> Path:
        return self.run_dir / TAGGER_DIR

    @property
    def tagger(self):
        if self._tagger is None:
            from hopid.entities.tagger import load_tagger

            self._tagger = load_tagger(self.tagger_dir)
        return self._tagger

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The run's tagger on each text; remembered, since a query's vector and its scene-text
        score both need them."""
        from hopid.entities.infer import infer_texts

        missing = list(dict.fromkeys(t for t in texts if t not in self._entities_of))
        new = dict(zip(missing, infer_texts(missing, self.tagger), strict=True)) if missing else {}
        found = [new[t] if t in new else self._entities_of[t] for t in texts]
        if len(self._entities_of) + len(new) > ENTITY_MEMORY:
            self._entities_of.clear()
        self._entities_of.update(new)
        return found

    def encode_images(
        self, images: Sequence[Image.Image], ocr: Sequence[Sequence[OcrToken]] | None = None
    ) -> np.ndarray:
        """V per image; ``ocr`` gives each image's OCR tokens (none: read as images without text)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = [keep_tokens(t, self.config.max_ocr_tokens) for t in (ocr or [[] for _ in images])]
        if len(tokens) != len(images):
            raise HopidError("encode_images: one OCR token list per image is needed")
        pixels = torch.stack(
            [self.preprocess(prompted_image(image, t, self.config)) for image, t in zip(images, tokens, strict=True)]
        ).to(self.device)
        with torch.inference_mode():
            global_feature, patch_tokens = self.net.image_backbone(pixels)
            batch = ocr_batch(tokens, self.bank, self.config.max_ocr_tokens).to(self.device)
            vectors = image_vectors(self.net, self.bank, global_feature, patch_tokens, batch)
        return vectors.float().cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """T per text, with the entity words the run's tagger infers."""
        return encode_with_own_entities(self, texts)

    def encode_with_words(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None) -> np.ndarray:
        """T per text with the given entity words per text (None: the network takes none)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            caption = self.net.caption_backbone(self.net.tokenizer(list(texts)).to(self.device))
            batch = entity_batch(words, self.bank, self.config.max_entities).to(self.device) if words else None
            vectors = text_vectors(self.net, self.bank, caption, batch)
        return vectors.float().cpu().numpy()

    def encode_explained(
        self, texts: Sequence[str], explanations: Sequence[str | None], *, explained_words: bool | None = None
    ) -> np.ndarray:
        """T* per text: T enhanced by its explanation through the run's EntityCLIP text experts
        (a missing explanation stands in as the text itself, as in training). With
        ``explained_words`` (None: as the run trained, ``model.explained_words``) T takes the
        explanation's entity words after the text's own, so what an explanation says is written
        (a slogan, a product name) is looked for as scene text."""
        if self.net.experts is None:
            raise HopidError(f"{self.run_dir}: explained queries need a model trained with model.explanation_experts")
        if not texts:
            return self.encode_texts(texts)
        given = explanations_or_texts(explanations, texts)
        if explained_words is None:
            explained_words = self.config.explained_words
        if explained_words and self.uses_entities:
            plain = self.encode_with_words(texts, words_with_explanations(self, texts, given))
        else:
            plain = self.encode_texts(texts)
        with torch.inference_mode():
            feature = self.net.caption_backbone(self.net.tokenizer(given).to(self.device))
            experts = self.net.experts
            vectors = experts.enhance_text(torch.from_numpy(plain).to(self.device), experts.explain(feature.float()))
        return vectors.float().cpu().numpy()

    @property
    def rerank_defaults(self) -> dict[str, Any]:
        """MMRef's re-ranking ``k``, ``beta`` and ``query`` chosen on the val split, for fused scores
        under ``fused`` (empty: no references)."""
        return dict(self.info.get("rerank") or {})

    def reference_profiles(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's profile over the training references (MMRef)."""
        if self.net.references is None:
            raise HopidError(f"{self.run_dir}: --rerank reference needs a model trained with model.mmref: true")
        return self.net.references.profiles(vectors)

    @property
    def uses_entities(self) -> bool:
        """Whether the text side takes the entity words (as a prompt or as words)."""
        return self.config.uses("text_prompt") or self.config.uses("entity_words")
