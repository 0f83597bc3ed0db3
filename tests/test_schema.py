import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hopid.data.schema import SCHEMA_VERSION, read_table, write_table
from hopid.errors import HopidError

IMAGES = [{"image_id": "a", "path": "a.png", "split": "test", "width": 10, "height": 20}]


def test_round_trip_fills_optional_columns_and_keeps_extras(tmp_path):
    path = tmp_path / "images.parquet"
    write_table([IMAGES[0] | {"photographer": "me"}], path, "images")
    frame = read_table(path, "images")
    assert frame.columns[:6] == ["image_id", "path", "split", "width", "height", "object_id"]
    assert frame["object_id"].to_list() == [None]
    assert frame["photographer"].to_list() == ["me"]
    assert frame.schema["width"] == pl.Int32
    metadata = pq.read_schema(path).metadata
    assert metadata[b"hopid.schema_version"] == str(SCHEMA_VERSION).encode()
    assert not [p for p in tmp_path.iterdir() if p.name != "images.parquet"], "no temporary files left"


def test_missing_required_column_is_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "images.parquet"
    pq.write_table(pa.table({"image_id": ["a"], "path": ["a.png"]}), path)
    with pytest.raises(HopidError) as info:
        read_table(path, "images")
    message = str(info.value)
    assert str(path) in message and "split" in message and "\n" not in message


def test_old_schema_version_is_refused(tmp_path):
    path = tmp_path / "images.parquet"
    table = pa.Table.from_pylist(IMAGES).replace_schema_metadata({b"hopid.schema_version": b"0"})
    pq.write_table(table, path)
    with pytest.raises(HopidError, match="schema version 0"):
        read_table(path, "images")


def test_missing_file_and_garbage_file(tmp_path):
    with pytest.raises(HopidError, match="no such file"):
        read_table(tmp_path / "captions.parquet", "captions")
    bad = tmp_path / "ocr.parquet"
    bad.write_text(json.dumps({"not": "parquet"}))
    with pytest.raises(HopidError, match="not a readable Parquet"):
        read_table(bad, "ocr")


def test_ids_are_cast_to_strings_and_boxes_to_eight_floats(tmp_path):
    path = tmp_path / "ocr.parquet"
    rows = [{"image_id": 7, "token_index": 0, "text": "EXIT", "confidence": 0.9, "box": [0.1] * 8, "engine": "x"}]
    write_table(pl.DataFrame(rows), path, "ocr")
    frame = read_table(path, "ocr")
    assert frame["image_id"].to_list() == ["7"]
    assert len(frame["box"][0]) == 8
