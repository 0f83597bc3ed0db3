"""A real-size model (issue 17): a random-init ViT-B-32 saved locally, its int8 towers checked
against fp32 by the test itself, and cold text and image queries on its index without torch."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cold_image_query, cold_query, render_words

from hopid.bench.vitb32 import save_random_vitb32
from hopid.index.build import build_index
from hopid.models.factory import load_encoder
from hopid.models.onnx_clip import OnnxClipEncoder, probe_images, probe_texts
from hopid.search.query_encoder import open_query_encoder

pytestmark = pytest.mark.slow


def top10_overlap(queries: np.ndarray, other: np.ndarray, gallery: np.ndarray) -> float:
    first = np.argsort(-(queries @ gallery.T), axis=1)[:, :10]
    second = np.argsort(-(other @ gallery.T), axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(first, second, strict=True)]))


def test_vitb32_int8_towers_agree_with_the_model_and_answer_cold_queries_without_torch(tmp_path):
    weights = save_random_vitb32(tmp_path / "vitb32.safetensors")
    encoder = load_encoder(f"ViT-B-32:{weights}", device="cpu")
    root = tmp_path / "photos"
    render_words(root / "exit.png", ["EXIT", "24"])
    render_words(root / "market.png", ["MARKET"], background=(200, 40, 40))
    render_words(root / "louvre.png", ["Louvre"], background=(40, 90, 200))
    build_index(root, encoder, workers=1)
    index_dir = root / ".hopid"
    onnx = open_query_encoder(index_dir, encoder.spec, encoder.fingerprint)
    assert isinstance(onnx, OnnxClipEncoder)
    assert onnx.one_at_a_time == {"text": True, "image": True}  # both towers kept int8 for these weights

    texts, images = probe_texts(), probe_images(64)
    reference_texts, reference_images = encoder.encode_texts(texts), encoder.encode_images(images)
    quantized_texts, quantized_images = onnx.encode_texts(texts), onnx.encode_images(images)
    assert (reference_texts * quantized_texts).sum(axis=1).min() >= 0.99
    assert (reference_images * quantized_images).sum(axis=1).min() >= 0.99
    assert top10_overlap(reference_texts, quantized_texts, reference_images) >= 0.95
    assert top10_overlap(reference_images, quantized_images, reference_images) >= 0.95

    hits, imported = cold_query(index_dir, "MARKET")
    assert hits[0]["path"].endswith("market.png") and imported == []
    hits, imported = cold_image_query(index_dir, root / "louvre.png")
    assert hits[0]["path"].endswith("louvre.png") and imported == []
