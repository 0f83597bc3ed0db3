"""The cold query path: the ONNX text tower gives the model's vectors and spares the torch import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import cold_query, render_words

from hopid.index.build import build_index
from hopid.models.bpe import ClipBPE
from hopid.search.query_encoder import OnnxTextEncoder, open_query_encoder
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


def test_onnx_query_vectors_match_the_model_and_the_cold_query_imports_no_torch(tmp_path, tiny_encoder):
    root = tmp_path / "photos"
    render_words(root / "zorbex.png", ["ZORBEX"])
    render_words(root / "gate.png", ["Gate", "63"])
    build_index(root, tiny_encoder)
    index_dir = root / ".hopid"
    assert json.loads((index_dir / "manifest.json").read_text())["query_model"] is True
    onnx = open_query_encoder(index_dir, tiny_encoder.spec, tiny_encoder.fingerprint)
    assert type(onnx) is OnnxTextEncoder
    assert np.abs(onnx.encode_texts(TEXTS) - tiny_encoder.encode_texts(TEXTS)).max() < 1e-5
    assert isinstance(Searcher(index_dir).encoder, OnnxTextEncoder)

    hits, imported = cold_query(index_dir, "zorbex")
    assert hits[0]["path"] == str(Path(root / "zorbex.png").resolve())
    assert "torch" not in imported
