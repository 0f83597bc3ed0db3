"""TextCaps (``TextCaps_0.1_{train,val}.json``: ``{dataset_type, data: [one entry per caption]}``).

Entries carry ``image_id``, ``image_path``, ``caption_id``, ``caption_str``. Test captions are
withheld, so the released val split becomes ``test``. Rosetta OCR comes from the TextVQA OCR
JSONs when present (``data: [{image_id, ocr_tokens, ocr_info: [{word, bounding_box}]}]``, boxes
normalised ``top_left_x, top_left_y, width, height``), with ``engine = rosetta``.
"""

from __future__ import annotations

from pathlib import Path

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, list_of, load_json, pixel_box

SPLITS = {"train": "train", "val": "test"}
OFFICIAL = {"train": {"images": 21_953, "captions": 109_765}, "test": {"images": 3_166, "captions": 15_830}}
OCR_FILES = "TextVQA_Rosetta_OCR_*.json"  # v0.2 train, val (and test) as released
ENGINE = "rosetta"


def convert_textcaps(root: Path, out: Path, images: Path | None = None) -> Collected:
    found = [(s, root / f"TextCaps_0.1_{s}.json") for s in SPLITS if (root / f"TextCaps_0.1_{s}.json").is_file()]
    if not found:
        raise HopidError(f"{root}: TextCaps_0.1_train.json or TextCaps_0.1_val.json not found; is ROOT TextCaps?")
    finder = ImageFinder(root, images, ["train_images", "images", "train_val_images"])
    collected = Collected("textcaps", out)
    collected.notes.append("TextCaps withholds its test captions: the released val split is prepared as test")
    for released, _ in found:
        path, data = load_json(root, [f"TextCaps_0.1_{released}.json"])
        for index, entry in enumerate(list_of(path, data, "a JSON object with a 'data' list", "data")):
            where = f"{path.name}:data[{index}]"
            try:
                image_id, reference, caption = str(entry["image_id"]), str(entry["image_path"]), entry["caption_str"]
            except (KeyError, TypeError):
                collected.errors.add(where, "malformed entry (needs image_id, image_path, caption_str)")
                continue
            collected.add_example(image_id, finder.find(reference), SPLITS[released], None, [caption], where)
    collected.check_sizes(OFFICIAL)
    collected.extra_tables["ocr"] = _rosetta(root, collected)
    return collected


def _rosetta(root: Path, collected: Collected) -> list[dict]:
    rows: list[dict] = []
    tokens_of: dict[str, int] = {}
    files = sorted(root.glob(OCR_FILES))
    if not files:
        collected.notes.append("no TextVQA Rosetta OCR file: run `hopid ocr` on the dataset to read the scene text")
    for path in files:
        _, data = load_json(root, [path.name])
        for index, entry in enumerate(data.get("data", []) if isinstance(data, dict) else []):
            image_id = str(entry.get("image_id")) if isinstance(entry, dict) else None
            if image_id not in collected.images:
                continue
            for word in entry.get("ocr_info") or []:
                try:
                    box = word["bounding_box"]
                    x, y = float(box["top_left_x"]), float(box["top_left_y"])
                    w, h = float(box["width"]), float(box["height"])
                    text = str(word["word"]).strip()
                except (KeyError, TypeError, ValueError):
                    collected.errors.add(f"{path.name}:data[{index}]", "malformed ocr_info entry")
                    continue
                if text:
                    quad = pixel_box([x, y, x + w, y, x + w, y + h, x, y + h], 1, 1)
                    tokens_of[image_id] = tokens_of.get(image_id, 0) + 1
                    rows.append(
                        {
                            "image_id": image_id,
                            "token_index": tokens_of[image_id] - 1,
                            "text": text,
                            "confidence": 1.0,
                            "box": quad,
                            "engine": ENGINE,
                        }
                    )
    return rows
