"""The HOPID heads on top of the CLIP towers (docs/model.md).

Image side: :class:`OcrEntityEncoder` turns OCR tokens into multi-modal entities X_ocr,
:class:`EntityDistiller` (Perceptive Entity Distilling) distils them into E with property
slots, :class:`ImageFusion` fuses E with the global feature G and the patch tokens into V.
Text side: :class:`TextFusion` fuses the caption feature with the HOPID prompt feature and
the inferred entity words into T. Every tensor of OCR tokens or entity words comes with a
boolean mask (True = a real token), so images without text and captions without entities
go through the same code.
"""

from __future__ import annotations

import torch
from torch import nn

GEOMETRY_DIM = 11  # 8 box coordinates, x and y extent, confidence


def geometry_features(boxes: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """``[..., 8]`` normalised quadrilaterals and ``[...]`` confidences -> ``[..., 11]``."""
    xs, ys = boxes[..., 0::2], boxes[..., 1::2]
    extent = torch.stack([xs.amax(-1) - xs.amin(-1), ys.amax(-1) - ys.amin(-1)], dim=-1)
    return torch.cat([boxes, extent, confidence.unsqueeze(-1)], dim=-1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of ``values [B, N, D]`` where ``mask [B, N]``; zeros where nothing is kept."""
    weights = mask.to(values.dtype).unsqueeze(-1)
    return (values * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def box_pool(tokens: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Appearance under each OCR box: the mean of the patch tokens whose centre lies inside the
    box's bounding rectangle (the nearest patch when none does). ``tokens [B, P, W]`` on a square
    grid, ``boxes [B, N, 8]`` -> ``[B, N, W]``."""
    batch, patches, _ = tokens.shape
    grid = int(round(patches**0.5))
    centres = (torch.arange(grid, device=tokens.device, dtype=tokens.dtype) + 0.5) / grid
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    cx, cy = cx.reshape(1, 1, -1), cy.reshape(1, 1, -1)
    xs, ys = boxes[..., 0::2], boxes[..., 1::2]
    x0, x1 = xs.amin(-1, keepdim=True), xs.amax(-1, keepdim=True)
    y0, y1 = ys.amin(-1, keepdim=True), ys.amax(-1, keepdim=True)
    inside = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
    distance = (cx - (x0 + x1) / 2) ** 2 + (cy - (y0 + y1) / 2) ** 2
    nearest = torch.nn.functional.one_hot(distance.argmin(-1), patches).bool()
    weights = torch.where(inside.any(-1, keepdim=True), inside, nearest).to(tokens.dtype)
    weights = weights * mask.unsqueeze(-1).to(tokens.dtype)
    return weights @ tokens / weights.sum(-1, keepdim=True).clamp_min(1.0)


class OcrEntityEncoder(nn.Module):
    """X_ocr: per OCR token its projected word embedding (the word projector is shared with the
    text side), its geometry and confidence, and optionally its appearance (patch tokens
    pooled under the box)."""

    def __init__(self, dim: int, token_width: int, *, geometry: bool = True, appearance: bool = True) -> None:
        super().__init__()
        self.geometry = (
            nn.Sequential(nn.Linear(GEOMETRY_DIM, dim), nn.GELU(), nn.Linear(dim, dim)) if geometry else None
        )
        self.appearance = nn.Linear(token_width, dim) if appearance else None
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        words: torch.Tensor,
        boxes: torch.Tensor,
        confidence: torch.Tensor,
        mask: torch.Tensor,
        patch_tokens: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = words
        if self.geometry is not None:
            x = x + self.geometry(geometry_features(boxes, confidence))
        if self.appearance is not None and patch_tokens is not None:
            x = x + self.appearance(box_pool(patch_tokens, boxes, mask))
        return self.norm(x)


class DistillingLayer(nn.Module):
    """Slots attend to the OCR entities (cross-attention), then a feed-forward update."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.attend = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, slots: torch.Tensor, entities: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attend(self.norm_q(slots), entities, entities, key_padding_mask=ignore, need_weights=False)
        slots = slots + attended
        return slots + self.ff(self.norm_ff(slots))


class EntityDistiller(nn.Module):
    """Perceptive Entity Distilling: M learnable property slots refined by one distilling layer
    applied ``layers`` times (shared weights), averaged into E; a learned vector for no OCR."""

    def __init__(self, dim: int, slots: int = 4, layers: int = 3, heads: int = 4) -> None:
        super().__init__()
        self.slots = nn.Parameter(torch.randn(slots, dim) * dim**-0.5)
        self.layer = DistillingLayer(dim, heads)
        self.layers = layers
        self.no_text = nn.Parameter(torch.zeros(dim))

    def forward(self, entities: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        has_text = mask.any(1)
        ignore = ~mask
        ignore[:, 0] &= has_text  # keep one key for text-less rows (their result is replaced below)
        slots = self.slots.unsqueeze(0).expand(entities.shape[0], -1, -1)
        for _ in range(self.layers):
            slots = self.layer(slots, entities, ignore)
        distilled = slots.mean(1)
        return torch.where(has_text.unsqueeze(-1), distilled, self.no_text.to(distilled.dtype))


class ImageFusion(nn.Module):
    """V: the global feature plus the distilled entities E, then a cross-attention read of the
    patch tokens (the paper's local features). Each part is optional."""

    def __init__(self, dim: int, token_width: int, *, entities: bool, local: bool, heads: int = 4) -> None:
        super().__init__()
        self.entity_proj = nn.Linear(dim, dim) if entities else None
        self.local_proj = nn.Linear(token_width, dim) if local else None
        self.local_attend = nn.MultiheadAttention(dim, heads, batch_first=True) if local else None
        self.norm = nn.LayerNorm(dim) if local else None

    def forward(
        self, global_feature: torch.Tensor, distilled: torch.Tensor | None, patch_tokens: torch.Tensor | None
    ) -> torch.Tensor:
        fused = global_feature
        if self.entity_proj is not None and distilled is not None:
            fused = fused + self.entity_proj(distilled)
        if self.local_attend is not None and patch_tokens is not None:
            local = self.local_proj(patch_tokens)
            query = self.norm(fused).unsqueeze(1)
            read, _ = self.local_attend(query, local, local, need_weights=False)
            fused = fused + read.squeeze(1)
        return fused


class TextFusion(nn.Module):
    """T: the caption feature plus the scene-text feature, made of the HOPID prompt embedding
    and the entity words (projected by the word projector the OCR entities also use)."""

    def __init__(self, dim: int, prompt_width: int, *, prompt: bool, words: bool) -> None:
        super().__init__()
        self.word_out = nn.Linear(dim, dim) if words else None
        self.no_words = nn.Parameter(torch.zeros(dim)) if words else None
        self.prompt_proj = nn.Linear(prompt_width, dim) if prompt else None

    def scene(
        self, prompt: torch.Tensor | None, words: torch.Tensor | None, word_mask: torch.Tensor | None
    ) -> torch.Tensor | None:
        """The scene-text feature of the caption (None when neither part is on)."""
        parts = []
        if self.prompt_proj is not None and prompt is not None:
            parts.append(self.prompt_proj(prompt))
        if self.word_out is not None and words is not None and word_mask is not None:
            pooled = masked_mean(words, word_mask)
            pooled = torch.where(word_mask.any(1, keepdim=True), pooled, self.no_words.to(pooled.dtype))
            parts.append(self.word_out(pooled))
        return sum(parts) if parts else None

    def forward(
        self,
        caption: torch.Tensor,
        prompt: torch.Tensor | None,
        words: torch.Tensor | None,
        word_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        scene = self.scene(prompt, words, word_mask)
        return caption if scene is None else caption + scene
