"""``hopid train``: train HOPID (or the CLIP-only baseline) from a recipe into a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hopid.torchrun import torchrun_launch
from hopid_cli.common import err, handle_errors, out, progress_bar, summary_table

SHOWN = (
    "t2i_r1",
    "t2i_r5",
    "t2i_r10",
    "i2t_r1",
    "i2t_r5",
    "i2t_r10",
    "rsum",
    "rank1",
    "rank5",
    "rank10",
    "map",
    "minp",
)


@handle_errors
def train(
    recipe: Annotated[
        Path,
        typer.Argument(help="Recipe YAML, or the name of one in recipes/ (demo-tiny, ctc-vitb32, coco-vitb32, …)."),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a recipe key, e.g. --set train.epochs=5 (repeatable)."),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run directory (default: runs/RECIPE_NAME).")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint, exactly.")
    ] = False,
) -> None:
    """Train a model; the run directory then serves `hopid index/query/eval --model RUN_DIR`.

    Works under torchrun too: `torchrun --nproc-per-node 2 -m hopid_cli train RECIPE`."""
    from rich.table import Table

    from hopid.data.dataset import GROUNDTRUTH_ENGINE
    from hopid.train.loop import train as run_training
    from hopid.train.recipe import load_recipe

    resolved = load_recipe(recipe, overrides or [])
    run_dir = out_dir or Path("runs") / str(resolved["name"])
    if not torchrun_launch().is_main:  # under torchrun only rank 0 reports
        run_training(resolved, run_dir, resume=resume)
        return
    err.print(f"training {resolved['name']} into {run_dir}")
    try:
        with progress_bar() as update:
            summary = run_training(resolved, run_dir, resume=resume, progress=update, note=err.print)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: continue from the last checkpoint with the same command and --resume")
        raise typer.Exit(130) from None
    engine = summary.ocr_engine or "none"
    title = f"{resolved['name']}: test split, OCR: {engine} ({summary.run_dir})"
    table = Table(title=title, title_justify="left")
    shown = [m for m in SHOWN if m in next(iter(summary.metrics.values()))]
    table.add_column("scoring")
    for metric in shown:
        table.add_column(metric, justify="right")
    for scoring, values in summary.metrics.items():
        table.add_row(scoring, *(f"{values[m]:.1f}" if m == "rsum" else f"{values[m]:.3f}" for m in shown))
    out.print(table)
    if summary.ocr_engine == GROUNDTRUTH_ENGINE:
        err.print("[yellow]note:[/] test metrics scored with the dataset's GROUND-TRUTH words, not an OCR engine")
    out.print(
        summary_table(
            "run",
            {
                "epochs": summary.epochs,
                "steps": summary.steps,
                "best epoch (val)": summary.best_epoch,
                "fusion.alpha (val)": summary.fusion_alpha,
                "samples/s": round(summary.samples_per_second, 1),
                "seconds": round(summary.seconds, 1),
                "resumed at step": summary.resumed_at_step,
            },
        )
    )
