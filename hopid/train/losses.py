"""OCR-aware contrastive losses between image vectors V and text vectors T (both L2-normalised).

Each batch row is a (caption, image) pair; ``image_keys`` says which rows show the same
image, so a second caption of the same image is never used as a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_image(image_keys: torch.Tensor) -> torch.Tensor:
    return image_keys.unsqueeze(0) == image_keys.unsqueeze(1)


def triplet_hardest(
    text: torch.Tensor, image: torch.Tensor, image_keys: torch.Tensor, margin: float = 0.2
) -> torch.Tensor:
    """VSE++ hinge triplet loss with the hardest negative, in both directions, mean over the batch."""
    scores = text @ image.t()
    positive = scores.diagonal()
    excluded = _same_image(image_keys)
    floor = torch.finfo(scores.dtype).min
    negatives = scores.masked_fill(excluded, floor)
    hardest_image = negatives.max(dim=1).values  # for each caption, the best wrong image
    hardest_text = negatives.max(dim=0).values  # for each image, the best wrong caption
    t2i = F.relu(margin + hardest_image - positive)
    i2t = F.relu(margin + hardest_text - positive)
    has_negative = (~excluded).any(dim=1)
    return ((t2i + i2t) * has_negative).sum() / has_negative.sum().clamp_min(1)


def info_nce(
    text: torch.Tensor, image: torch.Tensor, image_keys: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """CLIP's symmetric cross-entropy; other rows of the same image are masked out."""
    logits = logit_scale.exp().clamp(max=100) * (text @ image.t())
    excluded = _same_image(image_keys) & ~torch.eye(len(text), dtype=torch.bool, device=text.device)
    logits = logits.masked_fill(excluded, torch.finfo(logits.dtype).min)
    target = torch.arange(len(text), device=text.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def retrieval_loss(
    text: torch.Tensor,
    image: torch.Tensor,
    image_keys: torch.Tensor,
    *,
    triplet: float,
    margin: float,
    infonce: float,
    logit_scale: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the losses the recipe turns on, and each part's value."""
    total = text.new_zeros(())
    parts: dict[str, float] = {}
    if triplet > 0:
        value = triplet_hardest(text, image, image_keys, margin)
        total = total + triplet * value
        parts["loss_triplet"] = float(value.detach())
    if infonce > 0:
        value = info_nce(text, image, image_keys, logit_scale)
        total = total + infonce * value
        parts["loss_infonce"] = float(value.detach())
    return total, parts
