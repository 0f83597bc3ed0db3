"""Embeddings and the fused captions x images scores of a dataset split, computed as
``hopid eval`` computes them (the same helpers of :mod:`hopid.eval.evaluate`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.errors import HopidError
from hopid.eval.evaluate import caption_entity_spans, embed_images, embed_texts, scene_text_scores
from hopid.models.encoder import EntityEncoder, ImageEncoder
from hopid.scenetext.fusion import fuse


@dataclass
class Embedded:
    """Images and captions (rows in table order) with their vectors, and the OCR rows used."""

    images: pl.DataFrame
    captions: pl.DataFrame
    image_vectors: np.ndarray
    caption_vectors: np.ndarray
    ocr: pl.DataFrame | None

    @property
    def caption_image(self) -> np.ndarray:
        """The row of each caption's image."""
        row = {image_id: i for i, image_id in enumerate(self.images["image_id"].to_list())}
        return np.asarray([row[i] for i in self.captions["image_id"].to_list()], dtype=np.int64)


def split_tables(dataset: Dataset, split: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The images and captions of ``split``; a one-line error when it has no captions."""
    images, captions = dataset.split(split)
    if captions.is_empty():
        raise HopidError(f"{dataset.root}: split {split!r} has no captions")
    return images, captions


def embed(
    dataset: Dataset,
    encoder,
    images: pl.DataFrame,
    captions: pl.DataFrame,
    *,
    dense_only: bool = False,
    ocr_engine: str | None = None,
) -> Embedded:
    """Vectors of ``images`` (with their OCR when the model reads it) and of ``captions``."""
    ocr = dataset.ocr(ocr_engine) if encoder.needs_ocr or not dense_only else None
    image_vectors = embed_images(encoder, dataset, images, ErrorLog("viz"), None, ocr=ocr)
    caption_vectors = embed_texts(encoder, captions["text"].to_list(), None)
    return Embedded(images, captions, image_vectors, caption_vectors, ocr)


def fused_scores(
    dataset: Dataset, encoder: ImageEncoder, embedded: Embedded, *, dense_only: bool = False
) -> np.ndarray:
    """Captions x images: dense similarity, plus ``alpha`` times the scene-text score unless
    ``dense_only`` (entity spans from the run's own tagger, else the dataset's entities)."""
    scores = embedded.caption_vectors @ embedded.image_vectors.T
    if dense_only or embedded.ocr is None:
        return scores
    texts = embedded.captions["text"].to_list()
    if isinstance(encoder, EntityEncoder):
        spans = [[(e.start, e.end) for e in found] for found in encoder.entities(texts)]
    else:
        spans = caption_entity_spans(dataset, embedded.captions)
    lexical = scene_text_scores(embedded.ocr, embedded.images["image_id"].to_list(), texts, spans)
    return fuse(scores, lexical, encoder.fusion_alpha)
