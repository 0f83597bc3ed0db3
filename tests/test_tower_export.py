"""Torch-free CLIP towers: the same pixels as open_clip's transform, ONNX towers that give the
model's vectors, int8 quantization kept only when it agrees with fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hopid.models.pixels import pixel_batch, supports
from hopid.models.tower_export import (
    Agreement,
    agreement,
    export_image_tower,
    export_text_tower,
    open_session,
    quantize_int8,
    save_optimized,
)


def odd_images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    shapes = [(300, 500), (500, 300), (64, 64), (100, 90), (12, 1200), (999, 333)]
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in shapes]
    images.append(Image.fromarray(rng.integers(0, 255, (200, 260), dtype=np.uint8)))  # grey
    images.append(Image.fromarray(rng.integers(0, 255, (200, 260, 4), dtype=np.uint8), "RGBA"))
    return images


def test_pixels_are_open_clips_pixels(tiny_encoder):
    config = dict(tiny_encoder.model.visual.preprocess_cfg)
    assert supports(config)
    images = odd_images()
    expected = torch.stack([tiny_encoder.preprocess(image) for image in images]).numpy()
    np.testing.assert_array_equal(pixel_batch(images, config), expected)
    squash = config | {"resize_mode": "squash"}
    assert pixel_batch(images[:1], squash).shape == expected[:1].shape
    assert not supports(config | {"resize_mode": "longest"})
    with pytest.raises(ValueError, match="not reproduced"):
        pixel_batch(images[:1], config | {"resize_mode": "longest"})


def test_agreement_measures_cosine_and_top10_overlap():
    rng = np.random.default_rng(1)
    gallery = rng.standard_normal((50, 16)).astype(np.float32)
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    same = agreement(queries, queries * 3.0, gallery)  # scale does not matter
    assert same.passes and same.min_cosine == pytest.approx(1.0) and same.top10_overlap == 1.0
    other = agreement(queries, rng.standard_normal((20, 16)).astype(np.float32), gallery)
    assert not other.passes and other.min_cosine < 0.9 and other.top10_overlap < 0.95
    assert Agreement(0.995, 0.94, 10).passes is False


@pytest.mark.slow
def test_exported_towers_give_the_models_vectors(tiny_encoder, tmp_path: Path):
    model, config = tiny_encoder.model, dict(tiny_encoder.model.visual.preprocess_cfg)
    texts = [f"a {c} sign that reads {w}" for c in ("red", "blue", "green", "white") for w in ("EXIT", "Louvre", "24h")]
    images = odd_images()
    export_text_tower(model, tiny_encoder.tokenizer(["a photo"]), tmp_path / "text.onnx")
    export_image_tower(model, config["size"], tmp_path / "image.onnx")
    ids = tiny_encoder.tokenizer(texts).numpy()
    text_fp32 = open_session(tmp_path / "text.onnx", optimized=False).run(None, {"ids": ids})[0]
    image_fp32 = open_session(tmp_path / "image.onnx", optimized=False).run(
        None, {"pixels": pixel_batch(images, config)}
    )[0]
    np.testing.assert_allclose(text_fp32, tiny_encoder.encode_texts(texts), atol=1e-4)
    np.testing.assert_allclose(image_fp32, tiny_encoder.encode_images(images), atol=1e-4)

    quantize_int8(tmp_path / "text.onnx", tmp_path / "text.int8.onnx")
    save_optimized(tmp_path / "text.int8.onnx", tmp_path / "text.int8.opt.onnx")
    assert (tmp_path / "text.int8.onnx").stat().st_size < (tmp_path / "text.onnx").stat().st_size
    text_int8 = open_session(tmp_path / "text.int8.opt.onnx").run(None, {"ids": ids})[0]
    found = agreement(text_fp32, text_int8, image_fp32)
    assert found.probes == len(texts) and 0.5 < found.min_cosine <= 1.0 + 1e-6


@pytest.mark.slow
def test_prepared_towers_are_reused_while_intact_and_rebuilt_when_damaged(tiny_encoder, tmp_path: Path):
    from hopid.models.onnx_clip import prepare_towers

    folder = tmp_path / "towers"
    made = prepare_towers(tiny_encoder, folder, "int8")
    made_at = (folder / "text.onnx").stat().st_mtime_ns
    assert prepare_towers(tiny_encoder, folder, "int8").facts == made.facts
    assert (folder / "text.onnx").stat().st_mtime_ns == made_at  # reused, not made again
    with open(folder / "text.onnx", "r+b") as graph:  # an index generation links this very file
        graph.truncate(100)
    remade = prepare_towers(tiny_encoder, folder, "int8")
    assert remade.facts["graphs"] == made.facts["graphs"]  # the same graphs again, whole


@pytest.mark.slow
def test_an_onnx_clip_encoder_travels_as_its_graphs_paths(tiny_encoder, tmp_path: Path):
    import copy

    from hopid.models.onnx_clip import OnnxClipEncoder, prepare_towers

    encoder = OnnxClipEncoder.from_towers(prepare_towers(tiny_encoder, tmp_path / "towers", "int8"), tiny_encoder)
    rebuild, arguments = encoder.__reduce__()  # what a Ray actor receives: no onnxruntime session inside
    assert rebuild is OnnxClipEncoder and str(tmp_path / "towers") in str(arguments[0])
    images = odd_images()
    expected = encoder.encode_images(images)  # its image session is open now
    travelled = copy.deepcopy(encoder)  # rebuilt through __reduce__, as after a pickle round trip
    assert travelled.sessions == {}  # sessions are opened anew where it lands
    np.testing.assert_array_equal(travelled.encode_images(images), expected)
    single = encoder.on_threads(1)  # as inside a CPU Ray actor, beside its OCR
    assert single.threads == 1 and single.session("image").get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(single.encode_images(images), expected, atol=1e-5)
    np.testing.assert_array_equal(travelled.encode_texts(["EXIT"]), encoder.encode_texts(["EXIT"]))
