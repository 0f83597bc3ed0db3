"""Text-based person retrieval: CUHK-PEDES (``reid_raw.json``), ICFG-PEDES (``ICFG-PEDES.json`` or
``ICFG_PEDES.json``) and RSTPReid (``data_captions.json``). The identity is ``object_id``.

CUHK/ICFG records: ``{split, captions, file_path, processed_tokens, id}`` (ids from 1);
RSTPReid records: ``{id, img_path, captions, split}`` with images under ``imgs/``. The JSON's
split is the split (ICFG's ``imgs/train`` and ``imgs/test`` folders are not).
"""

from __future__ import annotations

from pathlib import Path

from hopid.prepare.base import Collected, ImageFinder, list_of, load_json

FILES = {
    "cuhk-pedes": ["reid_raw.json", "caption_all.json"],
    "icfg-pedes": ["ICFG-PEDES.json", "ICFG_PEDES.json"],
    "rstpreid": ["data_captions.json"],
}
PATH_FIELD = {"cuhk-pedes": "file_path", "icfg-pedes": "file_path", "rstpreid": "img_path"}
OFFICIAL = {
    "cuhk-pedes": {
        "train": {"images": 34_054, "identities": 11_003},
        "val": {"images": 3_078, "identities": 1_000},
        "test": {"images": 3_074, "identities": 1_000, "captions": 6_156},
    },
    "icfg-pedes": {  # one caption per image
        "train": {"images": 34_674, "identities": 3_102, "captions": 34_674},
        "test": {"images": 19_848, "identities": 1_000, "captions": 19_848},
    },
    "rstpreid": {  # two captions per image
        "train": {"images": 18_505, "identities": 3_701, "captions": 37_010},
        "val": {"images": 1_000, "identities": 200, "captions": 2_000},
        "test": {"images": 1_000, "identities": 200, "captions": 2_000},
    },
}


def convert_pedes(name: str, root: Path, out: Path, images: Path | None = None) -> Collected:
    path, data = load_json(root, FILES[name])
    records = list_of(path, data, "a JSON list of person records")
    finder = ImageFinder(root, images, ["imgs", "images", "CUHK-PEDES/imgs"])
    collected = Collected(name, out)
    field_name = PATH_FIELD[name]
    for index, record in enumerate(records):
        where = f"{path.name}[{index}]"
        try:
            reference = str(record[field_name])
            identity = str(int(record["id"]))
            split = str(record["split"]).lower()
            captions = record["captions"]
            if not isinstance(captions, list):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            collected.errors.add(where, f"malformed record (needs {field_name}, id, split, captions list)")
            continue
        collected.add_example(reference, finder.find(reference), split, identity, captions, where)
    collected.check_sizes(OFFICIAL[name])
    return collected
