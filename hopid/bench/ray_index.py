"""The Ray executor against the local one: the same folder indexed both ways (docs/scale.md)."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

RAY_IMAGES = 200  # at least this many images per run, as the scale issue asks
WARM_IMAGES = 8  # each side indexes this many first, untimed: imports, caches, Ray Data's helpers


def ray_folder(scenes: list[Path], out: Path) -> Path:
    """A folder holding ``scenes`` (hard links where possible), for both executors to index."""
    out.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        target = out / scene.name
        if not target.exists():
            try:
                os.link(scene, target)
            except OSError:
                shutil.copyfile(scene, target)
    return out


def ray_figures(folder: Path, encoder, cores: int, rounds: int = 2, scaling: bool = False) -> dict:
    """ray_throughput_ratio: Ray's images/s ÷ the local executor's on ``folder``, each a whole
    ``hopid index`` into a fresh index (OCR on ``cores`` processes or actors, embedding, commit),
    the two taking turns (local first in even rounds) after each has indexed a few images
    untimed; Ray started once beforehand, its start-up reported apart as ray_startup_s.
    ``scaling`` adds Ray's images/s with 1 and 2 OCR actors."""
    from hopid.index.build import build_index
    from hopid.index.ray_executor import index_with_ray, ray_session

    images = sum(1 for _ in folder.iterdir())
    for path in folder.iterdir():
        path.read_bytes()  # every image in the page cache before either side runs
    runs = folder.parent / "ray-bench-runs"
    figures: dict = {}
    started = time.monotonic()
    with ray_session(None, cores):
        figures["ray_startup_s"] = time.monotonic() - started

        def timed(side: str, run: int | str, images_dir: Path = folder, **ray_options) -> float:
            index_dir = runs / f"{side}-{run}"
            begin = time.monotonic()
            if side == "local":
                build_index(images_dir, encoder, index_dir=index_dir, workers=cores)
            else:
                index_with_ray(images_dir, encoder, index_dir=index_dir, **ray_options)
            seconds = time.monotonic() - begin
            shutil.rmtree(index_dir, ignore_errors=True)
            return seconds

        warm = ray_folder(sorted(folder.iterdir())[:WARM_IMAGES], runs / "warm-images")
        for side in ("local", "ray"):
            timed(side, "warm", warm)

        ratios, local_s, ray_s = [], [], []
        for run in range(rounds):
            order = ("local", "ray") if run % 2 == 0 else ("ray", "local")
            seconds = {side: timed(side, run) for side in order}
            local_s.append(seconds["local"])
            ray_s.append(seconds["ray"])
            ratios.append(seconds["local"] / seconds["ray"])  # (images / ray) / (images / local)
        figures |= {
            "ray_throughput_ratio": statistics.median(ratios),
            "ray_images_per_s": images / statistics.median(ray_s),
            "local_images_per_s": images / statistics.median(local_s),
            "ray_images": images,
        }
        if scaling:
            for actors in (1, 2):
                seconds = timed("ray", 100 + actors, ocr_actors=actors)
                figures[f"ray_images_per_s_{actors}_ocr_actor{'s' if actors > 1 else ''}"] = images / seconds
    shutil.rmtree(runs, ignore_errors=True)
    return figures
