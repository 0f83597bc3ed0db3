"""Retrieval examples in both directions, like the paper's figures: text -> image rows with the
right image framed in green, image -> text rows with the right captions in green, successes
and failures (a failure row also shows where the right answer ranked)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hopid.data.dataset import Dataset
from hopid.data.schema import read_table, table_path
from hopid.errors import HopidError
from hopid.eval.metrics import i2t_ranks, t2i_ranks
from hopid.viz.canvas import RIGHT, WRONG, bare, frame, new_figure, open_image, save_png, shorten, thumbnail
from hopid.viz.scores import Embedded, embed, fused_scores, split_tables

DIRECTIONS = ("t2i", "i2t")
THUMB = 192


@dataclass
class Ranked:
    """A split's captions x images scores and what each query found."""

    dataset: Dataset
    embedded: Embedded
    scores: np.ndarray  # captions x images
    ranks: pl.DataFrame  # direction, query_id, first_hit_rank


def rank_split(
    dataset: Dataset, encoder, split: str = "test", *, dense_only: bool = False, ocr_engine: str | None = None
) -> Ranked:
    """Score every caption of ``split`` against every image, as ``hopid eval`` does."""
    images, captions = split_tables(dataset, split)
    embedded = embed(dataset, encoder, images, captions, dense_only=dense_only, ocr_engine=ocr_engine)
    scores = fused_scores(dataset, encoder, embedded, dense_only=dense_only)
    caption_image = embedded.caption_image
    ranks = pl.DataFrame(
        {
            "direction": ["t2i"] * captions.height + ["i2t"] * images.height,
            "query_id": captions["caption_id"].to_list() + images["image_id"].to_list(),
            "first_hit_rank": np.concatenate([t2i_ranks(scores, caption_image), i2t_ranks(scores, caption_image)]),
        }
    )
    return Ranked(dataset, embedded, scores, ranks)


def default_per_query(dataset: Dataset, split: str) -> Path:
    """Where ``hopid eval`` writes a split's per-query results by default."""
    return table_path(dataset.root / "eval" / split, "per_query")


def load_per_query(path: str | Path | None) -> pl.DataFrame | None:
    """A ``per_query.parquet`` of ``hopid eval``, or None when ``path`` is None or absent."""
    if path is None or not Path(path).is_file():
        return None
    return read_table(Path(path), "per_query")


def choose_queries(
    ranks: pl.DataFrame, direction: str, n: int, seed: int = 0, failures: float = 0.5
) -> list[tuple[str, int]]:
    """``n`` random ``(query_id, first_hit_rank)`` of one direction: about ``failures`` of them
    failures (rank > 1) when there are any, successes first."""
    rows = ranks.filter((pl.col("direction") == direction) & (pl.col("first_hit_rank") > 0))
    rng = np.random.default_rng(seed)
    good = rows.filter(pl.col("first_hit_rank") == 1)
    bad = rows.filter(pl.col("first_hit_rank") > 1)
    n_bad = min(bad.height, max(1, round(n * failures)) if n > 1 else 0)
    n_good = min(good.height, n - n_bad)
    n_bad = min(bad.height, n - n_good)

    def pick(table: pl.DataFrame, count: int) -> list[tuple[str, int]]:
        chosen = sorted(rng.choice(table.height, size=count, replace=False).tolist()) if count else []
        return [(table["query_id"][i], int(table["first_hit_rank"][i])) for i in chosen]

    return pick(good, n_good) + pick(bad, n_bad)


def _wrap(text: str, width: int, lines: int) -> str:
    wrapped = textwrap.wrap(text, width) or [""]
    return "\n".join(
        wrapped[: lines - 1] + [shorten(" ".join(wrapped[lines - 1 :]), width)] if len(wrapped) > lines else wrapped
    )


def _show_image(axes, path: Path, color: str | None, label: str) -> None:
    try:
        axes.imshow(thumbnail(open_image(path), THUMB))
    except HopidError:
        axes.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=axes.transAxes)
    if color:
        frame(axes, color)
    else:
        bare(axes)
    axes.set_title(label, fontsize=8, color=color or "black")


def text_to_image(ranked: Ranked, queries: Sequence[tuple[str, int]], out: str | Path, k: int = 5) -> Path:
    """One row per caption: the caption, its top-``k`` images (the right one framed green), and
    for a failure the right image in red with its rank."""
    emb = ranked.embedded
    row_of = {c: i for i, c in enumerate(emb.captions["caption_id"].to_list())}
    paths = emb.images["path"].to_list()
    figure = new_figure(2.6 + 1.7 * (k + 1), 2.0 * len(queries) + 0.5)
    figure.suptitle("text → image: top results (green frame = the image the caption describes)", fontsize=11)
    grid = figure.add_gridspec(
        len(queries),
        k + 2,
        width_ratios=[1.6] + [1] * (k + 1),
        top=1 - 0.45 / (2.0 * len(queries) + 0.5),
        bottom=0.02,
        left=0.01,
        right=0.99,
        wspace=0.08,
        hspace=0.35,
    )
    for r, (caption_id, _) in enumerate(queries):
        row = row_of[caption_id]
        right = int(emb.caption_image[row])
        scores = ranked.scores[row]
        order = np.lexsort((np.arange(len(scores)), -scores))
        rank = int(np.flatnonzero(order == right)[0]) + 1
        label = figure.add_subplot(grid[r, 0])
        bare(label)
        verdict = "✓ found at rank 1" if rank == 1 else f"✗ right image at rank {rank}"
        label.text(
            0,
            0.5,
            _wrap(emb.captions["text"][row], 30, 6),
            fontsize=9,
            va="center",
            ha="left",
            transform=label.transAxes,
        )
        label.text(0, 0.02, verdict, fontsize=8, color=RIGHT if rank == 1 else WRONG, transform=label.transAxes)
        for c, image in enumerate(order[:k].tolist()):
            color = RIGHT if image == right else None
            _show_image(
                figure.add_subplot(grid[r, c + 1]),
                ranked.dataset.image_path(paths[image]),
                color,
                f"#{c + 1}  {scores[image]:.2f}",
            )
        if rank > k:
            _show_image(
                figure.add_subplot(grid[r, k + 1]),
                ranked.dataset.image_path(paths[right]),
                WRONG,
                f"right one: #{rank}",
            )
    return save_png(figure, out)


def image_to_text(ranked: Ranked, queries: Sequence[tuple[str, int]], out: str | Path, k: int = 5) -> Path:
    """One row per image: the image and its top-``k`` captions (its own captions in green), and
    for a failure its best own caption in red with its rank."""
    emb = ranked.embedded
    row_of = {i: r for r, i in enumerate(emb.images["image_id"].to_list())}
    texts = emb.captions["text"].to_list()
    figure = new_figure(12, 2.1 * len(queries) + 0.5)
    figure.suptitle("image → text: top captions (green = a caption of this image)", fontsize=11)
    grid = figure.add_gridspec(
        len(queries),
        2,
        width_ratios=[1, 5.2],
        top=1 - 0.45 / (2.1 * len(queries) + 0.5),
        bottom=0.02,
        left=0.01,
        right=0.99,
        wspace=0.03,
        hspace=0.3,
    )
    for r, (image_id, _) in enumerate(queries):
        image = row_of[image_id]
        own = emb.caption_image == image
        scores = ranked.scores[:, image]
        order = np.lexsort((np.arange(len(scores)), -scores))
        own_ranks = np.flatnonzero(own[order]) + 1
        rank = int(own_ranks[0]) if len(own_ranks) else 0
        _show_image(
            figure.add_subplot(grid[r, 0]),
            ranked.dataset.image_path(emb.images["path"][image]),
            None,
            shorten(image_id, 24),
        )
        axes = figure.add_subplot(grid[r, 1])
        bare(axes)
        lines = [
            (
                f"#{i + 1}  {scores[c]:.2f}  {'✓' if own[c] else '✗'}  {shorten(texts[c], 95)}",
                RIGHT if own[c] else "black",
            )
            for i, c in enumerate(order[:k].tolist())
        ]
        if rank > k:
            best = int(order[rank - 1])
            lines.append(
                (f"#{rank}  {scores[best]:.2f}  ✓  {shorten(texts[best], 95)}   ← its best own caption", WRONG)
            )
        for i, (line, color) in enumerate(lines):
            axes.text(
                0.01,
                0.92 - i * 0.16,
                line,
                fontsize=8.5,
                color=color,
                va="top",
                transform=axes.transAxes,
                fontweight="bold" if color != "black" else "normal",
            )
    return save_png(figure, out)


def retrieval_figures(
    ranked: Ranked,
    out_dir: str | Path,
    *,
    queries: Sequence[str] = (),
    per_query: pl.DataFrame | None = None,
    n: int = 4,
    k: int = 5,
    seed: int = 0,
) -> list[Path]:
    """``t2i.png`` and ``i2t.png`` in ``out_dir``. ``queries`` (caption ids draw text -> image
    rows, image ids image -> text rows) picks the rows; else ``n`` random queries per direction,
    about half of them failures, taken from ``per_query`` (``hopid eval``'s) when given, else
    from the ranks computed here."""
    out_dir = Path(out_dir)
    emb = ranked.embedded
    ids = {"t2i": emb.captions["caption_id"].to_list(), "i2t": emb.images["image_id"].to_list()}
    chosen: dict[str, list[tuple[str, int]]] = {d: [] for d in DIRECTIONS}
    if queries:
        known = {d: set(v) for d, v in ids.items()}
        for query in queries:
            direction = next((d for d in DIRECTIONS if query in known[d]), None)
            if direction is None:
                raise HopidError(f"--query {query!r}: no caption or image with this id in the split")
            chosen[direction].append((query, 0))
    else:
        source = ranked.ranks
        if per_query is not None:
            usable = per_query.filter(pl.col("query_id").is_in(ids["t2i"] + ids["i2t"]))
            source = usable.select("direction", "query_id", "first_hit_rank") if not usable.is_empty() else source
        for direction in DIRECTIONS:
            chosen[direction] = choose_queries(source, direction, n, seed)
    drawers = {"t2i": text_to_image, "i2t": image_to_text}
    return [drawers[d](ranked, chosen[d], out_dir / f"{d}.png", k) for d in DIRECTIONS if chosen[d]]
