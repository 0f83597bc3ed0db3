"""hopid index and hopid query end to end: real OCR (default engine), real tiny open_clip, real FAISS."""

import json
import os

import polars as pl
import pytest
from conftest import render_words
from typer.testing import CliRunner

from hopid.data.schema import read_table
from hopid.errors import HopidError
from hopid.index.build import build_index
from hopid.index.directory import open_generation
from hopid.scenetext.fusion import DEFAULT_ALPHA
from hopid.scenetext.lexical import LexicalIndex
from hopid.search.searcher import Searcher
from hopid_cli.app import app

WORDS = {
    "zorbex.png": ["ZORBEX"],
    "klaxo.png": ["Klaxo", "Bakery"],
    "mirelta.jpg": ["MIRELTA"],
    "nums.png": ["Gate", "63"],
}
runner = CliRunner()


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    for name, words in WORDS.items():
        render_words(root / name, words)
    (root / "zero.png").write_bytes(b"")
    (root / "text.jpg").write_text("I am not a picture")
    full = (root / "zorbex.png").read_bytes()
    (root / "cut.png").write_bytes(full[: len(full) // 3])
    return root


def current(index_dir, name):
    """A file of the index's committed generation."""
    return open_generation(index_dir).path(name)


def items(index_dir):
    return read_table(current(index_dir, "items.parquet"), "items")


def test_index_then_query_incrementally(photos, tiny_encoder):
    first = build_index(photos, tiny_encoder, workers=1)
    index_dir = photos / ".hopid"
    assert first.images == 4 and first.errors == 3
    errors = read_table(index_dir / "errors.parquet", "errors")
    assert sorted(errors["item"].str.split("/").list.last().to_list()) == ["cut.png", "text.jpg", "zero.png"]
    ocr = read_table(current(index_dir, "ocr.parquet"), "ocr")
    assert {"ZORBEX", "MIRELTA", "63"} <= set(ocr["text"].to_list())

    searcher = Searcher(index_dir, encoder=tiny_encoder)
    for query, expected in [
        ("zorbex", "zorbex.png"),
        ("klaxo bakery", "klaxo.png"),
        ("gate 63", "nums.png"),
        ("a bottle labelled Mirelta", "mirelta.jpg"),
    ]:
        hits = searcher.search(query, k=2)
        assert hits[0].path.endswith(expected), (query, hits)
        assert hits[0].text > 0 and hits[0].score == pytest.approx(hits[0].dense + DEFAULT_ALPHA * hits[0].text)
    assert all(h.text == 0 for h in searcher.search("zorbex", k=4, dense_only=True))
    from_ocr = LexicalIndex.from_table(items(index_dir)["path"].to_list(), searcher.ocr)  # a lexical.npz of old
    searcher.lexical, saved = from_ocr, searcher.search("klaxo bakery", k=4)
    assert saved == Searcher(index_dir, encoder=tiny_encoder).search("klaxo bakery", k=4)

    # nothing changed: nothing is read again
    again = build_index(photos, tiny_encoder, workers=1)
    assert (again.ocr_now, again.embedded_now, again.images) == (0, 0, 4)

    # a rename reuses the work; a deletion drops out; a new image is read
    os.rename(photos / "klaxo.png", photos / "renamed.png")
    (photos / "mirelta.jpg").unlink()
    render_words(photos / "new.png", ["Quendo"])
    third = build_index(photos, tiny_encoder, workers=1)
    assert third.images == 4 and third.ocr_now == 1 and third.embedded_now == 1
    assert sorted(items(index_dir)["path"].to_list()) == ["new.png", "nums.png", "renamed.png", "zorbex.png"]
    assert Searcher(index_dir, encoder=tiny_encoder).search("quendo", k=1)[0].path.endswith("new.png")


def test_interrupted_index_resumes_without_duplicates(photos, tiny_encoder):
    calls = []

    def stop_after_first_embedding(stage, done, total):
        calls.append(stage)
        if stage == "embed" and done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(photos, tiny_encoder, workers=1, progress=stop_after_first_embedding)
    assert not (photos / ".hopid" / "manifest.json").exists()
    resumed = build_index(photos, tiny_encoder, workers=1)
    assert resumed.ocr_now == 0, "OCR finished before the interruption is not redone"
    table = items(photos / ".hopid")
    assert table.height == 4 and table["path"].n_unique() == 4


def test_query_cli_json_paths_and_errors(photos, tiny_encoder, monkeypatch):
    build_index(photos, tiny_encoder, workers=1)
    monkeypatch.chdir(photos)  # no --index: the index of the current folder
    result = runner.invoke(app, ["query", "ZORBEX", "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and hits[0]["path"].endswith("zorbex.png")
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert {"path", "score", "dense", "text", "matched"} <= set(hits[0])

    paths = runner.invoke(app, ["query", "klaxo", "--paths", "-k", "1"])
    assert paths.stdout.strip().endswith("klaxo.png")

    for bad in (["query", ""], ["query", "   "], ["query", "x" * 5000]):
        failed = runner.invoke(app, bad)
        assert failed.exit_code == 2 and "error" in failed.stderr and "Traceback" not in failed.output

    image = runner.invoke(app, ["query", "--image", str(photos / "nums.png"), "--json", "-k", "1"])
    assert json.loads(image.stdout)[0]["path"].endswith("nums.png")


def test_mismatched_model_and_old_index_are_clear_errors(photos, tiny_encoder, tmp_path):
    import open_clip
    import torch
    from safetensors.torch import save_file

    from hopid.models.factory import load_encoder

    build_index(photos, tiny_encoder, workers=1)
    index_dir = photos / ".hopid"
    torch.manual_seed(1)
    other = open_clip.create_model("hopid-tiny", pretrained=None)
    weights = tmp_path / "other.safetensors"
    save_file(other.state_dict(), str(weights))
    other_encoder = load_encoder(f"hopid-tiny:{weights}", device="cpu")
    assert other_encoder.fingerprint != tiny_encoder.fingerprint
    with pytest.raises(HopidError, match="does not match the index"):
        Searcher(index_dir, encoder=other_encoder)

    manifest = json.loads((index_dir / "manifest.json").read_text())
    (index_dir / "manifest.json").write_text(json.dumps(manifest | {"schema_version": 0}))
    result = runner.invoke(app, ["query", "zorbex", "--index", str(index_dir)])
    assert result.exit_code == 2 and "schema version 0" in result.stderr

    missing = runner.invoke(app, ["query", "zorbex", "--index", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no hopid index" in missing.stderr


def test_index_of_missing_folder_is_clean_error(tmp_path):
    result = runner.invoke(app, ["index", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such folder" in result.stderr


def test_items_table_is_well_formed(photos, tiny_encoder):
    build_index(photos, tiny_encoder, workers=1)
    table = items(photos / ".hopid")
    assert table.select(pl.col("width").min()).item() == 480
    assert table["sha"].n_unique() == table.height


def test_export_for_other_tools(photos, tiny_encoder, tmp_path):
    import numpy as np

    build_index(photos, tiny_encoder)
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", str(out), "--index", str(photos / ".hopid")])
    assert result.exit_code == 0, result.output
    vectors = np.load(out / "img_emb" / "img_emb_0.npy")
    metadata = pl.read_parquet(out / "metadata" / "metadata_0.parquet")
    assert vectors.shape == (metadata.height, tiny_encoder.dim) == (len(items(photos / ".hopid")), tiny_encoder.dim)
    assert all(os.path.isfile(p) for p in metadata["image_path"])
    assert np.allclose(vectors, np.load(current(photos / ".hopid", "vectors.npy")))
    again = runner.invoke(app, ["export", str(out), "--index", str(photos / ".hopid")])
    assert again.exit_code == 2 and "not empty" in again.output


def test_loading_a_model_leaves_the_environment_and_the_hub_mode_alone(monkeypatch):
    from huggingface_hub import constants

    from hopid.models.encoder import EntityEncoder, ImageEncoder, ReferenceEncoder
    from hopid.models.factory import hub_offline, load_encoder

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = constants.HF_HUB_OFFLINE
    encoder = load_encoder("tiny", device="cpu")
    assert "HF_HUB_OFFLINE" not in os.environ and before == constants.HF_HUB_OFFLINE
    with hub_offline():
        assert constants.HF_HUB_OFFLINE is True
    assert before == constants.HF_HUB_OFFLINE  # a later pretrained load may use the network again
    assert isinstance(encoder, ImageEncoder) and not isinstance(encoder, EntityEncoder | ReferenceEncoder)
