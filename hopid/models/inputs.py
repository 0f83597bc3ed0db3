"""Turning images, OCR words and captions into the tensors :class:`HopidNet` takes.

Shared by training and serving, so a query or an indexed image is prepared exactly as
the training samples were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import torch
from PIL import Image

from hopid.entities.prompt import hopid_prompt
from hopid.models.network import HopidNet, NetConfig, WordBank
from hopid.models.visual_prompt import draw_ocr_boxes

PROMPT_REFERENCE_SIZE = 224  # the visual prompt's width is in pixels of a 224-pixel model input


@dataclass(frozen=True)
class OcrToken:
    text: str
    box: tuple[float, ...]  # 8 floats normalised to the image size
    confidence: float

    @property
    def area(self) -> float:
        xs, ys = self.box[0::2], self.box[1::2]
        return (max(xs) - min(xs)) * (max(ys) - min(ys))


def ocr_tokens(texts: Sequence[str], boxes: Sequence[Sequence[float]], confidences: Sequence[float]) -> list[OcrToken]:
    """One image's OCR columns (as in OCR part files or OCR results) as tokens."""
    return [
        OcrToken(t, tuple(float(v) for v in b), float(c)) for t, b, c in zip(texts, boxes, confidences, strict=True)
    ]


def tokens_by_image(ocr: pl.DataFrame) -> dict[str, list[OcrToken]]:
    """Rows of an ``ocr`` table grouped per image, in token order."""
    if ocr.is_empty():
        return {}
    grouped = (
        ocr.sort("image_id", "token_index").group_by("image_id", maintain_order=True).agg("text", "box", "confidence")
    )
    return {image_id: ocr_tokens(*columns) for image_id, *columns in grouped.iter_rows()}


def keep_tokens(tokens: Sequence[OcrToken], limit: int) -> list[OcrToken]:
    """At most ``limit`` tokens with text, the largest boxes first kept, in reading order."""
    real = [t for t in tokens if t.text.strip()]
    if len(real) <= limit:
        return real
    chosen = sorted(range(len(real)), key=lambda i: -real[i].area)[:limit]
    return [real[i] for i in sorted(chosen)]


def prompted_image(image: Image.Image, tokens: Sequence[OcrToken], config: NetConfig) -> Image.Image:
    """The image with its OCR boxes outlined when the visual prompt is on."""
    if not config.uses("visual_prompt") or not tokens:
        return image
    width = max(1, round(config.prompt_width * max(image.size) / PROMPT_REFERENCE_SIZE))
    return draw_ocr_boxes(image, [t.box for t in tokens], config.prompt_color, width)


@dataclass
class OcrBatch:
    words: torch.Tensor  # [B, N] word-bank rows
    boxes: torch.Tensor  # [B, N, 8]
    confidence: torch.Tensor  # [B, N]
    mask: torch.Tensor  # [B, N] True = a real token

    def to(self, device: torch.device | str) -> OcrBatch:
        return OcrBatch(*(t.to(device) for t in (self.words, self.boxes, self.confidence, self.mask)))


def ocr_batch(token_lists: Sequence[Sequence[OcrToken]], bank: WordBank, limit: int) -> OcrBatch:
    """Pad each image's tokens to a common length (at least 1) and look their words up."""
    n = max(1, min(limit, max((len(t) for t in token_lists), default=0)))
    batch = len(token_lists)
    words = torch.zeros(batch, n, dtype=torch.long)
    boxes = torch.zeros(batch, n, 8)
    confidence = torch.zeros(batch, n)
    mask = torch.zeros(batch, n, dtype=torch.bool)
    for row, tokens in enumerate(token_lists):
        tokens = list(tokens)[:n]
        if not tokens:
            continue
        count = len(tokens)
        words[row, :count] = torch.tensor(bank.ids([t.text for t in tokens]))
        boxes[row, :count] = torch.tensor([t.box for t in tokens], dtype=torch.float32)
        confidence[row, :count] = torch.tensor([t.confidence for t in tokens], dtype=torch.float32)
        mask[row, :count] = True
    return OcrBatch(words, boxes, confidence, mask)


@dataclass
class EntityBatch:
    prompts: torch.Tensor  # [B] word-bank rows of the HOPID prompts
    words: torch.Tensor  # [B, M] word-bank rows of the entity words
    mask: torch.Tensor  # [B, M]

    def to(self, device: torch.device | str) -> EntityBatch:
        return EntityBatch(self.prompts.to(device), self.words.to(device), self.mask.to(device))


def entity_batch(word_lists: Sequence[Sequence[str]], bank: WordBank, limit: int) -> EntityBatch:
    """The prompt and the (at most ``limit``) entity words of each caption, as word-bank rows."""
    prompts = torch.tensor(bank.ids([hopid_prompt(words) for words in word_lists]), dtype=torch.long)
    m = max(1, min(limit, max((len(w) for w in word_lists), default=0)))
    words = torch.zeros(len(word_lists), m, dtype=torch.long)
    mask = torch.zeros(len(word_lists), m, dtype=torch.bool)
    for row, found in enumerate(word_lists):
        found = list(found)[:m]
        if found:
            words[row, : len(found)] = torch.tensor(bank.ids(found))
            mask[row, : len(found)] = True
    return EntityBatch(prompts, words, mask)


def image_vectors(
    net: HopidNet, bank: WordBank, global_feature: torch.Tensor, patch_tokens: torch.Tensor, ocr: OcrBatch | None
) -> torch.Tensor:
    """V for a batch of tower outputs and OCR tokens (:meth:`HopidNet.encode_image`)."""
    if ocr is None:
        return net.encode_image(tower=(global_feature, patch_tokens))
    return net.encode_image(
        tower=(global_feature, patch_tokens),
        ocr_words=bank.lookup(ocr.words),
        ocr_boxes=ocr.boxes,
        ocr_confidence=ocr.confidence,
        ocr_mask=ocr.mask,
    )


def text_vectors(net: HopidNet, bank: WordBank, caption: torch.Tensor, entities: EntityBatch | None) -> torch.Tensor:
    """T for a batch of caption features and entity words (:meth:`HopidNet.encode_text`)."""
    if entities is None:
        return net.encode_text(caption=caption)
    prompt, words = bank.lookup(entities.prompts), bank.lookup(entities.words)
    return net.encode_text(caption=caption, prompt=prompt, entity_words=words, entity_mask=entities.mask)
