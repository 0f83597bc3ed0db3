"""Any file name: names that are not UTF-8 and names with a newline are indexed and listed with
their exact bytes; symbolic link loops, dangling links and unreadable folders are recorded."""

import io
import json
import os

import pytest
from conftest import render_words
from rich.console import Console
from typer.testing import CliRunner

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.folder import prepare_folder
from hopid.data.scan import os_name, scan_images, shown_name, stored_name
from hopid.data.schema import read_table
from hopid.index.directory import open_generation
from hopid.search.searcher import Searcher
from hopid_cli.app import app
from hopid_cli.query import hits_table

runner = CliRunner()
LATIN1 = b"caf\xe9-zorbex.png"  # "café" in Latin-1: not valid UTF-8
NEWLINE = b"two\nlines.png"


@pytest.mark.parametrize(
    "raw", [b"plain.png", "caf\u00e9.png".encode(), LATIN1, b"\xff\xfe/\x80.png", NEWLINE, b"back\\x00slash.png"]
)
def test_stored_names_round_trip_every_byte_and_leave_utf8_alone(raw):
    name = os.fsdecode(raw)
    stored = stored_name(name)
    stored.encode("utf-8")  # storable in any string column
    assert os.fsencode(os_name(stored)) == raw
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert "\x00" in stored
    else:
        assert stored == name


@pytest.fixture
def odd_names(tmp_path):
    root = tmp_path / "photos"
    render_words(root / os.fsdecode(LATIN1), ["ZORBEX"])
    render_words(root / os.fsdecode(NEWLINE), ["Klaxo", "Bakery"])
    render_words(root / "nums.png", ["Gate", "63"])
    return root


@pytest.mark.slow
def test_names_that_are_not_utf8_are_indexed_and_listed_with_their_bytes(odd_names):
    result = runner.invoke(app, ["index", str(odd_names), "--workers", "1"])
    assert result.exit_code == 0, result.output
    index_dir = odd_names / ".hopid"
    stored = read_table(open_generation(index_dir).path("items.parquet"), "items")["path"].to_list()
    assert sorted(stored) == sorted(stored_name(os.fsdecode(n)) for n in (LATIN1, NEWLINE, b"nums.png"))
    root = os.fsencode(str(odd_names)) + b"/"

    lines = runner.invoke(app, ["query", "zorbex", "--index", str(index_dir), "--paths", "-k", "1"])
    assert lines.exit_code == 0, lines.output
    assert lines.stdout_bytes == root + LATIN1 + b"\n"

    nul = runner.invoke(app, ["query", "klaxo bakery", "--index", str(index_dir), "--paths", "-0", "-k", "3"])
    assert nul.exit_code == 0, nul.output
    listed = nul.stdout_bytes.split(b"\0")
    assert listed[-1] == b"" and listed[0] == root + NEWLINE  # the newline stays inside its name
    assert sorted(listed[:-1]) == sorted(root + n for n in (LATIN1, NEWLINE, b"nums.png"))
    assert all(os.path.isfile(path) for path in listed[:-1])

    hits = json.loads(runner.invoke(app, ["query", "zorbex", "--index", str(index_dir), "--json", "-k", "1"]).stdout)
    assert os.fsencode(hits[0]["path"]) == root + LATIN1  # JSON keeps the bytes as Python's lone surrogates
    table = runner.invoke(app, ["query", "zorbex", "--index", str(index_dir), "-k", "1"])
    assert table.exit_code == 0, table.output
    shown = Console(file=io.StringIO(), width=400)
    shown.print(hits_table(Searcher(index_dir).search("zorbex", k=1), "zorbex"))
    assert "caf\\xe9-zorbex.png" in shown.file.getvalue()

    lone = runner.invoke(app, ["query", "zorbex", "--index", str(index_dir), "-0"])
    assert lone.exit_code == 2 and "--paths" in lone.stderr


def test_prepare_folder_keeps_names_that_are_not_utf8(odd_names, tmp_path):
    summary = prepare_folder(odd_names, tmp_path / "ds")
    assert summary.images == 3 and summary.errors == 0
    dataset = Dataset.open(tmp_path / "ds", need_captions=False)
    files = {os.fsencode(dataset.image_path(path).name) for path in dataset.images["path"].to_list()}
    assert files == {LATIN1, NEWLINE, b"nums.png"}
    assert stored_name(os.fsdecode(LATIN1)) in dataset.images["image_id"].to_list()


def test_link_loops_dangling_links_and_folder_links_are_recorded(tmp_path):
    root = tmp_path / "photos"
    render_words(root / "real.png", ["REAL"], size=(120, 60))
    (root / "sub").mkdir()
    os.symlink("loop-b.png", root / "loop-a.png")
    os.symlink("loop-a.png", root / "loop-b.png")
    os.symlink("missing.png", root / "gone.png")
    os.symlink("/nowhere/at/all", root / "gone-folder")
    os.symlink("..", root / "sub" / "up")
    os.symlink(tmp_path, root / "outside")
    os.symlink(os.fsdecode(b"\xffmissing.jpg"), root / os.fsdecode(b"\xfe.jpg"))
    errors = ErrorLog("index")
    found = scan_images(root, errors)
    assert [f.path for f in found] == ["real.png"]
    reasons = {row["item"]: row["reason"] for row in errors.rows}
    assert reasons["loop-a.png"] == reasons["loop-b.png"] == "symbolic link loop"
    assert reasons["gone.png"] == "dangling symbolic link to missing.png"
    assert reasons["gone-folder"].startswith("dangling symbolic link")
    assert "enclosing folder" in reasons["sub/up"]
    assert "not followed" in reasons["outside"]
    assert reasons[stored_name(os.fsdecode(b"\xfe.jpg"))] == "dangling symbolic link to \\xffmissing.jpg"
    errors.save(tmp_path)  # every name and reason fits the errors table
    assert read_table(tmp_path / "errors.parquet", "errors").height == len(reasons) == 7


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_an_unreadable_folder_is_recorded(tmp_path):
    root = tmp_path / "photos"
    render_words(root / "locked" / "inside.png", ["HIDDEN"], size=(120, 60))
    (root / "locked").chmod(0)
    try:
        errors = ErrorLog("index")
        assert scan_images(root, errors) == []
        assert errors.rows[0]["item"] == "locked" and errors.rows[0]["reason"].startswith("cannot read folder")
    finally:
        (root / "locked").chmod(0o755)


def test_shown_names_are_printable():
    assert shown_name(os.fsdecode(LATIN1)) == "caf\\xe9-zorbex.png"
    assert shown_name(stored_name(os.fsdecode(LATIN1))) == "caf\\xe9-zorbex.png"


@pytest.mark.slow
def test_the_server_answers_with_names_that_are_not_utf8(odd_names, tiny_encoder):
    import http.client
    import json
    import threading
    from urllib.parse import quote

    from PIL import Image

    from hopid.index.build import build_index
    from hopid.search.searcher import Searcher
    from hopid.serve.server import make_server

    build_index(odd_names, tiny_encoder, workers=1)
    server = make_server(Searcher(odd_names / ".hopid"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
        body = json.dumps({"text": "zorbex", "k": 3}).encode()
        connection.request("POST", "/search", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        paths = {hit["path"] for hit in json.loads(response.read())}

        # the gallery: each hit's ref (stored form, valid UTF-8) fetches its thumbnail and image
        connection.request("POST", "/api/results", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        hits = {os.fsencode(hit["path"]): hit for hit in json.loads(response.read())["hits"]}
        odd = hits[os.fsencode(str(odd_names)) + b"/" + LATIN1]
        assert odd["ref"] == stored_name(os.fsdecode(LATIN1)) and odd["ref"].encode("utf-8")
        for route, kind in (("/thumb", "image/jpeg"), ("/image", "image/png")):
            connection.request("GET", f"{route}?path={quote(odd['ref'])}")
            response = connection.getresponse()
            data = response.read()
            assert response.status == 200 and response.getheader("Content-Type") == kind, data
            assert max(Image.open(io.BytesIO(data)).size) <= 480  # a picture: 320 wide thumbnail, 480 original
        assert data == (odd_names / os.fsdecode(LATIN1)).read_bytes()

        like = json.dumps({"like": odd["ref"], "k": 1}).encode()
        connection.request("POST", "/api/results", body=like, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["hits"][0]["ref"] == odd["ref"]
        lone = json.dumps({"like": os.fsdecode(LATIN1)}).encode()  # a lone surrogate: pydantic takes no such str
        connection.request("POST", "/api/results", body=lone, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 400 and "valid string" in json.loads(response.read())["error"]
        missing = quote(stored_name(os.fsdecode(b"caf\xe9-missing.png")))
        connection.request("GET", f"/image?path={missing}")
        response = connection.getresponse()
        assert response.status == 404
        assert json.loads(response.read())["error"] == "caf\\xe9-missing.png is not an indexed image"
    finally:
        server.shutdown()
        server.server_close()
    assert os.fsdecode(os.fsencode(str(odd_names)) + b"/" + LATIN1) in paths  # the bytes, as os.fsdecode holds them


def test_a_fifo_named_like_an_image_is_recorded_not_opened(tmp_path):
    root = tmp_path / "photos"
    render_words(root / "real.png", ["EXIT"])
    os.mkfifo(root / "pipe.jpg")  # opening it to hash it would wait for a writer forever
    errors = ErrorLog("index")
    assert [found.path for found in scan_images(root, errors)] == ["real.png"]
    assert [(row["item"], row["reason"]) for row in errors.rows] == [("pipe.jpg", "not a regular file")]
