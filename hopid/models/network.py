"""The HOPID network on an open_clip backbone, and the CLIP-only baseline (the same class with
the scene-text parts switched off).

Forward passes are split where caches can cut them: the towers (``image_backbone``,
``caption_backbone``) may be frozen and precomputed, and the frozen word tower embeds
OCR words, entity words and prompts once per unique string (:class:`WordBank`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from hopid.errors import HopidError
from hopid.models.entityclip import ExplanationExperts
from hopid.models.heads import EntityDistiller, ImageFusion, OcrEntityEncoder, TextFusion, masked_mean
from hopid.models.mmref import References
from hopid.models.spelling import spelling_sketches


@dataclass
class NetConfig:
    """What the network is made of; every scene-text part can be switched off on its own.

    ``scene_text: false`` is the CLIP-only baseline: same backbone and heads' linear
    projections, no OCR, prompts or slots."""

    backbone: str = "tiny"
    scene_text: bool = True
    visual_prompt: bool = True
    prompt_color: tuple[int, int, int] = (255, 0, 0)
    prompt_width: int = 2
    ocr_entities: bool = True
    ocr_geometry: bool = True
    ocr_appearance: bool = False  # measured: hurts transfer to an engine's boxes with the tiny tower
    distill: bool = True
    slots: int = 4
    distill_layers: int = 3
    heads: int = 4
    local_fusion: bool = True
    text_prompt: bool = True
    entity_words: bool = True
    freeze_image: bool = False
    freeze_text: bool = False
    max_ocr_tokens: int = 16
    max_entities: int = 8
    spelling_dim: int = 256
    spelling_channel: bool = False  # concat fusion: a third subspace, the mean spelling sketch of the words
    fusion: str = "concat"  # concat: V = [global ; scene text], T = [caption ; scene text]; sum: added
    mmref: bool = False  # MMRef: one learned reference per train identity (object_id), see mmref.py
    reference_temperature: float = 0.05  # of the reference losses
    profile_temperature: float = 0.1  # of the profiles that re-rank (softer: measured better on unseen brands)
    explanation_experts: bool = False  # EntityCLIP: MMAE + GI-ITM over captions.explanation (training only)
    experts: int = 3  # experts per EntityCLIP group
    explained_words: bool = False  # EntityCLIP: T* also takes the explanation's entity words (a slogan it states)

    @classmethod
    def from_dict(cls, values: dict) -> NetConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise HopidError(f"model: unknown key(s) {sorted(unknown)}; valid: {sorted(known)}")
        values = dict(values)
        if values.get("fusion", "concat") not in ("concat", "sum"):
            raise HopidError(f"model.fusion {values['fusion']!r}: choose concat or sum")
        if "prompt_color" in values:
            values["prompt_color"] = tuple(int(c) for c in values["prompt_color"])
        return cls(**values)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["prompt_color"] = list(self.prompt_color)
        return out

    def uses(self, part: str) -> bool:
        """Whether a scene-text part is on (every part is off in the baseline)."""
        return self.scene_text and bool(getattr(self, part))

    @property
    def needs_ocr(self) -> bool:
        return self.uses("visual_prompt") or self.uses("ocr_entities")


def _identity_linear(dim: int) -> nn.Linear:
    layer = nn.Linear(dim, dim)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(dim))
        layer.bias.zero_()
    return layer


# the scalar weights of the scene-text and spelling channels (trained at `train.gate_lr`)
GATES = ("scene_gate", "spelling_gate")


class HopidNet(nn.Module):
    """OCR-aware image encoder and entity-aware text encoder in one joint space."""

    def __init__(self, clip: nn.Module, tokenizer, config: NetConfig, references: int = 0) -> None:
        """``references``: how many train identities MMRef anchors (needed when ``config.mmref``)."""
        super().__init__()
        self.config = config
        self.clip = clip
        self.tokenizer = tokenizer
        if not hasattr(clip, "text_projection") or not hasattr(clip.visual, "output_tokens"):
            raise HopidError(
                f"backbone {config.backbone!r}: HOPID needs an open_clip CLIP with a ViT image tower "
                "(e.g. ViT-B-32, ViT-B-16, or tiny)"
            )
        clip.visual.output_tokens = True
        dim = int(clip.text_projection.shape[1])
        proj = getattr(clip.visual, "proj", None)
        token_width = int(proj.shape[0]) if proj is not None else dim
        self.dim = dim
        if config.freeze_image:
            clip.visual.requires_grad_(False)
        if config.freeze_text:
            for name, parameter in clip.named_parameters():
                if not name.startswith("visual."):
                    parameter.requires_grad_(False)
        wants_scene = config.uses("ocr_entities") or config.uses("entity_words") or config.uses("text_prompt")
        self.word_tower = None
        if wants_scene and not config.freeze_text:
            tower = copy.deepcopy(clip)
            tower.visual = nn.Identity()
            self.word_tower = tower.requires_grad_(False)
        self.image_out = _identity_linear(dim)
        self.text_out = _identity_linear(dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), for InfoNCE
        self.word_dim = dim + max(0, config.spelling_dim)
        shared = config.uses("ocr_entities") or config.uses("entity_words")
        self.word_proj = (
            nn.Sequential(nn.LayerNorm(self.word_dim), nn.Linear(self.word_dim, dim), nn.GELU(), nn.Linear(dim, dim))
            if shared
            else None
        )
        self.ocr_encoder = (
            OcrEntityEncoder(
                dim,
                token_width,
                geometry=config.ocr_geometry,
                appearance=config.ocr_appearance,
            )
            if config.uses("ocr_entities")
            else None
        )
        self.distiller = (
            EntityDistiller(dim, config.slots, config.distill_layers, config.heads)
            if config.uses("ocr_entities") and config.distill
            else None
        )
        self.concat = wants_scene and config.fusion == "concat"
        self.out_dim = 2 * dim if self.concat else dim
        if self.concat:
            self.entity_out = nn.Linear(dim, dim)
            self.scene_out = nn.Linear(dim, dim)
            self.no_scene = nn.Parameter(torch.randn(dim) * dim**-0.5)
            self.scene_gate = nn.Parameter(torch.tensor(1.0))
        self.spelling_channel = (
            self.concat and config.spelling_channel and config.spelling_dim > 0 and config.uses("ocr_entities")
        )
        if self.spelling_channel:
            self.out_dim += config.spelling_dim
            self.spelling_gate = nn.Parameter(torch.tensor(1.0))
        self.image_fusion = ImageFusion(
            dim,
            token_width,
            entities=config.uses("ocr_entities") and not self.concat,
            local=config.uses("local_fusion"),
            heads=config.heads,
        )
        self.text_fusion = TextFusion(
            dim, self.word_dim, prompt=config.uses("text_prompt"), words=config.uses("entity_words")
        )
        if config.mmref and references < 1:
            raise HopidError("model.mmref: the train split needs images with an object_id (one reference each)")
        self.references = (
            References(references, self.out_dim, config.reference_temperature, config.profile_temperature)
            if config.mmref
            else None
        )
        self.experts = ExplanationExperts(self.out_dim, dim, config.experts) if config.explanation_experts else None

    # -- towers -------------------------------------------------------------------------------
    @property
    def frozen_text(self) -> nn.Module:
        """The text tower that embeds words and prompts: a frozen copy, or the tower itself when frozen."""
        return self.word_tower if self.word_tower is not None else self.clip

    def train(self, mode: bool = True) -> HopidNet:
        super().train(mode)
        if self.word_tower is not None:
            self.word_tower.eval()
        if self.config.freeze_image:
            self.clip.visual.eval()
        return self

    def image_backbone(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G [B, dim], patch tokens [B, P, width])``."""
        pooled, tokens = self.clip.visual(pixels)
        if tokens.shape[1] > 0 and int(round(tokens.shape[1] ** 0.5)) ** 2 != tokens.shape[1]:
            tokens = tokens[:, 1:]  # a class token left in
        return pooled, tokens

    def caption_backbone(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_text(token_ids)

    @torch.no_grad()
    def embed_strings(self, strings: Sequence[str], batch_size: int = 512) -> torch.Tensor:
        """Frozen text-tower embeddings of words or prompts with their spelling sketch,
        ``[len(strings), word_dim]``."""
        tower = self.frozen_text
        device = next(tower.parameters()).device
        parts = [torch.zeros(0, self.dim, device=device)]
        with torch.autocast(device.type, enabled=False):  # fp32 as in serving, also inside AMP training
            for start in range(0, len(strings), batch_size):
                ids = self.tokenizer(list(strings[start : start + batch_size])).to(device)
                parts.append(F.normalize(tower.encode_text(ids).float(), dim=-1))
        sketches = spelling_sketches(list(strings), self.word_dim - self.dim).to(device)
        return torch.cat([torch.cat(parts), sketches], dim=1)

    # -- the forward pass: training, serving, ONNX export and eval all call these -------------------
    def encode_image(
        self,
        pixels: torch.Tensor | None = None,
        *,
        tower: tuple[torch.Tensor, torch.Tensor] | None = None,
        ocr_words: torch.Tensor | None = None,
        ocr_boxes: torch.Tensor | None = None,
        ocr_confidence: torch.Tensor | None = None,
        ocr_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """V (L2-normalised) of a batch of images: the image tower on ``pixels`` (or its outputs
        ``tower``, cached while the tower is frozen) and, when the network reads scene text, the
        OCR tokens: word embeddings ``[B, N, word_dim]``, boxes ``[B, N, 8]``, confidences, mask."""
        global_feature, patch_tokens = self.image_backbone(pixels) if tower is None else tower
        if ocr_words is None or not self.config.uses("ocr_entities"):
            return self.image_head(global_feature, patch_tokens)
        words = ocr_words.to(global_feature.dtype)
        return self.image_head(global_feature, patch_tokens, words, ocr_boxes, ocr_confidence, ocr_mask)

    def encode_text(
        self,
        token_ids: torch.Tensor | None = None,
        *,
        caption: torch.Tensor | None = None,
        prompt: torch.Tensor | None = None,
        entity_words: torch.Tensor | None = None,
        entity_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """T (L2-normalised) of a batch of texts: the caption tower on ``token_ids`` (or its output
        ``caption``) with the embeddings of the HOPID prompt ``[B, word_dim]`` and of the entity
        words ``[B, M, word_dim]``; what the network's configuration does not use is ignored."""
        feature = self.caption_backbone(token_ids) if caption is None else caption
        uses_prompt = prompt is not None and self.config.uses("text_prompt")
        uses_words = entity_words is not None and self.config.uses("entity_words")
        if not (uses_prompt or uses_words):
            return self.text_head(feature)
        prompt = prompt.to(feature.dtype) if uses_prompt else None
        words = entity_words.to(feature.dtype) if uses_words else None
        return self.text_head(feature, prompt, words, entity_mask)

    # -- heads --------------------------------------------------------------------------------
    def image_head(
        self,
        global_feature: torch.Tensor,
        patch_tokens: torch.Tensor,
        ocr_words: torch.Tensor | None = None,
        ocr_boxes: torch.Tensor | None = None,
        ocr_confidence: torch.Tensor | None = None,
        ocr_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """V (L2-normalised) from the tower outputs and the OCR tokens (word embeddings, boxes,
        confidences, mask); the OCR arguments are ignored by the baseline."""
        distilled = None
        if self.ocr_encoder is not None and ocr_words is not None:
            entities = self.ocr_encoder(self.word_proj(ocr_words), ocr_boxes, ocr_confidence, ocr_mask, patch_tokens)
            if self.distiller is not None:
                distilled = self.distiller(entities, ocr_mask)
            else:
                distilled = masked_mean(entities, ocr_mask)
        local = patch_tokens if self.config.uses("local_fusion") else None
        if not self.concat:
            fused = self.image_fusion(global_feature, distilled, local)
            return F.normalize(self.image_out(fused), dim=-1)
        visual = F.normalize(self.image_out(self.image_fusion(global_feature, None, local)), dim=-1)
        return self._join(visual, distilled, self.entity_out, self._spelling(ocr_words, ocr_mask))

    def _spelling(self, words: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The mean spelling sketch of ``words [B, N, word_dim]`` (None without the channel or words)."""
        if not self.spelling_channel or words is None or mask is None:
            return None
        return masked_mean(words[..., self.dim :], mask)

    def _join(
        self,
        main: torch.Tensor,
        scene: torch.Tensor | None,
        projection: nn.Module,
        spelling: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[main ; gate * scene]`` of two unit vectors, normalised, so that
        T.V = (main part + gate² * scene part) / (1 + gate²); no scene feature: the learned default.
        With the spelling channel, ``[... ; spelling gate * unit mean sketch]`` (zeros without
        words) adds the cosine of the two sides' sketches: spelling matched without training."""
        scene = self.no_scene.to(main.dtype).expand_as(main) if scene is None else projection(scene)
        scene = F.normalize(scene, dim=-1) * self.scene_gate.to(main.dtype)
        parts = [main, scene]
        if self.spelling_channel:
            sketch = main.new_zeros(main.shape[0], self.config.spelling_dim) if spelling is None else spelling
            parts.append(F.normalize(sketch.to(main.dtype), dim=-1) * self.spelling_gate.to(main.dtype))
        return F.normalize(torch.cat(parts, dim=-1), dim=-1)

    def text_head(
        self,
        caption: torch.Tensor,
        prompt: torch.Tensor | None = None,
        entity_words: torch.Tensor | None = None,
        entity_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """T (L2-normalised) from the caption feature, the prompt embedding and the entity words."""
        words = self.word_proj(entity_words) if entity_words is not None and self.word_proj is not None else None
        if not self.concat:
            fused = self.text_fusion(caption, prompt, words, entity_mask)
            return F.normalize(self.text_out(fused), dim=-1)
        main = F.normalize(self.text_out(caption), dim=-1)
        scene = self.text_fusion.scene(prompt, words, entity_mask)
        return self._join(main, scene, self.scene_out, self._spelling(entity_words, entity_mask))

    def trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]


class WordBank:
    """Frozen text-tower embeddings per unique string, computed once and looked up by row."""

    def __init__(self, net: HopidNet) -> None:
        self.net = net
        self.rows: dict[str, int] = {"": 0}
        device = next(net.parameters()).device
        self.vectors = torch.zeros(1, net.word_dim, device=device)

    def add(self, strings: Sequence[str]) -> None:
        missing = list(dict.fromkeys(s for s in strings if s not in self.rows))
        if not missing:
            return
        vectors = self.net.embed_strings(missing).to(self.vectors.device)
        for s in missing:
            self.rows[s] = len(self.rows)
        self.vectors = torch.cat([self.vectors, vectors])

    def ids(self, strings: Sequence[str]) -> list[int]:
        self.add(strings)
        return [self.rows[s] for s in strings]

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        return self.vectors[ids.to(self.vectors.device)]
