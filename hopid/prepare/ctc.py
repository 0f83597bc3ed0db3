"""CTC (COCO-Text Captioned) as released with ViSTA: TSV caption lists plus per-image OCR files.

Lists (tab-separated ``image_id, sent_id, caption, img_path[, ocr_idx]``, an optional header):
``CTC_1K_list_ocr_release.txt`` (CTC-1K), ``CTC_test_ocr.txt`` (CTC-5K, which contains CTC-1K)
and a train list (any ``*train*.txt``). OCR files (in ``ctc_ocr/`` or ``--ocr-dir``) are named by
``ocr_idx`` and hold one word per line: ``x1,y1,x2,y2,x3,y3,x4,y4,text`` in pixels. Both test
lists are ``split == "test"``; ``subset`` marks the CTC-1K images ``ctc1k``. Without these lists,
CTC is built from COCO captions + COCO-Text v2 + id lists (:mod:`hopid.prepare.ctc_coco`).
"""

from __future__ import annotations

from pathlib import Path

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, pixel_box
from hopid.prepare.ctc_coco import convert_ctc_from_coco, has_coco_sources

LIST_1K = "CTC_1K_list_ocr_release.txt"
LIST_5K = "CTC_test_ocr.txt"
SUBSET_1K = "ctc1k"
ENGINE = "ctc-release"
OFFICIAL = {"train": {"images": 5_683, "captions": 28_415}, "test": {"images": 5_000, "captions": 25_000}}


def read_list(path: Path, collected: Collected) -> list[tuple[str, str, str, str | None, str]]:
    """``(image_id, caption, img_path, ocr_idx, where)`` per well-formed line; others are errors."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.rstrip("\n").split("\t")
        where = f"{path.name}:{number}"
        if not line.strip() or (number == 1 and fields[0].strip().lower() == "image_id"):
            continue
        if len(fields) < 4 or not fields[0].strip() or not fields[3].strip():
            collected.errors.add(where, "malformed line (needs image_id, sent_id, caption, img_path[, ocr_idx])")
            continue
        ocr_idx = fields[4].strip() if len(fields) > 4 and fields[4].strip() else None
        rows.append((fields[0].strip(), fields[2], fields[3].strip(), ocr_idx, where))
    return rows


def read_ocr_file(path: Path, image_id: str, width: int, height: int, collected: Collected) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split(",", 8)
        if len(parts) < 9 or not parts[8].strip():
            if line.strip():
                collected.errors.add(f"{path.name}:{number}", "malformed OCR line (needs x1,y1,...,y4,text)")
            continue
        try:
            coords = [float(v) for v in parts[:8]]
        except ValueError:
            collected.errors.add(f"{path.name}:{number}", "OCR coordinates are not numbers")
            continue
        box = pixel_box(coords, width, height)
        rows.append(
            {
                "image_id": image_id,
                "token_index": len(rows),
                "text": parts[8].strip(),
                "confidence": 1.0,
                "box": box,
                "engine": ENGINE,
            }
        )
    return rows


def convert_ctc(root: Path, out: Path, images: Path | None = None, ocr_dir: Path | None = None) -> Collected:
    lists = {"test": root / LIST_5K, "ctc1k": root / LIST_1K}
    train_lists = sorted(p for p in root.glob("*.txt") if "train" in p.name.lower())
    collected = Collected("ctc", out)
    if not lists["test"].is_file() and not lists["ctc1k"].is_file():
        if not has_coco_sources(root):
            raise HopidError(
                f"{root}: neither {LIST_5K} nor {LIST_1K} (ViSTA release) nor cocotext.v2.json with COCO "
                "captions and id lists found; is ROOT the CTC release?"
            )
        _mark_1k(collected, convert_ctc_from_coco(collected, root, images))
        return collected
    finder = ImageFinder(root, images, ["images", "imgs", "train2014", "val2014", "coco"])
    ocr_folder = ocr_dir or root / "ctc_ocr"
    in_1k: set[str] = set()
    ocr_of: dict[str, str | None] = {}
    sources = [(p, "train") for p in train_lists] + [(lists["test"], "test"), (lists["ctc1k"], "test")]
    if not lists["ctc1k"].is_file():
        collected.notes.append(f"{LIST_1K} absent: no CTC-1K subset marked")
    if not train_lists:
        collected.notes.append("no train list (*train*.txt) found: only the test split is prepared")
    seen_captions: set[tuple[str, str]] = set()
    for path, split in sources:
        if not path.is_file():
            continue
        for image_id, caption, img_path, ocr_idx, where in read_list(path, collected):
            if path == lists["ctc1k"]:
                in_1k.add(image_id)
            if not collected.add_image(image_id, finder.find(img_path), split, None, where):
                continue
            ocr_of.setdefault(image_id, ocr_idx)
            if (image_id, caption) not in seen_captions:  # CTC-1K repeats CTC-5K's captions
                seen_captions.add((image_id, caption))
                collected.add_caption(image_id, caption, where)
    _mark_1k(collected, in_1k)
    collected.extra_tables["ocr"] = _read_ocr(collected, ocr_of, ocr_folder)
    return collected


def _mark_1k(collected: Collected, in_1k: set[str]) -> None:
    """Mark the CTC-1K images and check the split sizes against the official ones."""
    for image_id in in_1k & set(collected.images):
        collected.images[image_id]["subset"] = SUBSET_1K
    collected.check_sizes(OFFICIAL)
    if len(in_1k) and len(in_1k) != 1_000:
        collected.notes.append(f"CTC-1K: {len(in_1k):,} images, the official release has 1,000")


def _read_ocr(collected: Collected, ocr_of: dict[str, str | None], folder: Path) -> list[dict]:
    if not folder.is_dir():
        collected.notes.append(f"no OCR folder {folder}: run `hopid ocr` on the dataset to read the scene text")
        return []
    rows: list[dict] = []
    for image_id, ocr_idx in ocr_of.items():
        if ocr_idx is None or image_id not in collected.images:
            continue
        file = next((folder / n for n in (ocr_idx, f"{ocr_idx}.txt") if (folder / n).is_file()), None)
        if file is None:
            collected.errors.add(image_id, f"OCR file {ocr_idx} not found in {folder}")
            continue
        image = collected.images[image_id]
        rows += read_ocr_file(file, image_id, image["width"], image["height"], collected)
    return rows
