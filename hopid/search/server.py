"""``hopid serve``: an HTTP JSON API over one opened index; model and index load once.

``POST /search`` takes ``{"text": str, "k": int}`` or ``{"image": base64 bytes, "k": int}``,
plus ``dense_only`` and ``rerank`` as in ``hopid query``, and answers the list ``hopid query
--json`` prints. ``GET /openapi.json`` is the schema, ``GET /health`` a liveness check.
Requests are bounded (body size, ``k``, text length); bad input gets a 4xx with ``{"error"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hopid import __version__
from hopid.errors import HopidError
from hopid.search.rerank import RERANK_CHOICES
from hopid.search.searcher import Searcher

MAX_BODY = 8 << 20  # bytes: room for one base64 photo
MAX_K = 1000

HIT_SCHEMA = {
    "type": "object",
    "properties": {
        "rank": {"type": "integer"},
        "path": {"type": "string"},
        "score": {"type": "number"},
        "dense": {"type": "number"},
        "text": {"type": "number"},
        "matched": {"type": "array", "items": {"type": "string"}},
    },
}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "hopid search", "version": __version__},
    "paths": {
        "/search": {
            "post": {
                "summary": "Images for a text (or an image), best first",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "text": {"type": "string", "maxLength": 1000},
                                    "image": {"type": "string", "format": "byte", "description": "base64 image file"},
                                    "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10},
                                    "dense_only": {"type": "boolean", "default": False},
                                    "rerank": {"type": "string", "enum": list(RERANK_CHOICES), "nullable": True},
                                },
                                "oneOf": [{"required": ["text"]}, {"required": ["image"]}],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "hits",
                        "content": {"application/json": {"schema": {"type": "array", "items": HIT_SCHEMA}}},
                    },
                    "400": {"description": "invalid request"},
                    "413": {"description": "body too large"},
                },
            }
        },
        "/health": {"get": {"summary": "liveness and index size", "responses": {"200": {"description": "ok"}}}},
    },
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_search(body: Any) -> dict[str, Any]:
    """The validated search request, or :class:`BadRequest` (400) saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    unknown = set(body) - {"text", "image", "k", "dense_only", "rerank"}
    if unknown:
        raise BadRequest(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    if ("text" in body) == ("image" in body):
        raise BadRequest(400, "give exactly one of 'text' or 'image'")
    k = body.get("k", 10)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise BadRequest(400, f"'k' must be an integer from 1 to {MAX_K}")
    dense_only = body.get("dense_only", False)
    if not isinstance(dense_only, bool):
        raise BadRequest(400, "'dense_only' must be true or false")
    rerank = body.get("rerank")
    if rerank is not None and rerank not in RERANK_CHOICES:
        raise BadRequest(400, f"'rerank' must be one of {', '.join(RERANK_CHOICES)} or null")
    request = {"k": k, "dense_only": dense_only, "rerank": rerank}
    if "text" in body:
        if not isinstance(body["text"], str):
            raise BadRequest(400, "'text' must be a string")
        return request | {"text": body["text"]}
    if not isinstance(body["image"], str):
        raise BadRequest(400, "'image' must be a base64 string")
    try:
        data = base64.b64decode(body["image"].split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(400, "'image' is not valid base64") from None
    return request | {"image": data}


class SearchService:
    """One searcher shared by the request threads (searches run one at a time)."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.lock = threading.Lock()

    def search(self, request: dict[str, Any]) -> list[dict]:
        with self.lock:
            if "text" in request:
                hits = self.searcher.search(
                    request["text"], request["k"], dense_only=request["dense_only"], rerank=request["rerank"]
                )
            else:
                with tempfile.NamedTemporaryFile(suffix=".img") as handle:
                    handle.write(request["image"])
                    handle.flush()
                    hits = self.searcher.search_image(Path(handle.name), request["k"])
        return [hit.as_dict() for hit in hits]


def make_server(searcher: Searcher, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving: call ``serve_forever``) answering for ``searcher``."""
    service = SearchService(searcher)

    class Handler(BaseHTTPRequestHandler):
        server_version = f"hopid/{__version__}"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # a reply is headers then body: no 40 ms wait for an ACK

        def log_message(self, *args) -> None:  # the CLI reports; no stderr line per request
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/openapi.json":
                self._send(200, OPENAPI)
            elif self.path == "/health":
                self._send(200, {"status": "ok", "images": len(searcher.paths)})
            else:
                self._send(404, {"error": f"no such path {self.path}; see /openapi.json"})

        def do_POST(self) -> None:
            try:
                if self.path != "/search":
                    raise BadRequest(404, f"no such path {self.path}; POST /search")
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit():
                    raise BadRequest(411, "a Content-Length header is required")
                if int(length) > MAX_BODY:
                    self.close_connection = True
                    raise BadRequest(413, f"the body is larger than {MAX_BODY:,} bytes")
                raw = self.rfile.read(int(length))
                try:
                    body = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise BadRequest(400, "the body is not valid JSON") from None
                self._send(200, service.search(parse_search(body)))
            except BadRequest as exc:
                self._send(exc.status, {"error": str(exc)})
            except HopidError as exc:  # bad query text, unreadable image, a run without references, ...
                self._send(400, {"error": str(exc)})

        def _not_allowed(self) -> None:
            self._send(405, {"error": f"{self.command} is not supported; GET /openapi.json, POST /search"})

        do_PUT = do_DELETE = do_PATCH = _not_allowed

    return ThreadingHTTPServer((host, port), Handler)
