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
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Also answer requests for this Host name (repeatable; loopback and --host are always answered).",
        ),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="The images folder, when the index is not inside it (confirms the folder its manifest names).",
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Print a line per request.")] = False,
) -> None:
    """Web gallery at / (search box, thumbnails with OCR boxes, details; the search is in the
    URL: /?q=red+truck&k=20) and the HTTP JSON API: POST /search {"text": "red truck", "k": 10}
    (or "image": base64, plus "dense_only", "rerank"); GET /openapi.json for the schema.
    Only indexed images inside the images folder are served. Ctrl-C stops it."""
    from hopid.data.source import is_uri
    from hopid.search.searcher import Searcher, find_index_dir
    from hopid.serve.server import make_server

    searcher = Searcher(find_index_dir(index_dir))
    server = make_server(searcher, host, port, images=images, allow_hosts=allow_host or (), access_log=access_log)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    err.print(
        f"serving {searcher.index_dir} ({len(searcher.paths):,} images): gallery at "
        f"http://{shown}:{bound_port}/ · POST /search · GET /openapi.json",
        soft_wrap=True,  # one line, however narrow the terminal: scripts read the address from it
        highlight=False,
    )
    if server.images_folder is None and is_uri(searcher.source):
        err.print(
            f"[yellow]note[/]: the images are at {searcher.source}; the gallery shows their paths, not the images",
            soft_wrap=True,
            highlight=False,
        )
    elif server.images_folder is None:
        err.print(
            f"[yellow]note[/]: {searcher.index_dir} is not inside its images folder {searcher.root}; "
            f"no image files are served (add --images {searcher.root} to serve them)",
            soft_wrap=True,
            highlight=False,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    err.print("stopped")
