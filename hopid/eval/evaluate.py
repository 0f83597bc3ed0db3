"""Evaluate a model on a dataset split with the same fused scoring as ``hopid query``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.images import ImageLoadError, load_rgb
from hopid.errors import HopidError
from hopid.eval.metrics import i2t_ranks, rank_of, t2i_ranks
from hopid.eval.protocols import WORDS, Plan, plan, protocol_metrics
from hopid.models.encoder import EntityEncoder, ExplainedEncoder, ImageEncoder, TextEncoder
from hopid.progress import Progress
from hopid.scenetext.fusion import fuse
from hopid.scenetext.lexical import LexicalIndex, query_terms


@dataclass
class EvalResult:
    metrics: dict[str, float]
    per_query: pl.DataFrame
    counts: dict[str, int]
    plan: Plan
    errors: ErrorLog = field(default_factory=lambda: ErrorLog("eval"))
    ocr_engine: str | None = None  # whose OCR words the scene-text score used


def caption_entity_spans(dataset: Dataset, captions: pl.DataFrame) -> list[list[tuple[int, int]]]:
    """Entity spans per caption: from entities.parquet when inferred, else the rule fallback."""
    table = dataset.entities()
    if table is not None and not table.is_empty():
        spans: dict[str, list[tuple[int, int]]] = {}
        for row in table.iter_rows(named=True):
            spans.setdefault(row["caption_id"], []).append((row["start"], row["end"]))
        return [spans.get(cid, []) for cid in captions["caption_id"].to_list()]
    from hopid.entities.infer import infer_texts

    return [[(e.start, e.end) for e in found] for found in infer_texts(captions["text"].to_list())]


def embed_images(
    encoder: ImageEncoder,
    dataset: Dataset,
    images: pl.DataFrame,
    errors: ErrorLog,
    progress: Progress | None,
    batch_size: int = 64,
    ocr: pl.DataFrame | None = None,
) -> np.ndarray:
    """Image vectors in row order; an unreadable image gets a zero vector and an errors row.
    ``ocr`` rows are given to an encoder that reads scene text."""
    paths = images["path"].to_list()
    image_ids = images["image_id"].to_list()
    tokens_of = None
    if ocr is not None and encoder.needs_ocr:
        from hopid.models.inputs import tokens_by_image

        tokens_of = tokens_by_image(ocr)
    vectors = np.zeros((len(paths), encoder.dim), dtype=np.float32)
    for start in range(0, len(paths), batch_size):
        batch, rows = [], []
        for row in range(start, min(start + batch_size, len(paths))):
            try:
                batch.append(load_rgb(dataset.image_path(paths[row])))
                rows.append(row)
            except ImageLoadError as exc:
                errors.add(paths[row], str(exc))
        if batch:
            tokens = [tokens_of.get(image_ids[r], []) for r in rows] if tokens_of is not None else None
            vectors[rows] = encoder.encode_images(batch, tokens)
        if progress:
            progress("images", min(start + batch_size, len(paths)), len(paths))
    return vectors


def embed_texts(encoder: TextEncoder, texts: list[str], progress: Progress | None, batch_size: int = 256) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch_size):
        parts.append(encoder.encode_texts(texts[start : start + batch_size]))
        if progress:
            progress("captions", min(start + batch_size, len(texts)), len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)


def scene_text_scores(
    ocr: pl.DataFrame, image_ids: list[str], texts: list[str], spans: list[list[tuple[int, int]]]
) -> np.ndarray:
    """Texts x images lexical scene-text scores, given each text's entity spans (the OCR engine's
    confidences included, as an index's scores have them)."""
    lexical = LexicalIndex.from_table(image_ids, ocr)
    return np.stack([lexical.score(query_terms(text, span)).scores for text, span in zip(texts, spans, strict=True)])


def evaluate(
    dataset: Dataset,
    encoder: ImageEncoder,
    *,
    split: str | None = "test",
    subset: str | None = None,
    folds: int | None = None,
    dense_only: bool = False,
    alpha: float | None = None,
    ocr_engine: str | None = None,
    rerank: str | None = None,
    rerank_k: int | None = None,
    rerank_beta: float | None = None,
    explained: bool = False,
    progress: Progress | None = None,
) -> EvalResult:
    """The published protocol (docs/datasets.md#protocols) that the dataset's benchmark card names (identity metrics for
    the person and fine-grained sets, caption R@K for the others; ``subset`` may name a variant
    such as ``ctc1k`` or ``coco1k``). A folder without a card gets caption R@K, plus the identity
    metrics when every image of the split has an ``object_id``. ``explained``: queries are
    enhanced by their captions' explanations (a run trained with EntityCLIP's experts)."""
    chosen = plan(dataset.benchmark(), subset, folds)
    images, captions = dataset.split(split, chosen.subset)
    if captions.is_empty():
        raise HopidError(f"{dataset.root}: split {split!r} has no captions to evaluate")
    errors = ErrorLog("eval")
    image_row = {image_id: row for row, image_id in enumerate(images["image_id"].to_list())}
    caption_image = np.asarray([image_row[i] for i in captions["image_id"].to_list()], dtype=np.int64)
    uses_ocr = encoder.needs_ocr or not dense_only
    engine = dataset.ocr_engine(ocr_engine) if uses_ocr else None
    ocr = dataset.ocr(engine) if uses_ocr else None
    image_vectors = embed_images(encoder, dataset, images, errors, progress, ocr=ocr)
    if explained:
        if not isinstance(encoder, ExplainedEncoder):
            raise HopidError("explained queries need a trained run (EntityCLIP's explanation experts)")
        given = captions["explanation"].to_list() if "explanation" in captions.columns else [None] * captions.height
        caption_vectors = encoder.encode_explained(captions["text"].to_list(), given)
    else:
        caption_vectors = embed_texts(encoder, captions["text"].to_list(), progress)
    scores = caption_vectors @ image_vectors.T
    if not dense_only:
        texts = captions["text"].to_list()
        if isinstance(encoder, EntityEncoder):  # a trained run infers entities with its own tagger
            spans = [[(e.start, e.end) for e in found] for found in encoder.entities(texts)]
        else:
            spans = caption_entity_spans(dataset, captions)
        lexical = scene_text_scores(ocr, images["image_id"].to_list(), texts, spans)
        scores = fuse(scores, lexical, encoder.fusion_alpha if alpha is None else alpha)
    object_ids, where = images["object_id"].to_list(), str(dataset.root)
    if rerank is None:
        metrics = protocol_metrics(chosen, scores, caption_image, object_ids, where)
    else:  # each direction re-ranked from its own queries' top-k, profiles computed once per side
        from hopid.search.rerank import rerank_setting, rerank_top_k

        k, beta, query = rerank_setting(encoder, rerank, rerank_k, rerank_beta, fused=not dense_only)
        of_captions = encoder.reference_profiles(caption_vectors)
        of_images = encoder.reference_profiles(image_vectors)
        forward = rerank_top_k(scores, of_captions, of_images, k, beta, query=query)
        metrics = protocol_metrics(chosen, forward, caption_image, object_ids, where)
        if "rsum" in metrics:  # the caption protocol: image -> text recalls from images' own top-k
            backward = rerank_top_k(scores.T, of_images, of_captions, k, beta, query=query).T
            backward_metrics = protocol_metrics(chosen, backward, caption_image, object_ids, where)
            metrics |= {key: v for key, v in backward_metrics.items() if key.startswith("i2t_")}
            metrics["rsum"] = 100 * sum(v for key, v in metrics.items() if key.startswith(("t2i_r", "i2t_r")))
        scores = forward
    per_query = _per_query(scores, caption_image, images["image_id"].to_list(), captions["caption_id"].to_list())
    counts = {"images": images.height, "captions": captions.height, "errors": len(errors)}
    return EvalResult(metrics, per_query, counts, chosen, errors, engine)


def _per_query(scores: np.ndarray, caption_image: np.ndarray, image_ids: list[str], caption_ids: list[str]):
    t2i = t2i_ranks(scores, caption_image)
    i2t = i2t_ranks(scores, caption_image)
    top_image = scores.argmax(axis=1)
    top_caption = scores.argmax(axis=0)
    return pl.DataFrame(
        {
            "direction": ["t2i"] * len(caption_ids) + ["i2t"] * len(image_ids),
            "query_id": caption_ids + image_ids,
            "first_hit_rank": np.concatenate([t2i, i2t]).astype(np.int32),
            "top1_id": [image_ids[i] for i in top_image] + [caption_ids[i] for i in top_caption],
        }
    )


def evaluate_words(
    dataset: Dataset,
    encoder: ImageEncoder,
    *,
    split: str | None = "test",
    queries: str | None = None,
    ocr_engine: str | None = None,
    dense_only: bool = False,
    alpha: float | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Word retrieval (:mod:`hopid.eval.words`): each query word is ranked against every image of
    the split exactly as ``hopid query WORD`` ranks it (dense score fused with the scene-text
    score of the engine's OCR words), and scored by AP against the ground-truth words."""
    from hopid.data.dataset import GROUNDTRUTH_ENGINE, real_ocr_engine
    from hopid.eval.words import average_precision, build_queries, query_rule
    from hopid.search.searcher import query_entity_spans

    images, _ = dataset.split(split)
    image_ids = images["image_id"].to_list()
    engines = dataset.ocr_engines()
    if GROUNDTRUTH_ENGINE not in engines:
        raise HopidError(
            f"{dataset.root}: word retrieval needs the ground-truth words (OCR engine {GROUNDTRUTH_ENGINE!r}); "
            "prepare the folder with `hopid prepare svt|icdar15`"
        )
    truth = dataset.ocr(GROUNDTRUTH_ENGINE)
    words_of: dict[str, list[str]] = {}
    for image_id, text in truth.select("image_id", "text").iter_rows():
        words_of.setdefault(image_id, []).append(text)
    rule, top = query_rule(dataset.benchmark(), queries)
    found = build_queries(image_ids, words_of, rule, top)
    if not found:
        raise HopidError(f"{dataset.root}: split {split!r} has no ground-truth words to query")
    engine = ocr_engine or real_ocr_engine(engines)
    ocr = dataset.ocr(engine)
    errors = ErrorLog("eval")
    image_vectors = embed_images(encoder, dataset, images, errors, progress, ocr=ocr)
    texts = [q.word for q in found]
    scores = embed_texts(encoder, texts, progress) @ image_vectors.T  # dense, then fused as a query is
    if not dense_only:
        lexical = scene_text_scores(ocr, image_ids, texts, query_entity_spans(encoder, texts))
        scores = fuse(scores, lexical, encoder.fusion_alpha if alpha is None else alpha)
    precisions = [average_precision(scores[row], q.relevant) for row, q in enumerate(found)]
    per_query = pl.DataFrame(
        {
            "direction": ["t2i"] * len(found),
            "query_id": texts,
            "first_hit_rank": [rank_of(scores[row], np.asarray(q.relevant)) for row, q in enumerate(found)],
            "top1_id": [image_ids[i] for i in scores.argmax(axis=1)],
            "query": texts,
            "n_relevant": [len(q.relevant) for q in found],
            "ap": precisions,
        }
    )
    metrics = {"map": float(np.mean(precisions)), "queries": float(len(found))}
    counts = {"images": images.height, "queries": len(found), "errors": len(errors)}
    return EvalResult(metrics, per_query, counts, Plan(WORDS, None, None, ""), errors, engine)
