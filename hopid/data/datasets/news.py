"""News image–caption sets, with the article text as ``context`` (for EntityCLIP).

- N24News: ``nytimes_dataset.json`` (no split: all ``test``) or ``nytimes_train.json``,
  ``nytimes_dev.json``/``nytimes_val.json``, ``nytimes_test.json``: items with ``section, headline,
  abstract, caption, image_id, article_url[, body]``; images at ``images/{image_id}.jpg``.
- GoodNews: ``captioning_dataset.json``: article id -> ``{images: {ix: caption}, article, headline?}``;
  image files ``{article}_{ix}.jpg``; split from ``img_splits.json`` (split -> list of image ids)
  when present, else every item is ``test`` (with a note).
- VisualNews: ``origin/data.json``: ``[{id, caption, topic, source, image_path, article_path}]``,
  no split (all ``test``); the article text is read from ``article_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hopid.data.datasets.base import Collected, ImageFinder, list_of, load_json
from hopid.errors import HopidError

N24_SPLIT_FILES = {
    "train": ["nytimes_train.json"],
    "val": ["nytimes_dev.json", "nytimes_val.json"],
    "test": ["nytimes_test.json"],
}


def _context(*parts: Any) -> str | None:
    text = "\n\n".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())
    return text or None


def _headline(article: dict) -> Any:
    headline = article.get("headline")
    return headline.get("main") if isinstance(headline, dict) else headline


def convert_n24news(root: Path, out: Path, images: Path | None = None) -> Collected:
    sources = [(split, root / n) for split, names in N24_SPLIT_FILES.items() for n in names if (root / n).is_file()]
    collected = Collected("n24news", out)
    if not sources:
        path, _ = load_json(root, ["nytimes_dataset.json"])
        sources = [("test", path)]
        collected.notes.append("nytimes_dataset.json carries no split: every item is test")
    finder = ImageFinder(root, images, ["images", "imgs"])
    for split, path in sources:
        _, data = load_json(root, [path.name])
        for index, item in enumerate(list_of(path, data, "a JSON list of news items")):
            where = f"{path.name}[{index}]"
            try:
                image_id, caption = str(item["image_id"]), item["caption"]
            except (KeyError, TypeError):
                collected.errors.add(where, "malformed item (needs image_id and caption)")
                continue
            context = _context(item.get("headline"), item.get("abstract"), item.get("body"))
            collected.add_example(image_id, finder.find(f"{image_id}.jpg"), split, None, [caption], where, context)
    return collected


def convert_goodnews(root: Path, out: Path, images: Path | None = None) -> Collected:
    path, articles = load_json(root, ["captioning_dataset.json"])
    if not isinstance(articles, dict):
        raise HopidError(f"{path}: expected a JSON object of article id -> article")
    collected = Collected("goodnews", out)
    split_of: dict[str, str] = {}
    if (root / "img_splits.json").is_file():
        _, splits = load_json(root, ["img_splits.json"])
        for split, ids in splits.items() if isinstance(splits, dict) else []:
            for image_id in ids or []:
                split_of[str(image_id)] = "val" if split in ("val", "valid", "dev") else str(split)
    else:
        collected.notes.append("img_splits.json absent: every item is test")
    finder = ImageFinder(root, images, ["resized", "images", "imgs"])
    for article_id, article in articles.items():
        where = f"{path.name}[{article_id}]"
        pictures = article.get("images") if isinstance(article, dict) else None
        if not isinstance(pictures, dict):
            collected.errors.add(where, "malformed article (needs an images mapping)")
            continue
        context = _context(_headline(article), article.get("article"))
        for ix, caption in pictures.items():
            image_id = f"{article_id}_{ix}"
            split = split_of.get(image_id, "test" if not split_of else "")
            if not split:
                collected.errors.add(image_id, "image in no split of img_splits.json")
                continue
            collected.add_example(image_id, finder.find(f"{image_id}.jpg"), split, None, [caption], where, context)
    return collected


def convert_visualnews(root: Path, out: Path, images: Path | None = None) -> Collected:
    base = root / "origin" if (root / "origin" / "data.json").is_file() else root
    path, data = load_json(base, ["data.json"])
    items = list_of(path, data, "a JSON list of news items")
    collected = Collected("visualnews", out)
    collected.notes.append("VisualNews' data.json carries no split: every item is test")
    finder = ImageFinder(base, images, ["images"])
    for index, item in enumerate(items):
        where = f"{path.name}[{index}]"
        try:
            image_id, caption, reference = str(item["id"]), item["caption"], str(item["image_path"])
        except (KeyError, TypeError):
            collected.errors.add(where, "malformed item (needs id, caption, image_path)")
            continue
        article = base / str(item.get("article_path") or "")
        context = None
        if item.get("article_path") and article.is_file():
            context = article.read_text(encoding="utf-8", errors="replace")
        collected.add_example(image_id, finder.find(reference), "test", None, [caption], where, context)
    return collected
