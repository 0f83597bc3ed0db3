"""`hopid serve`: the HTTP API on a free loopback port, spoken to over real HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import render_words
from typer.testing import CliRunner

from hopid.index.build import build_index
from hopid.search.searcher import Searcher
from hopid.serve.requests import MAX_BODY
from hopid.serve.server import make_server
from hopid_cli.app import app

WORDS = {"zorbex.png": ["ZORBEX"], "klaxo.png": ["Klaxo", "Bakery"], "gate.png": ["Gate", "63"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_encoder):
    root = tmp_path_factory.mktemp("photos")
    for name, words in WORDS.items():
        render_words(root / name, words)
    build_index(root, tiny_encoder)
    server = make_server(Searcher(root / ".hopid"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, server.server_address[1]
    server.shutdown()
    server.server_close()


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def search(port: int, payload) -> tuple[int, object]:
    return call(port, "POST", "/search", json.dumps(payload).encode())


def test_200_queries_16_at_a_time_match_hopid_query(served):
    root, port = served
    texts = ["zorbex", "klaxo bakery", "gate 63", "a red sign"] * 50
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: search(port, {"text": t, "k": 2}), texts))
    assert all(status == 200 and len(hits) == 2 for status, hits in answers)
    assert answers[0][1][0]["path"].endswith("zorbex.png")
    cli = CliRunner().invoke(app, ["query", "klaxo bakery", "--index", str(root / ".hopid"), "-k", "2", "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout) == answers[1][1]  # the same answer as the CLI


def test_image_query_and_schema(served):
    root, port = served
    image = base64.b64encode((root / "gate.png").read_bytes()).decode()
    status, hits = search(port, {"image": image, "k": 3})
    assert status == 200 and hits[0]["path"].endswith("gate.png")
    status, schema = call(port, "GET", "/openapi.json")
    assert status == 200 and "/search" in schema["paths"]
    assert call(port, "GET", "/health") == (200, {"status": "ok", "images": 3})


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"k": 3}, "exactly one"),
        ({"text": "a", "image": "aGk="}, "exactly one"),
        ({"text": "a", "k": 0}, "'k'"),
        ({"text": "a", "k": "5"}, "'k'"),
        ({"text": "a", "k": 10_000}, "'k'"),
        ({"text": "a", "colour": "red"}, "unknown field"),
        ({"text": "a", "dense_only": "yes"}, "dense_only"),
        ({"text": "a", "rerank": "magic"}, "rerank"),
        ({"text": ""}, "empty"),
        ({"text": 42}, "string"),
        ({"image": "not base64!"}, "base64"),
        ({"image": base64.b64encode(b"not an image").decode()}, "not an image file"),
        (["text"], "JSON object"),
        ({"text": "a", "rerank": "reference"}, "mmref"),  # the tiny model has no references
    ],
)
def test_malformed_requests_get_a_clear_4xx(served, payload, message):
    _, port = served
    status, answer = search(port, payload)
    assert 400 <= status < 500 and message in answer["error"]


def test_protocol_errors_are_4xx(served):
    _, port = served
    assert call(port, "POST", "/search", b"{not json")[0] == 400
    assert call(port, "GET", "/nowhere")[0] == 404
    assert call(port, "POST", "/elsewhere", b"{}")[0] == 404
    assert call(port, "PUT", "/search", b"{}")[0] == 405
    huge = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", "/search")
    for key, value in huge.items():
        connection.putheader(key, value)
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    status, hits = search(port, {"text": "zorbex"})  # still serving
    assert status == 200 and hits
