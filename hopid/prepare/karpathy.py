"""COCO and Flickr30K in Karpathy's splits (``dataset_coco.json``, ``dataset_flickr30k.json``).

``images: [{filepath?, filename, imgid, split, sentences: [{raw, tokens}], cocoid?}]``;
``restval`` joins train; ``sentences[].raw`` is the caption.
"""

from __future__ import annotations

from pathlib import Path

from hopid.prepare.base import Collected, ImageFinder, list_of, load_json

SPLIT_OF = {"train": "train", "restval": "train", "val": "val", "test": "test"}
OFFICIAL = {
    "coco": {"train": {"images": 113_287}, "val": {"images": 5_000}, "test": {"images": 5_000}},
    "flickr30k": {  # five captions per image
        "train": {"images": 29_000, "captions": 145_000},
        "val": {"images": 1_014, "captions": 5_070},
        "test": {"images": 1_000, "captions": 5_000},
    },
}
FILES = {"coco": ["dataset_coco.json"], "flickr30k": ["dataset_flickr30k.json"]}
USUAL = {"coco": ["images", "coco", "train2014", "val2014"], "flickr30k": ["flickr30k-images", "images"]}


def convert_karpathy(name: str, root: Path, out: Path, images: Path | None = None) -> Collected:
    path, data = load_json(root, FILES[name])
    finder = ImageFinder(root, images, USUAL[name])
    collected = Collected(name, out)
    records = list_of(path, data, "a JSON object with an 'images' list (Karpathy's split format)", "images")
    for index, record in enumerate(records):
        where = f"{path.name}:images[{index}]"
        try:
            filename = str(record["filename"])
            split = SPLIT_OF.get(str(record["split"]), str(record["split"]))
            sentences = [s["raw"] for s in record["sentences"]]
        except (KeyError, TypeError):
            collected.errors.add(where, "malformed record (needs filename, split, sentences[].raw)")
            continue
        reference = f"{record['filepath']}/{filename}" if record.get("filepath") else filename
        image_id = str(record.get("cocoid") or Path(filename).stem)
        collected.add_example(image_id, finder.find(reference), split, None, sentences, where)
    collected.check_sizes(OFFICIAL[name])
    return collected
