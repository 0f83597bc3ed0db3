"""A torn save leaves the last committed generation answering; a damaged index file is a
one-line error for ``hopid query`` and is repaired by ``hopid index`` from the cache (nothing is
read by OCR or embedded again). Real OCR, the real tiny model, real FAISS."""

import json
import os
import shutil

import pytest
from conftest import render_words
from typer.testing import CliRunner

from hopid.index.build import build_index
from hopid.index.directory import GENERATION_FILES, MANIFEST, open_generation
from hopid.search.searcher import Searcher
from hopid_cli.app import app

pytestmark = pytest.mark.slow
WORDS = {"zorbex.png": ["ZORBEX"], "klaxo.png": ["Klaxo", "Bakery"], "nums.png": ["Gate", "63"]}
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_encoder):
    """A folder with a finished index (and its cache); tests work on copies of it."""
    root = tmp_path_factory.mktemp("built") / "photos"
    for name, words in WORDS.items():
        render_words(root / name, words)
    build_index(root, tiny_encoder, workers=1)
    return root


@pytest.fixture
def photos(built, tmp_path):
    copy = tmp_path / "photos"
    shutil.copytree(built, copy)  # mtimes kept: the items' content hashes stay valid
    return copy


def generations(index_dir):
    return sorted(p.name for p in index_dir.glob("gen-*"))


def query_paths(index_dir, text="zorbex", k=3):
    result = runner.invoke(app, ["query", text, "--index", str(index_dir), "--paths", "-k", str(k)])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message, message
    return message


@pytest.mark.parametrize("crash_at", ["writing the new generation", "the commit"])
def test_a_torn_save_leaves_the_old_generation_answering_and_a_rerun_completes(
    photos, tiny_encoder, monkeypatch, crash_at
):
    index_dir = photos / ".hopid"
    before = Searcher(index_dir, encoder=tiny_encoder)
    expected = [(h.path, h.score, h.dense) for h in before.search("zorbex", k=3)]
    old = generations(index_dir)
    (photos / "zorbex.png").unlink()
    render_words(photos / "quendo.png", ["Quendo"])

    real_replace = os.replace

    def crashing_replace(source, target):
        target = os.fspath(target)
        torn = os.path.basename(target) == MANIFEST if crash_at == "the commit" else "/gen-" in target
        if torn:
            raise OSError(28, "No space left on device (injected)")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="injected"):
        build_index(photos, tiny_encoder, workers=1)
    monkeypatch.setattr(os, "replace", real_replace)

    assert len(generations(index_dir)) == 2  # the torn one is left uncommitted beside the old one
    after = Searcher(index_dir, encoder=tiny_encoder)
    assert after.generation.manifest["generation"] == old[0]
    assert [(h.path, h.score, h.dense) for h in after.search("zorbex", k=3)] == expected
    assert sorted(os.path.basename(p) for p in after.paths) == sorted(WORDS)  # still the deleted image, consistently

    rerun = build_index(photos, tiny_encoder, workers=1)
    assert (rerun.ocr_now, rerun.embedded_now) == (0, 0)  # the torn run's OCR and vectors were kept
    assert generations(index_dir) == [old[0], "gen-000003"]  # the torn one removed, the replaced one kept
    paths = query_paths(index_dir, "quendo")
    assert paths[0].endswith("quendo.png") and not any(p.endswith("zorbex.png") for p in paths)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(bytes(range(256)) * (path.stat().st_size // 256) + b"x" * (path.stat().st_size % 256))


DAMAGE = [  # (file, how): truncation is caught by its size, same-size garbage when the file is read
    ("index.faiss", _truncate),
    ("index.faiss", _garbage),
    ("vectors.npy", _truncate),
    ("vectors.npy", _garbage),
    ("lexical.npz", _garbage),
    ("query.onnx", _truncate),
    ("query.onnx", _garbage),
    ("items.parquet", _garbage),
    ("ocr.parquet", _truncate),
    ("query.json", _garbage),
]


@pytest.mark.parametrize(("name", "damage"), DAMAGE, ids=[f"{n}-{d.__name__[1:]}" for n, d in DAMAGE])
def test_a_damaged_file_is_one_line_for_query_and_repaired_by_index_from_the_cache(photos, tiny_encoder, name, damage):
    index_dir = photos / ".hopid"
    damage(open_generation(index_dir).path(name))
    failed = runner.invoke(app, ["query", "zorbex", "--index", str(index_dir)])
    message = one_line_error(failed)
    assert "index damaged" in message and name in message and "hopid index" in message, message

    repaired = build_index(photos, tiny_encoder, workers=1)
    assert (repaired.ocr_now, repaired.embedded_now, repaired.images) == (0, 0, len(WORDS))
    if damage is _truncate or name == "items.parquet":  # sizes are checked, and the reused items' contents
        assert name in repaired.repaired
    else:  # same-size garbage in a file the new generation rewrites from the cache is not read to find it
        assert repaired.repaired == ""
    assert any((index_dir / "cache").glob("ocr-*/part-*.parquet"))  # the cache is never thrown away
    assert open_generation(index_dir, hashes=True).problems(hashes=True) == []
    assert query_paths(index_dir)[0].endswith("zorbex.png")


@pytest.mark.parametrize("manifest", ["[1, 2, 3]", "{not json", '{"schema_version": 1, "layout": 2}'])
def test_a_damaged_manifest_is_one_line_and_repaired(photos, tiny_encoder, manifest):
    index_dir = photos / ".hopid"
    (index_dir / MANIFEST).write_text(manifest)
    message = one_line_error(runner.invoke(app, ["query", "zorbex", "--index", str(index_dir)]))
    assert "index damaged" in message and MANIFEST in message, message

    result = runner.invoke(app, ["index", str(photos), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "repaired" in result.stderr
    assert len(generations(index_dir)) == 1
    assert query_paths(index_dir)[0].endswith("zorbex.png")


def test_an_index_in_the_old_flat_layout_is_upgraded_by_hopid_index(photos, tiny_encoder):
    index_dir = photos / ".hopid"
    generation = open_generation(index_dir)
    for name in GENERATION_FILES:  # as hopid wrote indexes before generations
        if generation.has(name):
            shutil.move(generation.path(name), index_dir / name)
    shutil.rmtree(generation.folder)
    manifest = {k: v for k, v in generation.manifest.items() if k not in ("layout", "generation", "files")}
    (index_dir / MANIFEST).write_text(json.dumps(manifest))
    message = one_line_error(runner.invoke(app, ["query", "zorbex", "--index", str(index_dir)]))
    assert "old flat layout" in message and "hopid index" in message

    upgraded = build_index(photos, tiny_encoder, workers=1)
    assert (upgraded.ocr_now, upgraded.embedded_now, upgraded.repaired) == (0, 0, "")
    assert not any((index_dir / name).exists() for name in GENERATION_FILES)
    assert query_paths(index_dir)[0].endswith("zorbex.png")


def test_a_model_that_changed_is_not_blamed_on_a_model_option(photos, tiny_encoder):
    index_dir = photos / ".hopid"
    manifest = json.loads((index_dir / MANIFEST).read_text())
    manifest["model_fingerprint"] = "0" * 64  # as if the model's weights changed since the index was built
    (index_dir / MANIFEST).write_text(json.dumps(manifest))
    message = one_line_error(runner.invoke(app, ["query", "zorbex", "--index", str(index_dir)]))
    assert "--model" not in message.split("rebuild")[0] and "now loads with other weights" in message, message
