"""A contact sheet (PNG) and an HTML page of search hits: thumbnails with their OCR boxes, the
score split into its dense and scene-text parts, and the query words each image matched."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from hopid.data.images import ImageLoadError, load_rgb
from hopid.scenetext.lexical import ocr_word_matches
from hopid.viz.canvas import BOX, MATCH, bare, draw_boxes, new_figure, save_png, shorten, thumbnail

if TYPE_CHECKING:
    from hopid.search.searcher import Hit, HitWord

THUMB = 256
HTML_THUMB = 320


def _load(path: str) -> Image.Image | None:
    try:
        return load_rgb(path)
    except (ImageLoadError, OSError):
        return None


def score_parts(hit: Hit) -> tuple[float, float]:
    """``(dense, scene-text part)`` of a hit's score: the part is what the scene text added
    (``alpha`` times the lexical score, re-ranking included)."""
    return hit.dense, hit.score - hit.dense


def contact_sheet(
    hits: Sequence[Hit],
    words: Mapping[str, Sequence[HitWord]],
    out: str | Path,
    title: str,
    columns: int = 5,
) -> Path:
    """The top hits as a grid of thumbnails, best first, each with its OCR boxes (words the
    query matched in green, the others in red), its score split into dense + scene text, and
    its matched words."""
    columns = max(1, min(columns, len(hits) or 1))
    rows = max(1, math.ceil(len(hits) / columns))
    figure = new_figure(2.5 * columns, 3.1 * rows + 0.5)
    figure.suptitle(shorten(title, 110), fontsize=11, fontweight="bold")
    grid = figure.add_gridspec(rows, columns, left=0.02, right=0.98, top=1 - 0.5 / (3.1 * rows + 0.5), bottom=0.01)
    if not hits:
        axes = figure.add_subplot(grid[0, 0])
        bare(axes)
        axes.text(0.5, 0.5, "no results", ha="center", va="center", fontsize=12)
    for i, hit in enumerate(hits):
        axes = figure.add_subplot(grid[i // columns, i % columns])
        bare(axes)
        image = _load(hit.path)
        if image is None:
            axes.imshow(Image.new("RGB", (THUMB, THUMB), (200, 200, 200)))
            axes.text(THUMB / 2, THUMB / 2, "unreadable", ha="center", va="center", fontsize=9)
        else:
            small = thumbnail(image, THUMB)
            axes.imshow(small)
            boxes = list(words.get(hit.path, []))
            colors = [MATCH if ocr_word_matches(w.text, hit.matched) else BOX for w in boxes]
            draw_boxes(axes, [w.box for w in boxes], small.size, colors)
        dense, scene = score_parts(hit)
        axes.set_title(
            f"#{hit.rank}  {shorten(Path(hit.path).name, 22)}\nscore {hit.score:.3f} = {dense:.3f} dense"
            f" + {scene:.3f} text",
            fontsize=8,
        )
        matched = ", ".join(hit.matched) if hit.matched else "no scene-text match"
        axes.set_xlabel(shorten(matched, 34), fontsize=8, color=MATCH if hit.matched else "#666666")
        axes.xaxis.set_label_coords(0.5, -0.02)
    return save_png(figure, out)


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    thumbnail(image, HTML_THUMB).save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _highlight(text: str, matched: Sequence[str]) -> str:
    """``text`` HTML-escaped, each word that stands for a matched word in <mark>."""
    parts = []
    for token in text.split(" "):
        escaped = html.escape(token)
        parts.append(f"<mark>{escaped}</mark>" if matched and ocr_word_matches(token, matched) else escaped)
    return " ".join(parts)


def _svg_boxes(boxes: Sequence[HitWord], matched: Sequence[str]) -> str:
    shapes = []
    for word in boxes:
        points = " ".join(f"{word.box[i]:.4f},{word.box[i + 1]:.4f}" for i in range(0, 8, 2))
        color = MATCH if ocr_word_matches(word.text, matched) else BOX
        shapes.append(f'<polygon points="{points}" stroke="{color}"><title>{html.escape(word.text)}</title></polygon>')
    return '<svg viewBox="0 0 1 1" preserveAspectRatio="none">' + "".join(shapes) + "</svg>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;background:#fafafa}
ol{display:flex;flex-wrap:wrap;gap:1em;list-style:none;padding:0}
li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em;width:330px}
.thumb{position:relative;display:inline-block;line-height:0}
.thumb img{max-width:320px;max-height:320px}
.thumb svg{position:absolute;inset:0;width:100%;height:100%}
polygon{fill:none;stroke-width:.006}
mark{background:#b9f6ca}
.path{font-size:.8em;color:#555;word-break:break-all}
.score{font-variant-numeric:tabular-nums}
"""


def hits_html(hits: Sequence[Hit], words: Mapping[str, Sequence[HitWord]], out: str | Path, title: str) -> Path:
    """One self-contained HTML page of the hits, best first (thumbnails embedded, linked to the
    files): OCR boxes over each image, score = dense + scene text, matched words marked."""
    out = Path(out)
    items = []
    for hit in hits:
        image = _load(hit.path)
        boxes = list(words.get(hit.path, []))
        picture = (
            f'<span class="thumb"><img src="{_data_uri(image)}" alt="{html.escape(Path(hit.path).name)}">'
            f"{_svg_boxes(boxes, hit.matched)}</span>"
            if image is not None
            else "<p>(unreadable image)</p>"
        )
        dense, scene = score_parts(hit)
        ocr_line = " ".join(_highlight(w.text, hit.matched) for w in boxes) or "<i>no scene text</i>"
        matched = ", ".join(f"<mark>{html.escape(w)}</mark>" for w in hit.matched) or "<i>none</i>"
        uri = Path(hit.path).resolve().as_uri() if Path(hit.path).is_absolute() else html.escape(hit.path)
        items.append(
            f'<li class="hit" data-rank="{hit.rank}" data-path="{html.escape(hit.path, quote=True)}">'
            f"<b>#{hit.rank}</b> {picture}"
            f'<div class="score">score <b>{hit.score:.3f}</b> = {dense:.3f} dense + {scene:.3f} scene text'
            f" (text score {hit.text:.3f})</div>"
            f"<div>matched: {matched}</div><div>OCR: {ocr_line}</div>"
            f'<div class="path"><a href="{uri}">{html.escape(hit.path)}</a></div></li>'
        )
    query_words = sorted({w for hit in hits for w in hit.matched})
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{_highlight(title, query_words)}</h1>"
        f"<p>{len(hits)} result(s), best first. Boxes: scene text read by OCR; "
        f'<span style="color:{MATCH}">green</span> = a word of the query.</p>'
        f"<ol>{''.join(items)}</ol></body></html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
