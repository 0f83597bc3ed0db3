"""What every command shares: the stderr console, error handling, progress bars, tables."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from hopid.errors import HopidError

err = Console(stderr=True)
out = Console()
state = {"debug": False}
EXIT_USER_ERROR = 2
MODEL_HELP = (
    "tiny | RUN_DIR (from hopid train) | ARCH:PRETRAINED (e.g. ViT-B-32:laion2b_s34b_b79k) | ARCH:/path/to/weights."
)


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USER_ERROR)


def handle_errors(command: Callable) -> Callable:
    """Turn a HopidError into one line on stderr and exit status 2 (a traceback with --debug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state["debug"]:
            logging.basicConfig(level=logging.ERROR, force=True)
        try:
            return command(*args, **kwargs)
        except HopidError as exc:
            if state["debug"]:
                raise
            fail(str(exc))
        except KeyboardInterrupt as exc:
            err.print("[yellow]interrupted[/]: finished work is saved; run the same command again to resume")
            raise typer.Exit(128 + signal.SIGTERM if isinstance(exc, Terminated) else 130) from None

    return wrapper


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a command stops its workers and saves finished work."""


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within this block (in the main thread), SIGTERM raises :class:`Terminated`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields ``update(task_name, done, total)``."""
    columns = (
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield update


def summary_table(title: str, rows: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items() if isinstance(rows, Mapping) else rows:
        table.add_row(str(key), f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    sys.stdout.flush()
