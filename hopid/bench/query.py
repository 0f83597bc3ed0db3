"""The query as a user meets it: a fresh ``hopid query`` process, and ``hopid serve`` over HTTP."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from hopid.bench.timing import wall

QUERIES = ("red truck", "exit sign", "harbourfront platform", "cafe open", "bakery 12", "taxi stand")


def query_cold_s(index_dir: Path, runs: int = 3) -> float:
    """Median wall time of ``hopid query TEXT --index DIR --json``, process start to result."""
    command = [shutil.which("hopid") or sys.executable, *([] if shutil.which("hopid") else ["-m", "hopid_cli"])]
    times = []
    for i in range(runs):
        args = [*command, "query", QUERIES[i % len(QUERIES)], "--index", str(index_dir), "--json"]
        times.append(wall(lambda args=args: subprocess.run(args, capture_output=True, check=True, timeout=300)))
    return float(np.median(times))


def query_warm_ms(index_dir: Path, requests: int = 100) -> float:
    """Median milliseconds per ``POST /search`` to ``hopid serve``'s server on loopback."""
    from hopid.search.searcher import Searcher
    from hopid.serve.server import make_server

    server = make_server(Searcher(index_dir), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    try:
        times = []
        for i in range(requests + 5):
            body = json.dumps({"text": QUERIES[i % len(QUERIES)] + f" {i}", "k": 10}).encode()

            def ask(body=body) -> None:
                connection.request("POST", "/search", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"hopid serve answered {response.status}")

            seconds = wall(ask)
            if i >= 5:  # the first few warm the caches
                times.append(seconds)
    finally:
        connection.close()
        server.shutdown()
        server.server_close()
    return float(np.median(times) * 1000)
