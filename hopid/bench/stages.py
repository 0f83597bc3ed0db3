"""OCR, image embedding and training step, each against the raw library doing the same work."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hopid.bench.timing import per_call, wall


def scene_images(out: Path, count: int) -> list[Path]:
    """``count`` synthetic scenes with written words (256 px), rendered once."""
    from hopid.data.synthetic import generate

    variants = 4
    groups = max(1, -(-count * 5 // (variants * 4)))  # a few groups carry no text and give one image
    if not (out / "images.parquet").is_file():
        generate(out, seed=7, groups=groups, variants=variants, size=256)
    return sorted((out / "images").glob("*.png"))[:count]


def ocr_figures(paths: list[Path], workers: int, overhead_images: int = 48) -> dict:
    """ocr_overhead: ours with one worker ÷ the engine's own loop, over the first
    ``overhead_images``; ocr_speedup: the engine's own loop ÷ ours on ``workers`` processes, over
    all ``paths``. Whole jobs, engine start-up included on both sides."""
    import time

    from hopid.ocr.pool import ocr_paths
    from hopid.ocr.rapid import rapid_backend
    from hopid.ocr.registry import DEFAULT_ENGINE

    backend = rapid_backend()
    began = time.perf_counter()
    if backend == "rapidocr":  # the library as its README shows it, default settings
        from rapidocr import RapidOCR

        engine = RapidOCR(params={"Global.log_level": "critical"})
    else:
        from rapidocr_onnxruntime import RapidOCR

        engine = RapidOCR()
    raw_until = []  # seconds from the start to each image done
    for path in paths:
        engine(str(path))
        raw_until.append(time.perf_counter() - began)

    def ours(subset: list[Path], count: int) -> None:
        failed = [r.error for r in ocr_paths(subset, DEFAULT_ENGINE, workers=count) if r.error]
        if failed:
            raise RuntimeError(f"OCR failed on {len(failed)} image(s) with {count} worker(s): {failed[0]}")

    first = min(overhead_images, len(paths))
    one = wall(lambda: ours(paths[:first], 1))
    every = wall(lambda: ours(paths, workers))
    return {
        "ocr_overhead": one / raw_until[first - 1],
        "ocr_speedup": raw_until[-1] / every,
        "ocr_images_per_s_raw": len(paths) / raw_until[-1],
        "ocr_images_per_s_ours": len(paths) / every,
        "ocr_workers": workers,
        "ocr_images": len(paths),
        "ocr_engine": f"{DEFAULT_ENGINE} ({backend})",
    }


def embed_figures(paths: list[Path], encoder, out: Path) -> dict:
    """embed_overhead: our index embedding stage ÷ a plain open_clip loop (open, preprocess,
    encode_image) with the same model, batch size and threads."""
    import torch
    from PIL import Image

    from hopid.data.error_log import ErrorLog
    from hopid.data.parts import PartStore
    from hopid.index.build import EMBED_BATCH, VECTOR_PART_SCHEMA, _embed_missing

    root = paths[0].parent
    todo = [(p.stem, p.name) for p in paths]

    def ours() -> None:
        store = PartStore(out / f"vectors-{np.random.default_rng().integers(1 << 62)}", VECTOR_PART_SCHEMA)
        _embed_missing(encoder, root, todo, store, ErrorLog("bench"), None)

    def raw() -> None:
        for start in range(0, len(paths), EMBED_BATCH):
            batch = [encoder.preprocess(Image.open(p).convert("RGB")) for p in paths[start : start + EMBED_BATCH]]
            with torch.inference_mode():
                encoder.model.encode_image(torch.stack(batch), normalize=True).numpy()

    raw_s = np.median([wall(raw) for _ in range(3)])
    ours_s = np.median([wall(ours) for _ in range(3)])
    return {
        "embed_overhead": float(ours_s / raw_s),
        "embed_images_per_s_ours": len(paths) / float(ours_s),
        "embed_images_per_s_raw": len(paths) / float(raw_s),
    }


def _step_seconds(scene_text: bool, tokens, entities, captions, steps: int) -> float:
    """Median seconds of one training step of the tiny network, HOPID or CLIP-only."""
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

    return float(np.median(per_call(step, steps, warmup=2)))


def train_step_ratio(batch: int = 32, steps: int = 8) -> dict:
    """HOPID's training step ÷ the CLIP-only baseline's, same tiny backbone and batch: forward
    of both towers and heads (8 OCR words per image, 3 entity words per caption), loss, backward,
    optimiser step."""
    from hopid.models.inputs import OcrToken

    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(200)]
    box = (0.1, 0.1, 0.4, 0.1, 0.4, 0.2, 0.1, 0.2)
    tokens = [[OcrToken(str(rng.choice(words)), box, 0.9) for _ in range(8)] for _ in range(batch)]
    entities = [[str(w) for w in rng.choice(words, 3)] for _ in range(batch)]
    captions = [f"a red truck with {' '.join(e)} written on it" for e in entities]
    hopid = _step_seconds(True, tokens, entities, captions, steps)
    clip = _step_seconds(False, tokens, entities, captions, steps)
    return {"train_step_ratio": hopid / clip, "train_step_ms_hopid": hopid * 1000, "train_step_ms_clip": clip * 1000}
