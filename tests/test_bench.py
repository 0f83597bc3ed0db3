"""The benchmark's building blocks on small sizes (the figures themselves come from `hopid bench`)."""

from __future__ import annotations

import functools
import os
import queue
import types

import faiss
import numpy as np
import pytest
from PIL import Image

from hopid.bench.run import FULL, QUICK, on_target
from hopid.bench.search import exact_top_k, recall_at_k
from hopid.bench.timing import MIN_ROUNDS, alternate, cycling, turn_order
from hopid.bench.vectors import gap_embeddings
from hopid.index.choose import build_faiss, plan_index


def test_gap_embeddings_look_like_clip():
    images, texts, targets = gap_embeddings(4000, 64, 200, seed=1)
    assert images.dtype == np.float32 and np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    image_pairs = float(np.mean(images[:500] @ images[500:1000].T))
    text_to_image = float(np.mean(texts @ images[:500].T))
    assert 0.3 < image_pairs < 0.8 and text_to_image < image_pairs  # two cones: the modality gap
    best = np.argmax(texts @ images.T, axis=1)
    assert np.mean(best == targets) > 0.5  # yet a text still finds its image


def test_index_plan_follows_size_and_memory():
    assert plan_index(50_000, 512).kind == "flat"
    assert plan_index(2_000_000, 512, memory=64 << 30).kind == "ivfflat"
    huge = plan_index(20_000_000, 512, memory=16 << 30)
    assert huge.kind == "ivfpq" and huge.bytes_estimate < 20_000_000 * 512 * 4 / 10
    assert plan_index(10, 64, kind="hnsw").factory.startswith("HNSW")
    with pytest.raises(ValueError):
        plan_index(10, 64, kind="lsh")


@pytest.mark.parametrize("kind", ["flat", "ivfflat", "hnsw", "ivfpq"])
def test_every_index_kind_finds_the_text_queries_neighbours(kind):
    images, texts, _ = gap_embeddings(5_000, 64, 60, seed=2)
    index = build_faiss(images, plan_index(len(images), 64, kind=kind))
    exact = np.argsort(-(texts @ images.T), axis=1)[:, :10]
    _, found = index.search(texts, 100 if kind == "ivfpq" else 10)
    if kind == "ivfpq":  # as the searcher does: PQ candidates re-scored exactly
        rescored = [row[np.argsort(-(images[row] @ q))][:10] for row, q in zip(found, texts, strict=True)]
        found = np.array(rescored)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= (1.0 if kind == "flat" else 0.9)


def test_targets_are_judged_in_their_direction():
    assert on_target("search_overhead", 1.05) and not on_target("search_overhead", 1.2)
    assert on_target("recall_at_10_auto", 0.97) and not on_target("recall_at_10_auto", 0.9)
    assert on_target("index_bytes_per_vector", 300.0) is None


# --- timing: alternation and medians, on fake jobs whose durations the test sets ---------------


class FakeClock:
    """A clock that only moves when a fake job says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_jobs(clock: FakeClock, durations: dict[str, list[float]], log: list[str]) -> dict:
    """Jobs that log their name and take the next of their durations on ``clock``."""
    left = {name: iter(values) for name, values in durations.items()}

    def job(name: str):
        def run() -> str:
            log.append(name)
            clock.now += next(left[name])
            return name

        return run

    return {name: job(name) for name in durations}


def test_alternate_warms_up_rotates_the_order_and_takes_medians():
    clock, log = FakeClock(), []
    durations = {"a": [50.0, 1.0, 2.0, 3.0], "b": [50.0, 10.0, 90.0, 11.0], "c": [50.0, 5.0, 5.0, 6.0]}
    timed = alternate(fake_jobs(clock, durations, log), rounds=3, warmup=1, clock=clock)
    assert log == ["a", "b", "c", "a", "b", "c", "c", "b", "a", "b", "c", "a"]  # warm-up, then taking turns
    assert timed.seconds == {"a": [1.0, 2.0, 3.0], "b": [10.0, 90.0, 11.0], "c": [5.0, 5.0, 6.0]}
    assert timed.medians() == {"a": 2.0, "b": 11.0, "c": 5.0}  # the warm-up's 50 and b's 90 do not count
    assert timed.results["b"] == ["b", "b", "b"]
    assert timed.ratio("b", "a") == 10.0  # the rounds' ratios 10, 45, 11/3, not 11/2 of the medians


def test_cycling_sides_meet_the_same_items_in_the_same_rounds():
    seen: dict[str, list[int]] = {"a": [], "b": []}
    sides = {name: cycling(seen[name].append, [0, 1, 2]) for name in seen}
    alternate(sides, rounds=4, warmup=1)
    assert seen["a"] == seen["b"] == [0, 1, 2, 0, 1]


@pytest.mark.parametrize("names", [["x", "y"], ["x", "y", "z"], ["v", "w", "x", "y"]])
def test_turn_order_runs_every_side_before_each_other_as_often_as_after(names):
    for start in range(0, 4 * len(names), 2):
        first, second = turn_order(names, start), turn_order(names, start + 1)
        assert sorted(first) == sorted(names) and second == first[::-1]  # each two rounds: balanced
    firsts = [turn_order(names, r)[0] for r in range(2 * len(names))]
    assert sorted(firsts) == sorted(names * 2)  # every side goes first equally often


def test_alternate_refuses_too_few_rounds():
    with pytest.raises(ValueError):
        alternate({"a": lambda: None}, rounds=MIN_ROUNDS - 1)


def test_ocr_ratios_are_defined_from_alternated_medians(monkeypatch, tmp_path):
    from hopid.bench import stages

    clock, log = FakeClock(), []
    paths = [tmp_path / f"{i}.png" for i in range(20)]
    for path in paths:
        path.write_bytes(b"x")
    seen: list[int] = []
    durations = {"hopid": [10.0, 30.0, 12.0], "raw": [8.0, 8.0, 9.0], "hopid_1_worker": [18.0, 16.0, 40.0]}

    def sides(subset, workers):
        seen.append(len(subset))
        assert workers == 2
        if len(subset) < len(paths):  # the warm-up: every side once, untimed
            return {name: (lambda name=name: log.append(f"warm {name}")) for name in durations}
        return fake_jobs(clock, durations, log)

    monkeypatch.setattr(stages, "ocr_sides", sides)
    monkeypatch.setattr(stages, "alternate", functools.partial(alternate, clock=clock))
    figures = stages.ocr_figures(paths, workers=2, rounds=3, warm_images=4)
    assert seen == [4, 20] and log[:3] == ["warm hopid", "warm raw", "warm hopid_1_worker"]
    # hopid time / raw time, round by round (10/8, 30/8, 12/9): their median, not 12/8 of the medians
    assert figures["ocr_overhead"] == pytest.approx(12.0 / 9.0)
    assert figures["ocr_speedup"] == pytest.approx(18.0 / 10.0)  # one worker / two workers: 18/10, 16/30, 40/12
    assert figures["ocr_images_per_s_ours"] == pytest.approx(20 / 12.0)
    assert figures["ocr_images_per_s_raw"] == pytest.approx(20 / 8.0)


def test_one_worker_has_no_speedup_side(tmp_path):
    from hopid.bench.stages import ocr_sides

    assert set(ocr_sides([tmp_path / "a.png"], 1)) == {"hopid", "raw"}
    assert set(ocr_sides([tmp_path / "a.png"], 2)) == {"hopid", "raw", "hopid_1_worker"}


# --- OCR: the raw side runs the engine hopid runs, with the same settings ----------------------


class RecordingRapidOCR:
    """Stands in for ``rapidocr.RapidOCR``: records its parameters and how it is called."""

    made: list[RecordingRapidOCR] = []

    def __init__(self, params: dict) -> None:
        self.params = params
        self.detector = types.SimpleNamespace(postprocess_op=None)
        self.calls: list[dict] = []
        RecordingRapidOCR.made.append(self)

    def _load_det_model(self):
        return self.detector

    def __call__(self, image, **flags):
        self.calls.append(flags)
        quad = np.array([[[1, 1], [30, 1], [30, 9], [1, 9]]], dtype=np.float32)
        return types.SimpleNamespace(boxes=quad, txts=("EXIT",), scores=(0.9,))


def _cuts(pipeline) -> list[tuple[float, float, float, bool]]:
    return [
        (cut.thresh, cut.box_thresh, cut.unclip_ratio, cut.dilation_kernel is not None)
        for cut in pipeline.detector.postprocess_op.cuts
    ]


@pytest.mark.parametrize("processes", [1, 2])
def test_raw_ocr_side_gets_hopids_engine_settings(monkeypatch, tmp_path, processes):
    rapidocr = pytest.importorskip("rapidocr")
    pytest.importorskip("rapidocr.ch_ppocr_det.utils")
    import cv2

    from hopid.bench.stages import raw_ocr_loop, raw_threads
    from hopid.ocr import pool, worker
    from hopid.ocr.rapid import RapidOcrEngine

    monkeypatch.setattr(rapidocr, "RapidOCR", RecordingRapidOCR)
    opencv_threads: list[int] = []
    monkeypatch.setattr(cv2, "setNumThreads", opencv_threads.append)
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 32), "white").save(image)

    engine_threads: list[int | None] = []  # what hopid's runner gives its engine with this many workers
    monkeypatch.setattr(worker, "create_engine", lambda name, threads=None: engine_threads.append(threads))
    monkeypatch.setattr(worker.os, "environ", dict(os.environ))  # a pool worker's setup changes it
    if processes == 1:
        list(pool.ocr_paths([image], "rapidocr", workers=1))
    else:
        worker.start_engine("rapidocr")
    assert engine_threads == [raw_threads(processes)]

    RecordingRapidOCR.made = []
    RapidOcrEngine(threads=engine_threads[0], backend="rapidocr").read(Image.open(image))
    hopid_side, hopid_threads = RecordingRapidOCR.made, list(opencv_threads)
    RecordingRapidOCR.made = []
    assert raw_ocr_loop([image], raw_threads(processes)) == len(hopid_side)  # one line per pipeline
    raw_side = RecordingRapidOCR.made
    assert [p.params for p in raw_side] == [p.params for p in hopid_side] and raw_side
    assert raw_side[0].params["EngineConfig.onnxruntime.enable_cpu_mem_arena"] is True
    assert [_cuts(p) for p in raw_side] == [_cuts(p) for p in hopid_side]
    assert len(_cuts(raw_side[0])) == 3  # "fast" cuts one detector map three ways
    assert [p.calls for p in raw_side] == [p.calls for p in hopid_side]
    assert opencv_threads == hopid_threads * 2


def test_raw_ocr_process_is_set_up_as_a_pool_worker(monkeypatch):
    from hopid.bench import stages
    from hopid.ocr.pool import SINGLE_THREAD_ENV

    environment: dict[str, str] = {}
    pinned: list[set[int]] = []
    loops: list[tuple[list[str], int | None]] = []
    monkeypatch.setattr(stages.os, "environ", environment)
    monkeypatch.setattr(stages.os, "sched_getaffinity", lambda _: {4, 7}, raising=False)
    monkeypatch.setattr(stages.os, "sched_setaffinity", lambda _, cores: pinned.append(cores), raising=False)
    monkeypatch.setattr(stages, "raw_ocr_loop", lambda paths, threads: loops.append((paths, threads)) or 5)
    lines = queue.SimpleQueue()
    stages._raw_process(1, ["a.png"], 1, lines)
    assert environment == SINGLE_THREAD_ENV and pinned == [{7}] and loops == [(["a.png"], 1)]
    assert lines.get() == 5


# --- search: an approximate index on vectors of CLIP's width -------------------------------------


@pytest.mark.parametrize("size", [QUICK, FULL], ids=["quick", "full"])
def test_bench_sizes_search_an_approximate_index(size):
    assert size["dim"] == 512
    assert plan_index(size["vectors"], size["dim"]).kind != "flat"  # recall_at_10_auto measures something
    assert size["ocr_rounds"] >= MIN_ROUNDS and size["rounds"] >= MIN_ROUNDS


def test_bench_encoder_gives_vectors_of_clips_width():
    from hopid.bench.search import bench_encoder

    encoder = bench_encoder(512)
    texts = encoder.encode_texts(["exit sign", "cafe"])
    assert encoder.dim == 512 and texts.shape == (2, 512)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert bench_encoder(64).dim == 64  # the tiny model's own width: the tiny model itself


def test_wide_gap_embeddings_keep_the_low_dimensional_geometry():
    narrow_images, narrow_texts, _ = gap_embeddings(3000, 64, 100, seed=3)
    images, texts, targets = gap_embeddings(3000, 512, 100, seed=3)
    assert images.shape == (3000, 512) and texts.shape == (100, 512)
    assert np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert np.abs(texts @ images.T - narrow_texts @ narrow_images.T).max() < 0.02  # same neighbours
    assert np.mean(np.argmax(texts @ images.T, axis=1) == targets) < 0.99  # not trivially separable


def test_ivf_on_wide_gap_vectors_misses_neighbours_with_few_probes():
    images, texts, _ = gap_embeddings(20_000, 512, 100, seed=4)
    index = build_faiss(images, plan_index(len(images), 512, kind="ivfflat"))
    exact = exact_top_k(images, texts, 10)
    recalls = {}
    for probes in (1, 64):
        faiss.extract_index_ivf(index).nprobe = probes
        recalls[probes] = recall_at_k([set(row.tolist()) for row in index.search(texts, 10)[1]], exact)
    assert recalls[1] < 0.9 < recalls[64]


def test_exact_top_k_scans_in_chunks():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1000, 16)).astype(np.float32)
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    found = exact_top_k(vectors, queries, 5, chunk=128)
    assert [set(row) for row in found.tolist()] == [set(row) for row in expected.tolist()]
    assert recall_at_k([set(row) for row in found.tolist()], expected) == 1.0
    assert recall_at_k([set()] * 7, expected) == 0.0


# --- the real engine, slow ------------------------------------------------------------------------


@pytest.mark.slow
def test_raw_loop_reads_what_hopids_engine_reads(tmp_path):
    pytest.importorskip("rapidocr")
    from hopid.bench.stages import raw_ocr_loop, scene_images
    from hopid.ocr.base import dedupe_words
    from hopid.ocr.rapid import DEFAULT_QUALITY, RapidOcrEngine, rapid_pipelines

    paths = scene_images(tmp_path / "scenes", 6)
    engine = RapidOcrEngine(threads=1)
    pipelines = rapid_pipelines(1, DEFAULT_QUALITY)
    assert raw_ocr_loop(paths, 1) > 0
    for path in paths:
        ours = {word.text for word in dedupe_words(engine.read(Image.open(path).convert("RGB")))}
        raw = {
            token
            for ocr in pipelines
            for line in ocr(str(path), use_det=True, use_cls=True, use_rec=True).txts or ()
            for token in line.split()
        }
        assert ours == raw, path.name


@pytest.mark.slow
def test_ocr_figures_run_both_sides_end_to_end(tmp_path):
    pytest.importorskip("rapidocr")
    from hopid.bench.stages import ocr_figures, scene_images

    figures = ocr_figures(scene_images(tmp_path / "scenes", 6), workers=2, rounds=3, warm_images=2)
    assert figures["ocr_images"] == 6 and figures["ocr_workers"] == 2
    assert figures["ocr_overhead"] > 0 and figures["ocr_speedup"] > 0


@pytest.mark.slow
def test_embed_figures_run_both_sides_end_to_end(tmp_path, tiny_encoder):
    from hopid.bench.stages import embed_figures, index_time_encoder, scene_images

    paths = scene_images(tmp_path / "scenes", 6)
    figures = embed_figures(paths, tiny_encoder, tmp_path, 3, index_time_encoder(tiny_encoder, tmp_path / "towers"))
    assert figures["embed_overhead"] > 0
    assert all(value > 0 for key, value in figures.items() if "_per_s" in key)
    from hopid.data.parts import PartStore
    from hopid.index.build import VECTOR_PART_SCHEMA

    assert PartStore(tmp_path / "bench-vectors", VECTOR_PART_SCHEMA).done() == {p.stem for p in paths}  # our side ran
