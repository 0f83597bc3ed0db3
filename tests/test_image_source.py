"""Indexing from a URI (pyarrow's filesystems; ``file://`` here, ``s3://`` on a cluster) leaves the
same index as the folder itself, and an IVF index added in parts is the index added at once."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import render_words

from hopid.data.error_log import ErrorLog
from hopid.data.scan import content_hash, scan_images
from hopid.data.source import ImageSource
from hopid.errors import HopidError
from hopid.index.build import STAGING_DIR, build_index
from hopid.index.choose import build_faiss, map_in_process, plan_index


def photos(root):
    render_words(root / "zorbex.png", ["ZORBEX"])
    render_words(root / "sub" / "gate.png", ["Gate", "63"])
    (root / "broken.jpg").write_bytes(b"not a picture")
    (root / "notes.txt").write_text("not an image")
    render_words(root / ".hopid" / "old.png", ["SKIPPED"])  # an index folder is never indexed
    return root


def test_a_uri_lists_reads_and_hashes_as_the_folder_does(tmp_path):
    root = photos(tmp_path / "photos")
    folder, uri = ImageSource.of(root), ImageSource.of(f"file://{root}/")
    assert folder.local and not uri.local and uri.uri == f"file://{root}"
    listed = uri.files(ErrorLog("index"))
    assert [(f.path, f.size) for f in listed] == [(f.path, f.size) for f in scan_images(root)]
    assert [f.path for f in listed] == ["broken.jpg", "sub/gate.png", "zorbex.png"]
    assert uri.read("sub/gate.png") == (root / "sub" / "gate.png").read_bytes()
    assert uri.hash("zorbex.png") == folder.hash("zorbex.png") == content_hash(root / "zorbex.png")
    staged = uri.local_file("zorbex.png", uri.hash("zorbex.png"), tmp_path / "staging")
    assert staged.parent == tmp_path / "staging" and staged.read_bytes() == (root / "zorbex.png").read_bytes()
    assert folder.local_file("zorbex.png", "any", tmp_path / "staging") == root / "zorbex.png"
    assert uri.location("sub/gate.png") == f"file://{root}/sub/gate.png"


@pytest.mark.parametrize(
    ("text", "message"),
    [("nosuch://bucket/photos", "pyarrow cannot open it"), ("file:///no/such/folder", "no such folder")],
)
def test_a_source_that_is_not_a_folder_is_one_line(text, message):
    with pytest.raises(HopidError, match=message) as caught:
        ImageSource.of(text)
    assert "\n" not in str(caught.value)


def test_an_index_of_a_uri_is_the_index_of_its_folder(tmp_path, tiny_encoder):
    root = photos(tmp_path / "photos")
    local = build_index(root, tiny_encoder, index_dir=tmp_path / "local", workers=1)
    with pytest.raises(HopidError, match="--index DIR"):
        build_index(f"file://{root}", tiny_encoder)
    remote = build_index(f"file://{root}", tiny_encoder, index_dir=tmp_path / "remote", workers=1)
    assert (remote.images, remote.errors, remote.ocr_now) == (local.images, local.errors, local.ocr_now) == (2, 1, 3)
    assert not (tmp_path / "remote" / "cache" / STAGING_DIR).exists()  # fetched copies go at the commit
    tables = {}
    for name in ("local", "remote"):
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        folder = tmp_path / name / manifest["generation"]
        tables[name] = (
            manifest,
            pl.read_parquet(folder / "items.parquet").drop("mtime_ns"),
            np.load(folder / "vectors.npy"),
            pl.read_parquet(folder / "ocr.parquet"),
        )
    assert tables["remote"][0]["images_dir"] == f"file://{root}"
    assert tables["remote"][1].equals(tables["local"][1])
    assert np.array_equal(tables["remote"][2], tables["local"][2])
    assert tables["remote"][3].equals(tables["local"][3]) and "ZORBEX" in tables["remote"][3]["text"].to_list()
    errors = pl.read_parquet(tmp_path / "remote" / "errors.parquet")
    assert errors["item"].to_list() == ["broken.jpg"]
    again = build_index(f"file://{root}", tiny_encoder, index_dir=tmp_path / "remote", workers=1)
    assert (again.ocr_now, again.embedded_now, again.reused) == (0, 0, 2)


@pytest.mark.parametrize("kind", ["ivfflat", "ivfpq"])
def test_an_ivf_index_added_in_parts_is_the_index_added_at_once(kind):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    plan = plan_index(len(vectors), 64, kind=kind)
    whole = build_faiss(vectors, plan)
    spans = []

    def counting(add, empty, data, parts):
        spans.extend(parts)
        return map_in_process(add, empty, data, parts)

    in_parts = build_faiss(vectors, plan, map_parts=counting, parts=4)
    assert len(spans) == 4 and spans[0][0] == 0 and spans[-1][1] == len(vectors)
    assert in_parts.ntotal == whole.ntotal == len(vectors)
    found_whole = whole.search(vectors[:100], 10)
    found_parts = in_parts.search(vectors[:100], 10)
    assert np.array_equal(found_parts[1], found_whole[1])
    assert np.allclose(found_parts[0], found_whole[0])
    assert np.mean(found_whole[1][:, 0] == np.arange(100)) > 0.9  # it finds each vector itself


def test_a_forced_ivf_index_of_a_few_images_has_no_more_lists_than_vectors():
    assert plan_index(6, 64, kind="ivfflat").factory == "IVF6,Flat"
    vectors = np.eye(6, 64, dtype=np.float32)
    assert build_faiss(vectors, plan_index(6, 64, kind="ivfflat")).ntotal == 6


def test_the_vector_cache_becomes_one_matrix_without_python_floats():
    import pyarrow as pa

    from hopid.index.build import vector_matrix

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    table = pa.table({"key": ["c", "a", "b"], "vector": [row.tolist() for row in vectors]})
    matrix, row_of = vector_matrix(table, 4)
    assert matrix.dtype == np.float32 and np.array_equal(matrix, vectors)
    assert row_of == {"c": 0, "a": 1, "b": 2}
    with pytest.raises(HopidError, match="vector cache damaged"):
        vector_matrix(table, 3)
