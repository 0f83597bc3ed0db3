"""The text side of a trained run as one ONNX graph, for queries without torch.

Inputs (only those the run's network reads are kept by the exporter): ``caption`` token ids
``[B, L]``; ``prompt`` ids ``[B, L]`` and ``prompt_sketch`` ``[B, S]`` (the HOPID prompt);
``words`` ids ``[B, M, L]``, ``word_sketch`` ``[B, M, S]`` and ``word_mask`` ``[B, M]`` (the
entity words). Output: T, L2-normalised, as :meth:`RunEncoder.encode_texts` computes it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from hopid.models.network import HopidNet

INPUTS = ("caption", "prompt", "prompt_sketch", "words", "word_sketch", "word_mask")


class RunTextSide(nn.Module):
    """Caption, prompt and entity words -> T, the word embeddings computed in the graph."""

    def __init__(self, net: HopidNet) -> None:
        super().__init__()
        self.net = net

    def _embed(self, ids: torch.Tensor, sketch: torch.Tensor) -> torch.Tensor:
        tower = self.net.frozen_text
        return torch.cat([F.normalize(tower.encode_text(ids).float(), dim=-1), sketch], dim=-1)

    def forward(
        self,
        caption: torch.Tensor,
        prompt: torch.Tensor,
        prompt_sketch: torch.Tensor,
        words: torch.Tensor,
        word_sketch: torch.Tensor,
        word_mask: torch.Tensor,
    ) -> torch.Tensor:
        config = self.net.config
        prompted = self._embed(prompt, prompt_sketch) if config.uses("text_prompt") else None
        entity = None
        if config.uses("entity_words"):
            batch, count, length = words.shape
            flat = self._embed(words.reshape(batch * count, length), word_sketch.reshape(batch * count, -1))
            entity = flat.reshape(batch, count, -1)
        return self.net.encode_text(caption, prompt=prompted, entity_words=entity, entity_mask=word_mask)


def example_inputs(net: HopidNet, context_length: int) -> tuple[torch.Tensor, ...]:
    """A batch of two texts with two entity words each, shaped as the graph's inputs."""
    sketch = net.word_dim - net.dim
    ids = torch.zeros(2, context_length, dtype=torch.long)
    return (
        ids,
        ids.clone(),
        torch.zeros(2, sketch),
        torch.zeros(2, 2, context_length, dtype=torch.long),
        torch.zeros(2, 2, sketch),
        torch.ones(2, 2, dtype=torch.bool),
    )


def export_run_text_side(net: HopidNet, context_length: int, path: Path) -> None:
    """Write the graph to ``path`` (batch and entity-word count dynamic)."""
    dynamic = {"caption": {0: "texts"}, "prompt": {0: "texts"}, "prompt_sketch": {0: "texts"}}
    dynamic |= {"words": {0: "texts", 1: "words"}, "word_sketch": {0: "texts", 1: "words"}}
    dynamic |= {"word_mask": {0: "texts", 1: "words"}, "vector": {0: "texts"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and opset notes
        torch.onnx.export(
            RunTextSide(net).eval(),
            example_inputs(net, context_length),
            str(path),
            input_names=list(INPUTS),
            output_names=["vector"],
            dynamic_axes=dynamic,
            dynamo=False,
        )
