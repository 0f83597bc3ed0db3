import json

import pytest
from conftest import render_words

from hopid.data.folder import prepare_folder
from hopid.data.schema import read_table
from hopid.errors import HopidError


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    render_words(root / "a.png", ["Zorbex"])
    render_words(root / "sub" / "b.jpg", ["Klaxo"])
    (root / "notes.txt").write_text("not an image")
    (root / "broken.png").write_bytes(b"")
    return root


def test_folder_with_captions_csv_extra_columns_and_missing_image(photos, tmp_path):
    captions = photos / "captions.csv"
    captions.write_text(
        "image,caption,split,object_id,photographer\n"
        "a.png,a sign saying Zorbex,train,7,me\n"
        "sub/b.jpg,klaxo written on a wall,val,8,you\n"
        "missing.png,this image does not exist,test,9,x\n"
        "a.png,,train,7,me\n"
    )
    summary = prepare_folder(photos, tmp_path / "ds", captions)
    assert any("photographer" in note for note in summary.notes)
    images = read_table(tmp_path / "ds" / "images.parquet", "images").sort("image_id")
    assert images["image_id"].to_list() == ["a.png", "sub/b.jpg"]
    assert images["split"].to_list() == ["train", "val"]
    assert images["object_id"].to_list() == ["7", "8"]
    assert images["width"].to_list() == [480, 480]
    assert (tmp_path / "ds" / images["path"][0]).resolve() == (photos / "a.png").resolve()
    captions_table = read_table(tmp_path / "ds" / "captions.parquet", "captions")
    assert captions_table.height == 2
    errors = read_table(tmp_path / "ds" / "errors.parquet", "errors")
    reasons = " | ".join(errors["reason"].to_list())
    assert "missing.png" in reasons and "empty caption" in reasons and "not a readable image" in reasons


def test_folder_without_captions_is_all_test(photos, tmp_path):
    summary = prepare_folder(photos, tmp_path / "ds")
    assert summary.images == 2 and summary.captions == 0
    images = read_table(tmp_path / "ds" / "images.parquet", "images")
    assert set(images["split"].to_list()) == {"test"}


def test_jsonl_captions_and_renamed_columns(photos, tmp_path):
    captions = photos / "captions.jsonl"
    captions.write_text("\n".join(json.dumps({"file": f, "text": t}) for f, t in [("a.png", "Zorbex sign")]))
    summary = prepare_folder(photos, tmp_path / "ds", captions, {"image": "file", "caption": "text"})
    assert summary.captions == 1


def test_missing_caption_column_is_a_clear_error(photos, tmp_path):
    captions = photos / "captions.csv"
    captions.write_text("image,text\na.png,hello\n")
    with pytest.raises(HopidError, match="missing column"):
        prepare_folder(photos, tmp_path / "ds", captions)


def test_missing_folder(tmp_path):
    with pytest.raises(HopidError, match="no such folder"):
        prepare_folder(tmp_path / "nope", tmp_path / "ds")
