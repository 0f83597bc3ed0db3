"""News image–caption sets, with the article text as ``context`` (for EntityCLIP).

- N24News: ``nytimes_dataset.json`` (no split: all ``test``) or ``nytimes_train.json``,
  ``nytimes_dev.json``/``nytimes_val.json``, ``nytimes_test.json``: items with ``section, headline,
  abstract, caption, image_id, article_url[, body]``; images at ``images/{image_id}.jpg``.
- GoodNews: ``captioning_dataset.json`` (or the cleaned ``article+caption.json``): article id ->
  ``{images: {ix: caption}, article, headline?}``; image files ``{article}_{ix}.jpg``; split from
  ``img_splits.json`` when present, else the authors' seed-42 rule (with a note).
- VisualNews: ``origin/data.json``: ``[{id, caption, topic, source, image_path, article_path}]``,
  no split (all ``test``); the article text is read from ``article_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, list_of, load_json

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


GOODNEWS_FILES = ["captioning_dataset.json", "article+caption.json", "article_caption.json"]
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "dev": "val", "test": "test"}


def _image_stem(value: Any) -> str:
    name = str(value).rsplit("/", 1)[-1]
    return name[:-4] if name.lower().endswith(".jpg") else name


def goodnews_splits(path: Path, splits: Any) -> dict[str, str]:
    """``img_splits.json`` as image id -> split. Copies of the file come as image id -> split,
    split -> list of image ids, or a list of ``{image id field, split}`` rows; all three are read."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(splits, dict) and all(isinstance(v, list) for v in splits.values()):
        pairs = [(image, split) for split, images in splits.items() for image in images]
    elif isinstance(splits, dict):
        pairs = list(splits.items())
    elif isinstance(splits, list):
        for row in splits:
            if isinstance(row, dict):
                key = next((k for k in ("image_id", "imgid", "id", "filename") if k in row), None)
                pairs.append((row.get(key), row.get("split")) if key else (None, None))
    out = {_image_stem(image): SPLIT_NAMES.get(str(split).lower(), "") for image, split in pairs if image is not None}
    if not out or "" in out.values():
        raise HopidError(f"{path}: expected image id -> train/val/test (or split -> image ids)")
    return out


def goodnews_seed42_split(count: int) -> list[str]:
    """The GoodNews authors' split when img_splits.json is absent: numpy's legacy generator seeded
    with 42 draws one uniform number per image, in file order; above 0.95 is test, between 0.91
    and 0.95 is val, the rest is train (about 4 % val, 5 % test)."""
    draws = np.random.RandomState(42).uniform(size=count)
    return ["test" if r > 0.95 else "val" if 0.91 < r < 0.95 else "train" for r in draws]


def convert_goodnews(root: Path, out: Path, images: Path | None = None) -> Collected:
    path, articles = load_json(root, GOODNEWS_FILES)
    if not isinstance(articles, dict):
        raise HopidError(f"{path}: expected a JSON object of article id -> article")
    collected = Collected("goodnews", out)
    pictures_of = {}
    for article_id, article in articles.items():
        pictures = article.get("images") if isinstance(article, dict) else None
        if isinstance(pictures, dict):
            pictures_of[article_id] = pictures
        else:
            collected.errors.add(f"{path.name}[{article_id}]", "malformed article (needs an images mapping)")
    ordered = [f"{a}_{ix}" for a, pictures in pictures_of.items() for ix in pictures]
    if (root / "img_splits.json").is_file():
        split_path, splits = load_json(root, ["img_splits.json"])
        split_of = goodnews_splits(split_path, splits)
    else:
        split_of = dict(zip(ordered, goodnews_seed42_split(len(ordered)), strict=True))
        collected.notes.append("img_splits.json absent: split by the authors' seed-42 rule over the file order")
    finder = ImageFinder(root, images, ["resized", "images", "imgs"])
    for article_id, pictures in pictures_of.items():
        where = f"{path.name}[{article_id}]"
        article = articles[article_id]
        context = _context(_headline(article), article.get("article"))
        for ix, caption in pictures.items():
            image_id = f"{article_id}_{ix}"
            if image_id not in split_of:
                collected.errors.add(image_id, "image in no split of img_splits.json")
                continue
            collected.add_example(
                image_id, finder.find(f"{image_id}.jpg"), split_of[image_id], None, [caption], where, context
            )
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
