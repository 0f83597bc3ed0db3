"""Measure the OCR engines on shared/realworld and print a table (see docs/ocr.md).

Usage: python scripts/ocr_benchmark.py [--engines rapidocr,easyocr,tesseract] [--pool-engine rapidocr]
"""

from __future__ import annotations

import argparse
import os
import sys

from hopid.bench.ocr_engines import measure_engines, measure_pool, realworld_dir
from hopid.ocr.registry import DEFAULT_ENGINE, ENGINES


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engine names")
    parser.add_argument("--pool-engine", default=DEFAULT_ENGINE, help="engine for the workers=1 vs 2 measurement")
    parser.add_argument("--no-pool", action="store_true", help="skip the parallel speed-up measurement")
    args = parser.parse_args()
    root = realworld_dir()
    if root is None:
        print("no real-world samples: set HOPID_REALWORLD or put them at ../shared/realworld", file=sys.stderr)
        return 1
    print(f"samples: {root}   cores: {len(os.sched_getaffinity(0))}")
    print("| engine | word recall | scene-word recall | s / scene image | load s | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in measure_engines(root, args.engines.split(",")):
        words = f"{_fmt(row.word_recall)} ({row.words})" if row.word_recall is not None else "-"
        scenes = f"{_fmt(row.scene_recall)} ({row.scene_words})" if row.scene_recall is not None else "-"
        print(
            f"| {row.engine} | {words} | {scenes} | {_fmt(row.seconds_per_image)} | {_fmt(row.load_seconds)} "
            f"| {row.problem or ''} |"
        )
    if not args.no_pool:
        print()
        print("| engine | workers | images | seconds | images/s |")
        print("| --- | --- | --- | --- | --- |")
        for pool in measure_pool(root, args.pool_engine):
            rate = pool.images_per_second
            print(f"| {pool.engine} | {pool.workers} | {pool.images} | {pool.seconds:.1f} | {rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
