"""Benchmark converters on small hand-written fixtures in each release's exact format."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from PIL import Image
from typer.testing import CliRunner

from hopid.data.schema import read_table
from hopid.errors import HopidError
from hopid_cli.app import app

runner = CliRunner()


def image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 8), (200, 10, 10)).save(path)


def prepare(name: str, root: Path, out: Path, *extra: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    result = runner.invoke(app, ["prepare", name, str(root), str(out), *extra])
    assert result.exit_code == 0, result.output
    errors = read_table(out / "errors.parquet", "errors")
    return read_table(out / "images.parquet", "images"), read_table(out / "captions.parquet", "captions"), errors


def per_split(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by("split").len().iter_rows())


def test_coco_karpathy_restval_joins_train_and_bad_records_are_recorded(tmp_path):
    root = tmp_path / "coco"
    records = []
    for index, (split, cocoid) in enumerate([("train", 9), ("restval", 25), ("val", 30), ("test", 42), ("test", 77)]):
        folder = "train2014" if split in ("train", "restval") else "val2014"
        name = f"COCO_{folder}_{cocoid:012d}.jpg"
        if cocoid != 77:  # the last image is missing on disk
            image(root / folder / name)
        sentences = [{"raw": f"a photo number {cocoid} caption {i}", "tokens": ["a"]} for i in range(5)]
        records.append(
            {
                "filepath": folder,
                "filename": name,
                "imgid": index,
                "split": split,
                "sentences": sentences,
                "cocoid": cocoid,
            }
        )
    records.append({"filepath": "val2014", "imgid": 99, "split": "test"})  # malformed: no filename, no sentences
    (root / "dataset_coco.json").write_text(json.dumps({"images": records, "dataset": "coco"}))

    images, captions, errors = prepare("coco", root, tmp_path / "out")
    assert per_split(images) == {"train": 2, "val": 1, "test": 1}
    assert per_split(captions) == {"train": 10, "val": 5, "test": 5}
    assert set(images["image_id"]) == {"9", "25", "30", "42"}
    assert errors.height == 2 and any("not found" in r for r in errors["reason"])
    assert any("malformed" in r for r in errors["reason"])
    assert (tmp_path / "out" / images["path"][0]).resolve().is_file()


def test_flickr30k_finds_images_in_the_usual_folder_and_warns_on_sizes(tmp_path):
    root = tmp_path / "flickr"
    records = []
    for index, split in enumerate(["train", "train", "val", "test"]):
        name = f"{1000 + index}.jpg"
        image(root / "flickr30k-images" / name)
        records.append({"filename": name, "imgid": index, "split": split, "sentences": [{"raw": f"dog {index}"}] * 5})
    (root / "dataset_flickr30k.json").write_text(json.dumps({"images": records}))
    result = runner.invoke(app, ["prepare", "flickr30k", str(root), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "the official release has 29,000" in result.output  # a fixture is not the full release
    images = read_table(tmp_path / "out" / "images.parquet", "images")
    assert per_split(images) == {"train": 2, "val": 1, "test": 1} and "1000" in images["image_id"].to_list()


def test_cuhk_pedes_identities_from_one_and_empty_captions(tmp_path):
    root = tmp_path / "CUHK-PEDES"
    records = []
    for index, (person, split) in enumerate([(1, "train"), (1, "train"), (2, "val"), (3, "test"), (3, "test")]):
        path = f"CUHK01/{person:04d}{index:03d}.png"
        image(root / "imgs" / path)
        records.append(
            {"split": split, "captions": [f"a man in a red coat {index}", "  "], "file_path": path, "id": person}
        )
    records.append({"split": "test", "file_path": "CUHK01/missing.png", "id": "x"})  # malformed
    (root / "reid_raw.json").write_text(json.dumps(records))
    images, captions, errors = prepare("cuhk-pedes", root, tmp_path / "out")
    assert per_split(images) == {"train": 2, "val": 1, "test": 2}
    assert images.filter(pl.col("split") == "test")["object_id"].unique().to_list() == ["3"]
    assert captions.height == 5  # the blank second caption of each record is an error row
    assert sum("empty caption" in r for r in errors["reason"]) == 5
    assert sum("malformed" in r for r in errors["reason"]) == 1


def test_icfg_pedes_either_file_name_and_the_json_split_wins(tmp_path):
    root = tmp_path / "ICFG"
    records = []
    for index, (folder, split) in enumerate([("train", "train"), ("test", "train"), ("test", "test")]):
        path = f"{folder}/{index:04d}/{index:04d}_000.jpg"
        image(root / "imgs" / path)
        records.append({"split": split, "captions": ["a woman with a bag"], "file_path": path, "id": index + 1})
    (root / "ICFG_PEDES.json").write_text(json.dumps(records))  # the underscore spelling
    images, _, _ = prepare("icfg-pedes", root, tmp_path / "out")
    assert per_split(images) == {"train": 2, "test": 1}


def test_rstpreid_images_under_imgs_and_an_images_override(tmp_path):
    root = tmp_path / "RSTPReid"
    elsewhere = tmp_path / "pictures"
    records = []
    for index, split in enumerate(["train", "val", "test"]):
        name = f"{index:04d}_c14_0031.jpg"
        image(elsewhere / name)
        records.append({"id": index, "img_path": name, "captions": ["walking", "standing"], "split": split})
    root.mkdir()
    (root / "data_captions.json").write_text(json.dumps(records))
    images, captions, _ = prepare("rstpreid", root, tmp_path / "out", "--images", str(elsewhere))
    assert per_split(images) == {"train": 1, "val": 1, "test": 1} and captions.height == 6
    assert images["object_id"].to_list() == ["0", "1", "2"]


def test_person_sets_are_evaluated_by_identity(tmp_path):
    root = tmp_path / "RSTPReid"
    records = []
    for index in range(4):  # two identities, two images each, all test
        name = f"{index // 2:04d}_c1_{index:04d}.jpg"
        image(root / "imgs" / name)
        records.append({"id": index // 2, "img_path": name, "captions": ["a man", "a man walking"], "split": "test"})
    (root / "data_captions.json").write_text(json.dumps(records))
    out = tmp_path / "out"
    prepare("rstpreid", root, out)
    card = json.loads((out / "benchmark.json").read_text())
    assert card["benchmark"] == "rstpreid" and card["protocol"] == "identity"
    assert card["counts"]["test"] == {"images": 4, "captions": 8, "identities": 2}
    assert any("3,701" in note for note in card["notes"])  # official train identities, absent here
    result = runner.invoke(app, ["eval", str(out), "--json", "--dense-only"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert {"rank1", "map", "minp"} <= set(metrics) and "rsum" not in metrics
    saved = read_table(out / "eval" / "test" / "metrics.parquet", "metrics")
    assert set(saved["protocol"]) == {"identity"}


def test_missing_annotation_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["prepare", "rstpreid", str(tmp_path / "empty"), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "data_captions.json not found" in result.output and "Traceback" not in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "reid_raw.json").write_text("[{not json")
    result = runner.invoke(app, ["prepare", "cuhk-pedes", str(broken), str(tmp_path / "out")])
    assert result.exit_code == 2 and "not readable JSON" in result.output


def write_ctc(root: Path) -> None:
    """Five test images (two of them CTC-1K), two train images, OCR files in pixels."""
    header = "image_id\tsent_id\tcaption\timg_path\tocr_idx\n"
    lines_5k, lines_1k, lines_train = [header], [header], []
    for number in range(7):
        name = f"COCO_train2014_{number:012d}.jpg"
        image(root / "train2014" / name)
        ocr = root / "ctc_ocr" / f"{number}.txt"
        ocr.parent.mkdir(parents=True, exist_ok=True)
        ocr.write_text("0,0,6,0,6,4,0,4,HarbourFront\n6,4,12,4,12,8,6,8,EXIT, NOW\nbroken line\n")
        lines = [
            f"{number}\t{number * 10 + i}\ta sign number {number} caption {i}\t{name}\t{number}\n" for i in range(5)
        ]
        if number < 2:
            lines_train += lines
        else:
            lines_5k += lines
            if number < 4:
                lines_1k += lines
    lines_5k.append("99\t990\tno image path\n")  # malformed
    (root / "CTC_test_ocr.txt").write_text("".join(lines_5k))
    (root / "CTC_1K_list_ocr_release.txt").write_text("".join(lines_1k))
    (root / "CTC_train_list.txt").write_text("".join(lines_train))


def test_ctc_release_with_subsets_and_ocr(tmp_path):
    root = tmp_path / "CTC"
    write_ctc(root)
    out = tmp_path / "out"
    images, captions, errors = prepare("ctc", root, out)
    assert per_split(images) == {"train": 2, "test": 5}
    assert per_split(captions) == {"train": 10, "test": 25}  # CTC-1K's repeated captions counted once
    assert sorted(images.filter(pl.col("subset") == "ctc1k")["image_id"].to_list()) == ["2", "3"]
    ocr = read_table(out / "ocr.parquet", "ocr")
    assert ocr.height == 14 and set(ocr["engine"]) == {"ctc-release"}
    assert set(ocr["text"]) == {"HarbourFront", "EXIT, NOW"}  # text after the 8th comma stays whole
    first = ocr.filter(pl.col("text") == "HarbourFront")["box"][0].to_list()
    assert first == pytest.approx([0, 0, 0.5, 0, 0.5, 0.5, 0, 0.5])  # pixels / (12 x 8)
    assert sum("malformed" in r for r in errors["reason"]) == 7 + 1  # 7 bad OCR lines, 1 bad list line

    from hopid.data.dataset import Dataset

    data = Dataset.open(out)
    one_k, one_k_captions = data.split("test", "ctc1k")
    assert one_k.height == 2 and one_k_captions.height == 10
    with pytest.raises(HopidError, match="no subset 'coco1k'"):
        data.split("test", "coco1k")
    result = runner.invoke(app, ["eval", str(out), "--subset", "ctc1k", "--json", "--dense-only"])
    assert result.exit_code == 0, result.output
    assert (out / "eval" / "test-ctc1k" / "metrics.parquet").is_file()


def test_textcaps_val_becomes_test_with_rosetta_ocr(tmp_path):
    root = tmp_path / "TextCaps"
    data = {}
    for released, ids in (("train", ["a1", "a2"]), ("val", ["b1"])):
        entries = []
        for image_id in ids:
            image(root / "train_images" / f"{image_id}.jpg")
            entries += [
                {
                    "image_id": image_id,
                    "image_path": f"train/{image_id}.jpg",
                    "caption_id": i,
                    "caption_str": f"sign {i}",
                }
                for i in range(5)
            ]
        data[released] = entries
        (root / f"TextCaps_0.1_{released}.json").write_text(json.dumps({"dataset_type": released, "data": entries}))
    data["train"].append({"image_id": "a3"})  # malformed: rewrite with it
    (root / "TextCaps_0.1_train.json").write_text(json.dumps({"dataset_type": "train", "data": data["train"]}))
    box = {"top_left_x": 0.1, "top_left_y": 0.2, "width": 0.3, "height": 0.1}
    ocr = {
        "data": [
            {
                "image_id": "a1",
                "ocr_tokens": ["STOP", "here"],
                "ocr_info": [{"word": "STOP", "bounding_box": box}, {"word": "here", "bounding_box": box}],
            }
        ]
    }
    (root / "TextVQA_Rosetta_OCR_v0.2_train.json").write_text(json.dumps(ocr))
    out = tmp_path / "out"
    images, captions, errors = prepare("textcaps", root, out)
    assert per_split(images) == {"train": 2, "test": 1} and per_split(captions) == {"train": 10, "test": 5}
    assert sum("malformed" in r for r in errors["reason"]) == 1
    tokens = read_table(out / "ocr.parquet", "ocr")
    assert tokens["text"].to_list() == ["STOP", "here"] and tokens["token_index"].to_list() == [0, 1]
    assert tokens["box"][0].to_list() == pytest.approx([0.1, 0.2, 0.4, 0.2, 0.4, 0.3, 0.1, 0.3])


def test_cub_and_flowers_use_the_zero_shot_class_split(tmp_path):
    for name, image_folder in (("cub", "images/{cls}"), ("flowers", "jpg")):
        root = tmp_path / name
        classes = {"train": ["001.Albatross", "002.Auklet"], "val": ["003.Blackbird"], "test": ["004.Bunting"]}
        for split, names in classes.items():
            (root / f"{split}classes.txt").parent.mkdir(parents=True, exist_ok=True)
            (root / f"{split}classes.txt").write_text("\n".join(names) + "\n")
            for cls in names:
                for n in range(2):
                    stem = f"{cls}_{n}"
                    image(root / image_folder.format(cls=cls) / f"{stem}.jpg")
                    text = root / "text_c10" / cls / f"{stem}.txt"
                    text.parent.mkdir(parents=True, exist_ok=True)
                    text.write_text("\n".join(f"this bird has feature {i}" for i in range(10)) + "\n")
        (root / "text_c10" / "004.Bunting" / "orphan.txt").write_text("a caption without its image\n")
        images, captions, errors = prepare(name, root, tmp_path / f"{name}-out")
        assert per_split(images) == {"train": 4, "val": 2, "test": 2}
        assert per_split(captions) == {"train": 40, "val": 20, "test": 20}
        assert images.filter(pl.col("split") == "test")["object_id"].unique().to_list() == ["004.Bunting"]
        assert errors.height == 1 and "not found" in errors["reason"][0]


def test_news_sets_keep_their_article_text_as_context(tmp_path):
    root = tmp_path / "n24"
    items = [
        {
            "section": "Sports",
            "headline": "Cup final",
            "abstract": "A close game.",
            "caption": "Fans cheer.",
            "image_id": "n1",
            "article_url": "u",
            "body": "Long body.",
        },
        {"section": "Arts", "headline": "Gallery", "caption": "A painting.", "image_id": "n2", "article_url": "u"},
        {"section": "Arts", "headline": "No image id"},
    ]
    image(root / "images" / "n1.jpg")
    image(root / "images" / "n2.jpg")
    (root / "nytimes_dataset.json").write_text(json.dumps(items))
    images, captions, errors = prepare("n24news", root, tmp_path / "n24-out")
    assert per_split(images) == {"test": 2} and errors.height == 1
    assert captions.filter(pl.col("image_id") == "n1")["context"][0] == "Cup final\n\nA close game.\n\nLong body."

    good = tmp_path / "goodnews"
    articles = {
        "a7": {
            "images": {"0": "The mayor speaks.", "1": "A crowd."},
            "article": "City hall news.",
            "headline": {"main": "Mayor"},
        }
    }
    image(good / "resized" / "a7_0.jpg")
    image(good / "resized" / "a7_1.jpg")
    (good / "captioning_dataset.json").write_text(json.dumps(articles))
    (good / "img_splits.json").write_text(json.dumps({"train": ["a7_0"], "test": ["a7_1"]}))
    images, captions, _ = prepare("goodnews", good, tmp_path / "good-out")
    assert per_split(images) == {"train": 1, "test": 1}
    assert set(captions["context"]) == {"Mayor\n\nCity hall news."}
    (good / "img_splits.json").write_text(json.dumps({"a7_0.jpg": "val", "a7_1.jpg": "train"}))  # id -> split
    images, _, _ = prepare("goodnews", good, tmp_path / "good-out")
    assert dict(images.select("image_id", "split").iter_rows()) == {"a7_0": "val", "a7_1": "train"}

    visual = tmp_path / "visualnews"
    (visual / "origin" / "articles").mkdir(parents=True)
    (visual / "origin" / "articles" / "1.txt").write_text("The storm hit the coast.")
    image(visual / "origin" / "images" / "1.jpg")
    records = [
        {
            "id": 1,
            "caption": "Waves.",
            "topic": "weather",
            "source": "bbc",
            "image_path": "images/1.jpg",
            "article_path": "articles/1.txt",
        }
    ]
    (visual / "origin" / "data.json").write_text(json.dumps(records))
    images, captions, _ = prepare("visualnews", visual, tmp_path / "visual-out")
    assert images["split"].to_list() == ["test"] and captions["context"].to_list() == ["The storm hit the coast."]


def test_goodnews_without_img_splits_follows_the_seed_42_rule(tmp_path):
    root = tmp_path / "goodnews"
    # numpy's legacy generator seeded with 42 draws 0.3745, 0.9507, 0.7320, ...: the second image is test
    articles = {
        "a1": {"images": {"0": "First.", "1": "Second."}, "article": "Text."},
        "a2": {"images": {"0": "Third."}},
    }
    for name in ("a1_0", "a1_1", "a2_0"):
        image(root / "images" / f"{name}.jpg")
    (root / "article+caption.json").write_text(json.dumps(articles))  # the cleaned release's name
    images, _, _ = prepare("goodnews", root, tmp_path / "out")
    assert dict(images.select("image_id", "split").iter_rows()) == {"a1_0": "train", "a1_1": "test", "a2_0": "train"}
    assert any("seed-42" in note for note in json.loads((tmp_path / "out" / "benchmark.json").read_text())["notes"])
    (root / "img_splits.json").write_text(json.dumps({"a1_0": "holdout"}))
    result = runner.invoke(app, ["prepare", "goodnews", str(root), str(tmp_path / "out")])
    assert result.exit_code != 0 and "img_splits.json" in result.output


def test_protocol_plans_follow_the_published_protocols():
    from hopid.eval.protocols import CAPTIONS, GENERIC, IDENTITY, plan

    assert plan("coco", "coco1k", None) == plan("coco", "coco1k", 5)
    assert plan("coco", "coco1k", None).folds == 5 and plan("coco", "coco5k", None).folds is None
    assert plan("ctc", "ctc1k", None).subset == "ctc1k" and plan("ctc", "ctc5k", None).subset is None
    assert plan("cuhk-pedes", None, None).protocol == IDENTITY and plan("flickr30k", None, None).protocol == CAPTIONS
    assert plan(None, "mine", 2).protocol == GENERIC
    with pytest.raises(HopidError, match="without fold averaging"):
        plan("ctc", None, 5)
    with pytest.raises(HopidError, match="contradicts"):
        plan("coco", "coco1k", 4)


def test_ctc_from_coco_captions_coco_text_and_id_lists(tmp_path):
    root = tmp_path / "ctc-coco"
    coco_images, annotations = [], []
    for cocoid in (11, 12, 13, 14):
        name = f"COCO_train2014_{cocoid:012d}.jpg"
        if cocoid != 14:  # listed, in the captions JSON, but missing on disk
            image(root / "train2014" / name)
        coco_images.append({"id": cocoid, "file_name": name, "width": 12, "height": 8})
        annotations += [{"image_id": cocoid, "id": cocoid * 10 + i, "caption": f"a sign {i}"} for i in range(5)]
    annotations.append({"id": 999})  # malformed: no image_id, no caption
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "captions_train2014.json").write_text(
        json.dumps({"images": coco_images, "annotations": annotations})
    )
    box = {"bbox": [0, 0, 6, 4], "legibility": "legible", "language": "english", "class": "machine printed"}
    anns = {
        "1": {**box, "image_id": 11, "utf8_string": "EXIT", "id": 1},
        "2": {**box, "image_id": 11, "utf8_string": "OPEN", "id": 2},
        "3": {**box, "image_id": 12, "utf8_string": "", "legibility": "illegible", "id": 3},
        "4": {"image_id": 12, "utf8_string": "BAD", "id": 4},  # malformed: no bbox
        "5": {**box, "image_id": 13, "utf8_string": "CAFE", "id": 5},
    }
    (root / "cocotext.v2.json").write_text(json.dumps({"imgs": {}, "anns": anns, "imgToAnns": {}}))
    (root / "train_ids.txt").write_text("11\n")
    (root / "test_5k_ids.txt").write_text("12\n13\n14\n")
    (root / "ctc_1k_ids.json").write_text(json.dumps([13]))
    out = tmp_path / "out"
    images, captions, errors = prepare("ctc", root, out)
    assert per_split(images) == {"train": 1, "test": 2} and per_split(captions) == {"train": 5, "test": 10}
    assert images.filter(pl.col("subset") == "ctc1k")["image_id"].to_list() == ["13"]
    ocr = read_table(out / "ocr.parquet", "ocr")
    assert sorted(ocr["text"]) == ["CAFE", "EXIT", "OPEN"] and set(ocr["engine"]) == {"groundtruth"}
    assert ocr.filter(pl.col("text") == "EXIT")["box"][0].to_list() == pytest.approx([0, 0, 0.5, 0, 0.5, 0.5, 0, 0.5])
    reasons = errors["reason"].to_list()
    assert sum("malformed" in r for r in reasons) == 2 and sum("not found" in r for r in reasons) == 1
