"""Search figures on a synthetic index of CLIP's width (512): our search call against raw FAISS
on the same index, the auto-chosen index's latency and recall against exact search, and the
peak memory of building that index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from hopid.bench.timing import MIN_ROUNDS, alternate, wall
from hopid.bench.vectors import gap_embeddings

WORDS = ("exit", "cafe", "harbourfront", "bakery", "gate", "sale", "zorbex", "klaxo", "open", "taxi")
CLIP_WIDTH = 512  # ViT-B CLIP's embedding width: the search gallery's vectors are this wide
ENCODER_SEED = 0


def bench_encoder(dim: int = CLIP_WIDTH):
    """The tiny model with both projections widened to ``dim`` (seeded random weights), so its
    text side, exported to ``query.onnx`` by the index, gives vectors of a real CLIP's width at
    the tiny model's cost; with ``dim`` the tiny width, the tiny model itself."""
    import torch

    from hopid.models.factory import ClipEncoder, load_encoder

    encoder = load_encoder("tiny", device="cpu")
    if dim == encoder.dim:
        return encoder
    model = encoder.model
    generator = torch.Generator().manual_seed(ENCODER_SEED)
    for owner, name in ((model, "text_projection"), (model.visual, "proj")):
        width = getattr(owner, name).shape[0]
        setattr(owner, name, torch.nn.Parameter(torch.randn(width, dim, generator=generator) * width**-0.5))
    return ClipEncoder(encoder.spec, model, encoder.preprocess, encoder.tokenizer, "cpu")


def write_bench_index(out: Path, encoder, count: int, queries: int, seed: int = 0) -> tuple[Path, np.ndarray]:
    """An index directory of ``count`` synthetic image vectors of ``encoder.dim`` (a tenth with
    OCR words), built by the same code as ``hopid index``; returns it and the text query vectors
    with their targets (last column)."""
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


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
    """Rows of the ``k`` largest inner products of each query (``[queries, k]``, unordered), by an
    exact scan of ``vectors`` (possibly memory-mapped) a chunk of rows at a time."""
    best_rows = np.empty((len(queries), 0), dtype=np.int64)
    best_scores = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        scores = queries @ np.asarray(vectors[start : start + chunk], dtype=np.float32).T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    return best_rows


def recall_at_k(found: list[set[int]], exact: np.ndarray) -> float:
    """Share of the exact top-k rows (one row of ``exact`` per query) among the rows found."""
    hits = sum(len(rows & set(truth.tolist())) for rows, truth in zip(found, exact, strict=True))
    return hits / max(exact.size, 1)


def search_figures(index_dir: Path, queries: np.ndarray, rounds: int = MIN_ROUNDS) -> dict:
    """search_overhead, search_ms_p50_auto and recall_at_10_auto (see docs/performance.md).

    Raw FAISS (``faiss_index.search(q, 10)``), hopid (``Searcher.search_vector(q, 10)``: the same
    FAISS call on the same index object with the same search settings, then exact scores, ranking
    and hits with paths) and the text encoding each time every query, one call at a time; the
    three take turns pass by pass (a side never follows another on the same query, whose
    inverted lists it would find in the CPU caches) for ``rounds`` passes after a warm-up pass.
    search_overhead is the median over the passes of hopid's median call ÷ raw FAISS's; each
    query's latency is its median over the passes, and the latencies are medians over queries."""
    from hopid.search.searcher import Searcher

    searcher = Searcher(index_dir)
    texts = np.ascontiguousarray(queries[:, :-1], dtype=np.float32)
    words = [f"{WORDS[i % len(WORDS)]} {i % 97} sign" for i in range(len(texts))]
    calls = {
        "raw": lambda i: searcher.faiss_index.search(texts[i][None, :], 10),
        "hopid": lambda i: searcher.search_vector(texts[i], 10),
        "encode": lambda i: searcher.encoder.encode_texts([words[i]]),
    }

    def each_query(call) -> np.ndarray:
        return np.array([wall(lambda i=i: call(i)) for i in range(len(texts))])

    timed = alternate({name: lambda call=call: each_query(call) for name, call in calls.items()}, rounds)
    raw, ours, encode = (np.stack(timed.results[side]) for side in ("raw", "hopid", "encode"))  # [passes, queries]
    overhead = np.median(np.median(ours, axis=1) / np.median(raw, axis=1))
    raw, ours, encode = (np.median(times, axis=0) for times in (raw, ours, encode))
    row_of = {str(searcher.root / p): i for i, p in enumerate(searcher.paths)}
    found = [{row_of[hit.path] for hit in searcher.search_vector(q, 10)} for q in texts]
    return {
        "search_overhead": float(overhead),
        "search_ms_p50_auto": float(np.median(ours + encode) * 1000),
        "recall_at_10_auto": recall_at_k(found, exact_top_k(searcher.vectors, texts, 10)),
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
    from hopid.index.directory import VECTORS_FILE, open_generation

    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(open_generation(index_dir).path(VECTORS_FILE))],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    before, after, count = json.loads(done.stdout.strip().splitlines()[-1])
    return (after - before) * 1024 / max(count, 1)
