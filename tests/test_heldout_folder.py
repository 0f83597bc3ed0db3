"""The held-out check, end to end through the CLI: unseen synthetic words as a plain folder plus a
captions CSV with extra columns -> prepare folder -> ocr (default engine) -> eval with the tiny model."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from hopid.data.folder import read_captions_file
from hopid.data.schema import read_table
from hopid.data.synthetic.heldout import write_heldout_folder
from hopid_cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_scene_text_alone_retrieves_unseen_words(tmp_path):
    source = tmp_path / "source"
    csv_path = write_heldout_folder(source, extra_columns={"rating": "5", "notes": "held out"})
    rows = read_captions_file(csv_path).to_dicts()
    assert len(rows) >= 20

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
