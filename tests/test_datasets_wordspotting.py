"""SVT and ICDAR 2015 converters: hand-written fixtures in both layouts of each, and the real
training splits in ../shared/realworld when present."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from PIL import Image
from typer.testing import CliRunner

from hopid.data.dataset import GROUNDTRUTH_ENGINE
from hopid.data.schema import read_table
from hopid_cli.app import app

runner = CliRunner()


def image(path: Path, size: tuple[int, int] = (200, 100)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (40, 90, 200)).save(path)


def prepare(name: str, root: Path, out: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, str]:
    """images, ocr, errors and the command's output of a successful ``hopid prepare``."""
    result = runner.invoke(app, ["prepare", name, str(root), str(out)])
    assert result.exit_code == 0, result.output
    tables = [read_table(out / f"{t}.parquet", t) for t in ("images", "ocr", "errors")]
    assert read_table(out / "captions.parquet", "captions").is_empty()
    assert json.loads((out / "benchmark.json").read_text())["benchmark"] == name
    return *tables, result.output


def words(ocr: pl.DataFrame) -> dict[str, list[str]]:
    """Each image's OCR words in token order."""
    return {i: g.sort("token_index")["text"].to_list() for (i,), g in ocr.group_by("image_id")}


def splits(images: pl.DataFrame) -> dict[str, str]:
    return dict(images.select("image_id", "split").iter_rows())


def box_of(ocr: pl.DataFrame, image_id: str, text: str) -> list[float]:
    row = ocr.filter((pl.col("image_id") == image_id) & (pl.col("text") == text))
    assert row.height == 1
    return row["box"][0].to_list()


def failure(name: str, root: Path, out: Path) -> str:
    result = runner.invoke(app, ["prepare", name, str(root), str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output
    return lines[0]


def svt_xml(*entries: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<tagset>{"".join(entries)}</tagset>\n'


def svt_image(name: str, *rectangles: tuple[str, int, int, int, int]) -> str:
    tagged = "".join(
        f'<taggedRectangle height="{h}" width="{w}" x="{x}" y="{y}"><tag>{tag}</tag></taggedRectangle>'
        for tag, x, y, w, h in rectangles
    )
    return (
        f"<image><imageName>{name}</imageName><address>1 Main St</address><lex>A,B</lex>"
        f'<Resolution x="200" y="100"/><taggedRectangles>{tagged}</taggedRectangles></image>'
    )


def test_svt_original_release(tmp_path):
    root = tmp_path / "svt1"
    image(root / "img" / "14_03.jpg")
    image(root / "photos" / "18_01.jpg", (400, 200))  # annotated as img/18_01.jpg: found by its file name
    first = svt_image("img/14_03.jpg", ("ROOM", 120, 10, 60, 30), ("LIVING", 20, 10, 80, 30), ("ACE", 20, 60, 40, 20))
    (root / "train.xml").write_text(svt_xml(first, "<image><address>no name</address></image>"))
    missing = svt_image("img/99_99.jpg", ("GONE", 0, 0, 10, 10))
    hotel = svt_image("img/18_01.jpg", ("HOTEL", 100, 50, 200, 100), ("BAD", 1, 2, 3, 4)).replace('x="1"', 'x="?"')
    (root / "test.xml").write_text(svt_xml(hotel, missing))

    images, ocr, errors, output = prepare("svt", root, tmp_path / "out")
    assert splits(images) == {"14_03.jpg": "train", "18_01.jpg": "test"}
    assert (tmp_path / "out" / images["path"][1]).resolve() == (root / "photos" / "18_01.jpg").resolve()
    assert set(ocr["engine"]) == {GROUNDTRUTH_ENGINE} and set(ocr["confidence"]) == {1.0}
    assert words(ocr) == {"14_03.jpg": ["LIVING", "ROOM", "ACE"], "18_01.jpg": ["HOTEL"]}  # reading order
    assert box_of(ocr, "14_03.jpg", "LIVING") == pytest.approx([0.1, 0.1, 0.5, 0.1, 0.5, 0.4, 0.1, 0.4])
    assert box_of(ocr, "18_01.jpg", "HOTEL") == pytest.approx([0.25, 0.25, 0.75, 0.25, 0.75, 0.75, 0.25, 0.75])
    assert sorted(errors["reason"]) == [
        "image 99_99.jpg not found",
        "malformed entry (no imageName)",
        "malformed rectangle (needs x, y, width, height)",
    ]
    assert "the official release has 249" in output


def test_svt_gt_folder_layout(tmp_path):
    root = tmp_path / "svt-train"
    image(root / "images" / "00_00.jpg", (100, 50))
    (root / "gt").mkdir()
    (root / "gt" / "train.xml").write_text(svt_xml(svt_image("img/00_00.jpg", ("CAFE", -10, 5, 60, 50))))
    images, ocr, errors, _ = prepare("svt", root, tmp_path / "out")
    assert images["image_id"].to_list() == ["00_00.jpg"] and images["split"].to_list() == ["train"]
    assert errors.is_empty()
    assert box_of(ocr, "00_00.jpg", "CAFE") == pytest.approx([0.0, 0.1, 0.5, 0.1, 0.5, 1.0, 0.0, 1.0])  # clamped
    card = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert card["protocol"] == "words" and card["counts"]["train"]["images"] == 1


def test_svt_malformed_xml_is_one_error_line(tmp_path):
    root = tmp_path / "svt"
    image(root / "img" / "00_00.jpg")
    (root / "train.xml").write_text("<tagset><image><imageName>img/00_00.jpg</imageName></tagset>")
    assert "not readable XML" in failure("svt", root, tmp_path / "out")
    bomb = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><tagset>&b;</tagset>'
    (root / "train.xml").write_text(bomb)
    assert "DOCTYPE/ENTITY" in failure("svt", root, tmp_path / "out")
    (root / "train.xml").write_text('<?xml version="1.0"?><annotations/>')
    assert "expected a <tagset>" in failure("svt", root, tmp_path / "out")
    (root / "train.xml").unlink()
    assert "train.xml or test.xml not found" in failure("svt", root, tmp_path / "out")


def test_icdar15_official_release(tmp_path):
    root = tmp_path / "ic15"
    image(root / "ch4_training_images" / "img_1.jpg")
    image(root / "ch4_training_images" / "img_2.jpg")
    image(root / "ch4_test_images" / "img_1.jpg", (400, 400))  # same name as a train image
    train_gt = root / "ch4_training_localization_transcription_gt"
    train_gt.mkdir()
    (train_gt / "gt_img_1.txt").write_bytes(
        "\ufeff20,10,100,10,100,40,20,40,Genaxis Theatre\r\n"
        "120,10,160,10,160,40,120,40,62,03\r\n"  # the transcription holds a comma
        "10,60,50,60,50,90,10,90,###\r\n"
        "1,2,3\r\n".encode()
    )
    (train_gt / "gt_img_2.txt").write_text("0,0,200,0,200,100,0,100,Carpark\n", encoding="utf-8")
    (train_gt / "gt_img_3.txt").write_text("0,0,10,0,10,10,0,10,EXIT\n", encoding="utf-8")  # no img_3.jpg
    test_gt = root / "Challenge4_Test_Task1_GT"
    test_gt.mkdir()
    (test_gt / "gt_img_1.txt").write_text("100,100,300,100,300,200,100,200,CITI\n###\n", encoding="utf-8-sig")

    images, ocr, errors, output = prepare("icdar15", root, tmp_path / "out")
    assert splits(images) == {
        "img_1.jpg": "train",
        "img_2.jpg": "train",
        "test/img_1.jpg": "test",
    }
    assert words(ocr) == {
        "img_1.jpg": ["Genaxis Theatre", "62,03"],
        "img_2.jpg": ["Carpark"],
        "test/img_1.jpg": ["CITI"],
    }
    assert set(ocr["engine"]) == {GROUNDTRUTH_ENGINE}
    assert box_of(ocr, "img_1.jpg", "Genaxis Theatre") == pytest.approx([0.1, 0.1, 0.5, 0.1, 0.5, 0.4, 0.1, 0.4])
    assert box_of(ocr, "test/img_1.jpg", "CITI") == pytest.approx([0.25, 0.25, 0.75, 0.25, 0.75, 0.5, 0.25, 0.5])
    assert "###" not in ocr["text"].to_list() and "1 illegible boxes (###) skipped" in output
    assert Counter(errors["item"]) == Counter(
        [
            "ch4_training_localization_transcription_gt/gt_img_1.txt:4",
            "Challenge4_Test_Task1_GT/gt_img_1.txt:2",
            "ch4_training_localization_transcription_gt/gt_img_3.txt",
        ]
    )
    assert "image img_3.jpg not found" in errors["reason"].to_list()


def label_line(path: str, *labels: tuple[str, list[list[int]]]) -> str:
    return path + "\t" + json.dumps([{"transcription": t, "points": p} for t, p in labels]) + "\n"


def test_icdar15_paddleocr_labels_in_both_layouts(tmp_path):
    quad = [[40, 20], [120, 20], [120, 50], [40, 50]]
    # as in ../shared/realworld/ic15-train: gt/train_label.txt, the images flat in images/
    flat = tmp_path / "ic15-train"
    image(flat / "images" / "img_7.jpg")
    (flat / "gt").mkdir()
    (flat / "gt" / "train_label.txt").write_text(
        label_line("icdar_c4_train_imgs/img_7.jpg", ("###", quad), ("Why Pay, For", quad))
        + label_line("icdar_c4_train_imgs/img_8.jpg", ("EXIT", quad))  # no such image
        + "icdar_c4_train_imgs/img_9.jpg\t[{not json\n"
        + label_line("icdar_c4_train_imgs/img_7.jpg", ("twice", quad)),
        encoding="utf-8",
    )
    images, ocr, errors, output = prepare("icdar15", flat, tmp_path / "flat-out")
    assert images["image_id"].to_list() == ["img_7.jpg"] and images["split"].to_list() == ["train"]
    assert ocr.select("image_id", "token_index", "text").rows() == [("img_7.jpg", 0, "Why Pay, For")]
    assert box_of(ocr, "img_7.jpg", "Why Pay, For") == pytest.approx([0.2, 0.2, 0.6, 0.2, 0.6, 0.5, 0.2, 0.5])
    assert "1 illegible boxes" in output
    assert sorted(errors["item"]) == ["train_label.txt:2", "train_label.txt:3", "train_label.txt:4"]

    # as PaddleOCR lays it out: label files and image folders side by side, both splits
    paddle = tmp_path / "icdar2015"
    image(paddle / "icdar_c4_train_imgs" / "img_1.jpg")
    image(paddle / "ch4_test_images" / "img_1.jpg", (400, 200))
    (paddle / "train_icdar2015_label.txt").write_text(label_line("icdar_c4_train_imgs/img_1.jpg", ("A1", quad)))
    bad = {"transcription": "B2", "points": [[0, 0], [1, 1]]}
    (paddle / "test_icdar2015_label.txt").write_text(
        label_line("ch4_test_images/img_1.jpg", ("B1", quad)).replace("}]", "}, " + json.dumps(bad) + "]")
    )
    images, ocr, errors, _ = prepare("icdar15", paddle, tmp_path / "paddle-out")
    assert splits(images) == {"img_1.jpg": "train", "test/img_1.jpg": "test"}
    assert words(ocr) == {"img_1.jpg": ["A1"], "test/img_1.jpg": ["B1"]}
    assert box_of(ocr, "test/img_1.jpg", "B1") == pytest.approx([0.1, 0.1, 0.3, 0.1, 0.3, 0.25, 0.1, 0.25])
    assert errors["reason"].to_list() == ["malformed label (needs transcription and 4 points)"]


def test_icdar15_unusable_input_is_one_error_line(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "neither gt_img_N.txt" in failure("icdar15", tmp_path / "empty", tmp_path / "out")
    root = tmp_path / "ic15"
    (root / "gt").mkdir(parents=True)
    (root / "gt" / "train_label.txt").write_bytes(b"img_1.jpg\t[\xff\xfe]\n")
    assert "not readable UTF-8" in failure("icdar15", root, tmp_path / "out")
    (root / "gt" / "train_label.txt").write_text(label_line("img_1.jpg", ("A", [[0, 0], [1, 0], [1, 1], [0, 1]])))
    assert "no usable image" in failure("icdar15", root, tmp_path / "out")


@pytest.mark.parametrize(("name", "folder", "count"), [("svt", "svt-train", 100), ("icdar15", "ic15-train", 300)])
def test_real_training_splits(realworld, tmp_path, name, folder, count):
    root = realworld / folder
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    images, ocr, errors, _ = prepare(name, root, tmp_path / "out")
    assert images.height == count and set(images["split"]) == {"train"} and errors.is_empty()
    with (root / "words.csv").open(encoding="utf-8") as handle:
        expected = Counter((row["image"], row["word"]) for row in csv.DictReader(handle))
    assert Counter(ocr.select("image_id", "text").rows()) == expected
