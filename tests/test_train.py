"""``hopid train`` end to end on a small synthetic set: the run directory, serving it through
index/query/eval, SIGKILL and --resume, and two-process torchrun against one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from hopid.data.schema import read_table
from hopid_cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
SMALL = [
    "data.synthetic.groups=12",
    "data.synthetic.variants=4",
    "data.synthetic.seed=3",
    "tagger.epochs=3",
    "train.epochs=3",
    "train.batch_size=32",
    "train.checkpoint_every=2",
    "train.warmup_steps=3",
    "train.threads=1",
]


def sets(extra: list[str] = ()) -> list[str]:
    return [arg for item in [*SMALL, *extra] for arg in ("--set", item)]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOPID_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@dataclass
class Trained:
    """One small demo-tiny run shared by the tests that read it, and the synthetic set it used."""

    run: Path
    dataset: Path
    index: Path
    base: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    base = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOPID_CACHE", str(base / "cache"))
        run = base / "run"
        result = runner.invoke(app, ["train", str(REPO / "recipes/demo-tiny.yaml"), *sets(), "--out", str(run)])
        assert result.exit_code == 0, result.output
        assert "OCR: groundtruth" in " ".join(result.output.split())  # the table names the test split's OCR
        dataset = next((base / "cache").glob("synthetic-*"))
        index = base / "index"
        built = runner.invoke(app, ["index", str(dataset / "images"), "--model", str(run), "--index", str(index)])
        assert built.exit_code == 0, built.output
        yield Trained(run, dataset, index, base)


def test_a_run_directory_holds_weights_tagger_provenance_log_and_metrics(trained):
    run = trained.run
    for name in ("config.yaml", "model.safetensors", "run.json", "provenance.json"):
        assert (run / name).is_file(), name
    assert (run / "tagger" / "tagger.json").is_file() and (run / "checkpoints" / "last.safetensors").is_file()
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["seed"] == 0 and provenance["data_fingerprint"] and provenance["versions"]["torch"]
    log = read_table(run / "train_log.parquet", "train_log")
    assert log.filter(pl.col("kind") == "val")["epoch"].unique().sort().to_list() == [1, 2, 3]
    metrics = read_table(run / "metrics.parquet", "metrics")
    assert set(metrics["model"].to_list()) == {"dense", "fused"}
    assert set(metrics["ocr_engine"].to_list()) == {"groundtruth"}  # the recipe trains on ground-truth OCR
    assert json.loads((run / "run.json").read_text())["ocr_engine"] == "groundtruth"


def test_the_channel_gates_learn_at_their_own_rate(trained):
    """At ``train.lr`` AdamW moves a gate about lr per step at most; the recipe's ``train.gate_lr``
    lets it leave its start within the run (docs/unseen-words.md)."""
    config = yaml.safe_load((trained.run / "config.yaml").read_text())["train"]
    assert config["gate_lr"] > 10 * config["lr"] and config["respell"] > 0
    log = read_table(trained.run / "train_log.parquet", "train_log").filter(pl.col("kind") == "train")
    steps = int(log["step"].max())
    moved = abs(log.filter(pl.col("metric") == "spelling_gate").sort("step")["value"][-1] - 1.0)
    assert moved > 2 * config["lr"] * steps


def test_a_finished_run_or_another_runs_files_are_never_overwritten(trained):
    again = runner.invoke(app, ["train", str(REPO / "recipes/demo-tiny.yaml"), *sets(), "--out", str(trained.run)])
    assert again.exit_code == 2 and "--resume" in again.output
    leftover = trained.base / "leftover"
    leftover.mkdir()
    (leftover / "config.yaml").write_text((trained.run / "config.yaml").read_text().replace("epochs: 3", "epochs: 4"))
    other = runner.invoke(app, ["train", "demo-tiny", *sets(), "--out", str(leftover)])
    assert other.exit_code == 2 and "different recipe" in other.output


def test_a_run_serves_index_and_query(trained):
    manifest = json.loads((trained.index / "manifest.json").read_text())
    run_dim = json.loads((trained.run / "run.json").read_text())["dim"]  # 384 with the spelling channel
    assert manifest["model"] == str(trained.run.resolve()) and manifest["dim"] == run_dim > 0
    answer = runner.invoke(app, ["query", "a red truck", "--index", str(trained.index), "--json", "-k", "3"])
    assert answer.exit_code == 0, answer.output
    assert len(json.loads(answer.stdout)) == 3


def test_an_image_query_reads_its_ocr_as_the_index_did(trained):
    probe = sorted((trained.dataset / "images").glob("*.png"))[5]
    by_image = runner.invoke(app, ["query", "--image", str(probe), "--index", str(trained.index), "--json", "-k", "1"])
    assert by_image.exit_code == 0, by_image.output
    assert json.loads(by_image.stdout)[0]["path"] == str(probe)


def test_a_model_that_does_not_match_the_index_is_refused(trained):
    mismatch = runner.invoke(app, ["query", "a red truck", "--index", str(trained.index), "--model", "tiny"])
    assert mismatch.exit_code == 2 and "does not match the index" in mismatch.output


def test_eval_encodes_exactly_as_training_did(trained):
    evaluated = runner.invoke(
        app, ["eval", str(trained.dataset), "--model", str(trained.run), "--json", "--dense-only"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    dense = json.loads(evaluated.stdout)
    metrics = read_table(trained.run / "metrics.parquet", "metrics")
    stored = dict(metrics.filter(pl.col("model") == "dense").select("metric", "value").iter_rows())
    assert dense["rsum"] == pytest.approx(stored["rsum"], abs=1e-6)


def test_the_light_query_side_matches_the_network(trained):
    check_light_query_side(trained.run, trained.index)


def check_light_query_side(run: Path, index: Path) -> None:
    """The run's text side exported to ONNX with its light tagger: the network's vectors for the
    same entity words, and a one-off query that imports neither torch nor spaCy."""
    from conftest import cold_query

    from hopid.entities.prompt import prompt_words
    from hopid.models.encoder import EntityEncoder, ImageEncoder, ReferenceEncoder
    from hopid.models.run import RunEncoder
    from hopid.search.query_encoder import OnnxRunTextEncoder, open_query_encoder

    assert (run / "tagger" / "light.json").is_file()
    assert 0 < json.loads((run / "run.json").read_text())["light_tagger"]["recall"] <= 1
    encoder = RunEncoder(run)
    light = open_query_encoder(index, encoder.spec, encoder.fingerprint)
    assert isinstance(light, OnnxRunTextEncoder)
    # what each encoder declares it can do: the ONNX query side reads no images
    assert all(isinstance(encoder, kind) for kind in (ImageEncoder, EntityEncoder, ReferenceEncoder))
    assert isinstance(light, EntityEncoder) and isinstance(light, ReferenceEncoder)
    assert not isinstance(light, ImageEncoder)
    texts = ['a sign that reads "Quilmo 24h" near Gate 63', "a red truck", "", "word " * 100]
    words = [prompt_words(found) for found in encoder.entities(texts)] + [["A", "b", "C", "d", "E", "f", "G", "h", "I"]]
    texts.append("nine words, more than the network takes")
    gap = abs(light.encode_with_words(texts, words) - encoder.encode_with_words(texts, words)).max()
    assert gap < 1e-5
    hits, imported = cold_query(index, "a sign that reads Quilmo")
    assert hits and imported == []


def test_not_a_run_directory_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", str(tmp_path), "--model", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "not a finished training run" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochz: 3\n")
    result = runner.invoke(app, ["train", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "unknown key 'train.epochz'" in result.output and "train.epochs" in result.output


def _final(run: Path) -> tuple[dict, dict]:
    metrics = read_table(run / "metrics.parquet", "metrics")
    return (
        {(m, s): v for m, s, v in metrics.select("metric", "model", "value").iter_rows()},
        load_file(str(run / "model.safetensors")),
    )


def test_killed_training_resumes_to_the_same_result(tmp_path, cache):
    recipe = str(REPO / "recipes/demo-tiny.yaml")
    whole = tmp_path / "whole"
    assert runner.invoke(app, ["train", recipe, *sets(), "--out", str(whole)]).exit_code == 0

    broken = tmp_path / "broken"
    env = dict(os.environ, HOPID_CACHE=str(cache))
    command = [sys.executable, "-m", "hopid_cli", "train", recipe, *sets(), "--out", str(broken)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = broken / "checkpoints" / "last.safetensors"
    deadline = time.monotonic() + 600
    while not checkpoint.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.is_file() and not (broken / "run.json").is_file(), "the run was not cut short"

    resumed = runner.invoke(app, ["train", recipe, *sets(), "--out", str(broken), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming at step" in resumed.output
    metrics_whole, weights_whole = _final(whole)
    metrics_resumed, weights_resumed = _final(broken)
    assert metrics_resumed == pytest.approx(metrics_whole, abs=1e-6)
    for name, tensor in weights_whole.items():
        assert (tensor - weights_resumed[name]).abs().max().item() < 1e-5, name

    changed = runner.invoke(app, ["train", recipe, *sets(["train.lr=0.5"]), "--out", str(broken), "--resume"])
    assert changed.exit_code == 2 and "different recipe" in changed.output


def test_two_process_torchrun_matches_one_process(tmp_path, cache):
    recipe = str(REPO / "recipes/demo-tiny.yaml")
    env = dict(os.environ, HOPID_CACHE=str(cache))
    extra = ["train.epochs=2"]
    one = tmp_path / "one"
    two = tmp_path / "two"
    single = subprocess.run(
        [sys.executable, "-m", "hopid_cli", "train", recipe, *sets(extra), "--out", str(one)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533"]
    double = subprocess.run(
        [*launcher, "-m", "hopid_cli", "train", recipe, *sets(extra), "--out", str(two)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert double.returncode == 0, double.stderr[-3000:]
    metrics_one, weights_one = _final(one)
    metrics_two, weights_two = _final(two)
    assert metrics_two == pytest.approx(metrics_one, abs=0.01)
    drift = max((weights_one[n] - weights_two[n]).abs().max().item() for n in weights_one)
    assert drift < 1e-3, drift


def test_a_dataset_without_val_holds_out_whole_identities_of_train():
    from hopid.data.dataset import Dataset
    from hopid.train.data import hold_out_val

    ids = [f"img{i}" for i in range(400)]
    images = pl.DataFrame(
        {"image_id": ids, "split": ["train"] * 300 + ["test"] * 100, "object_id": [f"p{i // 4}" for i in range(400)]}
    )
    captions = pl.DataFrame({"caption_id": [f"{i}#0" for i in ids], "image_id": ids, "split": images["split"]})
    held, note = hold_out_val(Dataset(Path("."), images, captions), "train", "val", 0.2)
    val = held.images.filter(pl.col("split") == "val")
    assert 20 < val.height < 120 and val.height % 4 == 0 and "val_fraction" in note
    train_ids = set(held.images.filter(pl.col("split") == "train")["object_id"])
    assert not train_ids & set(val["object_id"])  # an identity stays on one side
    assert held.images.filter(pl.col("split") == "test").height == 100  # test is never touched
    val_captions = held.captions.filter(pl.col("split") == "val")
    assert sorted(val_captions["image_id"]) == sorted(val["image_id"])
    again, none = hold_out_val(held, "train", "val", 0.2)
    assert again is held and none is None  # a val split exists now: untouched
