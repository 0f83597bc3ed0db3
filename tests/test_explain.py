"""`hopid explain` against a small local server that speaks the chat-completions protocol."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest
from typer.testing import CliRunner

from hopid.data.schema import read_table, write_table
from hopid_cli.app import app

runner = CliRunner()


class ChatServer:
    """Answers ``Explained: <caption line>``; after ``fail_after`` answers it returns 503 until ``heal()``."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.answered = 0
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    failing = server.fail_after is not None and server.answered >= server.fail_after
                    if not failing:
                        server.answered += 1
                if self.path != "/v1/chat/completions" or failing:
                    self.send_response(404 if self.path != "/v1/chat/completions" else 503)
                    self.end_headers()
                    return
                prompt = body["messages"][-1]["content"]
                caption = next(line for line in prompt.splitlines() if line.startswith("Caption: "))
                reply = {"choices": [{"message": {"role": "assistant", "content": f"Explained: {caption[9:]}"}}]}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def heal(self) -> None:
        self.fail_after = None

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "news"
    root.mkdir()
    write_table(
        [{"image_id": f"i{i}", "path": f"{i}.png", "split": "test", "width": 8, "height": 8} for i in range(12)],
        root / "images.parquet",
        "images",
    )
    captions = [
        {
            "caption_id": f"c{i}",
            "image_id": f"i{i}",
            "text": f"Mayor {i} opens {{the}} bridge",
            "split": "test",
            "explanation": "kept as written" if i == 0 else None,
            "context": "The city council met." if i == 1 else None,
        }
        for i in range(12)
    ]
    write_table(captions, root / "captions.parquet", "captions")
    return root


def explain(root, url: str, *extra: str):
    return runner.invoke(
        app, ["explain", str(root), "--endpoint", url, "--llm", "test-llm", "--backoff", "0", "--retries", "1", *extra]
    )


def test_explain_survives_a_failing_endpoint_and_a_rerun_completes_only_the_missing_rows(dataset):
    server = ChatServer(fail_after=5)
    try:
        result = explain(dataset, server.url, "--concurrency", "2")
        assert result.exit_code != 0 and "rerun" in result.output
        cache = pl.read_parquet(dataset / "explanations.parquet")
        assert cache.height == 5  # every answer that arrived is kept
        assert read_table(dataset / "captions.parquet", "captions")["explanation"].drop_nulls().len() == 1 + 5
        asked_before = len(server.requests)
        server.heal()
        result = explain(dataset, server.url, "--concurrency", "3")
        assert result.exit_code == 0, result.output
        second_run = server.requests[asked_before:]
        assert len(second_run) == 11 - 5  # only the missing rows are asked for
    finally:
        server.close()
    captions = read_table(dataset / "captions.parquet", "captions")
    explained = dict(captions.select("caption_id", "explanation").iter_rows())
    assert explained["c0"] == "kept as written"  # an existing explanation is not replaced
    assert all(explained[f"c{i}"] == f"Explained: Mayor {i} opens {{the}} bridge" for i in range(1, 12))
    prompts = [r["messages"][-1]["content"] for r in server.requests if "Mayor 1 " in r["messages"][-1]["content"]]
    assert prompts and "Article: The city council met." in prompts[0]  # the context column goes into the prompt
    assert all(r["model"] == "test-llm" for r in server.requests)


def test_an_unreachable_endpoint_is_one_clear_line(dataset):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    result = explain(dataset, f"http://127.0.0.1:{port}/v1")
    assert result.exit_code != 0
    assert "unreachable" in result.output and "Traceback" not in result.output
    assert not (dataset / "explanations.parquet").exists()
    result = explain(dataset, "ftp://example.org")
    assert result.exit_code != 0 and "http://" in result.output
