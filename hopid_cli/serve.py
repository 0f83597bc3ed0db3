"""``hopid serve``: keep a model and an index loaded; a web gallery and a JSON API over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import err, handle_errors


@handle_errors
def serve(
    index_dir: Annotated[
        Path | None, typer.Option("--index", help="Index directory (default: the index of this folder).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (localhost by default; 0.0.0.0 exposes it).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port, printed).")] = 8765,
) -> None:
    """Web gallery at / (search box, thumbnails with OCR boxes, details; the search is in the
    URL: /?q=red+truck&k=20) and the HTTP JSON API: POST /search {"text": "red truck", "k": 10}
    (or "image": base64, plus "dense_only", "rerank"); GET /openapi.json for the schema.
    Only indexed images are served. Ctrl-C stops it."""
    from hopid.search.searcher import Searcher, find_index_dir
    from hopid.serve.server import make_server

    searcher = Searcher(find_index_dir(index_dir))
    server = make_server(searcher, host, port)
    bound_host, bound_port = server.server_address[:2]
    err.print(
        f"serving {searcher.index_dir} ({len(searcher.paths):,} images): gallery at "
        f"http://{bound_host}:{bound_port}/ · POST /search · GET /openapi.json",
        soft_wrap=True,  # one line, however narrow the terminal: scripts read the address from it
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        server.server_close()
