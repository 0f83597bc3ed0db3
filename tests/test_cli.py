"""The command line as a user meets it: fast help, clean errors, JSON-only stdout."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import render_words
from typer.testing import CliRunner

from hopid_cli.app import app

runner = CliRunner()
HEAVY = ("torch", "open_clip", "spacy", "faiss", "onnxruntime", "easyocr", "rapidocr_onnxruntime", "polars")
COMMANDS = (
    ["prepare", "synthetic"],
    ["prepare", "folder"],
    ["ocr"],
    ["entities", "train"],
    ["entities", "infer"],
    ["index"],
    ["query"],
    ["eval"],
    ["demo"],
)


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from hopid_cli.app import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_the_module_and_the_console_script_answer_help():
    for command in (
        [sys.executable, "-m", "hopid_cli", "--help"],
        [str(Path(sys.executable).parent / "hopid"), "--help"],
    ):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0 and "query" in result.stdout, command


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "/definitely/not/here"], "no such dataset directory"),
        (["ocr", "/definitely/not/here"], "no such dataset directory"),
        (["entities", "infer", "/definitely/not/here"], "no such dataset directory"),
        (["prepare", "folder", "/definitely/not/here", "/tmp/x"], "no such folder"),
        (["ocr", ".", "--engine", "nosuchengine"], "nosuchengine"),
        (["index", ".", "--model", "ViT-B-32"], "expected tiny"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stderr.strip().startswith("error:")


def test_debug_shows_the_traceback():
    result = runner.invoke(app, ["--debug", "eval", "/definitely/not/here"])
    assert result.exit_code != 0 and result.exception is not None


def test_eval_json_is_the_only_stdout(tmp_path):
    from hopid.data.schema import write_table

    for i, word in enumerate(["Zorbex", "Klaxo"]):
        render_words(tmp_path / "images" / f"{i}.png", [word])
    write_table(
        [
            {"image_id": str(i), "path": f"images/{i}.png", "split": "test", "width": 480, "height": 200}
            for i in range(2)
        ],
        tmp_path / "images.parquet",
        "images",
    )
    write_table(
        [
            {"caption_id": f"c{i}", "image_id": str(i), "text": f"a sign saying {w}", "split": "test"}
            for i, w in enumerate(["zorbex", "klaxo"])
        ]
        + [{"caption_id": "long", "image_id": "0", "text": "zorbex " * 3000, "split": "test"}],
        tmp_path / "captions.parquet",
        "captions",
    )
    write_table(
        [
            {
                "image_id": str(i),
                "token_index": 0,
                "text": w,
                "confidence": 1.0,
                "box": [0.0] * 8,
                "engine": "groundtruth",
            }
            for i, w in enumerate(["ZORBEX", "KLAXO"])
        ],
        tmp_path / "ocr.parquet",
        "ocr",
    )
    result = runner.invoke(app, ["eval", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["t2i_r1"] == 1.0 and metrics["i2t_r1"] == 1.0
    assert metrics["rsum"] == pytest.approx(600.0)
    bad_split = runner.invoke(app, ["eval", str(tmp_path), "--split", "dev"])
    assert bad_split.exit_code == 2 and "train, val, test" in bad_split.stderr


def test_offline_pretrained_model_fails_fast(monkeypatch):
    from hopid.models import factory

    if factory.hub_reachable(timeout=2):
        pytest.skip("the model hub is reachable here; the offline path cannot be exercised")
    started = time.perf_counter()
    result = runner.invoke(app, ["index", ".", "--model", "ViT-B-32:laion2b_s34b_b79k", "--index", "/tmp/unused"])
    assert result.exit_code == 2 and "unreachable" in result.stderr
    assert time.perf_counter() - started < 30
    unknown = runner.invoke(app, ["index", ".", "--model", "ViT-B-32:no_such_tag"])
    assert unknown.exit_code == 2 and "unknown pretrained tag" in unknown.stderr
