"""CUB-200-2011 and Oxford Flowers-102 with Reed et al.'s fine-grained captions.

ROOT holds ``text_c10/<class>/<image>.txt`` (10 captions per image, one per line), the class
split files (``trainclasses.txt``, ``valclasses.txt``, ``testclasses.txt``; or
``trainvalclasses.txt`` + ``testclasses.txt``) and the images (CUB: ``images/<class>/<image>.jpg``,
Flowers: ``jpg/<image>.jpg``). The identity is the class; the split is the zero-shot class split.
"""

from __future__ import annotations

from pathlib import Path

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder

OFFICIAL = {
    "cub": {"train": {"identities": 100}, "val": {"identities": 50}, "test": {"identities": 50}},
    "flowers": {"train": {"identities": 62}, "val": {"identities": 20}, "test": {"identities": 20}},
}
USUAL = {"cub": ["images", "CUB_200_2011/images"], "flowers": ["jpg", "images"]}


def class_splits(root: Path) -> dict[str, str]:
    """Class name -> split, from the release's class lists."""
    lists = {"train": "trainclasses.txt", "val": "valclasses.txt", "test": "testclasses.txt"}
    if not (root / lists["train"]).is_file() and (root / "trainvalclasses.txt").is_file():
        lists["train"], lists["val"] = "trainvalclasses.txt", ""
    if not (root / lists["test"]).is_file():
        raise HopidError(f"{root}: testclasses.txt not found; ROOT needs the class split files of Reed et al.")
    split_of = {}
    for split, name in lists.items():
        if name and (root / name).is_file():
            for line in (root / name).read_text().splitlines():
                if line.strip():
                    split_of[line.strip()] = split
    return split_of


def convert_finegrained(name: str, root: Path, out: Path, images: Path | None = None) -> Collected:
    text_dir = root / "text_c10"
    if not text_dir.is_dir():
        raise HopidError(f"{root}: text_c10/ not found; ROOT needs Reed et al.'s caption folders")
    split_of = class_splits(root)
    finder = ImageFinder(root, images, USUAL[name])
    collected = Collected(name, out)
    for class_dir in sorted(p for p in text_dir.iterdir() if p.is_dir()):
        split = split_of.get(class_dir.name)
        if split is None:
            collected.errors.add(class_dir.name, "class in no split list")
            continue
        for caption_file in sorted(class_dir.glob("*.txt")):
            where = f"text_c10/{class_dir.name}/{caption_file.name}"
            image_id = f"{class_dir.name}/{caption_file.stem}"
            found = finder.find(f"{class_dir.name}/{caption_file.stem}.jpg")
            lines = caption_file.read_text(encoding="utf-8", errors="replace").splitlines()
            collected.add_example(
                image_id, found, split, class_dir.name, [line for line in lines if line.strip()], where
            )
    collected.check_sizes(OFFICIAL[name])
    return collected
