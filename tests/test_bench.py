"""The benchmark's building blocks on small sizes (the figures themselves come from `hopid bench`)."""

from __future__ import annotations

import numpy as np
import pytest

from hopid.bench.run import on_target
from hopid.bench.vectors import gap_embeddings
from hopid.index.choose import build_faiss, plan_index


def test_gap_embeddings_look_like_clip():
    images, texts, targets = gap_embeddings(4000, 64, 200, seed=1)
    assert images.dtype == np.float32 and np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    image_pairs = float(np.mean(images[:500] @ images[500:1000].T))
    text_to_image = float(np.mean(texts @ images[:500].T))
    assert 0.3 < image_pairs < 0.8 and text_to_image < image_pairs  # two cones: the modality gap
    best = np.argmax(texts @ images.T, axis=1)
    assert np.mean(best == targets) > 0.5  # yet a text still finds its image


def test_index_plan_follows_size_and_memory():
    assert plan_index(50_000, 512).kind == "flat"
    assert plan_index(2_000_000, 512, memory=64 << 30).kind == "ivfflat"
    huge = plan_index(20_000_000, 512, memory=16 << 30)
    assert huge.kind == "ivfpq" and huge.bytes_estimate < 20_000_000 * 512 * 4 / 10
    assert plan_index(10, 64, kind="hnsw").factory.startswith("HNSW")
    with pytest.raises(ValueError):
        plan_index(10, 64, kind="lsh")


@pytest.mark.parametrize("kind", ["flat", "ivfflat", "hnsw", "ivfpq"])
def test_every_index_kind_finds_the_text_queries_neighbours(kind):
    images, texts, _ = gap_embeddings(5_000, 64, 60, seed=2)
    index = build_faiss(images, plan_index(len(images), 64, kind=kind))
    exact = np.argsort(-(texts @ images.T), axis=1)[:, :10]
    _, found = index.search(texts, 100 if kind == "ivfpq" else 10)
    if kind == "ivfpq":  # as the searcher does: PQ candidates re-scored exactly
        rescored = [row[np.argsort(-(images[row] @ q))][:10] for row, q in zip(found, texts, strict=True)]
        found = np.array(rescored)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= (1.0 if kind == "flat" else 0.9)


def test_targets_are_judged_in_their_direction():
    assert on_target("search_overhead", 1.05) and not on_target("search_overhead", 1.2)
    assert on_target("recall_at_10_auto", 0.97) and not on_target("recall_at_10_auto", 0.9)
    assert on_target("index_bytes_per_vector", 300.0) is None
