"""MMRef's multi-modal references: one learnable anchor per training identity in the joint space.

Training (see :func:`hopid.train.losses.reference_losses`): the *construction* loss classifies
every (stop-gradient) image and caption vector against all references, so each reference
absorbs the views and descriptions of its identity; the *guided* loss pulls image and caption
vectors toward their identity's (stop-gradient) reference. At inference test identities are
unseen, so a vector is described by its *profile*: the softmax of its cosine similarities to
every training reference (over a softer temperature than the losses'); two profiles' cosine is
the reference score that re-ranks the top-k
(:mod:`hopid.search.rerank`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class References(nn.Module):
    def __init__(self, count: int, dim: int, temperature: float, profile_temperature: float = 0.1) -> None:
        super().__init__()
        self.vectors = nn.Parameter(F.normalize(torch.randn(count, dim), dim=-1))
        self.temperature = temperature
        self.profile_temperature = profile_temperature

    def logits(
        self, features: torch.Tensor, *, detach_references: bool = False, temperature: float | None = None
    ) -> torch.Tensor:
        """Cosine similarity of each feature to every reference, over the (loss) temperature."""
        references = F.normalize(self.vectors, dim=-1)
        if detach_references:
            references = references.detach()
        return F.normalize(features, dim=-1) @ references.t() / (temperature or self.temperature)

    @torch.no_grad()
    def profiles(self, vectors: np.ndarray) -> np.ndarray:
        """L2-normalised softmax profiles over the references, float32 ``[n, references]``."""
        features = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(self.vectors.device)
        logits = self.logits(features.to(self.vectors.dtype), temperature=self.profile_temperature)
        profile = torch.softmax(logits.float(), dim=-1)
        return F.normalize(profile, dim=-1).cpu().numpy()
