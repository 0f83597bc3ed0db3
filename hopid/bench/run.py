"""The whole benchmark: every figure of ``hopid bench`` in one flat dict."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

# vectors of CLIP's width (512): --quick's 100,000 are past index/choose.py's exact-scan limit
# (vectors x dim <= 3e7), so both sizes search the approximate index `auto` picks (IVF-Flat).
# rounds: how often the sides of each ratio take turns (hopid/bench/timing.py; even numbers keep
# the order balanced): OCR as whole jobs, search and embedding as passes over queries and batches.
QUICK = {
    "vectors": 100_000,
    "dim": 512,
    "queries": 200,
    "ocr_images": 48,
    "ocr_rounds": 4,
    "embed_images": 128,
    "vitb32_images": 32,
    "rounds": 6,
}
FULL = {
    "vectors": 1_000_000,
    "dim": 512,
    "queries": 500,
    "ocr_images": 160,
    "ocr_rounds": 6,
    "embed_images": 256,
    "vitb32_images": 64,
    "rounds": 6,
}
# key: (comparison, target) as the performance issue sets them; None: reported only
TARGETS: dict[str, tuple[str, float] | None] = {
    "ocr_overhead": ("<=", 1.10),
    "ocr_speedup": (">=", 1.3),
    "embed_overhead": ("<=", 1.10),
    "search_overhead": ("<=", 1.10),
    "bench_vectors": None,
    "search_ms_p50_auto": ("<=", 5.0),
    "recall_at_10_auto": (">=", 0.95),
    "query_cold_s": ("<=", 2.0),
    "query_warm_ms": ("<=", 50.0),
    "train_step_ratio": ("<=", 2.0),
    "index_bytes_per_vector": None,
    "ray_throughput_ratio": (">=", 0.85),
    "ray_startup_s": None,
    "vitb32_query_cold_s": ("<=", 1.0),
    "vitb32_image_query_cold_s": ("<=", 2.0),
    "vitb32_embed_ratio": (">=", 1.0),
    "vitb32_query_onnx_mb": None,
}


def on_target(key: str, value: float) -> bool | None:
    """Whether ``value`` meets the target of ``key`` (None: no target)."""
    target = TARGETS.get(key)
    if target is None:
        return None
    comparison, bound = target
    return value <= bound if comparison == "<=" else value >= bound


def run_bench(quick: bool = False, work_dir: Path | None = None, note: Callable[[str], None] | None = None) -> dict:
    """Measure every stage (see docs/performance.md); ``note`` hears which stage runs."""
    from hopid.bench.query import query_cold_s, query_warm_ms
    from hopid.bench.ray_index import RAY_IMAGES, ray_figures, ray_folder
    from hopid.bench.search import bench_encoder, index_bytes_per_vector, search_figures, write_bench_index
    from hopid.bench.stages import embed_figures, index_time_encoder, ocr_figures, scene_images, train_step_ratio
    from hopid.bench.vitb32 import vitb32_figures
    from hopid.models.factory import load_encoder
    from hopid.ocr.pool import default_workers

    size = QUICK if quick else FULL
    say = note or (lambda _: None)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        out = Path(tmp)
        figures: dict = {"bench_vectors": size["vectors"], "cores": default_workers(), "quick": quick}
        say(f"search: {size['vectors']:,} synthetic vectors of {size['dim']} dims with a modality gap")
        index_dir, queries = write_bench_index(
            out / "search", bench_encoder(size["dim"]), size["vectors"], size["queries"]
        )
        figures |= search_figures(index_dir, queries, size["rounds"])
        say("index build memory")
        figures["index_bytes_per_vector"] = index_bytes_per_vector(index_dir)
        say("cold and warm queries")
        figures["query_cold_s"] = query_cold_s(index_dir)
        figures["query_warm_ms"] = query_warm_ms(index_dir)
        workers = default_workers()
        say(f"OCR: hopid against the same engine in a plain loop, {workers} process(es), {size['ocr_rounds']} rounds")
        scenes = scene_images(out / "scenes", max(size["ocr_images"], size["embed_images"], RAY_IMAGES))
        figures |= ocr_figures(scenes[: size["ocr_images"]], workers, size["ocr_rounds"])
        say("image embedding against a plain open_clip loop")
        tiny, embedded = load_encoder("tiny", device="cpu"), scenes[: size["embed_images"]]
        ours = index_time_encoder(tiny, out / "towers-tiny")
        figures |= embed_figures(embedded, tiny, out, size["rounds"], ours)
        say("a real-size model: random-init ViT-B-32 indexed, queried cold, embedding against open_clip")
        figures |= vitb32_figures(scenes[: size["vitb32_images"]], out / "vitb32", size["rounds"])
        say("training step, HOPID against CLIP-only")
        figures |= train_step_ratio()
        if ray_installed():
            rounds = 2 if quick else 3
            say(f"hopid index --executor ray against local on {RAY_IMAGES} scenes, {rounds} rounds")
            folder = ray_folder(scenes[:RAY_IMAGES], out / "ray-folder")
            figures |= ray_figures(folder, tiny, workers, rounds=rounds, scaling=not quick)
        else:
            say('no Ray here (pip install "hopid[ray]"): ray_* figures skipped')
    return figures


def ray_installed() -> bool:
    """Whether Ray Data (the ``ray`` extra) is importable here."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None
