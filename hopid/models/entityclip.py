"""EntityCLIP's explanation experts, used in training only (inference stays a dual encoder).

- *Multimodal Attentive Experts (MMAE)*: three groups of small experts (image, text,
  explanation). An image (text) expert reads ``[V ; E]`` (``[T ; E]``), E being the caption's
  explanation projected into the joint space; each group attends over its experts with
  softmax weights computed from the same input, and adds the mixture to the feature:
  ``V* = norm(V + image experts)``, ``T* = norm(T + text experts)``.
- *Gated Integrative Image-Text Matching (GI-ITM)*: a pair (V*, T*) is seen three ways:
  the product ``V* * T*``, the difference ``|V* - T*|`` and the explanation group's reading
  of the product through E; a learned gate mixes the three and a two-layer head gives the
  match logit. Trained with hard negatives mined from the batch similarity
  (:func:`hopid.train.losses.explanation_losses`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ExpertGroup(nn.Module):
    """``count`` two-layer experts over ``[x ; context]``, mixed by softmax attention weights."""

    def __init__(self, dim: int, count: int) -> None:
        super().__init__()
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim)) for _ in range(count)
        )
        self.attend = nn.Linear(2 * dim, count)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        joint = torch.cat([x, context], dim=-1)
        weights = torch.softmax(self.attend(joint), dim=-1)
        outputs = torch.stack([expert(joint) for expert in self.experts], dim=1)
        return (weights.unsqueeze(-1) * outputs).sum(dim=1)


class ExplanationExperts(nn.Module):
    def __init__(self, dim: int, explanation_dim: int, count: int) -> None:
        super().__init__()
        self.explanation_in = nn.Linear(explanation_dim, dim)
        self.image_experts = ExpertGroup(dim, count)
        self.text_experts = ExpertGroup(dim, count)
        self.explanation_experts = ExpertGroup(dim, count)
        self.gate = nn.Linear(3 * dim, 3)
        self.match = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1))

    def explain(self, explanation_feature: torch.Tensor) -> torch.Tensor:
        """E: the explanation's text-tower feature in the joint space."""
        return F.normalize(self.explanation_in(explanation_feature), dim=-1)

    def enhance_image(self, image: torch.Tensor, explanation: torch.Tensor) -> torch.Tensor:
        return F.normalize(image + self.image_experts(image, explanation), dim=-1)

    def enhance_text(self, text: torch.Tensor, explanation: torch.Tensor) -> torch.Tensor:
        return F.normalize(text + self.text_experts(text, explanation), dim=-1)

    def match_logits(self, image: torch.Tensor, text: torch.Tensor, explanation: torch.Tensor) -> torch.Tensor:
        """GI-ITM logit of each (V*, T*) row pair, ``[B]``."""
        product = image * text
        views = [product, (image - text).abs(), self.explanation_experts(product, explanation)]
        gate = torch.softmax(self.gate(torch.cat(views, dim=-1)), dim=-1)
        mixed = sum(gate[:, i : i + 1] * view for i, view in enumerate(views))
        return self.match(mixed).squeeze(-1)
