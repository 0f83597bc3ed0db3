"""The held-out check, end to end through the CLI: unseen synthetic words as a plain folder plus a
captions CSV with extra columns -> prepare folder -> ocr (default engine) -> eval with the tiny model;
and the held-out folder itself: big enough, every caption naming its image's words, none of them
a word training can write."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from hopid.data.folder import read_captions_file
from hopid.data.schema import read_table
from hopid.entities.text import words
from hopid.entities.weak_labels import weak_spans
from hopid.synthetic.captions import caption_vocabulary
from hopid.synthetic.heldout import write_heldout_folder, write_heldout_identities
from hopid.synthetic.words import training_can_emit
from hopid_cli.app import app

runner = CliRunner()


@pytest.mark.parametrize("seed", [None, 7])
def test_heldout_folder_is_large_and_new(tmp_path, seed):
    csv_path = write_heldout_folder(tmp_path, **({} if seed is None else {"seed": seed}))
    rows = read_captions_file(csv_path).to_dicts()
    assert len(rows) >= 300
    ocr = read_table(tmp_path / "ocr.parquet", "ocr")
    images = read_table(tmp_path / "images.parquet", "images")
    path_of = dict(zip(images["image_id"], images["path"], strict=True))
    words_of: dict[str, list[str]] = {}
    for image_id, text in zip(ocr["image_id"], ocr["text"], strict=True):
        words_of.setdefault(path_of[image_id], []).append(text)
    assert all((tmp_path / row["image"]).is_file() for row in rows)
    assert all(weak_spans(row["caption"], words_of[row["image"]]) for row in rows)  # each names its text
    assert len({row["image"] for row in rows}) >= 60
    assert not [w for w in ocr["text"] if training_can_emit(w)]


def test_heldout_identities_are_new_brands(tmp_path):
    csv_path = write_heldout_identities(tmp_path, identities=5, views=2)
    captions = read_captions_file(csv_path)
    assert captions.height == 5 * 2 * 3 and captions["object_id"].n_unique() == 5
    written = {w.key for text in captions["caption"] for w in words(text)} - caption_vocabulary()
    assert len(written) >= 4  # the brand names, most identities named in some caption
    assert not [w for w in written if training_can_emit(w)]


@pytest.mark.slow
def test_scene_text_alone_retrieves_unseen_words(tmp_path):
    source = tmp_path / "source"
    csv_path = write_heldout_folder(source, extra_columns={"rating": "5", "notes": "held out"})
    rows = read_captions_file(csv_path).to_dicts()
    assert len(rows) >= 300

    dataset = tmp_path / "heldout"
    prepared = runner.invoke(
        app, ["prepare", "folder", str(source / "images"), str(dataset), "--captions", str(csv_path)]
    )
    assert prepared.exit_code == 0, prepared.output
    assert "rating" in prepared.stderr  # extra columns are noted, not an error
    assert runner.invoke(app, ["ocr", str(dataset), "--workers", "2"]).exit_code == 0

    fused = runner.invoke(app, ["eval", str(dataset), "--model", "tiny", "--json"])
    assert fused.exit_code == 0, fused.output
    metrics = json.loads(fused.stdout)
    dense = json.loads(runner.invoke(app, ["eval", str(dataset), "--model", "tiny", "--json", "--dense-only"]).stdout)
    assert metrics["t2i_r1"] >= 0.9, metrics
    assert dense["t2i_r1"] < 0.5, dense  # the random tiny model alone is near chance
    assert set(metrics) >= {"t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10", "rsum"}
    assert (dataset / "eval" / "test" / "metrics.parquet").is_file()
    per_query = read_table(dataset / "eval" / "test" / "per_query.parquet", "per_query")
    assert per_query.filter(pl.col("direction") == "t2i").height == len(rows)
