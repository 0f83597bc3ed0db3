"""OCR-aware contrastive losses between image vectors V and text vectors T (both L2-normalised).

Each batch row is a (caption, image) pair; ``image_keys`` says which rows show the same
image, so a second caption of the same image is never used as a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_image(image_keys: torch.Tensor) -> torch.Tensor:
    return image_keys.unsqueeze(0) == image_keys.unsqueeze(1)


def _scaled_logits(text: torch.Tensor, image: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Caption x image similarities times CLIP's learned temperature (capped at 100, as CLIP)."""
    return logit_scale.exp().clamp(max=100) * (text @ image.t())


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
    logits = _scaled_logits(text, image, logit_scale)
    excluded = _same_image(image_keys) & ~torch.eye(len(text), dtype=torch.bool, device=text.device)
    logits = logits.masked_fill(excluded, torch.finfo(logits.dtype).min)
    target = torch.arange(len(text), device=text.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def info_nce_positives(
    text: torch.Tensor, image: torch.Tensor, positives: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """InfoNCE with several positives per row (``positives[i, j]``: caption i and image j belong
    together; the diagonal must be set): each positive's log-probability, averaged over the row's
    positives, in both directions (the supervised contrastive loss)."""
    logits = _scaled_logits(text, image, logit_scale)
    weights = positives.float()
    t2i = -(F.log_softmax(logits, dim=1) * weights).sum(dim=1) / weights.sum(dim=1)
    i2t = -(F.log_softmax(logits, dim=0) * weights).sum(dim=0) / weights.sum(dim=0)
    return (t2i.mean() + i2t.mean()) / 2


def same_identity(image_keys: torch.Tensor, identities: torch.Tensor) -> torch.Tensor:
    """Rows showing the same image, or images of the same identity (-100: none, its own image only)."""
    known = identities >= 0
    return _same_image(image_keys) | (_same_image(identities) & known.unsqueeze(0) & known.unsqueeze(1))


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


def reference_losses(
    references, text: torch.Tensor, image: torch.Tensor, identities: torch.Tensor, *, construction: float, guided: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """MMRef: the reference construction loss (stop-gradient features classified against all
    references) and the reference-guided loss (features toward their stop-gradient reference).
    Rows whose ``identities`` is -100 have no identity and are left out."""
    total = text.new_zeros(())
    parts: dict[str, float] = {}
    if not bool((identities >= 0).any()):
        return total, parts
    both = torch.cat([text, image])
    targets = torch.cat([identities, identities])
    if construction > 0:
        value = F.cross_entropy(references.logits(both.detach()), targets, ignore_index=-100)
        total = total + construction * value
        parts["loss_reference_construction"] = float(value.detach())
    if guided > 0:
        value = F.cross_entropy(references.logits(both, detach_references=True), targets, ignore_index=-100)
        total = total + guided * value
        parts["loss_reference_guided"] = float(value.detach())
    return total, parts


def explanation_losses(
    experts,
    text: torch.Tensor,
    image: torch.Tensor,
    explanation: torch.Tensor,
    image_keys: torch.Tensor,
    *,
    matching: float,
    enhanced: float,
    logit_scale: torch.Tensor,
    explained: float = 0.0,
    identities: torch.Tensor | None = None,
    explained_text: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """EntityCLIP: ``matching`` x the gated matching loss on positives and the batch's hardest
    negatives, plus ``enhanced`` x the contrastive loss of the explanation-enhanced V*, T*,
    plus ``explained`` x that of T* against the plain V (an explained query against an index
    built without explanations, as ``--explained`` searches). Row i's explanation ``E_i``
    belongs to caption i and enhances every pair caption i is in. With ``identities`` (each
    row's identity, -100 for none) the explained loss takes every image of the caption's
    identity in the batch as a positive (:func:`info_nce_positives`): an explanation that
    states what all views of a brand show can then pull them all toward the query.
    ``explained_text`` (``model.explained_words``): T with the explanation's entity words too,
    the T that T* enhances (else ``text``)."""
    total = text.new_zeros(())
    parts: dict[str, float] = {}
    e = experts.explain(explanation)
    text_star = experts.enhance_text(text if explained_text is None else explained_text, e)
    image_star = experts.enhance_image(image, e)
    if enhanced > 0:
        value = info_nce(text_star, image_star, image_keys, logit_scale)
        total = total + enhanced * value
        parts["loss_enhanced"] = float(value.detach())
    if explained > 0:
        if identities is None:
            value = info_nce(text_star, image, image_keys, logit_scale)
        else:
            value = info_nce_positives(text_star, image, same_identity(image_keys, identities), logit_scale)
        total = total + explained * value
        parts["loss_explained"] = float(value.detach())
    if matching > 0 and len(text) > 1:
        with torch.no_grad():
            similarity = (text @ image.t()).masked_fill(_same_image(image_keys), torch.finfo(text.dtype).min)
            hard_image = similarity.argmax(dim=1)  # per caption, the most similar wrong image
            hard_text = similarity.argmax(dim=0)  # per image, the most similar wrong caption
        positive = experts.match_logits(image_star, text_star, e)
        wrong_image = experts.match_logits(experts.enhance_image(image[hard_image], e), text_star, e)
        e_hard = e[hard_text]
        wrong_text = experts.match_logits(experts.enhance_image(image, e_hard), text_star[hard_text], e_hard)
        logits = torch.cat([positive, wrong_image, wrong_text])
        labels = torch.cat([torch.ones_like(positive), torch.zeros_like(wrong_image), torch.zeros_like(wrong_text)])
        value = F.binary_cross_entropy_with_logits(logits, labels)
        total = total + matching * value
        parts["loss_matching"] = float(value.detach())
    return total, parts
