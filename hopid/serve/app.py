"""The routes of ``hopid serve`` (a FastAPI app over one opened index).

``POST /search`` takes ``{"text": str, "k": int}`` or ``{"image": base64 bytes, "k": int}``,
plus ``dense_only`` and ``rerank`` as in ``hopid query``, and answers the list ``hopid query
--json`` prints. ``GET /openapi.json`` is the schema (generated from :mod:`hopid.serve.requests`),
``GET /health`` a liveness check. Bad input gets a 4xx with ``{"error"}``.

The gallery (:mod:`hopid.gallery`): ``GET /`` the page (state in the URL: ``/?q=...&k=...``
or ``/?like=PATH``), ``/assets/NAME`` its script and style, ``/thumb?path=`` and
``/image?path=`` indexed images only (``path`` as printed, or a hit's ``ref``: its stored
form, which a URL holds whatever bytes the name has; ``/image`` streams the file in chunks),
``POST /api/results`` the hits with their OCR words and the query's entity words (the body of
``/search``, or ``{"like": PATH}``).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from hopid import __version__
from hopid.errors import HopidError
from hopid.gallery.files import FileRefused, GalleryFiles, OpenedImage
from hopid.gallery.results import gallery_results
from hopid.search.searcher import Hit, Searcher
from hopid.serve.guard import Guard, allowed_hosts
from hopid.serve.requests import (
    MAX_BODY,
    MAX_DEPTH,
    Error,
    GalleryResults,
    Health,
    ResultsRequest,
    SearchRequest,
    validation_message,
)
from hopid.serve.requests import Hit as HitModel

ASSETS = {  # name -> content type: the gallery's files, nothing else
    "index.html": "text/html; charset=utf-8",
    "gallery.js": "text/javascript; charset=utf-8",
    "gallery.css": "text/css; charset=utf-8",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "invalid request"},
    413: {"model": Error, "description": "body too large"},
    415: {"model": Error, "description": "not application/json"},
}
FILE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Error, "description": "outside the images folder"},
    404: {"model": Error, "description": "not an indexed image"},
}
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


class SearchService:
    """One searcher shared by the request threads (searches run one at a time: the searcher
    swaps its encoder and caches tables, and is not made for concurrent calls)."""

    def __init__(self, searcher: Searcher, images: Path | None) -> None:
        self.searcher = searcher
        self.files = GalleryFiles(searcher.root, searcher.paths, searcher.row_of, searcher.index_dir, images)
        self.lock = threading.Lock()

    def hits(self, request: ResultsRequest | SearchRequest) -> list[Hit]:
        like = getattr(request, "like", None)
        with self.lock:
            if like is not None:
                return self.searcher.search_like(self.files.row(like), request.k)
            if request.text is not None:
                return self.searcher.search(
                    request.text, request.k, dense_only=request.dense_only, rerank=request.rerank
                )
            with tempfile.NamedTemporaryFile(suffix=".img") as handle:
                handle.write(request.image_bytes())
                handle.flush()
                return self.searcher.search_image(Path(handle.name), request.k)

    def gallery(self, request: ResultsRequest) -> dict:
        hits = self.hits(request)
        with self.lock:
            return gallery_results(self.searcher, hits, request.text)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a file name that is not UTF-8 (its odd bytes
    held as lone surrogates, as ``os.fsdecode`` gives them) is sent as ``\\udcXX`` escapes instead
    of failing to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class ImageResponse(StreamingResponse):
    """An opened image file sent in chunks (never read whole), closed however the sending ends."""

    def __init__(self, opened: OpenedImage, headers: dict[str, str]) -> None:
        super().__init__(
            opened.chunks(), media_type=opened.content_type, headers=headers | {"Content-Length": str(opened.size)}
        )
        self.opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.opened.close()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return AsciiJSONResponse({"error": message}, status, headers=NOSNIFF | (headers or {}))


def make_app(
    searcher: Searcher, images: Path | None = None, host: str = "127.0.0.1", allow_hosts: Iterable[str] = ()
) -> Guard:
    """The ASGI app answering for ``searcher``: its files come from ``images`` (the trusted,
    resolved images folder; None: no file is served); Host headers other than loopback,
    ``host`` and ``allow_hosts`` are refused."""
    service = SearchService(searcher, images)
    app = FastAPI(
        title="hopid search",
        version=__version__,
        summary="Scene-text-aware image search over one index",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, f"no such path {request.url.path}; see /openapi.json")
        if exc.status_code == 405:
            return _error(405, f"{request.method} {request.url.path} is not supported; see /openapi.json")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, validation_message(list(exc.errors())))

    @app.exception_handler(FileRefused)
    async def refused(request: Request, exc: FileRefused) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(HopidError)  # bad query text, unreadable image, a run without references, ...
    async def hopid_error(request: Request, exc: HopidError) -> JSONResponse:
        return _error(400, str(exc))

    @app.post("/search", response_model=list[HitModel], responses=ERRORS, summary="Images for a text or an image")
    def search(body: SearchRequest) -> Any:
        """Images for a text (or an image), best first, as ``hopid query --json`` prints them."""
        return AsciiJSONResponse([hit.as_dict() for hit in service.hits(body)], headers=NOSNIFF)

    @app.post("/api/results", response_model=GalleryResults, responses=ERRORS | FILE_ERRORS, summary="Gallery data")
    def results(body: ResultsRequest) -> Any:
        """The hits of ``/search`` (or like an indexed image) with OCR words and entity words."""
        return AsciiJSONResponse(service.gallery(body), headers=NOSNIFF)

    @app.get("/health", response_model=Health, summary="Liveness and index size")
    def health() -> Any:
        return {"status": "ok", "images": len(searcher.paths)}

    @app.get("/thumb", responses=FILE_ERRORS, response_class=Response, summary="An indexed image's thumbnail")
    def thumb(path: str = "") -> Response:
        data = service.files.thumbnail(path)
        return Response(data, media_type="image/jpeg", headers=NOSNIFF | {"Cache-Control": "max-age=3600"})

    @app.get("/image", responses=FILE_ERRORS, response_class=Response, summary="An indexed image")
    def image(path: str = "") -> Response:
        return ImageResponse(service.files.image(path), NOSNIFF | {"Cache-Control": "max-age=3600"})

    @app.get("/", include_in_schema=False)
    @app.get("/index.html", include_in_schema=False)
    def page() -> Response:
        return asset("index.html")

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise FileRefused(404, f"no such asset {name}")
        data = resources.files("hopid.gallery").joinpath("assets", name).read_bytes()
        return Response(data, media_type=ASSETS[name], headers=NOSNIFF)

    return Guard(app, allowed_hosts(host, allow_hosts), MAX_BODY, MAX_DEPTH)
