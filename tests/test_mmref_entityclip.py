"""MMRef references and re-ranking, EntityCLIP experts, and the synthetic identity benchmark (unit tier)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from hopid.data.schema import read_table
from hopid.errors import HopidError
from hopid.models.entityclip import ExplanationExperts
from hopid.models.mmref import References
from hopid.search.rerank import rerank_choice, rerank_depth, rerank_top_k
from hopid.train.losses import explanation_losses, reference_losses


def test_reference_construction_trains_only_the_references_and_guidance_only_the_features():
    torch.manual_seed(0)
    references = References(5, 8, temperature=0.05)
    text = torch.randn(4, 8, requires_grad=True)
    image = torch.randn(4, 8, requires_grad=True)
    ids = torch.tensor([0, 1, -100, 3])  # the third pair has no identity
    loss, parts = reference_losses(references, text, image, ids, construction=1.0, guided=0.0)
    loss.backward()
    assert references.vectors.grad is not None and text.grad is None and image.grad is None
    assert set(parts) == {"loss_reference_construction"}
    references.vectors.grad = None
    loss, parts = reference_losses(references, text, image, ids, construction=0.0, guided=1.0)
    loss.backward()
    assert references.vectors.grad is None and text.grad is not None
    assert float(text.grad[2].abs().sum()) == 0.0  # a row without identity is ignored
    none, nothing = reference_losses(references, text, image, torch.full((4,), -100), construction=1, guided=1)
    assert float(none) == 0.0 and nothing == {}


def test_profiles_are_unit_vectors_that_agree_for_the_same_identity():
    torch.manual_seed(0)
    references = References(6, 16, temperature=0.05)
    anchor = references.vectors.detach().numpy()
    near = anchor[[2, 2, 4]] + np.random.default_rng(0).normal(0, 0.05, (3, 16)).astype(np.float32)
    profiles = references.profiles(near)
    assert profiles.shape == (3, 6) and np.allclose(np.linalg.norm(profiles, axis=1), 1.0, atol=1e-5)
    assert profiles[0] @ profiles[1] > profiles[0] @ profiles[2]


def test_rerank_changes_only_the_top_k_and_never_drops_them_below_the_rest():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.1]], dtype=np.float32)
    query = np.array([[0.0, 1.0]], dtype=np.float32)
    gallery = np.array([[1, 0], [0, 1], [0, 1], [0, 1], [0, 1]], dtype=np.float32)
    out = rerank_top_k(scores, query, gallery, k=3, beta=0.5)
    assert list(np.argsort(-out[0])) == [1, 2, 0, 3, 4]  # items 1, 2 overtake 0; 3, 4 keep their scores
    assert out[0, 3] == scores[0, 3] and out[0, 4] == scores[0, 4]
    assert np.array_equal(rerank_top_k(scores, query, gallery, k=3, beta=0.0), scores)


def test_rerank_against_the_best_candidate_lifts_its_identity_and_keeps_it_first():
    # items 0 and 2 are views of one brand (profile [1, 0]); 1 and 3 of another ([0, 1]); the
    # caption's own profile points at the wrong brand, as a caption's often does for an unseen one
    scores = np.array([[0.9, 0.8, 0.7, 0.6]], dtype=np.float32)
    caption = np.array([[0.0, 1.0]], dtype=np.float32)
    gallery = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    own = rerank_top_k(scores, caption, gallery, k=4, beta=0.5)
    assert list(np.argsort(-own[0])) == [1, 3, 0, 2]  # the wrong brand overtakes the best match
    top = rerank_top_k(scores, caption, gallery, k=4, beta=0.5, query="top")
    assert list(np.argsort(-top[0])) == [0, 2, 1, 3]  # the best match's other view comes second
    for beta in (0.1, 1.0, 10.0):
        assert rerank_top_k(scores, caption, gallery, k=4, beta=beta, query="top")[0].argmax() == 0
    with pytest.raises(HopidError, match="choose one of caption, top"):
        rerank_top_k(scores, caption, gallery, k=4, beta=0.5, query="best")


def test_a_run_chooses_its_reranking_apart_for_fused_scores_and_older_runs_keep_one_choice():
    chosen = {"k": 50, "beta": 10.0, "query": "top", "fused": {"k": 10, "beta": 0.1, "query": "top"}}
    assert rerank_choice(chosen, fused=False)["beta"] == 10.0
    assert rerank_choice(chosen, fused=True) == {"k": 10, "beta": 0.1, "query": "top"}
    older = {"k": 20, "beta": 0.3}
    assert rerank_choice(older, fused=True) == older == rerank_choice(older, fused=False)
    assert rerank_depth(chosen) == 50 and rerank_depth({"k": 5, "fused": {"k": 20}}) == 20 and rerank_depth({}) == 0


def test_explanation_experts_give_finite_losses_and_train_the_experts():
    torch.manual_seed(0)
    experts = ExplanationExperts(dim=8, explanation_dim=6, count=3)
    text = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1).requires_grad_()
    image = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1).requires_grad_()
    explanation = torch.randn(5, 6)
    keys = torch.tensor([0, 0, 1, 2, 3])  # rows 0 and 1 show the same image
    loss, parts = explanation_losses(
        experts, text, image, explanation, keys, matching=1.0, enhanced=1.0, logit_scale=torch.tensor(2.659)
    )
    assert torch.isfinite(loss) and set(parts) == {"loss_enhanced", "loss_matching"}
    loss.backward()
    assert experts.gate.weight.grad is not None and experts.image_experts.attend.weight.grad is not None
    assert text.grad is not None and image.grad is not None


def test_mmref_network_needs_identities():
    from hopid.models.factory import load_encoder
    from hopid.models.network import HopidNet, NetConfig

    encoder = load_encoder("tiny", device="cpu")
    with pytest.raises(HopidError, match="object_id"):
        HopidNet(encoder.model, encoder.tokenizer, NetConfig(mmref=True), references=0)
    net = HopidNet(encoder.model, encoder.tokenizer, NetConfig(mmref=True, explanation_experts=True), references=7)
    assert net.references.vectors.shape == (7, net.out_dim) and net.experts is not None


def test_identity_benchmark_has_brands_on_different_objects_with_explanations(tmp_path):
    from hopid.synthetic.identities import generate_identities

    summary = generate_identities(tmp_path, identities=10, views=3, seed=3)
    images = read_table(tmp_path / "images.parquet", "images")
    captions = read_table(tmp_path / "captions.parquet", "captions")
    ocr = read_table(tmp_path / "ocr.parquet", "ocr")
    assert summary.images == 30 and images["object_id"].n_unique() == 10
    assert images.group_by("object_id").agg(pl.col("split").n_unique())["split"].max() == 1  # a brand in one split
    explained = captions.join(images, on="image_id").drop_nulls("explanation")
    per_brand = explained.group_by("object_id").agg(pl.col("explanation").n_unique())
    assert per_brand.height == 10 and per_brand["explanation"].max() == 1  # one explanation per identity
    first = images.filter(pl.col("object_id") == "brand-0000")["image_id"].to_list()
    brand_words = [set(ocr.filter(pl.col("image_id") == i)["text"]) for i in first]
    assert set.intersection(*brand_words)  # the brand is written on every view
    again = generate_identities(tmp_path / "again", identities=10, views=3, seed=3)
    assert again.ocr_tokens == summary.ocr_tokens  # seeded


def test_explained_text_is_what_the_explanation_enhances():
    torch.manual_seed(0)
    experts = ExplanationExperts(dim=8, explanation_dim=6, count=3)
    text = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1).requires_grad_()
    explained_text = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1).requires_grad_()
    image = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    arguments = dict(matching=1.0, enhanced=1.0, explained=1.0, logit_scale=torch.tensor(2.659))
    loss, _ = explanation_losses(
        experts, text, image, torch.randn(4, 6), torch.arange(4), explained_text=explained_text, **arguments
    )
    loss.backward()
    assert explained_text.grad is not None and text.grad is None  # T only picks the hard negatives


def test_explained_words_are_the_captions_then_the_explanations(tmp_path):
    from hopid.data.dataset import Dataset
    from hopid.data.error_log import ErrorLog
    from hopid.models.network import NetConfig
    from hopid.synthetic.identities import generate_identities
    from hopid.train.data import load_split
    from hopid.train.loop import build_net

    generate_identities(tmp_path, identities=5, views=2, seed=3, size=128, logo_only_views=1, slogans=True)
    dataset = Dataset.open(tmp_path)
    config = NetConfig(explanation_experts=True, explained_words=True)
    net, preprocess = build_net(config, "cpu", 0)
    split = dataset.split("train")[0]["split"][0]
    data = load_split(dataset, split, net, preprocess, None, ocr=dataset.ocr(), errors=ErrorLog("test"))
    _, captions = dataset.split(split)
    explanations = dict(zip(captions["caption_id"], captions["explanation"], strict=True))
    for caption_id, own, explained in zip(data.caption_ids, data.entity_words, data.explained_words, strict=True):
        assert explained[: len(own)] == own
        slogan = explanations[caption_id].split('slogan is "')[1].split('"')[0] if explanations[caption_id] else ""
        assert explained[len(own) :] == [w for w in slogan.split() if w not in own]
    assert any(len(e) > len(o) for o, e in zip(data.entity_words, data.explained_words, strict=True))
    assert set(data.strings) >= {w for words in data.explained_words for w in words}
    plain, _ = build_net(NetConfig(explanation_experts=True), "cpu", 0)
    without = load_split(dataset, split, plain, preprocess, None, ocr=dataset.ocr(), errors=ErrorLog("test"))
    assert without.explained_words is None and without.entity_words == data.entity_words
