"""Every figure names its OCR source, and a run is judged by its dataset's own protocol."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from hopid.data.dataset import GROUNDTRUTH_ENGINE, Dataset
from hopid.data.schema import read_table, table_path, write_table
from hopid_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from hopid.synthetic import generate

    root = tmp_path_factory.mktemp("sources") / "synthetic"
    generate(root, seed=5, groups=8, variants=3, size=128)
    return root


def with_engine(root: Path, copy: Path, engine: str) -> Path:
    """``root`` copied to ``copy`` with its ground-truth OCR rows also stored under ``engine``."""
    shutil.copytree(root, copy)
    ocr = read_table(table_path(copy, "ocr"), "ocr")
    other = ocr.with_columns(engine=pl.lit(engine)).with_columns(pl.col("text").str.to_uppercase())
    write_table(pl.concat([ocr, other]), table_path(copy, "ocr"), "ocr")
    return copy


def test_the_engine_used_when_none_is_named_is_a_real_one_when_there_is_one(tmp_path, synthetic):
    assert Dataset.open(synthetic).ocr_engine() == GROUNDTRUTH_ENGINE  # all there is
    both = Dataset.open(with_engine(synthetic, tmp_path / "both", "easyocr"))
    assert both.ocr_engine() == "easyocr"
    assert set(both.ocr()["engine"].to_list()) == {"easyocr"}
    assert both.ocr_engine(GROUNDTRUTH_ENGINE) == GROUNDTRUTH_ENGINE  # named: as asked


def test_eval_json_and_metrics_name_ground_truth_loudly(tmp_path, synthetic):
    result = runner.invoke(app, ["eval", str(synthetic), "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["ocr_engine"] == GROUNDTRUTH_ENGINE and "rsum" in found  # flat: metric keys at the top
    said = " ".join(result.stderr.split())  # rich wraps the title to the terminal
    assert "GROUND-TRUTH" in said and "OCR: groundtruth" in said
    metrics = read_table(tmp_path / "out" / "metrics.parquet", "metrics")
    assert set(metrics["ocr_engine"].to_list()) == {GROUNDTRUTH_ENGINE}


def test_eval_prefers_a_real_engines_reading_and_says_which(tmp_path, synthetic):
    both = with_engine(synthetic, tmp_path / "both", "easyocr")
    result = runner.invoke(app, ["eval", str(both), "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ocr_engine"] == "easyocr" and "GROUND-TRUTH" not in result.stderr
    metrics = read_table(tmp_path / "out" / "metrics.parquet", "metrics")
    assert set(metrics["ocr_engine"].to_list()) == {"easyocr"}


def test_coco_text_annotations_are_ground_truth():
    from hopid.prepare import ctc_coco

    assert ctc_coco.ENGINE == GROUNDTRUTH_ENGINE


@pytest.mark.slow
def test_a_run_on_an_identity_benchmark_selects_and_reports_by_identity_metrics(tmp_path, monkeypatch):
    from hopid.synthetic.identities import generate_identities

    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "people"
    generate_identities(data, seed=2, identities=12, views=3, size=128)
    (data / "benchmark.json").write_text(json.dumps({"benchmark": "rstpreid"}))  # an identity protocol card
    run = tmp_path / "run"
    settings = ["data.dataset=" + str(data), "train.epochs=2", "train.batch_size=16", "tagger.epochs=2"]
    result = runner.invoke(app, ["train", "demo-tiny", "--out", str(run), *[a for s in settings for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    log = read_table(run / "train_log.parquet", "train_log")
    val = set(log.filter(pl.col("kind") == "val")["metric"].to_list())
    assert "map" in val and "rsum" not in val  # validation under the identity protocol
    assert log.filter(pl.col("kind") == "alpha")["metric"].str.starts_with("map@").all()  # alpha chosen by mAP
    metrics = read_table(run / "metrics.parquet", "metrics")
    assert {"rank1", "map", "minp"} <= set(metrics["metric"].to_list()) and "rsum" not in set(metrics["metric"])
    assert "OCR: groundtruth" in " ".join(result.output.split())
