"""``hopid query``: search an index by text (or by an image)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hopid_cli.common import err, handle_errors, out, print_json


@handle_errors
def query(
    text: Annotated[str | None, typer.Argument(help='What you are looking for, e.g. "red Coca-Cola truck".')] = None,
    index_dir: Annotated[
        Path | None, typer.Option("--index", help="Index directory (default: the index of this folder).")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="How many results.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON list on stdout.")] = False,
    paths_only: Annotated[
        bool, typer.Option("--paths", help="Print only the paths, one per line, their bytes as on disk.")
    ] = False,
    null: Annotated[
        bool,
        typer.Option("-0", "--null", help="With --paths: end each path with a NUL byte instead of a newline."),
    ] = False,
    image: Annotated[Path | None, typer.Option(help="Search by this image instead of text (image -> image).")] = None,
    dense_only: Annotated[
        bool, typer.Option("--dense-only", help="Rank by the model alone, without scene text.")
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Override the index's model (must be the same model or run directory).")
    ] = None,
    tagger: Annotated[
        Path | None,
        typer.Option(help="Entity tagger directory (default: the run's tagger for a trained model, else rules)."),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(help="fusion.alpha: weight of the scene-text score (default: the model's, 0.5 for CLIP)."),
    ] = None,
    rerank: Annotated[
        str | None,
        typer.Option(help="reference: re-rank the top results by MMRef reference profiles (an mmref run)."),
    ] = None,
    explanation: Annotated[
        str | None,
        typer.Option(
            help="What your query names, e.g. 'Qojzal is a soft drink; its slogan is \"Zubrak\"': enhances the "
            "query through an EntityCLIP run's experts, and its names are looked for as scene text "
            "(model.explained_words).",
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(help="Also write a contact sheet (PNG) of the results: OCR boxes, score parts, matched words."),
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the results as an HTML page (thumbnails embedded).")
    ] = None,
) -> None:
    """Rank indexed images: dense similarity fused with scene-text matches of your words."""
    from hopid.errors import HopidError
    from hopid.search.searcher import Searcher, check_query, find_index_dir

    if grid is not None and grid.suffix.lower() != ".png":
        raise HopidError(f"--grid {grid}: the contact sheet is a PNG; give a file name ending in .png")
    if null and not paths_only:
        raise HopidError("-0/--null separates the paths of --paths; add --paths")
    if as_json and paths_only:
        raise HopidError("give either --json or --paths, not both")
    if image is None:
        text = check_query(text or "")
    elif text:
        raise HopidError("give either TEXT or --image, not both")
    elif explanation is not None:
        raise HopidError("--explanation enhances a TEXT query; an --image query takes none")
    encoder = None
    if model is not None:
        from hopid.models.factory import load_encoder

        encoder = load_encoder(model)
    searcher = Searcher(find_index_dir(index_dir), encoder=encoder, tagger_dir=tagger)
    if image is not None:
        hits = searcher.search_image(image, k)
    else:
        hits = searcher.search(text, k, dense_only=dense_only, alpha=alpha, rerank=rerank, explanation=explanation)
    title = f"results for {text!r}" if text else f"images like {image}"
    if grid is not None or html_out is not None:
        _pictures(searcher, hits, title, grid, html_out)
    if as_json:
        print_json([hit.as_dict() for hit in hits])
    elif paths_only:
        write_paths([hit.path for hit in hits], b"\0" if null else b"\n")
    else:
        out.print(hits_table(hits, title))


def write_paths(paths: list[str], end: bytes) -> None:
    """Each path's bytes as ``os.fsencode`` gives them (a name that is not UTF-8 included), ended
    by ``end``: a NUL keeps names with a newline apart."""
    sys.stdout.flush()
    stream = sys.stdout.buffer
    stream.write(b"".join(os.fsencode(path) + end for path in paths))
    stream.flush()


def _pictures(searcher, hits, title: str, grid: Path | None, html_out: Path | None) -> None:
    """The contact sheet and/or HTML page of the hits; where they are goes to stderr."""
    from hopid.viz.sheets import contact_sheet, hits_html

    words = searcher.hit_words(hits)
    if grid is not None:
        err.print(f"contact sheet: {contact_sheet(hits, words, grid, title)}")
    if html_out is not None:
        err.print(f"HTML page: {hits_html(hits, words, html_out, title)}")


def hits_table(hits, title: str) -> Table:
    from hopid.data.scan import shown_name

    table = Table(title=escape(title), title_justify="left")
    for column in ("rank", "score", "dense", "text", "matched words", "path"):
        table.add_column(column, justify="right" if column in ("rank", "score", "dense", "text") else "left")
    for hit in hits:
        table.add_row(
            str(hit.rank),
            f"{hit.score:.3f}",
            f"{hit.dense:.3f}",
            f"{hit.text:.3f}",
            escape(", ".join(hit.matched)),
            escape(shown_name(hit.path)),
        )
    return table
