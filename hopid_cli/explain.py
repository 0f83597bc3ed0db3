"""``hopid explain``: write each caption's explanation (EntityCLIP) with an LLM endpoint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hopid_cli.common import err, handle_errors, out, progress_bar, summary_table


@handle_errors
def explain(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory (from hopid prepare).")],
    endpoint: Annotated[
        str, typer.Option(help="OpenAI-compatible API base, e.g. http://localhost:8000/v1 (vLLM, llama.cpp, Ollama).")
    ],
    llm: Annotated[str, typer.Option(help="Model name the endpoint serves.")],
    recipe: Annotated[
        Path | None, typer.Option(help="Recipe whose explain section gives the prompt (default: the built-in one).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight at once.")] = 4,
    retries: Annotated[int, typer.Option(min=0, help="Retries per request (backoff doubles each time).")] = 4,
    backoff: Annotated[float, typer.Option(min=0.0, help="Seconds before the first retry.")] = 1.0,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds to wait for one answer.")] = 60.0,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key (sent as a Bearer token, if set).")
    ] = "OPENAI_API_KEY",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Also replace explanations the dataset already has.")
    ] = False,
) -> None:
    """Fill captions.explanation through a chat-completions endpoint: resumable (answers are kept
    in DATASET/explanations.parquet as they arrive; a rerun asks only for what is missing)."""
    from hopid.errors import HopidError
    from hopid.explain.client import ChatClient, completions_url
    from hopid.explain.explain import explain_dataset
    from hopid.train.recipe import load_recipe

    settings = load_recipe(recipe)["explain"]
    client = ChatClient(
        completions_url(endpoint),
        llm,
        api_key=os.environ.get(api_key_env) or None,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        max_tokens=settings["max_tokens"],
        temperature=settings["temperature"],
    )
    with progress_bar() as update:
        summary = explain_dataset(
            dataset,
            client,
            system=settings["system"],
            template=settings["prompt"],
            concurrency=concurrency,
            overwrite=overwrite,
            context_chars=settings["context_chars"],
            progress=update,
        )
    out.print(summary_table(f"explanations in {dataset}", vars(summary)))
    if summary.stopped:
        raise HopidError(f"stopped early, {summary.stopped}; what was answered is kept: rerun to complete")
    if summary.failed:
        err.print(f"[yellow]{summary.failed} caption(s) failed[/]: see {dataset / 'errors.parquet'}; rerun to retry")
        raise typer.Exit(1)
