"""CTC built from its sources: COCO captions JSON + COCO-Text v2 JSON + image-id lists per split.

- captions: ``captions_train2014.json``/``captions_val2014.json`` (under ROOT or ``annotations/``):
  ``{images: [{id, file_name, width, height}], annotations: [{image_id, caption}]}``;
- scene text: ``cocotext.v2.json``: ``{imgs: {id: {file_name, width, height}}, anns: {id: {image_id,
  bbox: [x, y, w, h], utf8_string, legibility}}}``; legible words with text become ``ocr.parquet``
  rows with ``engine = groundtruth`` (human annotations: eval says so, and prefers a real engine's
  reading once ``hopid ocr`` has made one);
- splits: files whose name holds ``train``, ``1k`` or ``test``/``5k`` listing COCO image ids (one
  per line, or a JSON list). CTC-1K images are ``test`` with ``subset = ctc1k``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hopid.data.dataset import GROUNDTRUTH_ENGINE
from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, list_of, load_json, pixel_box

COCO_TEXT = "cocotext.v2.json"
ENGINE = GROUNDTRUTH_ENGINE  # legible COCO-Text words are human annotations, not an OCR reading


def _id_lists(root: Path) -> dict[str, list[Path]]:
    """Image-id list files by role (train, test, ctc1k), recognised by name."""
    roles: dict[str, list[Path]] = {"train": [], "test": [], "ctc1k": []}
    for path in sorted(root.iterdir()):
        name = path.name.lower()
        if path.suffix.lower() not in (".txt", ".json") or "caption" in name or "cocotext" in name:
            continue
        if "1k" in name:
            roles["ctc1k"].append(path)
        elif "train" in name:
            roles["train"].append(path)
        elif "test" in name or "5k" in name:
            roles["test"].append(path)
    return roles


def _read_ids(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HopidError(f"{path}: not readable JSON ({exc})") from exc
        return [str(v) for v in list_of(path, value, "a JSON list of COCO image ids")]
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def has_coco_sources(root: Path) -> bool:
    return (root / COCO_TEXT).is_file() or (root / "annotations" / COCO_TEXT).is_file()


def convert_ctc_from_coco(collected: Collected, root: Path, images: Path | None) -> set[str]:
    """Fill ``collected`` from the COCO sources; returns the CTC-1K image ids."""
    caption_files = sorted(root.glob("captions_*.json")) + sorted((root / "annotations").glob("captions_*.json"))
    if not caption_files:
        raise HopidError(f"{root}: COCO captions JSON (captions_train2014.json, captions_val2014.json) not found")
    base = root if (root / COCO_TEXT).is_file() else root / "annotations"
    text_path, coco_text = load_json(base, [COCO_TEXT])
    roles = _id_lists(root)
    if not roles["test"] and not roles["ctc1k"]:
        raise HopidError(f"{root}: no CTC test id list (a file named *test* or *5k*, or *1k*)")
    split_of = {i: "train" for p in roles["train"] for i in _read_ids(p)}
    one_k = {i for p in roles["ctc1k"] for i in _read_ids(p)}
    split_of |= {i: "test" for p in roles["test"] for i in _read_ids(p)} | dict.fromkeys(one_k, "test")
    files: dict[str, str] = {}
    captions: dict[str, list[tuple[str, str]]] = {}
    for path in caption_files:
        _, data = load_json(path.parent, [path.name])
        for index, record in enumerate(list_of(path, data, "COCO captions with an 'images' list", "images")):
            if isinstance(record, dict) and "id" in record and "file_name" in record:
                files[str(record["id"])] = str(record["file_name"])
            else:
                collected.errors.add(f"{path.name}:images[{index}]", "malformed image (needs id, file_name)")
        for index, record in enumerate(list_of(path, data, "COCO captions with 'annotations'", "annotations")):
            if isinstance(record, dict) and "image_id" in record and "caption" in record:
                captions.setdefault(str(record["image_id"]), []).append((record["caption"], f"{path.name}[{index}]"))
            else:
                collected.errors.add(f"{path.name}:annotations[{index}]", "malformed caption (needs image_id, caption)")
    finder = ImageFinder(root, images, ["images", "train2014", "val2014", "coco"])
    for image_id, split in split_of.items():
        where = f"image {image_id}"
        if image_id not in files:
            collected.errors.add(where, "listed in a CTC split but absent from the COCO captions JSON")
            continue
        texts = [text for text, _ in captions.get(image_id, [])]
        collected.add_example(image_id, finder.find(files[image_id]), split, None, texts, where)
    collected.extra_tables["ocr"] = _coco_text_rows(collected, text_path, coco_text)
    return one_k & set(collected.images)


def _coco_text_rows(collected: Collected, path: Path, coco_text: Any) -> list[dict]:
    anns = coco_text.get("anns") if isinstance(coco_text, dict) else None
    if not isinstance(anns, dict):
        raise HopidError(f"{path}: expected COCO-Text v2 with an 'anns' object")
    rows: list[dict] = []
    count: dict[str, int] = {}
    for key, ann in anns.items():
        try:
            image_id, text = str(ann["image_id"]), str(ann.get("utf8_string") or "").strip()
            x, y, w, h = (float(v) for v in ann["bbox"])
        except (KeyError, TypeError, ValueError):
            collected.errors.add(f"{path.name}:anns[{key}]", "malformed annotation (needs image_id, bbox [x,y,w,h])")
            continue
        image = collected.images.get(image_id)
        if image is None or not text or ann.get("legibility", "legible") != "legible":
            continue
        box = pixel_box([x, y, x + w, y, x + w, y + h, x, y + h], image["width"], image["height"])
        index = count.get(image_id, 0)
        count[image_id] = index + 1
        rows.append(
            {
                "image_id": image_id,
                "token_index": index,
                "text": text,
                "confidence": 1.0,
                "box": box,
                "engine": ENGINE,
            }
        )
    return rows
