"""Which FAISS index a collection gets, by its size: exact search while it is fast, a graph
(HNSW) beyond, compressed IVF-PQ when the raw vectors would not fit in memory.

Whatever the index, ``hopid query`` re-scores the candidates it returns exactly against the
memory-mapped ``vectors.npy``, so an approximate index only has to put the right images among
its candidates (recall@10 against Flat is measured by ``hopid bench``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

FLAT_WORK = 3e7  # vectors x dim up to which an exact scan answers in a few ms on one core
HNSW_LINKS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # recall@10 0.98 on out-of-cone text queries (128: 0.90), about 1 ms
IVF_PROBES = 32
PQ_BYTES = 32  # bytes per vector in IVF-PQ


@dataclass(frozen=True)
class IndexPlan:
    kind: str  # "flat", "hnsw" or "ivfpq"
    factory: str  # the faiss index_factory string
    bytes_estimate: int  # memory of the index itself
    reason: str


def available_memory() -> int:
    """Physical memory in bytes (Linux; 8 GiB when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def plan_index(count: int, dim: int, memory: int | None = None, kind: str = "auto") -> IndexPlan:
    """The index for ``count`` vectors of ``dim`` floats (``kind`` forces flat/hnsw/ivfpq)."""
    memory = available_memory() if memory is None else memory
    raw = count * dim * 4
    hnsw = raw + count * HNSW_LINKS * 2 * 4
    lists = max(1, min(65536, int(4 * math.sqrt(max(count, 1)))))
    pq_bytes = min(PQ_BYTES, dim)
    while dim % pq_bytes:
        pq_bytes -= 1
    ivfpq = count * (pq_bytes + 8) + lists * dim * 4
    if kind == "auto":
        kind = "flat" if count * dim <= FLAT_WORK else "hnsw" if hnsw <= memory // 4 else "ivfpq"
    if kind == "flat":
        return IndexPlan("flat", "Flat", raw, f"{count:,} x {dim}: an exact scan is fast enough")
    if kind == "hnsw":
        return IndexPlan("hnsw", f"HNSW{HNSW_LINKS}", hnsw, f"{count:,} x {dim}: a graph index, vectors in memory")
    if kind == "ivfpq":
        return IndexPlan(
            "ivfpq",
            f"IVF{lists},PQ{pq_bytes}",
            ivfpq,
            f"{count:,} x {dim}: {raw / 2**30:.1f} GiB raw is too much for memory; {pq_bytes}-byte codes",
        )
    raise ValueError(f"unknown index kind {kind!r}; choose auto, flat, hnsw or ivfpq")


def build_faiss(vectors: np.ndarray, plan: IndexPlan, seed: int = 0):
    """The planned index over ``vectors`` (inner product), trained on a sample when it needs training."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if plan.kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.index_factory(vectors.shape[1], plan.factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        sample = np.random.default_rng(seed).permutation(len(vectors))[: min(len(vectors), 100_000)]
        index.train(vectors[sample])
    index.add(vectors)
    tune_for_search(index)
    return index


def tune_for_search(index) -> None:
    """Search-time settings (they are not all stored in the index file)."""
    import faiss

    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    ivf = faiss.try_extract_index_ivf(index) if not hasattr(index, "hnsw") else None
    if ivf is not None:
        ivf.nprobe = min(IVF_PROBES, ivf.nlist)


def write_faiss(index, path: str) -> None:
    import faiss

    faiss.write_index(index, path)
