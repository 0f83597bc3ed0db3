"""``hopid serve``: an HTTP JSON API and a web gallery over one opened index; model and index load once.

``POST /search`` takes ``{"text": str, "k": int}`` or ``{"image": base64 bytes, "k": int}``,
plus ``dense_only`` and ``rerank`` as in ``hopid query``, and answers the list ``hopid query
--json`` prints. ``GET /openapi.json`` is the schema, ``GET /health`` a liveness check.
Requests are bounded (body size, ``k``, text length); bad input gets a 4xx with ``{"error"}``.

The gallery (:mod:`hopid.gallery`): ``GET /`` the page (state in the URL: ``/?q=...&k=...``
or ``/?like=PATH``), ``/assets/NAME`` its script and style, ``/thumb?path=`` and
``/image?path=`` indexed images only, ``POST /api/results`` the hits with their OCR words
and the query's entity words (the body of ``/search``, or ``{"like": PATH}``).
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hopid import __version__
from hopid.errors import HopidError
from hopid.gallery.files import FileRefused, GalleryFiles
from hopid.gallery.results import gallery_results
from hopid.search.rerank import RERANK_CHOICES
from hopid.search.searcher import Hit, Searcher

MAX_BODY = 8 << 20  # bytes: room for one base64 photo
MAX_K = 1000
ASSETS = {  # name -> content type: the gallery's files, nothing else
    "index.html": "text/html; charset=utf-8",
    "gallery.js": "text/javascript; charset=utf-8",
    "gallery.css": "text/css; charset=utf-8",
}

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


def parse_search(body: Any, sources: tuple[str, ...] = ("text", "image")) -> dict[str, Any]:
    """The validated search request, or :class:`BadRequest` (400) saying what is wrong.
    ``sources``: what a query may be (the gallery adds ``like``, an indexed image's path)."""
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    unknown = set(body) - {*sources, "k", "dense_only", "rerank"}
    if unknown:
        raise BadRequest(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    if sum(source in body for source in sources) != 1:
        names = [repr(source) for source in sources]
        raise BadRequest(400, f"give exactly one of {', '.join(names[:-1])} or {names[-1]}")
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
    for source in ("text", "like"):
        if source in body:
            if not isinstance(body[source], str):
                raise BadRequest(400, f"'{source}' must be a string")
            return request | {source: body[source]}
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
        self.files = GalleryFiles(searcher.root, searcher.paths, searcher.row_of, searcher.index_dir)
        self.lock = threading.Lock()

    def hits(self, request: dict[str, Any]) -> list[Hit]:
        with self.lock:
            if "like" in request:
                return self.searcher.search_like(self.files.row(request["like"]), request["k"])
            if "text" in request:
                return self.searcher.search(
                    request["text"], request["k"], dense_only=request["dense_only"], rerank=request["rerank"]
                )
            with tempfile.NamedTemporaryFile(suffix=".img") as handle:
                handle.write(request["image"])
                handle.flush()
                return self.searcher.search_image(Path(handle.name), request["k"])

    def search(self, request: dict[str, Any]) -> list[dict]:
        return [hit.as_dict() for hit in self.hits(request)]

    def gallery(self, request: dict[str, Any]) -> dict:
        hits = self.hits(request)
        with self.lock:
            return gallery_results(self.searcher, hits, request.get("text"))


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
            self._send_bytes(status, json.dumps(payload).encode(), "application/json")

        def _send_bytes(self, status: int, data: bytes, content_type: str, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Content-Type-Options", "nosniff")
            if cache:
                self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = parse_qs(url.query).get("path", [""])[0]
            try:
                if url.path == "/openapi.json":
                    self._send(200, OPENAPI)
                elif url.path == "/health":
                    self._send(200, {"status": "ok", "images": len(searcher.paths)})
                elif url.path in ("/", "/index.html") or url.path.startswith("/assets/"):
                    name = "index.html" if not url.path.startswith("/assets/") else url.path[len("/assets/") :]
                    if name not in ASSETS:
                        raise FileRefused(404, f"no such asset {name}")
                    data = resources.files("hopid.gallery").joinpath("assets", name).read_bytes()
                    self._send_bytes(200, data, ASSETS[name])
                elif url.path == "/thumb":
                    self._send_bytes(200, service.files.thumbnail(path), "image/jpeg", cache=True)
                elif url.path == "/image":
                    data, content_type = service.files.image(path)
                    self._send_bytes(200, data, content_type, cache=True)
                else:
                    self._send(404, {"error": f"no such path {url.path}; see /openapi.json"})
            except FileRefused as exc:
                self._send(exc.status, {"error": str(exc)})

        def do_POST(self) -> None:
            try:
                if self.path not in ("/search", "/api/results"):
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
                if self.path == "/search":
                    self._send(200, service.search(parse_search(body)))
                else:
                    self._send(200, service.gallery(parse_search(body, ("text", "image", "like"))))
            except BadRequest as exc:
                self._send(exc.status, {"error": str(exc)})
            except FileRefused as exc:
                self._send(exc.status, {"error": str(exc)})
            except HopidError as exc:  # bad query text, unreadable image, a run without references, ...
                self._send(400, {"error": str(exc)})

        def _not_allowed(self) -> None:
            self._send(405, {"error": f"{self.command} is not supported; GET /openapi.json, POST /search"})

        do_PUT = do_DELETE = do_PATCH = _not_allowed

    return ThreadingHTTPServer((host, port), Handler)
