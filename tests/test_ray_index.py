"""hopid index --executor ray: a Ray Data pipeline (in-process Ray on 2 CPUs) leaves the same index
as the local executor, resumes, survives a dead OCR actor, and fails in one line."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import cold_query, render_words
from test_index_generations import lock_held_elsewhere
from typer.testing import CliRunner

from hopid.data.scan import content_hash
from hopid.data.source import ImageSource
from hopid.errors import HopidError
from hopid.index.build import build_index
from hopid.index.ray_executor import (
    ATTEMPTS_DIR,
    batch_tag,
    check_reachable,
    index_with_ray,
    plan_stages,
    run_pipeline,
)
from hopid.ocr.registry import DEFAULT_ENGINE
from hopid.ocr.stage import OCR_PART_SCHEMA, ocr_store
from hopid_cli.app import app

ray = pytest.importorskip("ray", reason='needs pip install "hopid[ray]"')
runner = CliRunner()
WORDS = {
    "zorbex.png": ["ZORBEX"],
    "klaxo.png": ["Klaxo", "Bakery"],
    "mirelta.jpg": ["MIRELTA"],
    "nums.png": ["Gate", "63"],
    "sub/exit.png": ["EXIT"],
}
CRASH_SIZE = (480, 201)  # the image the crashing engine dies on


@pytest.fixture(scope="module")
def ray_here():
    """One in-process Ray for the module, sized for this 2-core machine."""
    ray.init(num_cpus=2, object_store_memory=256 * 1024**2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def folder(root: Path) -> Path:
    for name, words in WORDS.items():
        render_words(root / name, words)
    (root / "broken.jpg").write_bytes(b"not a picture")
    return root


def generation_files(index_dir: Path) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame, dict]:
    manifest = json.loads((index_dir / "manifest.json").read_text())
    folder_ = index_dir / manifest["generation"]
    ocr = pl.read_parquet(folder_ / "ocr.parquet").sort(["image_id", "token_index"])
    return pl.read_parquet(folder_ / "items.parquet"), np.load(folder_ / "vectors.npy"), ocr, manifest


def part_rows(store: Path) -> Counter:
    """How often each key is stored across the parts, without the reader's last-row-wins."""
    return Counter(k for part in store.glob("part-*.parquet") for k in pq.read_table(part)["key"].to_pylist())


def crashing_engine(threads: int, marker: str):
    """rapidocr, except that the first actor to read a 480x201 image dies (os._exit) doing it."""
    from hopid.ocr.registry import create_engine

    engine = create_engine("rapidocr", threads=threads)
    read = engine.read
    marker = Path(marker)

    def read_or_die(image):
        if image.size == CRASH_SIZE and not marker.exists():
            marker.touch()
            os._exit(1)
        return read(image)

    engine.read = read_or_die
    return engine


@pytest.mark.slow
def test_ray_and_local_indexes_of_one_folder_are_the_same(tmp_path, tiny_encoder, ray_here):
    images = folder(tmp_path / "photos")
    shutil.copy(images / "zorbex.png", images / "sub" / "same-bytes.png")  # one content under two names
    local = build_index(images, tiny_encoder, index_dir=tmp_path / "local", workers=2)
    summary = index_with_ray(images, tiny_encoder, index_dir=tmp_path / "ray")
    assert (summary.images, summary.errors) == (local.images, local.errors) == (6, 1)
    assert summary.ocr_now >= local.ocr_now == 6  # Ray may read a content new under two names twice
    assert summary.index == local.index
    items_l, vectors_l, ocr_l, manifest_l = generation_files(tmp_path / "local")
    items_r, vectors_r, ocr_r, manifest_r = generation_files(tmp_path / "ray")
    assert items_r.drop("mtime_ns").equals(items_l.drop("mtime_ns"))
    assert np.abs(vectors_r - vectors_l).max() <= 1e-5
    assert ocr_r.equals(ocr_l) and "ZORBEX" in ocr_r["text"].to_list()
    same = ("model_fingerprint", "faiss_index", "index_kind", "images", "errors", "ocr_engine", "dim")
    assert {k: manifest_r[k] for k in same} == {k: manifest_l[k] for k in same}
    broken = pl.read_parquet(tmp_path / "ray" / "errors.parquet")
    assert broken["item"].to_list() == ["broken.jpg"] and "not an image" in broken["reason"][0]
    for text in ("zorbex", "bakery gate"):
        hits_l, _ = cold_query(tmp_path / "local", text)
        hits_r, _ = cold_query(tmp_path / "ray", text)
        assert [h["path"] for h in hits_r] == [h["path"] for h in hits_l]
        assert np.allclose([h["score"] for h in hits_r], [h["score"] for h in hits_l], atol=1e-5)
    again = index_with_ray(images, tiny_encoder, index_dir=tmp_path / "ray")  # nothing left to do: Ray not needed
    assert (again.ocr_now, again.embedded_now, again.reused) == (0, 0, 6)


@pytest.mark.slow
def test_ray_reads_a_uri_and_adds_an_ivf_index_in_parts(tmp_path, tiny_encoder, ray_here, monkeypatch):
    from hopid.index import choose, ray_executor

    images = folder(tmp_path / "photos")
    local = build_index(images, tiny_encoder, index_dir=tmp_path / "local", workers=2, index_type="ivfflat")
    spans = []
    add_as_tasks = ray_executor.RayParts.__call__

    def recording(self, add, empty, vectors, parts):
        spans.extend(parts)
        return add_as_tasks(self, add, empty, vectors, parts)

    monkeypatch.setattr(choose, "PART_ROWS", 2)  # five vectors: three parts, each a Ray task
    monkeypatch.setattr(ray_executor.RayParts, "__call__", recording)
    uri = f"file://{images}"
    # a URI is read by tasks of their own; an embedding pool asked for runs apart from the OCR
    summary = index_with_ray(uri, tiny_encoder, index_dir=tmp_path / "ray", index_type="ivfflat", embed_actors=1)
    assert (summary.images, summary.errors, summary.index) == (local.images, local.errors, local.index)
    assert summary.index == "IVF5,Flat" and spans == [(0, 1), (1, 3), (3, 5)]
    items_l, vectors_l, ocr_l, _ = generation_files(tmp_path / "local")
    items_r, vectors_r, ocr_r, manifest_r = generation_files(tmp_path / "ray")
    assert manifest_r["images_dir"] == uri and ocr_r.equals(ocr_l)
    assert items_r.drop("mtime_ns").equals(items_l.drop("mtime_ns"))
    assert np.abs(vectors_r - vectors_l).max() <= 1e-5
    for text in ("zorbex", "bakery gate", "exit"):
        hits_l, _ = cold_query(tmp_path / "local", text)
        hits_r, _ = cold_query(tmp_path / "ray", text)
        assert [h["path"] for h in hits_r] == [f"file://{h['path']}" for h in hits_l]  # where each image is
        assert np.allclose([h["score"] for h in hits_r], [h["score"] for h in hits_l], atol=1e-5)


@pytest.mark.slow
def test_a_dead_ocr_actor_and_an_interrupted_run_lose_and_duplicate_nothing(tmp_path, tiny_encoder, ray_here):
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test engine reaches the actors
    images = folder(tmp_path / "photos")
    render_words(images / "crash.png", ["CRASH"], size=CRASH_SIZE)
    marker = tmp_path / "crashed-once"
    engine = functools.partial(crashing_engine, marker=str(marker))
    summary = index_with_ray(images, tiny_encoder, index_dir=tmp_path / "ray", engine_factory=engine)
    assert marker.exists()  # an actor did die mid-batch
    assert (summary.images, summary.errors) == (6, 1)  # the crash image was read again, not recorded
    assert set(part_rows(next((tmp_path / "ray" / "cache").glob("vectors-*"))).values()) == {1}
    items, vectors, ocr, _ = generation_files(tmp_path / "ray")
    assert "CRASH" in ocr.filter(pl.col("image_id") == "crash.png")["text"].to_list()
    cache = tmp_path / "ray" / "cache"
    assert not (cache / "ray-attempts").exists()
    # a run interrupted after part of its work: the parts of two images are lost, the rest stay
    store = next(cache.glob("ocr-*"))
    table = pq.read_table(next(store.glob("part-*.parquet")), schema=OCR_PART_SCHEMA)
    lost = set(items["sha"].to_list()[:2])
    keep = table.filter(pl.Series([k not in lost for k in table["key"].to_pylist()]).to_arrow())
    for part in store.glob("part-*.parquet"):
        part.unlink()
    pq.write_table(keep, store / "part-kept.parquet")
    vectors_dir = next(cache.glob("vectors-*"))
    resumed = index_with_ray(images, tiny_encoder, index_dir=tmp_path / "ray")
    assert resumed.ocr_now == 2 and resumed.embedded_now == 0  # only the lost OCR is redone
    assert set(part_rows(vectors_dir).values()) == {1}
    items_after, vectors_after, ocr_after, _ = generation_files(tmp_path / "ray")
    assert items_after.drop("mtime_ns").equals(items.drop("mtime_ns"))
    assert np.abs(vectors_after - vectors).max() <= 1e-5 and ocr_after.equals(ocr)


@pytest.mark.slow
def test_an_interrupted_runs_markers_and_stale_failures_do_not_fail_healthy_images(tmp_path, tiny_encoder, ray_here):
    images = tmp_path / "photos"
    render_words(images / "a.png", ["ALPHA"])
    render_words(images / "b.png", ["BRAVO"])
    index_dir = tmp_path / "ray"
    sha = {name: content_hash(images / name) for name in ("a.png", "b.png")}
    # a.png: a failure of an older engine version, which the cache reads again
    ocr_store(index_dir / "cache", DEFAULT_ENGINE).append([{"key": sha["a.png"], "error": "OCR failed:"}])
    # b.png: the markers an interrupted run leaves when the actor reading it is killed
    attempts = index_dir / "cache" / ATTEMPTS_DIR
    attempts.mkdir(parents=True)
    for keys in (["b.png"], ["a.png", "b.png"]):
        tag = batch_tag(keys)
        for marker in (f"batch-{tag}", f"image-{tag}-0", f"image-{tag}-1", f"batch-{batch_tag(sha[k] for k in keys)}"):
            (attempts / marker).touch()
    (attempts / f"image-{sha['b.png']}").touch()

    counts = run_pipeline(ImageSource.of(images), tiny_encoder, index_dir, DEFAULT_ENGINE)
    assert counts["ocr_now"] == 2  # the stale failure too
    rows = ocr_store(index_dir / "cache", DEFAULT_ENGINE).read().to_pylist()
    assert {r["key"]: r["error"] for r in rows} == {sha["a.png"]: None, sha["b.png"]: None}
    assert not attempts.exists()


def test_a_ray_run_on_an_index_another_run_is_writing_is_one_line(tmp_path, tiny_encoder):
    render_words(tmp_path / "photos" / "a.png", ["ONE"])
    with (
        lock_held_elsewhere(tmp_path / "photos" / ".hopid"),
        pytest.raises(HopidError, match="another hopid index is writing"),
    ):
        index_with_ray(tmp_path / "photos", tiny_encoder)  # before Ray starts


def test_stage_sizes_fit_the_cluster():
    cores = plan_stages(2, 0)  # no GPU: the OCR actors embed too, on one thread each
    assert (cores.ocr_actors, cores.embed_actors, cores.embed_gpus, cores.embed_threads) == (2, 0, 0.0, 1)
    assert 2 * cores.ocr_cpus <= 2 - 0.2
    pool = plan_stages(2, 0, embed_actors=1)  # a CPU embedding pool asked for
    assert (pool.embed_actors, pool.embed_gpus) == (1, 0.0) and 2 * pool.ocr_cpus + pool.embed_cpus <= 2 - 0.2
    gpus = plan_stages(64, 4)
    assert (gpus.ocr_actors, gpus.embed_actors, gpus.embed_gpus, gpus.ocr_cpus) == (64, 4, 1.0, 0.966)
    assert plan_stages(1, 0.5).embed_gpus == 0.5 and plan_stages(4, 1, embed_actors=2).embed_gpus == 0.5
    assert plan_stages(8, 0, ocr_actors=4, embed_actors=1).embed_threads == 4
    with pytest.raises(HopidError, match="too few"):
        plan_stages(0.5, 0, embed_actors=1)


def test_an_unreachable_ray_address_is_one_line(tmp_path):
    with pytest.raises(HopidError, match="no Ray head answers"):
        check_reachable("127.0.0.1:9")
    with pytest.raises(HopidError, match="HOST:PORT"):
        check_reachable("nowhere")
    render_words(tmp_path / "photos" / "a.png", ["ONE"])
    result = runner.invoke(
        app, ["index", str(tmp_path / "photos"), "--executor", "ray", "--ray-address", "127.0.0.1:9"]
    )
    assert result.exit_code == 2 and "no Ray head answers" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_ray_options_and_the_old_shards_are_one_line_errors(tmp_path):
    render_words(tmp_path / "photos" / "a.png", ["ONE"])
    for args, message in (
        (["--shard", "0/2"], "--executor ray"),
        (["--ocr-actors", "2"], "only with --executor ray"),
        (["--executor", "spark"], "choose local or ray"),
        (["--executor", "ray", "--workers", "2"], "--ocr-actors"),
    ):
        result = runner.invoke(app, ["index", str(tmp_path / "photos"), *args])
        assert result.exit_code == 2 and message in result.output, result.output
