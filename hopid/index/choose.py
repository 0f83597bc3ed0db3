"""Which FAISS index a collection gets, by its size: exact search while it is fast, an
inverted file over the raw vectors (IVF-Flat) beyond, compressed IVF-PQ when the raw vectors
would not fit in memory; HNSW on request.

Measured on 1,000,000 CLIP-like vectors with text queries from outside the image cone
(``hopid bench``): IVF4000,Flat at nprobe 64 finds 0.99 of the exact top-10 in 0.4 ms and
builds in 18 s; HNSW32 (efConstruction 80, efSearch 512) only 0.90 in 1.3 ms after 100 s.

Flat, IVF-Flat and HNSW keep the raw vectors, so their scores are exact; the candidates of a
PQ index are re-scored against the memory-mapped ``vectors.npy`` by ``hopid query``, so it only
has to put the right images among them (recall@10 against Flat is measured by ``hopid bench``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

FLAT_WORK = 3e7  # vectors x dim up to which an exact scan answers in a few ms on one core
HNSW_LINKS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # recall@10 0.98 on out-of-cone text queries (128: 0.90), about 1 ms
IVF_PROBES = 64
PQ_PARTS = 64  # IVF-PQ: sub-quantizers of 4 bits (faiss fast scan): 32 bytes per vector at 512 dims
INDEX_KINDS = ("flat", "ivfflat", "hnsw", "ivfpq")


@dataclass(frozen=True)
class IndexPlan:
    kind: str  # "flat", "ivfflat", "hnsw" or "ivfpq"
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
    """The index for ``count`` vectors of ``dim`` floats (``kind`` forces one of INDEX_KINDS)."""
    memory = available_memory() if memory is None else memory
    raw = count * dim * 4
    hnsw = raw + count * HNSW_LINKS * 2 * 4
    lists = max(1, min(65536, int(4 * math.sqrt(max(count, 1))), count))  # k-means needs a vector per list
    ivfflat = raw + count * 8 + lists * dim * 4
    parts = max(1, min(PQ_PARTS, dim // 2))
    while dim % parts:
        parts -= 1
    ivfpq = count * (parts // 2 + 8) + lists * dim * 4
    if kind == "auto":
        kind = "flat" if count * dim <= FLAT_WORK else "ivfflat" if ivfflat <= memory // 4 else "ivfpq"
    if kind == "flat":
        return IndexPlan("flat", "Flat", raw, f"{count:,} x {dim}: an exact scan is fast enough")
    if kind == "ivfflat":
        return IndexPlan(
            "ivfflat", f"IVF{lists},Flat", ivfflat, f"{count:,} x {dim}: {lists:,} lists, {IVF_PROBES} searched"
        )
    if kind == "hnsw":
        return IndexPlan("hnsw", f"HNSW{HNSW_LINKS}", hnsw, f"{count:,} x {dim}: a graph index, vectors in memory")
    if kind == "ivfpq":
        return IndexPlan(
            "ivfpq",
            f"IVF{lists},PQ{parts}x4fs",
            ivfpq,
            f"{count:,} x {dim}: {raw / 2**30:.1f} GiB raw is too much for memory; {max(1, parts // 2)}-byte codes, "
            f"about {ivfpq / 2**30:.1f} GiB",
        )
    raise ValueError(f"unknown index kind {kind!r}; choose auto, {', '.join(INDEX_KINDS)}")


# (add_part, trained empty index, vectors, spans) -> each span's index with its vectors added;
# how the parts are run (in this process, on a Ray cluster) is the mapper's
PartMapper = Callable[[Callable[..., bytes], bytes, np.ndarray, list[tuple[int, int]]], Iterable[bytes]]
PART_ROWS = 250_000  # vectors per part when an IVF index is added in parts


def build_faiss(
    vectors: np.ndarray, plan: IndexPlan, seed: int = 0, map_parts: PartMapper | None = None, parts: int = 0
):
    """The planned index over ``vectors`` (inner product), trained on a sample when it needs training.

    With ``map_parts``, an IVF index is trained here, then its vectors are added in ``parts``
    spans (default: one per :data:`PART_ROWS`) by :func:`add_part` through ``map_parts`` and the
    parts' inverted lists merged in order: the same index as one ``add``."""
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
    parts = parts or -(-len(vectors) // PART_ROWS)
    if map_parts is None or plan.kind not in ("ivfflat", "ivfpq") or parts < 2:
        index.add(vectors)
    else:
        bounds = np.linspace(0, len(vectors), parts + 1).astype(int)
        spans = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        for part in map_parts(add_part, bytes(faiss.serialize_index(index)), vectors, spans):
            index.merge_from(faiss.deserialize_index(np.frombuffer(part, dtype=np.uint8)), 0)
    tune_for_search(index)
    return index


def add_part(empty: bytes, vectors: np.ndarray, span: tuple[int, int]) -> bytes:
    """The trained, empty IVF index ``empty`` (serialized) with the rows ``span`` of ``vectors``
    added under their row numbers, serialized (one part of :func:`build_faiss`)."""
    import faiss

    index = faiss.deserialize_index(np.frombuffer(empty, dtype=np.uint8))
    start, stop = span
    index.add_with_ids(np.ascontiguousarray(vectors[start:stop]), np.arange(start, stop, dtype=np.int64))
    return bytes(faiss.serialize_index(index))


def map_in_process(
    add: Callable[..., bytes], empty: bytes, vectors: np.ndarray, spans: list[tuple[int, int]]
) -> Iterable[bytes]:
    """A :data:`PartMapper` that adds the parts one after another here."""
    return (add(empty, vectors, span) for span in spans)


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
