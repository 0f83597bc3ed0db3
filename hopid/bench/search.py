"""Search figures on a synthetic index of the tiny model's size: our search call against raw
FAISS on the same index, the auto-chosen index's latency and recall against exact search, and
the peak memory of building that index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from hopid.bench.timing import per_call
from hopid.bench.vectors import gap_embeddings

WORDS = ("exit", "cafe", "harbourfront", "bakery", "gate", "sale", "zorbex", "klaxo", "open", "taxi")


def write_bench_index(out: Path, encoder, count: int, queries: int, seed: int = 0) -> tuple[Path, np.ndarray]:
    """An index directory of ``count`` synthetic image vectors (a tenth with OCR words), built by
    the same code as ``hopid index``; returns it and the text query vectors with their targets."""
    from hopid.index.build import ITEM_COLUMNS, save_index

    images, texts, targets = gap_embeddings(count, encoder.dim, queries, seed)
    paths = [f"bench/{i:08d}.jpg" for i in range(count)]
    items = pl.DataFrame(
        {
            "path": paths,
            "sha": [f"{i:064x}" for i in range(count)],
            "size": [1] * count,
            "mtime_ns": [0] * count,
            "width": [256] * count,
            "height": [256] * count,
        },
        schema=ITEM_COLUMNS,
    )
    rng = np.random.default_rng(seed)
    with_text = rng.choice(count, size=count // 10, replace=False)
    ocr = pl.DataFrame(
        {
            "image_id": [paths[i] for i in with_text],
            "token_index": [0] * len(with_text),
            "text": [WORDS[i % len(WORDS)] + str(i % 97) for i in with_text],
            "confidence": [1.0] * len(with_text),
            "box": [[0.1, 0.1, 0.5, 0.1, 0.5, 0.2, 0.1, 0.2]] * len(with_text),
            "engine": ["bench"] * len(with_text),
        }
    )
    index_dir = out / "index"
    save_index(index_dir, encoder, images, items, ocr, images_dir=out, ocr_engine="bench")
    return index_dir, np.column_stack([texts, targets.astype(np.float32)])


def search_figures(index_dir: Path, queries: np.ndarray, repeats: int) -> dict:
    """search_overhead, search_ms_p50_auto and recall_at_10_auto (see docs/performance.md)."""
    from hopid.search.searcher import Searcher

    searcher = Searcher(index_dir)
    vectors = np.load(index_dir / "vectors.npy", mmap_mode="r")
    texts = queries[:, :-1].astype(np.float32)
    row_of = {str(searcher.root / p): i for i, p in enumerate(searcher.paths)}
    ours = np.empty(repeats)
    raw = np.empty(repeats)
    for i in range(repeats):
        q = texts[i % len(texts)]
        raw[i] = per_call(lambda q=q: searcher.faiss_index.search(q[None, :], 10), 1, warmup=1)[0]
        ours[i] = per_call(lambda q=q: searcher.search_vector(q, 10), 1, warmup=1)[0]
    words = [f"{WORDS[i % len(WORDS)]} {i % 97} sign" for i in range(repeats)]
    encode = np.array([per_call(lambda w=w: searcher.encoder.encode_texts([w]), 1, warmup=0)[0] for w in words])
    hits = 0
    for q in texts:
        exact = set(np.argpartition(-(vectors @ q), 10)[:10].tolist())
        hits += len(exact & {row_of[h.path] for h in searcher.search_vector(q, 10)})
    return {
        "search_overhead": float(np.median(ours) / np.median(raw)),
        "search_ms_p50_auto": float(np.median(ours + encode) * 1000),
        "recall_at_10_auto": hits / (10 * len(texts)),
        "search_ms_p50_raw_faiss": float(np.median(raw) * 1000),
        "encode_ms_p50": float(np.median(encode) * 1000),
        "index": searcher.manifest["faiss_index"],
    }


PEAK_PROBE = """
import json, sys
import faiss
import numpy as np
from hopid.index.choose import build_faiss, plan_index

def status(key):
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1])

vectors = np.load(sys.argv[1])
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak resident size (VmHWM) to the current one
before = status("VmRSS")
index = build_faiss(vectors, plan_index(*vectors.shape))
print(json.dumps([before, status("VmHWM"), len(vectors)]))
"""


def index_bytes_per_vector(index_dir: Path) -> float:
    """Peak memory added by building the auto-chosen index, per vector, in a fresh process: peak
    resident size during the build minus the resident size with the vectors already loaded (KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(index_dir / "vectors.npy")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    before, after, count = json.loads(done.stdout.strip().splitlines()[-1])
    return (after - before) * 1024 / max(count, 1)
