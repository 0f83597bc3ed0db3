"""Answering queries against an index: dense candidates from FAISS, scene-text candidates
from the OCR words, fused into one ranking."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hopid.data.images import ImageLoadError, load_rgb
from hopid.data.scan import os_name, stored_name
from hopid.data.schema import read_arrow, read_table
from hopid.data.source import is_uri
from hopid.errors import HopidError
from hopid.index.choose import tune_for_search
from hopid.index.directory import (
    FAISS_FILE,
    ITEMS_FILE,
    LEXICAL_FILE,
    MANIFEST,
    OCR_FILE,
    VECTORS_FILE,
    default_index_dir,
    open_generation,
)
from hopid.models.encoder import EntityEncoder, ExplainedEncoder, ImageEncoder, ReferenceEncoder, TextEncoder
from hopid.scenetext.fusion import DEFAULT_ALPHA, fuse
from hopid.scenetext.lexical import LexicalIndex, query_terms

MAX_QUERY_CHARS = 2000
APPROXIMATE_CANDIDATES = 200  # from a PQ index, re-scored exactly: recall@10 0.986 (100: 0.948)

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class HitWord:
    """An OCR word of a hit's image: its text, box (8 floats normalised to the image) and confidence."""

    text: str
    box: tuple[float, ...]
    confidence: float


@dataclass(frozen=True)
class Hit:
    rank: int
    path: str
    score: float
    dense: float
    text: float
    matched: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "path": self.path,
            "score": round(self.score, 6),
            "dense": round(self.dense, 6),
            "text": round(self.text, 6),
            "matched": list(self.matched),
        }


def find_index_dir(index: str | Path | None) -> Path:
    """``--index`` when given, else the index of the current folder (as rclip does)."""
    if index is not None:
        return Path(index)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (default_index_dir(folder) / MANIFEST).is_file():
            return default_index_dir(folder)
    raise HopidError("no hopid index in this folder or above; run `hopid index IMAGES_DIR` or pass --index DIR")


def check_query(text: str) -> str:
    text = text.strip()
    if not text:
        raise HopidError('the query is empty; type some words, e.g. hopid query "red Coca-Cola truck"')
    if len(text) > MAX_QUERY_CHARS:
        raise HopidError(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    return text


def query_entity_spans(encoder: TextEncoder, texts: list[str], tagger=None) -> list[list[tuple[int, int]]]:
    """The inferred entity spans of each query: a trained run's own tagger unless ``tagger`` is
    given, else the given tagger, else the rules (what every text search and ``hopid eval`` use)."""
    if tagger is None and isinstance(encoder, EntityEncoder):
        found = encoder.entities(texts)  # a trained run's own tagger, already run for its vector
    elif tagger is not None:
        from hopid.entities.infer import infer_texts

        found = infer_texts(texts, tagger)
    else:  # the rules alone, without the dataset machinery of entities.infer (and its polars)
        from hopid.entities.rules import rule_entities

        found = [rule_entities(text) for text in texts]
    return [[(e.start, e.end) for e in entities] for entities in found]


class Searcher:
    """An opened index (one committed generation, checked) with its model; cheap to query many
    times. ``paths`` are the indexed files relative to the images folder, as ``open`` takes them
    (a name that is not UTF-8 keeps its bytes: ``os.fsencode`` gives them back)."""

    def __init__(
        self, index_dir: str | Path, encoder: TextEncoder | None = None, tagger_dir: str | Path | None = None
    ) -> None:
        import faiss

        from hopid.models.factory import load_encoder
        from hopid.models.spec import parse_model_spec
        from hopid.search.query_encoder import open_query_encoder

        self.index_dir = Path(index_dir)
        self.generation = open_generation(self.index_dir)
        self.manifest = self.generation.manifest
        self.source = self.manifest["images_dir"]  # a folder, or a URI (hopid.data.source)
        self.root = Path(self.source)  # the folder (the gallery serves its files)
        # "root/": a hit's path is root_prefix + item path (a URI keeps its "//")
        self.root_prefix = f"{self.source.rstrip('/')}/" if is_uri(self.source) else os.path.join(self.source, "")
        chosen = encoder is not None
        if encoder is None:  # the exported text side when the index has one: no torch or spaCy import
            spec = parse_model_spec(self.manifest["model"])
            encoder = open_query_encoder(self.generation, spec, self.manifest["model_fingerprint"])
        if encoder is None:
            encoder = load_encoder(self.manifest["model"])
        if encoder.fingerprint != self.manifest["model_fingerprint"]:
            raise HopidError(self._mismatch(encoder, chosen))
        self.encoder = encoder
        try:
            self.faiss_index = faiss.read_index(str(self.generation.path(FAISS_FILE)), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError as exc:
            raise self.generation.damaged(FAISS_FILE, "is not a readable FAISS index") from exc
        tune_for_search(self.faiss_index)
        self.approximate = self.manifest.get("index_kind") == "ivfpq"
        try:
            self.vectors = np.load(self.generation.path(VECTORS_FILE), mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise self.generation.damaged(VECTORS_FILE, f"is not a readable array ({type(exc).__name__})") from exc
        items = self._read(ITEMS_FILE, "items", read_arrow)  # arrow: the cold path never imports polars
        self._stored_paths = items.column("path").to_pylist()  # the stored-name form the OCR table uses too
        self.paths = [os_name(p) for p in self._stored_paths]
        self._items = items
        rows, dim = len(self.paths), self.manifest.get("dim")
        if self.faiss_index.ntotal != rows or self.vectors.shape != (rows, dim) or self.faiss_index.d != dim:
            raise self.generation.damaged(
                FAISS_FILE,
                f"holds {self.faiss_index.ntotal:,} x {self.faiss_index.d} and {VECTORS_FILE} "
                f"{' x '.join(map(str, self.vectors.shape))}, but {ITEMS_FILE} {rows:,} x {dim}: they disagree",
            )
        self.lexical = self._open_lexical()
        self.tagger = None
        if tagger_dir is not None:
            from hopid.entities.tagger import load_tagger

            self.tagger = load_tagger(tagger_dir)

    def _mismatch(self, encoder: TextEncoder, chosen: bool) -> str:
        """Why ``encoder`` cannot query this index: a ``--model`` that differs, or (none given) the
        index's own model, which now loads with other weights."""
        built = f"{self.manifest['model']!r} (fingerprint {self.manifest['model_fingerprint'][:12]})"
        if chosen:
            return (
                f"--model {encoder.spec.text!r} does not match the index, which was built with {built}; "
                f"rebuild with `hopid index {self.source} --model {encoder.spec.text}` or drop --model"
            )
        return (
            f"the index was built with {built}, but that model now loads with other weights "
            f"(fingerprint {encoder.fingerprint[:12]}); rebuild with `hopid index {self.source} --model "
            f"{self.manifest['model']}`"
        )

    def _read(self, name: str, table: str, reader=read_table):
        """A Parquet table of the generation (as ``reader`` gives it); an unreadable one is an
        "index damaged" error."""
        try:
            return reader(self.generation.path(name), table)
        except HopidError as exc:
            raise self.generation.damaged(name, f"is not a readable {table} table") from exc

    def _open_lexical(self) -> LexicalIndex:
        """The saved scene-text tables, or (written in an older format) built from the OCR."""
        try:
            lexical = LexicalIndex.load(self.generation.path(LEXICAL_FILE))
        except Exception as exc:  # noqa: BLE001 - zip, numpy and key errors of a damaged file
            raise self.generation.damaged(LEXICAL_FILE, f"is not readable ({type(exc).__name__})") from exc
        if lexical is not None and lexical.n_images == len(self.paths):
            return lexical
        return LexicalIndex.from_table(self._stored_paths, self.ocr)

    @functools.cached_property
    def ocr(self) -> pl.DataFrame:
        """The OCR words of every indexed image, ``image_id`` in stored-name form (read when first needed)."""
        return self._read(OCR_FILE, "ocr")

    def hit_words(self, hits: list[Hit]) -> dict[str, list[HitWord]]:
        """The OCR words of each hit's image in reading order, keyed by the hit's path."""
        import polars as pl

        wanted = {stored_name(hit.path[len(self.root_prefix) :]): hit.path for hit in hits}
        rows = self.ocr.filter(pl.col("image_id").is_in(list(wanted))).sort("image_id", "token_index")
        found: dict[str, list[HitWord]] = {hit.path: [] for hit in hits}
        for image_id, text, box, confidence in rows.select("image_id", "text", "box", "confidence").iter_rows():
            found[wanted[image_id]].append(HitWord(text, tuple(float(v) for v in box), float(confidence)))
        return found

    def entity_spans(self, text: str) -> list[tuple[int, int]]:
        return query_entity_spans(self.encoder, [text], self.tagger)[0]

    def _rank(
        self, query_vector: np.ndarray, k: int, lexical=None, alpha: float = DEFAULT_ALPHA, rerank: str | None = None
    ) -> list[Hit]:
        """The top ``k``: dense candidates from FAISS plus every image with a scene-text match,
        re-scored exactly. An image without a match can only make the fused top-k from the
        dense top-k, so ``k`` dense candidates suffice (more from a PQ index, whose order is
        approximate, and the re-ranking depth with ``rerank``)."""
        n = len(self.paths)
        if n == 0:
            return []
        wanted = max(k, APPROXIMATE_CANDIDATES) if self.approximate else k
        if rerank is not None and isinstance(self.encoder, ReferenceEncoder):
            from hopid.search.rerank import rerank_depth

            wanted = max(wanted, rerank_depth(self.encoder.rerank_defaults))
        distances, found = self.faiss_index.search(query_vector[None, :], min(n, wanted))
        keep = found[0] >= 0
        rows, dense = found[0][keep], distances[0][keep]
        if self.approximate:  # PQ distances are approximate: re-score against the exact vectors
            dense = np.asarray(self.vectors[rows]) @ query_vector
        text = np.zeros(len(rows), dtype=np.float32)
        scores = dense
        if lexical is not None:
            extra = np.setdiff1d(np.flatnonzero(lexical.scores), rows)
            rows = np.concatenate([rows, extra])
            dense = np.concatenate([dense, np.asarray(self.vectors[extra]) @ query_vector])
            text = lexical.scores[rows]
            scores = fuse(dense, text, alpha)
        if rerank is not None:
            scores = self._rerank(query_vector, rows, scores, rerank, fused=lexical is not None)
        order = np.lexsort((rows, -scores))[:k]
        top = rows[order].tolist()
        columns = zip(top, scores[order].tolist(), dense[order].tolist(), text[order].tolist(), strict=True)
        return [
            Hit(
                rank,
                self.root_prefix + self.paths[row],
                score,
                near,
                written,
                tuple(lexical.matched_words(row)) if lexical is not None else (),
            )
            for rank, (row, score, near, written) in enumerate(columns, start=1)
        ]

    def _rerank(
        self, query_vector: np.ndarray, rows: np.ndarray, scores: np.ndarray, method: str, fused: bool
    ) -> np.ndarray:
        """The candidates' scores with the top-k re-ranked by MMRef reference profiles (the run's
        k, beta and query for dense or ``fused`` scores)."""
        from hopid.search.rerank import reference_reranked

        gallery = np.asarray(self.vectors[rows], dtype=np.float32)
        query = query_vector[None, :]
        return reference_reranked(self.encoder, scores[None, :], query, gallery, method, None, None, fused)[0]

    @functools.cached_property
    def row_of(self) -> dict[str, int]:
        """The index row of each image path (relative to the images folder)."""
        return {path: row for row, path in enumerate(self.paths)}

    @functools.cached_property
    def _sizes(self) -> np.ndarray:
        """``[rows, 2]`` upright width and height (made when the gallery first asks)."""
        return np.column_stack([self._items.column(name).to_numpy() for name in ("width", "height")])

    def image_size(self, row: int) -> tuple[int, int]:
        """Upright ``(width, height)`` of the indexed image at ``row``."""
        width, height = self._sizes[row]
        return int(width), int(height)

    def search_like(self, row: int, k: int = 10) -> list[Hit]:
        """Images like the indexed image at ``row``, by its stored vector (dense only; it comes first)."""
        return self._rank(np.asarray(self.vectors[row], dtype=np.float32), k)

    def search_vector(self, vector: np.ndarray, k: int = 10) -> list[Hit]:
        """Images by a ready query vector (the model's space), dense only."""
        return self._rank(np.asarray(vector, dtype=np.float32), k)

    def search(
        self,
        text: str,
        k: int = 10,
        *,
        dense_only: bool = False,
        alpha: float | None = None,
        rerank: str | None = None,
        explanation: str | None = None,
    ) -> list[Hit]:
        """Text -> images, best first; ``alpha`` defaults to the model's fusion.alpha; ``rerank``
        (``reference``) re-ranks the top candidates by MMRef reference profiles; ``explanation``
        (what the query names: a brand's kind, its slogan) enhances the dense query through an
        EntityCLIP run's experts, as ``hopid eval --explained`` does."""
        text = check_query(text)
        if explanation is None:
            query_vector = self.encoder.encode_texts([text])[0]
        else:
            if not explanation.strip():
                raise HopidError("the explanation is empty; leave --explanation out or say what the query names")
            encoder = self._encoder_that(ExplainedEncoder)
            if not isinstance(encoder, ExplainedEncoder):
                raise HopidError(
                    f"{self.manifest['model']}: explained queries need a run trained with model.explanation_experts"
                )
            query_vector = encoder.encode_explained([text], [check_query(explanation)])[0]
        lexical = None if dense_only else self.lexical.score(query_terms(text, self.entity_spans(text)))
        alpha = self.encoder.fusion_alpha if alpha is None else alpha
        return self._rank(query_vector, k, lexical, alpha, rerank)

    def _encoder_that(self, kind: type) -> TextEncoder:
        """The index's model as an encoder of ``kind``: the full model replaces the exported query
        side when that is not one (no image graph, no EntityCLIP experts)."""
        if not isinstance(self.encoder, kind):
            from hopid.models.factory import load_encoder

            self.encoder = load_encoder(self.manifest["model"])
        return self.encoder

    def search_image(self, image_path: str | Path, k: int = 10) -> list[Hit]:
        """Image -> images by the model alone, best first."""
        try:
            image = load_rgb(image_path)
        except ImageLoadError as exc:
            raise HopidError(f"{image_path}: {exc}") from exc
        encoder = self._encoder_that(ImageEncoder)
        ocr = None
        if encoder.needs_ocr:  # embed the query as the index embedded its images
            ocr = [self._read_scene_text(image_path)]
        return self._rank(encoder.encode_images([image], ocr)[0], k)

    def _read_scene_text(self, image_path: str | Path) -> list:
        from hopid.models.inputs import ocr_tokens
        from hopid.ocr.pool import ocr_paths

        result = next(iter(ocr_paths([Path(image_path)], self.manifest["ocr_engine"], workers=1)))
        if result.error:
            raise HopidError(f"{image_path}: {result.error}")
        words = result.words
        return ocr_tokens([w.text for w in words], [w.box for w in words], [w.confidence for w in words])
