"""Street View Text (SVT): ``train.xml`` and ``test.xml`` beside ``img/`` as released (or in ``gt/``).

``<tagset><image><imageName>img/14_03.jpg</imageName>…<taggedRectangles><taggedRectangle
x= y= width= height=><tag>LIVING</tag>…``. Images are matched by file name, which is the
``image_id``. The tagged words become ground-truth OCR (``engine = groundtruth``) for the
word-retrieval protocol; there are no captions.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from hopid.errors import HopidError
from hopid.prepare.base import Collected, ImageFinder, groundtruth_rows, pixel_box

SPLITS = {"train.xml": "train", "test.xml": "test"}
FOLDERS = ("", "gt", "svt1")  # where the XML files are looked for under ROOT
OFFICIAL = {"train": {"images": 100}, "test": {"images": 249}}

try:  # defusedxml when installed; the DOCTYPE guard below makes the standard parser safe either way
    from defusedxml.ElementTree import fromstring  # type: ignore[import-not-found]
except ImportError:
    from xml.etree.ElementTree import fromstring


def parse_xml(path: Path) -> ET.Element:
    """The XML's root element; refuses DOCTYPE and ENTITY declarations (no entity expansion)."""

    def refuse(*_: object) -> None:
        raise HopidError(f"{path}: DOCTYPE/ENTITY declarations are not accepted in an annotation file")

    guard = expat.ParserCreate()
    guard.StartDoctypeDeclHandler = refuse
    guard.EntityDeclHandler = refuse
    try:
        data = path.read_bytes()
        guard.Parse(data, True)
        return fromstring(data)
    except (OSError, expat.ExpatError, ET.ParseError, ValueError) as exc:
        raise HopidError(f"{path}: not readable XML ({exc})") from exc


def convert_svt(root: Path, out: Path, images: Path | None = None) -> Collected:
    found = [(root / f / n, s) for f in FOLDERS for n, s in SPLITS.items() if (root / f / n).is_file()]
    if not found:
        raise HopidError(f"{root}: train.xml or test.xml not found in ROOT, ROOT/gt or ROOT/svt1; is ROOT SVT?")
    finder = ImageFinder(root, images, ["img", "images"])
    collected = Collected("svt", out)
    rows: list[dict] = []
    for path, split in found:
        tagset = parse_xml(path)
        if tagset.tag != "tagset":
            raise HopidError(f"{path}: expected a <tagset> of <image> entries (SVT's XML), found <{tagset.tag}>")
        for index, entry in enumerate(tagset.iter("image")):
            where = f"{path.name}:image[{index}]"
            reference = (entry.findtext("imageName") or "").strip()
            if not reference:
                collected.errors.add(where, "malformed entry (no imageName)")
                continue
            image_id = Path(reference).name
            if image_id in collected.images:
                collected.errors.add(where, f"image {image_id} is listed twice")
                continue
            if not collected.add_image(image_id, finder.find(reference), split, None, where):
                continue
            rows += groundtruth_rows(image_id, _words(entry, collected.images[image_id], where, collected))
    collected.check_sizes(OFFICIAL)
    collected.extra_tables["ocr"] = rows
    return collected


def _words(entry: ET.Element, image: dict, where: str, collected: Collected) -> list[tuple[str, list[float]]]:
    """The ``(tag, normalised box)`` of each well-formed tagged rectangle; others are errors."""
    words = []
    for number, rectangle in enumerate(entry.iter("taggedRectangle")):
        item = f"{where}:taggedRectangle[{number}]"
        text = (rectangle.findtext("tag") or "").strip()
        try:
            x, y, w, h = (float(rectangle.attrib[k]) for k in ("x", "y", "width", "height"))
        except (KeyError, ValueError):
            collected.errors.add(item, "malformed rectangle (needs x, y, width, height)")
            continue
        if not text:
            collected.errors.add(item, "empty tag")
            continue
        words.append((text, pixel_box([x, y, x + w, y, x + w, y + h, x, y + h], image["width"], image["height"])))
    return words
