"""Index generations over time: a searcher opened before a re-index keeps answering from the
generation it opened, a second writer is a one-line error instead of deleting the first one's
work, and a re-run reads back only the index files it reuses. Real OCR, the tiny model, FAISS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import render_words
from typer.testing import CliRunner

import hopid.index.directory as directory
from hopid.errors import HopidError
from hopid.index.build import build_index
from hopid.index.directory import LOCK_FILE, MANIFEST, open_generation
from hopid.search.searcher import Searcher
from hopid_cli.app import app

WORDS = {"zorbex.png": ["ZORBEX"], "klaxo.png": ["Klaxo", "Bakery"], "nums.png": ["Gate", "63"]}
runner = CliRunner()

HOLD_LOCK = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def lock_held_elsewhere(index_dir: Path):
    """Another process holding ``index_dir``'s writer lock (as a running ``hopid index`` does)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index_dir / LOCK_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()  # the holder exits, and its lock with it
        holder.wait(timeout=30)


def photos_in(root: Path) -> Path:
    for name, words in WORDS.items():
        render_words(root / name, words)
    return root


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


@pytest.mark.slow
def test_a_searcher_opened_before_a_reindex_keeps_answering(tmp_path, tiny_encoder):
    photos = photos_in(tmp_path / "photos")
    index_dir = photos / ".hopid"
    build_index(photos, tiny_encoder, workers=1)
    first = generations(index_dir)
    searcher = Searcher(index_dir)  # as `hopid serve` opens it: the index's own ONNX query side
    render_words(photos / "quendo.png", ["Quendo"])
    build_index(photos, tiny_encoder, workers=1)  # `hopid index` while the server runs

    hits = searcher.search("zorbex", k=3)  # what /api/results answers: hits and their words
    words = searcher.hit_words(hits)
    assert hits[0].path.endswith("zorbex.png")
    assert "ZORBEX" in [w.text.upper() for w in words[hits[0].path]]
    like = searcher.search_image(photos / "klaxo.png", k=3)  # the image tower is opened only now
    assert like[0].path.endswith("klaxo.png")
    assert json.loads((index_dir / MANIFEST).read_text())["previous_generation"] == first[0]

    build_index(photos, tiny_encoder, workers=1)
    assert len(generations(index_dir)) == 2 and first[0] not in generations(index_dir)  # no pile-up
    assert Searcher(index_dir).search("quendo", k=1)[0].path.endswith("quendo.png")


@pytest.mark.slow
def test_a_second_writer_is_a_one_line_error_and_deletes_nothing(tmp_path, tiny_encoder):
    photos = photos_in(tmp_path / "photos")
    index_dir = photos / ".hopid"
    build_index(photos, tiny_encoder, workers=1)
    others_work = index_dir / "gen-000009"  # the running writer's uncommitted generation
    others_work.mkdir()
    with lock_held_elsewhere(index_dir):
        with pytest.raises(HopidError, match="another hopid index is writing"):
            build_index(photos, tiny_encoder, workers=1)
        result = runner.invoke(app, ["index", str(photos), "--workers", "1"])
        assert result.exit_code == 2, result.output
        message = result.stderr.strip()
        assert "another hopid index is writing" in message and "\n" not in message, message
        assert others_work.is_dir()
    assert build_index(photos, tiny_encoder, workers=1).images == len(WORDS)  # free again


@pytest.mark.slow
def test_a_rerun_reads_back_only_the_files_it_reuses(tmp_path, tiny_encoder, monkeypatch):
    photos = photos_in(tmp_path / "photos")
    index_dir = photos / ".hopid"
    build_index(photos, tiny_encoder, workers=1)
    before = open_generation(index_dir).folder
    hashed: Counter = Counter()
    real_hash = directory.content_hash

    def counting_hash(path):
        hashed[(Path(path).parent.name, Path(path).name)] += 1
        return real_hash(path)

    monkeypatch.setattr(directory, "content_hash", counting_hash)
    rerun = build_index(photos, tiny_encoder, workers=1)  # nothing changed
    after = open_generation(index_dir).folder
    assert (rerun.ocr_now, rerun.embedded_now) == (0, 0) and after != before
    assert [name for folder, name in hashed if folder == before.name] == ["items.parquet"]
    new = {name for folder, name in hashed if folder == after.name}
    assert not new & {"index.faiss", "vectors.npy"}  # hashed as they were written
    assert max(hashed.values()) == 1
    monkeypatch.undo()
    assert open_generation(index_dir, hashes=True).problems(hashes=True) == []  # the hashes written are right


@pytest.mark.slow
def test_a_lent_query_side_is_checked_once_and_not_hashed_again(tmp_path, tiny_encoder, monkeypatch):
    """Without prepared towers (a model whose towers cannot be exported here) the exported text
    side of the previous generation is linked: its contents are checked once, that hash is kept."""
    import hopid.index.build as build

    monkeypatch.setattr(build, "_fast_towers", lambda *args: None)
    photos = photos_in(tmp_path / "photos")
    index_dir = photos / ".hopid"
    build_index(photos, tiny_encoder, workers=1)
    before = open_generation(index_dir)
    assert before.has("query.onnx")
    hashed: Counter = Counter()
    real_hash = directory.content_hash
    monkeypatch.setattr(directory, "content_hash", lambda path: hashed.update([Path(path).name]) or real_hash(path))
    build_index(photos, tiny_encoder, workers=1)
    after = open_generation(index_dir)
    assert after.path("query.onnx").samefile(before.path("query.onnx"))  # linked, not exported again
    assert hashed["query.onnx"] == 1 and hashed["query.json"] == 1
    assert after.manifest["files"]["query.onnx"] == before.manifest["files"]["query.onnx"]

    garbage = bytes(before.manifest["files"]["query.onnx"]["size"])  # same size: only its hash tells
    after.path("query.onnx").write_bytes(garbage)
    build_index(photos, tiny_encoder, workers=1)
    repaired = open_generation(index_dir)
    assert repaired.path("query.onnx").read_bytes() != garbage  # exported again, not linked
    monkeypatch.undo()
    assert repaired.problems(hashes=True) == []
