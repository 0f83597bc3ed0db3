"""`hopid serve`: the HTTP API on a free loopback port, spoken to over real HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import render_words
from typer.testing import CliRunner

from hopid.index.build import build_index
from hopid.search.searcher import MAX_QUERY_CHARS, Searcher
from hopid.serve.requests import MAX_BODY, MAX_K
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


JSON = {"Content-Type": "application/json"}


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=JSON if headers is None else headers)
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
    assert message and 400 <= status < 500 and message in answer["error"], answer


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


def test_nested_oversize_and_non_json_bodies_are_refused_before_parsing(served):
    _, port = served
    status, answer = call(port, "POST", "/search", b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and "nests deeper" in answer["error"]
    status, answer = call(port, "POST", "/search", b'{"text": ' + b"[" * 40 + b"]" * 40 + b"}")
    assert status == 400 and "nests deeper" in answer["error"]
    form = {"Content-Type": "text/plain"}  # what a cross-site form may post without a preflight
    status, answer = call(port, "POST", "/search", b'{"text": "zorbex"}', form)
    assert status == 415 and "application/json" in answer["error"]
    status, answer = call(port, "POST", "/search", b'{"text": "zorbex"}', {})
    assert status == 415

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # no Content-Length: chunked
    chunks = (b"x" * (1 << 20) for _ in range(MAX_BODY // (1 << 20) + 2))
    connection.request("POST", "/search", body=chunks, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413 and "larger than" in json.loads(response.read())["error"]
    connection.close()
    assert search(port, {"text": "zorbex"})[0] == 200  # still serving


def test_only_trusted_host_headers_are_answered(served):
    root, port = served
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", ""):
        status, answer = call(port, "GET", "/health", headers={"Host": host})
        assert status == 400 and "--allow-host" in answer["error"], host
    status, _ = call(port, "POST", "/search", b'{"text": "zorbex"}', {"Host": "evil.example", **JSON})
    assert status == 400  # DNS rebinding: a page of evil.example resolved to 127.0.0.1
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST."):
        assert call(port, "GET", "/health", headers={"Host": host})[0] == 200, host

    wider = make_server(Searcher(root / ".hopid"), "127.0.0.1", 0, allow_hosts=["photos.lan"])
    threading.Thread(target=wider.serve_forever, daemon=True).start()
    try:
        assert call(wider.server_address[1], "GET", "/health", headers={"Host": "photos.lan:8765"})[0] == 200
        assert call(wider.server_address[1], "GET", "/health", headers={"Host": "evil.example"})[0] == 400
    finally:
        wider.shutdown()
        wider.server_close()


def test_the_schema_is_generated_from_the_request_models(served):
    _, port = served
    status, schema = call(port, "GET", "/openapi.json")
    request = schema["components"]["schemas"]["SearchRequest"]
    assert status == 200 and request["additionalProperties"] is False
    assert request["properties"]["k"]["maximum"] == MAX_K and request["properties"]["k"]["minimum"] == 1
    assert request["properties"]["text"]["anyOf"][0]["maxLength"] == MAX_QUERY_CHARS
    assert schema["paths"]["/api/results"]["post"]["responses"]["200"]
    assert {"/search", "/api/results", "/health", "/image", "/thumb"} <= set(schema["paths"])
    status, answer = search(port, {"text": "z" * (MAX_QUERY_CHARS + 1)})
    assert status == 400 and "'text'" in answer["error"] and str(MAX_QUERY_CHARS) in answer["error"]


def test_a_taken_port_or_a_foreign_host_is_one_line_and_exit_2(served):
    root, port = served
    for args, message in (
        (["--port", str(port)], f"port {port} on 127.0.0.1 is already in use"),
        (["--host", "192.0.2.1", "--port", "0"], "is not an address of this machine"),  # TEST-NET, not here
    ):
        answer = CliRunner().invoke(app, ["serve", "--index", str(root / ".hopid"), *args])
        assert answer.exit_code == 2 and message in answer.output, answer.output
        assert "Traceback" not in answer.output and len(answer.output.strip().splitlines()) == 1


def test_16_way_queries_answered_while_50_connections_stall(served):
    """A bounded load test: stalled clients (silent, half a header, half a body) neither block
    queries nor stay open past the request deadline."""
    root, _ = served
    server = make_server(Searcher(root / ".hopid"), "127.0.0.1", 0, request_timeout=2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    half_body = (
        b"POST /search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 99\r\n\r\n{"
    )
    stalls = [b"", b"GET /health HTTP/1.1\r\nHost: loc", half_body] * 17
    stalled = []
    try:
        for partial in stalls[:50]:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(partial)
            stalled.append(sock)
        texts = ["zorbex", "klaxo bakery", "gate 63", "a red sign"] * 16
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda t: search(port, {"text": t, "k": 2}), texts))
        assert all(status == 200 and len(hits) == 2 for status, hits in answers)
        for sock in stalled:  # the server hangs up on each (a 4xx first, at most) once the deadline passes
            sock.settimeout(30)
            while sock.recv(65536):
                pass
    finally:
        for sock in stalled:
            sock.close()
        server.shutdown()
        server.server_close()


def test_a_string_left_open_is_scanned_in_linear_time():
    import threading

    from hopid.serve.guard import nesting_depth

    body = b'"' + b'\\"' * 1_000_000  # the quadratic scan took about 3 s at 16,000 pairs, hours here
    found: list[int] = []
    scan = threading.Thread(target=lambda: found.append(nesting_depth(body)), daemon=True)
    scan.start()
    scan.join(timeout=60)
    assert found == [0]
    assert nesting_depth(b'{"a": [1, {"b": "x]}"}], "c": "\\\\"}') == 3
