"""Killing `hopid ocr` or `hopid index` midway (SIGKILL, no chance to clean up) and re-running
loses and duplicates nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import render_words

from hopid.data.schema import read_table, write_table
from hopid.index.directory import open_generation
from hopid.ocr.registry import DEFAULT_ENGINE, cache_name

pytestmark = pytest.mark.slow
N_IMAGES = 80


def make_images(root: Path) -> list[str]:
    names = []
    for i in range(N_IMAGES):
        name = f"img{i:03d}.png"
        render_words(root / name, [f"W{i:03d}X"], size=(240, 80))
        names.append(name)
    return names


def kill_when(command: list[str], cwd: Path, ready) -> None:
    """Start ``command``; SIGKILL it (and its worker processes) once ``ready()`` is true."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the command finished before it could be interrupted; make the job bigger"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def hopid(*args: str) -> list[str]:
    return [sys.executable, "-m", "hopid_cli", *args]


def test_killed_ocr_resumes_without_loss_or_duplicates(tmp_path):
    images = make_images(tmp_path / "ds" / "images")
    write_table(
        [{"image_id": n, "path": f"images/{n}", "split": "test", "width": 240, "height": 80} for n in images],
        tmp_path / "ds" / "images.parquet",
        "images",
    )
    parts = tmp_path / "ds" / ".hopid-cache" / f"ocr-{cache_name(DEFAULT_ENGINE)}"
    kill_when(
        hopid("ocr", str(tmp_path / "ds"), "--workers", "2"),
        tmp_path,
        lambda: parts.is_dir() and any(parts.glob("part-*.parquet")),
    )
    assert not (tmp_path / "ds" / "ocr.parquet").exists()
    subprocess.run(hopid("ocr", str(tmp_path / "ds"), "--workers", "2"), check=True, capture_output=True)
    ocr = read_table(tmp_path / "ds" / "ocr.parquet", "ocr")
    assert ocr["image_id"].n_unique() == N_IMAGES
    assert ocr.select(pl.struct("image_id", "token_index").is_duplicated().any()).item() is False
    expected = {f"img{i:03d}.png": f"W{i:03d}X" for i in range(N_IMAGES)}
    read = dict(ocr.select("image_id", "text").iter_rows())
    assert sum(read[k] == v for k, v in expected.items()) >= 0.9 * N_IMAGES


def test_killed_index_resumes_without_loss_or_duplicates(tmp_path):
    make_images(tmp_path / "photos")
    cache = tmp_path / "photos" / ".hopid" / "cache"
    kill_when(
        hopid("index", str(tmp_path / "photos"), "--workers", "2"),
        tmp_path,
        lambda: cache.is_dir() and any(cache.glob("ocr-*/part-*.parquet")),
    )
    done_before = sum(pl.read_parquet(p).height for p in cache.glob("ocr-*/part-*.parquet"))
    assert 0 < done_before < N_IMAGES
    result = subprocess.run(hopid("index", str(tmp_path / "photos"), "--workers", "2"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    items = read_table(open_generation(tmp_path / "photos" / ".hopid").path("items.parquet"), "items")
    assert items.height == N_IMAGES and items["path"].n_unique() == N_IMAGES
    query = subprocess.run(
        hopid("query", "w042x", "--paths", "-k", "1"),
        cwd=tmp_path / "photos",
        capture_output=True,
        text=True,
        check=True,
    )
    assert query.stdout.strip().endswith("img042.png")
