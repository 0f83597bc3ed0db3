"""Time ``hopid index`` (OCR and embedding together, every core) per OCR quality, alternated.

Every run builds a fresh index of IMAGES_DIR (nothing cached), the variants take turns round
after round, and the median seconds per image is printed per variant. ``--baseline DIR`` adds
the checkout in DIR (e.g. ``git worktree add /tmp/before <commit>``) as one more variant, run
with its own code and default settings, so a change is timed against the code before it.

    python scripts/index_speed.py ../shared/realworld/svt-train/images --rounds 3 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def run_once(images: Path, quality: str | None, checkout: Path | None, index: Path) -> float:
    shutil.rmtree(index, ignore_errors=True)
    command = [sys.executable, "-m", "hopid_cli", "index", str(images), "--index", str(index)]
    if quality is not None:
        command += ["--ocr-quality", quality]
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    began = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", type=Path)
    parser.add_argument("--qualities", nargs="+", default=["fast", "best"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout to time with its defaults")
    args = parser.parse_args(argv)
    count = sum(1 for p in args.images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    variants: list[tuple[str, str | None, Path | None]] = [(q, q, None) for q in args.qualities]
    if args.baseline is not None:
        variants.insert(0, (f"baseline ({args.baseline})", None, args.baseline))
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            order = variants if round_number % 2 == 0 else variants[::-1]
            for name, quality, checkout in order:
                seconds[name].append(run_once(args.images, quality, checkout, Path(scratch) / "index"))
                print(f"round {round_number + 1}: {name} {seconds[name][-1]:.1f} s", file=sys.stderr)
    print(f"{count} images, {os.cpu_count()} cores, median of {args.rounds} alternated runs")
    print("| variant | s / image | images / s |")
    print("| --- | ---: | ---: |")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"| {name} | {median / count:.3f} | {count / median:.2f} |")


if __name__ == "__main__":
    main()
