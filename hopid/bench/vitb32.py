"""A real-size model as a user with real weights meets it: a random-init ViT-B-32 saved locally
(the same sizes as the released weights; nothing is downloaded), indexed with
``--model ViT-B-32:FILE``, queried cold by text and by image, its index-time embedding timed
against open_clip's ``encode_image`` on the same images and threads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from hopid.bench.timing import wall

QUERY = "red truck with the word EXIT"


def save_random_vitb32(path: Path, seed: int = 0) -> Path:
    """A seeded random-init ViT-B-32 state dict as safetensors at ``path``."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    save_file({name: t.contiguous() for name, t in model.state_dict().items()}, str(path))
    return path


def _cold(args: list[str], runs: int) -> float:
    """Median wall time of ``hopid ARGS`` in fresh processes (the first run warms the disk cache)."""
    command = [shutil.which("hopid") or sys.executable, *([] if shutil.which("hopid") else ["-m", "hopid_cli"])]
    subprocess.run([*command, *args], capture_output=True, check=True, timeout=600)
    return float(
        np.median(
            [
                wall(lambda: subprocess.run([*command, *args], capture_output=True, check=True, timeout=600))
                for _ in range(runs)
            ]
        )
    )


def vitb32_figures(scenes: list[Path], out: Path, rounds: int, runs: int = 3) -> dict:
    """vitb32_query_cold_s and vitb32_image_query_cold_s (medians of ``runs`` fresh processes),
    vitb32_embed_ratio (hopid's index-time images/s ÷ open_clip ``encode_image``'s) and
    vitb32_query_onnx_mb (the size of the index's text graph)."""
    from hopid.bench.stages import embed_figures, index_time_encoder
    from hopid.index.build import build_index
    from hopid.index.directory import QUERY_MODEL, open_generation
    from hopid.models.factory import load_encoder

    out.mkdir(parents=True, exist_ok=True)
    folder = out / "images"
    folder.mkdir(exist_ok=True)
    for scene in scenes:
        shutil.copyfile(scene, folder / scene.name)
    weights = save_random_vitb32(out / "vitb32.safetensors")
    encoder = load_encoder(f"ViT-B-32:{weights}", device="cpu")
    summary = build_index(folder, encoder, index_dir=out / "index")
    generation = open_generation(summary.index_dir)
    embedding = embed_figures(
        scenes,
        encoder,
        out,
        rounds,
        index_time_encoder(encoder, out / "index" / "cache" / f"towers-{encoder.fingerprint[:16]}-int8"),
    )
    index = str(summary.index_dir)
    return {
        "vitb32_query_cold_s": _cold(["query", QUERY, "--index", index, "--json"], runs),
        "vitb32_image_query_cold_s": _cold(["query", "--image", str(scenes[0]), "--index", index, "--json"], runs),
        "vitb32_embed_ratio": 1.0 / embedding["embed_overhead"],
        "vitb32_embed_images_per_s_ours": embedding["embed_images_per_s_ours"],
        "vitb32_embed_images_per_s_raw": embedding["embed_images_per_s_raw"],
        "vitb32_query_onnx_mb": generation.path(QUERY_MODEL).stat().st_size / 1e6,
    }
