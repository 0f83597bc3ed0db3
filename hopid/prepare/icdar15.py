"""ICDAR 2015 Incidental Scene Text (Robust Reading Challenge 4), word boxes and transcriptions.

Either the official ground truth, one ``gt_img_N.txt`` per image ``img_N.jpg`` (UTF-8, maybe with
a BOM; lines ``x1,y1,…,x4,y4,transcription``, the transcription may hold commas), in folders like
``ch4_training_localization_transcription_gt/`` and ``Challenge4_Test_Task1_GT/``; or PaddleOCR
label files (``*label*.txt``: ``path<TAB>[{"transcription", "points": [[x, y] × 4]}]``). A folder
or label file with ``test`` in its name is the test split, else train. ``###`` marks an illegible
box, which is skipped. Train and test both number their images ``img_1.jpg``…: ``image_id`` is
the file name for train and ``test/`` + the file name for test. The words become ground-truth
OCR (``engine = groundtruth``) for the word-retrieval protocol; there are no captions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, groundtruth_rows, pixel_box

OFFICIAL = {"train": {"images": 1_000}, "test": {"images": 500}}
ILLEGIBLE = "###"
GT_FILES = "gt_img_*.txt"
LABEL_FILES = "*label*.txt"

Entry = tuple[str, str, str, list[tuple[str, list[float]]]]  # split, image reference, where, (text, pixel quad)


def split_of(name: str) -> str:
    return "test" if "test" in name.lower() else "train"


def convert_icdar15(root: Path, out: Path, images: Path | None = None) -> Collected:
    collected = Collected("icdar15", out)
    gt_files = sorted(root.rglob(GT_FILES), key=lambda p: (str(p.parent), len(p.name), p.name))
    labels = sorted(root.rglob(LABEL_FILES))
    if gt_files:
        entries = _official(gt_files, collected)
        if labels:
            collected.notes.append(f"official gt_img_N.txt files used; ignored {', '.join(p.name for p in labels)}")
    elif labels:
        entries = _paddle(labels, collected)
    else:
        raise HopidError(
            f"{root}: neither gt_img_N.txt files nor a PaddleOCR *label*.txt found; is ROOT the ICDAR 2015 release?"
        )
    finders: dict[str, ImageFinder] = {}
    rows: list[dict] = []
    skipped = 0
    for split, reference, where, words in entries:
        finder = finders.setdefault(split, _finder(root, images, split))
        image_id = Path(reference).name if split == "train" else f"test/{Path(reference).name}"
        if image_id in collected.images:
            collected.errors.add(where, f"image {image_id} is listed twice")
            continue
        if not collected.add_image(image_id, finder.find(reference), split, None, where):
            continue
        legible = [(text, quad) for text, quad in words if text.strip() != ILLEGIBLE]
        skipped += len(words) - len(legible)
        size = collected.images[image_id]["width"], collected.images[image_id]["height"]
        rows += groundtruth_rows(image_id, [(text, pixel_box(quad, *size)) for text, quad in legible])
    if skipped:
        collected.notes.append(f"{skipped:,} illegible boxes ({ILLEGIBLE}) skipped")
    collected.check_sizes(OFFICIAL)
    collected.extra_tables["ocr"] = rows
    return collected


def _finder(root: Path, images: Path | None, split: str) -> ImageFinder:
    """The split's own image folder (``ch4_training_images``, ``ch4_test_images``…) when there is
    one, since both splits reuse the same file names; else any image under ROOT (or ``--images``)."""
    for folder in sorted(d for d in (images or root).rglob("*") if d.is_dir()):
        name = folder.name.lower()
        if ("image" in name or "img" in name) and ("test" in name or "train" in name) and split_of(name) == split:
            return ImageFinder(folder, None)
    return ImageFinder(root, images, ["images", "imgs"])


def _official(files: list[Path], collected: Collected) -> Iterator[Entry]:
    for path in files:
        where = f"{path.parent.name}/{path.name}"
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            collected.errors.add(where, f"unreadable ground-truth file ({exc})")
            continue
        words = []
        for number, line in enumerate(lines, start=1):
            parts = line.split(",", 8)
            try:
                quad = [float(v) for v in parts[:8]]
            except ValueError:
                quad = []
            if len(parts) < 9 or len(quad) < 8 or not parts[8]:
                if line.strip():
                    collected.errors.add(f"{where}:{number}", "malformed line (needs x1,y1,...,x4,y4,transcription)")
                continue
            words.append((parts[8], quad))
        yield split_of(path.parent.name), path.name.removeprefix("gt_").removesuffix(".txt") + ".jpg", where, words


def _paddle(files: list[Path], collected: Collected) -> Iterator[Entry]:
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise HopidError(f"{path}: not readable UTF-8 text ({exc})") from exc
        for number, line in enumerate(lines, start=1):
            where = f"{path.name}:{number}"
            reference, _, labels = line.partition("\t")
            try:
                entries = json.loads(labels)
            except json.JSONDecodeError:
                entries = None
            if not reference.strip() or not isinstance(entries, list):
                if line.strip():
                    collected.errors.add(where, "malformed line (needs path<TAB>JSON list of labels)")
                continue
            words = []
            for index, entry in enumerate(entries):
                word = _label(entry)
                if word is None:
                    collected.errors.add(f"{where}[{index}]", "malformed label (needs transcription and 4 points)")
                else:
                    words.append(word)
            yield split_of(path.name), reference.strip(), where, words


def _label(entry: Any) -> tuple[str, list[float]] | None:
    """``(transcription, pixel quad)`` of one PaddleOCR label, None when malformed."""
    try:
        text, points = entry["transcription"], entry["points"]
        quad = [float(v) for x, y in points for v in (x, y)]
    except (KeyError, TypeError, ValueError):
        return None
    return (text, quad) if isinstance(text, str) and text and len(quad) == 8 else None
