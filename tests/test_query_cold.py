"""The cold query path: the ONNX text tower gives the model's vectors and spares the torch import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import cold_image_query, cold_query, render_words
from PIL import Image

from hopid.index.build import build_index
from hopid.models.bpe import ClipBPE
from hopid.models.onnx_clip import OnnxClipEncoder
from hopid.search.query_encoder import open_query_encoder
from hopid.search.searcher import Searcher

TEXTS = [
    "red Coca-Cola truck",
    "platform to HarbourFront",
    "Café naïve — 123,456 <b>bold</b> &amp; it's",
    "  WHY pay for NOTHING?!  ",
    "日本語のテキスト 😀",
    "word " * 120,
    "",
]


def test_the_plain_python_tokenizer_matches_open_clip(tiny_encoder):
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 .,;:!?'\"-_/()&é中😀\t\n")
    texts = TEXTS + ["".join(rng.choice(alphabet, size=rng.integers(0, 80))) for _ in range(200)]
    assert np.array_equal(ClipBPE()(texts), tiny_encoder.tokenizer(texts).numpy())


def small_index(root: Path, encoder, precision: str) -> Path:
    render_words(root / "zorbex.png", ["ZORBEX"])
    render_words(root / "gate.png", ["Gate", "63"], background=(40, 90, 200))
    build_index(root, encoder, query_precision=precision)
    return root / ".hopid"


def test_fp32_towers_give_the_models_vectors(tmp_path, tiny_encoder):
    index_dir = small_index(tmp_path / "photos", tiny_encoder, "fp32")
    info = json.loads(next(index_dir.glob("gen-*/query.json")).read_text())
    assert info["text"]["precision"] == info["image"]["precision"] == "fp32"
    onnx = open_query_encoder(index_dir, tiny_encoder.spec, tiny_encoder.fingerprint)
    assert type(onnx) is OnnxClipEncoder
    assert np.abs(onnx.encode_texts(TEXTS) - tiny_encoder.encode_texts(TEXTS)).max() < 1e-5
    searcher = Searcher(index_dir)
    images = [Image.open(p) for p in sorted((tmp_path / "photos").glob("*.png"))]
    assert np.abs(searcher.vectors - tiny_encoder.encode_images(images)).max() < 1e-5  # indexed by the ONNX tower


def test_int8_towers_agree_and_cold_text_and_image_queries_import_no_torch(tmp_path, tiny_encoder):
    root = tmp_path / "photos"
    index_dir = small_index(root, tiny_encoder, "int8")
    assert json.loads((index_dir / "manifest.json").read_text())["query_model"] is True
    info = json.loads(next(index_dir.glob("gen-*/query.json")).read_text())
    for tower in ("text", "image"):
        facts = info[tower]
        assert facts["asked"] == "int8" and facts["agreement"]["probes"] >= 48
        passes = facts["agreement"]["min_cosine"] >= 0.99 and facts["agreement"]["top10_overlap"] >= 0.95
        assert facts["precision"] == ("int8" if passes else "fp32")
    onnx = open_query_encoder(index_dir, tiny_encoder.spec, tiny_encoder.fingerprint)
    assert isinstance(Searcher(index_dir).encoder, OnnxClipEncoder)
    cosine = (onnx.encode_texts(TEXTS) * tiny_encoder.encode_texts(TEXTS)).sum(axis=1)
    assert cosine.min() >= 0.99

    hits, imported = cold_query(index_dir, "zorbex")
    assert hits[0]["path"] == str(Path(root / "zorbex.png").resolve())
    assert imported == []  # no torch, open_clip, spaCy, polars or pandas on the cold path
    hits, imported = cold_image_query(index_dir, root / "gate.png")
    assert hits[0]["path"] == str(Path(root / "gate.png").resolve())
    assert imported == []
