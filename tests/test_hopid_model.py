"""The HOPID network's parts, losses, recipes, OCR noise and checkpoints (unit tier, tiny backbone)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from hopid.errors import HopidError
from hopid.models.heads import EntityDistiller, box_pool
from hopid.models.inputs import OcrToken, entity_batch, image_vectors, keep_tokens, ocr_batch, text_vectors
from hopid.models.network import HopidNet, NetConfig, WordBank
from hopid.models.spelling import spelling_sketch
from hopid.models.visual_prompt import draw_ocr_boxes
from hopid.train.checkpoint import load_checkpoint, save_checkpoint
from hopid.train.losses import info_nce, triplet_hardest
from hopid.train.ocr_noise import NoiseConfig, add_noise, noisy_strings
from hopid.train.recipe import load_recipe, parse_override, valid_keys

BOX = (0.1, 0.1, 0.5, 0.1, 0.5, 0.3, 0.1, 0.3)


def make_net(**changes) -> HopidNet:
    from hopid.models.factory import load_encoder

    encoder = load_encoder("tiny", device="cpu")
    torch.manual_seed(0)
    return HopidNet(encoder.model, encoder.tokenizer, NetConfig(**changes)).eval()


def encode(net: HopidNet, words: list[list[str]], captions: list[str], entity_words: list[list[str]]):
    bank = WordBank(net)
    pixels = torch.zeros(len(words), 3, 64, 64)
    tokens = [[OcrToken(w, BOX, 1.0) for w in ws] for ws in words]
    with torch.no_grad():
        g, patches = net.image_backbone(pixels)
        v = image_vectors(net, bank, g, patches, ocr_batch(tokens, bank, 8))
        c = net.caption_backbone(net.tokenizer(captions))
        t = text_vectors(net, bank, c, entity_batch(entity_words, bank, 8))
    return v, t


def test_visual_prompt_outlines_the_box_only():
    image = Image.new("RGB", (100, 100), (255, 255, 255))
    drawn = np.asarray(draw_ocr_boxes(image, [BOX], (255, 0, 0), 2))
    assert tuple(drawn[10, 30]) == (255, 0, 0)  # on the top edge
    assert tuple(drawn[20, 30]) == (255, 255, 255)  # inside the box: untouched
    assert tuple(drawn[80, 80]) == (255, 255, 255)
    assert np.array_equal(np.asarray(draw_ocr_boxes(image, [])), np.asarray(image))


def test_distiller_handles_images_without_text_and_ignores_padding():
    torch.manual_seed(0)
    distiller = EntityDistiller(16, slots=3, layers=3, heads=2)
    entities = torch.randn(3, 4, 16)
    mask = torch.tensor([[True, True, False, False], [False] * 4, [True, False, False, False]])
    out = distiller(entities, mask)
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], distiller.no_text.detach())
    changed = entities.clone()
    changed[0, 2:] = 100.0  # padding must not matter
    assert torch.allclose(distiller(changed, mask)[0], out[0], atol=1e-6)
    changed[0, 0] = 5.0  # a real token must
    assert not torch.allclose(distiller(changed, mask)[0], out[0], atol=1e-3)


def test_box_pool_reads_the_patches_under_the_box():
    tokens = torch.arange(16, dtype=torch.float32).reshape(1, 16, 1)  # a 4x4 grid, value = patch index
    boxes = torch.tensor([[[0.0, 0.0, 0.5, 0.0, 0.5, 0.5, 0.0, 0.5]]])  # the top-left quarter
    pooled = box_pool(tokens, boxes, torch.ones(1, 1, dtype=torch.bool))
    assert pooled.item() == pytest.approx((0 + 1 + 4 + 5) / 4)


def test_hopid_vectors_follow_the_scene_text_and_the_baseline_ignores_it():
    net = make_net()
    v, t = encode(net, [["Zorbex"], ["Quilmo"], []], ["a red truck"] * 3, [["Zorbex"], ["Quilmo"], []])
    assert v.shape == t.shape == (3, net.out_dim)
    assert torch.allclose(v.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(v[0], v[1], atol=1e-4)  # same pixels, different words
    assert not torch.allclose(t[0], t[1], atol=1e-4)  # same caption, different entity words
    with_appearance = make_net(ocr_appearance=True)
    v_app, _ = encode(with_appearance, [["Zorbex"], ["Quilmo"], []], ["a red truck"] * 3, [["Zorbex"], [], []])
    assert torch.isfinite(v_app).all() and not torch.allclose(v_app[0], v_app[1], atol=1e-4)
    baseline = make_net(scene_text=False)
    v_base, t_base = encode(baseline, [["Zorbex"], ["Quilmo"], []], ["a red truck"] * 3, [["Zorbex"], ["Quilmo"], []])
    assert baseline.out_dim == baseline.dim
    assert torch.allclose(v_base[0], v_base[1]) and torch.allclose(t_base[0], t_base[1])
    assert baseline.word_tower is None and not any(n.startswith("distiller") for n, _ in baseline.named_parameters())


def test_frozen_word_tower_stays_fixed_while_the_caption_tower_trains():
    net = make_net()
    trainable = {n for n, _ in net.trainable_parameters()}
    assert any(n.startswith("clip.transformer") for n in trainable)
    assert not any(n.startswith("word_tower") for n in trainable)
    frozen = make_net(freeze_image=True, freeze_text=True)
    names = {n for n, _ in frozen.trainable_parameters()}
    assert names and not any(n.startswith("clip.") for n in names)
    assert frozen.word_tower is None  # a frozen text tower embeds the words itself


def test_spelling_sketch_is_robust_to_ocr_errors():
    clean = spelling_sketch("HarbourFront", 256)
    assert torch.dot(clean, spelling_sketch("harbourfront", 256)) == pytest.approx(1.0)
    assert torch.dot(clean, spelling_sketch("HarbourFr0nt", 256)) > 0.7
    assert torch.dot(clean, spelling_sketch("Quilmo", 256)) < 0.4


def test_keep_tokens_keeps_the_largest_in_reading_order():
    small = (0.0, 0.0, 0.01, 0.0, 0.01, 0.01, 0.0, 0.01)
    tokens = [OcrToken("a", small, 1.0), OcrToken("BIG", BOX, 1.0), OcrToken("", BOX, 1.0), OcrToken("b", BOX, 1.0)]
    assert [t.text for t in keep_tokens(tokens, 2)] == ["BIG", "b"]


def test_triplet_loss_uses_the_hardest_negative_and_skips_same_image_rows():
    text = torch.eye(3)
    image = torch.eye(3)
    keys = torch.arange(3)
    assert triplet_hardest(text, image, keys, margin=0.2).item() == 0.0  # positives 1, negatives 0
    image_bad = torch.tensor([[1.0, 0, 0], [0.9, 0.436, 0], [0, 0, 1.0]])
    image_bad = torch.nn.functional.normalize(image_bad, dim=-1)
    loss = triplet_hardest(text, image_bad, keys, margin=0.2)
    s = image_bad.t()  # caption x image scores (text is the identity)
    # caption 0 prefers image 1 by s01 - s00; image 1 prefers caption 0 by s01 - s11; others fine
    expected = ((0.2 + s[0, 1] - s[0, 0]) + (0.2 + s[0, 1] - s[1, 1])) / 3
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    # rows 0 and 1 show the same image: their similarity is not a violation
    assert triplet_hardest(text, image_bad, torch.tensor([0, 0, 2]), margin=0.2).item() < loss.item()
    assert torch.isfinite(info_nce(text, image_bad, keys, torch.tensor(2.659)))


def test_recipe_rejects_unknown_keys_and_lists_valid_ones(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model:\n  slotz: 4\n")
    with pytest.raises(HopidError, match="unknown key 'model.slotz'.*model.slots"):
        load_recipe(recipe)
    with pytest.raises(HopidError, match="unknown key 'train.epoch'"):
        load_recipe(None, ["train.epoch=3"])
    resolved = load_recipe(None, ["train.epochs=3", "model.prompt_color=[0, 255, 0]", "data.ocr_engine=null"])
    assert resolved["train"]["epochs"] == 3 and resolved["model"]["prompt_color"] == [0, 255, 0]
    assert parse_override("a.b=1.5") == {"a": {"b": 1.5}}
    assert "model.visual_prompt" in valid_keys() and "loss.margin" in valid_keys()
    with pytest.raises(HopidError, match="positive integer"):
        load_recipe(None, ["train.batch_size=0"])
    with pytest.raises(HopidError, match="val_fraction"):
        load_recipe(None, ["data.val_fraction=1.5"])


def test_every_benchmark_has_a_valid_recipe():
    from hopid.eval.protocols import PROTOCOLS, WORDS
    from hopid.train.recipe import recipes_dir

    names = {path.stem: load_recipe(path) for path in recipes_dir().glob("*.yaml")}
    for benchmark in (name for name, protocol in PROTOCOLS.items() if protocol.name != WORDS):  # SVT/IC15: no training
        recipe = next((r for stem, r in names.items() if stem.startswith(f"{benchmark}-")), None)
        assert recipe is not None, f"no recipe for {benchmark}"
        assert recipe["data"]["dataset"].startswith("data/")


def test_ocr_noise_is_seeded_and_never_empties_an_image():
    tokens = [OcrToken(w, BOX, 1.0) for w in ("Harbour", "Front", "EXIT")]
    config = NoiseConfig(drop=0.5, misspell=0.5, merge=0.3, variants=2)
    first = add_noise(tokens, config, random.Random(7), seed=0)
    assert first == add_noise(tokens, config, random.Random(7), seed=0)
    known = set(noisy_strings(tokens, config, seed=0))
    for trial in range(50):
        noisy = add_noise(tokens, config, random.Random(trial), seed=0)
        assert noisy and all(t.text in known for t in noisy)
    everything_dropped = add_noise(tokens, NoiseConfig(drop=1.0, misspell=0, merge=0), random.Random(1), 0)
    assert len(everything_dropped) == 1


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, model, optimizer, {"step": 1, "epoch": 0, "position": 1})
    expected = torch.rand(1)
    torch.manual_seed(123)
    other = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    other_optimizer = torch.optim.AdamW(other.parameters(), lr=0.01)
    state = load_checkpoint(path, other, other_optimizer)
    assert state["step"] == 1 and state["position"] == 1
    assert torch.rand(1).item() == expected.item()
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)
    moments = other_optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(moments, optimizer.state_dict()["state"][0]["exp_avg"])
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(HopidError, match="safetensors"):
        load_checkpoint(bad, other, other_optimizer)


def test_fusion_alpha_is_the_largest_of_the_validation_ties():
    from hopid.train.calibrate import choose_alpha

    scores = {0.0: 580.5, 0.1: 588.3, 0.2: 588.3, 0.5: 587.3, 1.0: 586.0}
    assert choose_alpha(scores, tolerance=1.0) == 0.5
    assert choose_alpha(scores, tolerance=0.0) == 0.2
    assert choose_alpha({0.0: 500.0, 1.0: 400.0}, tolerance=1.0) == 0.0


def test_recipe_numbers_are_checked_and_converted():
    resolved = load_recipe(None, ["train.lr=1e-4", "train.epochs=2.0", "train.gate_lr=3e-2"])
    assert resolved["train"]["lr"] == 1e-4 and resolved["train"]["epochs"] == 2
    assert resolved["train"]["gate_lr"] == 0.03 and load_recipe(None, [])["train"]["gate_lr"] is None
    for bad, message in [
        ("train.lr=fast", "train.lr must be a number"),
        ("train.gate_lr=fast", "train.gate_lr must be a number"),
        ("train.respell=1.5", "train.respell must be in"),
        ("train.epochs=2.5", "train.epochs must be a whole number"),
        ("ocr_noise.variants=0", "positive integer"),
        ("eval.select_on=accuracy", "eval.select_on must be one of"),
        ("model.backbone=hf-hub:org/model", "hf-hub"),
    ]:
        with pytest.raises(HopidError, match=message):
            load_recipe(None, [bad])
