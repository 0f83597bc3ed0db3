"""The ``hopid`` Typer app: one module per command, joined here."""

from __future__ import annotations

from typing import Annotated

import typer

from hopid import __version__
from hopid_cli import bench, demo, entities, explain, export, index, ocr, prepare, query, serve, train, viz
from hopid_cli import eval as eval_cmd
from hopid_cli.common import state

app = typer.Typer(
    name="hopid",
    help="Scene-text-aware text-image retrieval: find the image where your words are written in the scene.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hopid {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """hopid: prepare data, read scene text, infer entities, index, query and evaluate."""
    state["debug"] = debug


app.add_typer(prepare.app, name="prepare")
app.add_typer(entities.app, name="entities")
app.command("ocr")(ocr.ocr)
app.command("index")(index.index)
app.command("query")(query.query)
app.command("eval")(eval_cmd.evaluate)
app.command("train")(train.train)
app.command("explain")(explain.explain)
app.command("serve")(serve.serve)
app.command("bench")(bench.bench)
app.command("export")(export.export)
app.command("demo")(demo.demo)
app.add_typer(viz.app, name="viz")


def main() -> None:
    app()
