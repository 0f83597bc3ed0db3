"""t-SNE maps (scikit-learn) of image and caption embeddings, coloured by identity (the images'
``object_id``) or by scene-text word; one panel per model, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from hopid.data.dataset import Dataset
from hopid.entities.text import fold
from hopid.errors import HopidError
from hopid.viz.canvas import new_figure, save_png, shorten
from hopid.viz.scores import embed, split_tables

COLOR_BY = ("object", "word")
NO_TEXT = "(no scene text)"


def image_groups(dataset: Dataset, images: pl.DataFrame, by: str, ocr_engine: str | None = None) -> list[str]:
    """Each image's group: its ``object_id`` (``object``), or its longest OCR word, folded (``word``)."""
    if by == "object":
        if images["object_id"].null_count() == images.height:
            raise HopidError(f"{dataset.root}: the images have no object_id; colour by word instead (--color-by word)")
        return [o if o is not None else i for o, i in images.select("object_id", "image_id").iter_rows()]
    if by != "word":
        raise HopidError(f"--color-by {by!r}: choose one of {', '.join(COLOR_BY)}")
    longest: dict[str, str] = {}
    for image_id, text in dataset.ocr(ocr_engine).select("image_id", "text").iter_rows():
        key = fold(text)
        if len(key) > len(longest.get(image_id, "")):
            longest[image_id] = key
    return [longest.get(i, NO_TEXT) for i in images["image_id"].to_list()]


def pick_groups(
    labels: Sequence[str], captions_per_image: Sequence[int], groups: int, max_points: int, seed: int = 0
) -> np.ndarray:
    """Rows of the images of up to ``groups`` random groups, fewer when their images and
    captions would pass ``max_points``."""
    names = sorted(set(labels))
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    weight: dict[str, int] = {}
    for label, count in zip(labels, captions_per_image, strict=True):
        weight[label] = weight.get(label, 0) + 1 + count
    kept, points = set(), 0
    for name in order:
        if len(kept) >= groups:
            break
        if kept and points + weight[name] > max_points:
            continue
        kept.add(name)
        points += weight[name]
    return np.asarray([i for i, label in enumerate(labels) if label in kept], dtype=np.int64)


def project(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE coordinates of ``vectors`` (perplexity scaled down for few points). One
    thread: for a few hundred points OpenMP threads only wait on each other (measured 2 s
    with one thread against 28 s with two on a busy two-core machine)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    if len(vectors) < 4:
        raise HopidError(f"t-SNE needs at least 4 points, got {len(vectors)}; choose more groups or another split")
    perplexity = float(min(30.0, (len(vectors) - 1) / 3))
    with threadpool_limits(1):
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500).fit_transform(vectors)


def nearest_image_agreement(
    image_vectors: np.ndarray, caption_vectors: np.ndarray, image_group, caption_group
) -> float:
    """Share of captions whose most similar image (in the model's space) is in their group."""
    nearest = (caption_vectors @ image_vectors.T).argmax(axis=1)
    return float(np.mean(np.asarray(image_group)[nearest] == np.asarray(caption_group)))


def tsne_figure(
    dataset: Dataset,
    models: Sequence[tuple[str, object]],
    out: str | Path,
    *,
    split: str = "test",
    color_by: str = "object",
    groups: int = 12,
    max_points: int = 400,
    seed: int = 0,
    ocr_engine: str | None = None,
) -> Path:
    """One t-SNE panel per ``(name, encoder)`` of the same images (circles) and captions
    (triangles) of ``groups`` random groups of ``split``, coloured by group."""
    if not models:
        raise HopidError("t-SNE: give at least one model")
    images, captions = split_tables(dataset, split)
    labels = image_groups(dataset, images, color_by, ocr_engine)
    counts = dict(captions.group_by("image_id").len().iter_rows())
    rows = pick_groups(labels, [counts.get(i, 0) for i in images["image_id"].to_list()], groups, max_points, seed)
    images = images[rows]
    image_label = [labels[i] for i in rows.tolist()]
    captions = captions.filter(pl.col("image_id").is_in(images["image_id"].implode()))
    label_of = dict(zip(images["image_id"].to_list(), image_label, strict=True))
    caption_label = [label_of[i] for i in captions["image_id"].to_list()]
    names = sorted(set(image_label))
    colour_row = {name: i for i, name in enumerate(names)}
    palette = _palette(len(names))
    figure = new_figure(5.2 * len(models) + (1.8 if len(names) <= 20 else 0), 5.4)
    for panel, (name, encoder) in enumerate(models):
        emb = embed(dataset, encoder, images, captions, dense_only=True, ocr_engine=ocr_engine)
        points = project(np.concatenate([emb.image_vectors, emb.caption_vectors]), seed)
        agreement = nearest_image_agreement(emb.image_vectors, emb.caption_vectors, image_label, caption_label)
        axes = figure.add_subplot(1, len(models), panel + 1)
        n = len(image_label)
        axes.scatter(
            points[n:, 0],
            points[n:, 1],
            s=16,
            marker="^",
            alpha=0.6,
            c=[palette[colour_row[g]] for g in caption_label],
            linewidths=0,
        )
        axes.scatter(
            points[:n, 0],
            points[:n, 1],
            s=48,
            marker="o",
            edgecolors="black",
            linewidths=0.6,
            c=[palette[colour_row[g]] for g in image_label],
        )
        axes.set_title(
            f"{shorten(name, 40)}\ncaption's nearest image in its group: {100 * agreement:.0f} %", fontsize=9
        )
        axes.set_xticks([])
        axes.set_yticks([])
    by = "identity (object_id)" if color_by == "object" else "scene-text word"
    figure.suptitle(f"t-SNE of {split} images (●) and captions (▲), coloured by {by}", fontsize=10)
    if len(names) <= 20:
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], marker="o", linestyle="", color=palette[i], label=shorten(nm, 18))
            for i, nm in enumerate(names)
        ]
        figure.legend(
            handles=handles, loc="center right", fontsize=7, frameon=False, title=by.split(" (")[0], title_fontsize=8
        )
        figure.subplots_adjust(left=0.02, right=1 - 1.8 / figure.get_figwidth(), top=0.86, bottom=0.03, wspace=0.05)
    else:
        figure.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.03, wspace=0.05)
    return save_png(figure, out)


def _palette(n: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]
