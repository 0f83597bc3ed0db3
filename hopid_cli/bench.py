"""``hopid bench``: measure every stage against the raw library doing the same work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import err, handle_errors, out, print_json


@handle_errors
def bench(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="100,000 vectors and 48 OCR scenes: 3-7 minutes on 2 cores (else 1,000,000 and 160: ~25).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the figures as one flat JSON object on stdout.")
    ] = False,
    work_dir: Annotated[
        Path | None, typer.Option(help="Where the temporary index and scenes go (default: the system's temp).")
    ] = None,
) -> None:
    """OCR, embedding, search, cold/warm query and training step, each as a ratio to the raw
    library (rapidocr, open_clip, FAISS) doing the same work with the same settings, the two
    sides warmed up and taking turns over several rounds (medians); see docs/performance.md."""
    from rich.table import Table

    from hopid.bench.run import TARGETS, on_target, run_bench

    figures = run_bench(quick=quick, work_dir=work_dir, note=lambda line: err.print(f"[dim]{line}[/]"))
    if as_json:
        print_json(figures)
        return
    table = Table(title=f"hopid bench{' --quick' if quick else ''} ({figures['cores']} cores)", title_justify="left")
    for column in ("figure", "value", "target", ""):
        table.add_column(column, justify="right" if column in ("value", "target") else "left")
    for key, value in figures.items():
        target = TARGETS.get(key)
        verdict = on_target(key, value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        table.add_row(
            key,
            shown,
            f"{target[0]} {target[1]:g}" if target else "",
            "" if verdict is None else "[green]ok[/]" if verdict else "[red]off target[/]",
        )
    out.print(table)
