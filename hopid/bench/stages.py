"""OCR, image embedding and training step, each against the raw library doing the same work."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hopid.bench.timing import MIN_ROUNDS, alternate, cycling


def scene_images(out: Path, count: int) -> list[Path]:
    """``count`` synthetic scenes with written words (256 px), rendered once."""
    from hopid.synthetic import generate

    variants = 4
    groups = max(1, -(-count * 5 // (variants * 4)))  # a few groups carry no text and give one image
    if not (out / "images.parquet").is_file():
        generate(out, seed=7, groups=groups, variants=variants, size=256)
    return sorted((out / "images").glob("*.png"))[:count]


def hopid_ocr(paths: Sequence[Path], workers: int) -> int:
    """hopid's side: ``ocr_paths`` with the default engine on ``workers`` processes (its pool,
    image loading, error handling, words); the number of words read."""
    from hopid.ocr.pool import ocr_paths
    from hopid.ocr.registry import DEFAULT_ENGINE

    results = list(ocr_paths(paths, DEFAULT_ENGINE, workers=workers))
    failed = [result.error for result in results if result.error]
    if failed:
        raise RuntimeError(f"OCR failed on {len(failed)} image(s) with {workers} worker(s): {failed[0]}")
    return sum(len(result.words) for result in results)


def raw_threads(processes: int) -> int | None:
    """The engine threads of each raw process, as hopid's pool sets them: one per worker process,
    the library's own choice when a single process runs in the caller's."""
    return 1 if processes > 1 else None


def raw_ocr_loop(paths: Sequence[Path | str], threads: int | None) -> int:
    """The raw library's own loop: the RapidOCR objects hopid's engine runs (same parameters,
    same detector passes and box cuts: :func:`hopid.ocr.rapid.rapid_pipelines`), each called
    on every image path; the number of text lines read."""
    from hopid.ocr.rapid import DEFAULT_QUALITY, rapid_pipelines

    pipelines = rapid_pipelines(threads, DEFAULT_QUALITY)
    lines = 0
    for path in paths:
        for ocr in pipelines:
            out = ocr(str(path), use_det=True, use_cls=True, use_rec=True)  # hopid's flags (sticky in 3.x)
            lines += len(out[0] or ()) if isinstance(out, tuple) else len(out.txts or ())
    return lines


def _raw_process(core: int, paths: list[str], threads: int | None, lines: Any) -> None:
    """One raw OCR process, set up as hopid's pool sets up a worker (single-threaded libraries,
    pinned to its own core): it puts the number of lines it read on ``lines``."""
    from hopid.ocr.pool import SINGLE_THREAD_ENV

    os.environ.update(SINGLE_THREAD_ENV)
    with contextlib.suppress(AttributeError, OSError):  # not Linux
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[core % len(cores)]})
    lines.put(raw_ocr_loop(paths, threads))


def raw_ocr(paths: Sequence[Path], processes: int) -> int:
    """The raw side of ``ocr_overhead``: :func:`raw_ocr_loop` over ``paths`` split evenly among
    ``processes`` spawned processes, each single-threaded and pinned to a core as hopid's pool
    worker is (with one process: in this process, default threads, as ``ocr_paths(...,
    workers=1)``); engine start-up included, as on hopid's side. The number of lines read."""
    processes = max(1, min(processes, len(paths)))
    if processes == 1:
        return raw_ocr_loop(paths, raw_threads(1))
    context = multiprocessing.get_context("spawn")
    lines = context.SimpleQueue()
    children = [
        context.Process(
            target=_raw_process,
            args=(core, [str(p) for p in paths[core::processes]], raw_threads(processes), lines),
        )
        for core in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    crashed = [child.exitcode for child in children if child.exitcode != 0]
    if crashed:
        raise RuntimeError(f"raw OCR process failed (exit codes {crashed})")
    return sum(lines.get() for _ in children)


def ocr_sides(paths: Sequence[Path], workers: int) -> dict[str, Callable[[], int]]:
    """The jobs ``ocr_figures`` alternates: hopid and the raw engine on ``workers`` processes,
    and hopid on one worker (for the speed-up; absent when ``workers`` is 1)."""
    sides: dict[str, Callable[[], int]] = {
        "hopid": lambda: hopid_ocr(paths, workers),
        "raw": lambda: raw_ocr(paths, workers),
    }
    if workers > 1:
        sides["hopid_1_worker"] = lambda: hopid_ocr(paths, 1)
    return sides


def ocr_figures(paths: list[Path], workers: int, rounds: int = MIN_ROUNDS, warm_images: int = 8) -> dict:
    """ocr_overhead: hopid's OCR time ÷ the raw engine's, same images, same engine settings, same
    number of processes (``workers``); ocr_speedup: hopid on one worker ÷ hopid on ``workers``.
    Whole jobs, process and engine start-up included on every side; each side first runs once
    on ``warm_images`` images, then they alternate for ``rounds`` rounds. Ratios: the median of
    the rounds' ratios; images per second: from each side's median time."""
    from hopid.ocr.rapid import rapid_backend
    from hopid.ocr.registry import DEFAULT_ENGINE

    for path in paths:
        path.read_bytes()  # every image in the page cache before any side runs
    for warm_up in ocr_sides(paths[:warm_images], workers).values():
        warm_up()
    timed = alternate(ocr_sides(paths, workers), rounds, warmup=0)
    seconds = timed.medians()
    return {
        "ocr_overhead": timed.ratio("hopid", "raw"),
        "ocr_speedup": timed.ratio("hopid_1_worker", "hopid") if workers > 1 else 1.0,
        "ocr_images_per_s_raw": len(paths) / seconds["raw"],
        "ocr_images_per_s_ours": len(paths) / seconds["hopid"],
        "ocr_workers": workers,
        "ocr_images": len(paths),
        "ocr_engine": f"{DEFAULT_ENGINE} ({rapid_backend()})",
    }


def embed_figures(paths: list[Path], encoder, out: Path, rounds: int = MIN_ROUNDS, index_encoder=None) -> dict:
    """embed_overhead: our index embedding stage (``_embed_missing``: load upright, preprocess,
    encode, append Parquet parts) ÷ a plain open_clip loop (open, preprocess, encode_image) with
    the model of ``encoder``, the same batch size and threads, in this process. ``index_encoder`` is the
    encoder the index embeds with (for a plain CLIP model its ONNX image tower, see
    :func:`index_time_encoder`; default ``encoder``). The two take turns batch by batch (every
    batch once per pass) for ``rounds`` passes after a warm-up batch; the ratio is the median of
    the rounds' ratios, the rates come from the median batch times."""
    import torch
    from PIL import Image

    from hopid.data.error_log import ErrorLog
    from hopid.data.parts import PartStore
    from hopid.data.source import ImageSource
    from hopid.index.build import EMBED_BATCH, VECTOR_PART_SCHEMA, _embed_missing, _Files

    batches = [paths[start : start + EMBED_BATCH] for start in range(0, len(paths), EMBED_BATCH)]
    store, errors = PartStore(out / "bench-vectors", VECTOR_PART_SCHEMA), ErrorLog("bench")
    files = _Files(ImageSource.of(paths[0].parent), out / "bench-staging", errors)  # a folder: read in place

    def ours(batch: list[Path]) -> None:
        _embed_missing(index_encoder or encoder, files, [(p.stem, p.name) for p in batch], store, errors, None)

    def raw(batch: list[Path]) -> None:
        pixels = torch.stack([encoder.preprocess(Image.open(p).convert("RGB")) for p in batch])
        with torch.inference_mode():
            encoder.model.encode_image(pixels, normalize=True).numpy()

    sides = {"raw": cycling(raw, batches), "hopid": cycling(ours, batches)}
    timed = alternate(sides, rounds * len(batches), warmup=1)
    seconds, per_batch = timed.medians(), len(paths) / len(batches)
    return {
        "embed_overhead": timed.ratio("hopid", "raw"),
        "embed_images_per_s_ours": per_batch / seconds["hopid"],
        "embed_images_per_s_raw": per_batch / seconds["raw"],
    }


def index_time_encoder(encoder, folder: Path):
    """The encoder ``hopid index`` embeds with for ``encoder``: a plain CLIP model's prepared ONNX
    image tower (int8 where it agrees with fp32)."""
    from hopid.models.onnx_clip import OnnxClipEncoder, prepare_towers

    return OnnxClipEncoder.from_towers(prepare_towers(encoder, folder, "int8"), encoder)


def _training_step(scene_text: bool, tokens, entities, captions) -> Callable[[], None]:
    """One training step of the tiny network, HOPID or CLIP-only (its own model and optimiser)."""
    import torch

    from hopid.models.factory import load_encoder
    from hopid.models.inputs import entity_batch, image_vectors, ocr_batch, text_vectors
    from hopid.models.network import HopidNet, NetConfig, WordBank
    from hopid.train.losses import retrieval_loss

    encoder = load_encoder("tiny", device="cpu")
    net = HopidNet(encoder.model, encoder.tokenizer, NetConfig(scene_text=scene_text)).train()
    bank = WordBank(net)
    optimizer = torch.optim.AdamW([p for _, p in net.trainable_parameters()], lr=1e-4)
    pixels = torch.randn(len(captions), 3, 64, 64)
    ids = net.tokenizer(captions)
    keys = torch.arange(len(captions))

    def step() -> None:
        g, patches = net.image_backbone(pixels)
        image = image_vectors(net, bank, g, patches, ocr_batch(tokens, bank, 16) if scene_text else None)
        found = entity_batch(entities, bank, 8) if scene_text else None
        text = text_vectors(net, bank, net.caption_backbone(ids), found)
        loss, _ = retrieval_loss(text, image, keys, triplet=1.0, margin=0.2, infonce=1.0, logit_scale=net.logit_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def train_step_ratio(batch: int = 32, steps: int = 32) -> dict:
    """HOPID's training step ÷ the CLIP-only baseline's, same tiny backbone, batch, optimiser and
    threads: forward of both towers and heads (8 OCR words per image, 3 entity words per
    caption), loss, backward, optimiser step. Two warm-up steps each, then ``steps`` rounds of
    one step each, alternated; the ratio is the median of the rounds' ratios."""
    from hopid.models.inputs import OcrToken

    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(200)]
    box = (0.1, 0.1, 0.4, 0.1, 0.4, 0.2, 0.1, 0.2)
    tokens = [[OcrToken(str(rng.choice(words)), box, 0.9) for _ in range(8)] for _ in range(batch)]
    entities = [[str(w) for w in rng.choice(words, 3)] for _ in range(batch)]
    captions = [f"a red truck with {' '.join(e)} written on it" for e in entities]
    sides = {name: _training_step(name == "hopid", tokens, entities, captions) for name in ("hopid", "clip")}
    timed = alternate(sides, steps, warmup=2)
    seconds = timed.medians()
    return {
        "train_step_ratio": timed.ratio("hopid", "clip"),
        "train_step_ms_hopid": seconds["hopid"] * 1000,
        "train_step_ms_clip": seconds["clip"] * 1000,
    }
