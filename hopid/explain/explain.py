"""``hopid explain``: fill ``captions.explanation`` through an LLM, resumably.

Every answer is kept in ``DATASET/explanations.parquet`` (caption_id, explanation, llm,
prompt_hash) as it arrives, in batches written atomically, so an interrupted or failed run
loses nothing and a rerun asks only for the captions still missing under the same model and
prompt. At the end (also after a failure) the answers are merged into ``captions.parquet``.
Captions that already have an explanation are kept unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hopid.data.dataset import Dataset
from hopid.data.error_log import ErrorLog
from hopid.data.schema import atomic_write_bytes, table_path, write_table
from hopid.errors import HopidError
from hopid.explain.client import ChatClient, EndpointError
from hopid.progress import Progress

CACHE = "explanations.parquet"
CACHE_SCHEMA = {"caption_id": pl.String, "explanation": pl.String, "llm": pl.String, "prompt_hash": pl.String}


@dataclass(frozen=True)
class ExplainSummary:
    explained: int  # answered in this run
    reused: int  # already in the cache or in captions.parquet
    failed: int  # asked, and failed after the retries (in errors.parquet)
    left: int  # not asked: the run stopped early
    total: int
    stopped: str | None = None  # why the run stopped early


def render_prompt(template: str, caption: str, context: str | None, context_chars: int) -> str:
    """The template with ``{caption}`` and ``{context}`` filled (plain replacement: braces in
    captions or articles are never interpreted)."""
    article = f"Article: {context.strip()[:context_chars]}\n" if context and context.strip() else ""
    return template.replace("{caption}", caption).replace("{context}", article)


def prompt_hash(system: str, template: str) -> str:
    return hashlib.sha256(f"{system}\0{template}".encode()).hexdigest()[:16]


def _read_cache(path: Path) -> pl.DataFrame:
    if not path.is_file():
        return pl.DataFrame(schema=CACHE_SCHEMA)
    return pl.read_parquet(path).select(list(CACHE_SCHEMA)).cast(CACHE_SCHEMA)


def explain_dataset(
    root: str | Path,
    client: ChatClient,
    *,
    system: str,
    template: str,
    concurrency: int = 4,
    overwrite: bool = False,
    context_chars: int = 1500,
    save_every: int = 50,
    progress: Progress | None = None,
) -> ExplainSummary:
    """Ask ``client`` for every caption still missing an explanation; see the module docstring."""
    if "{caption}" not in template:
        raise HopidError("explain.prompt: the template needs a {caption} placeholder")
    if concurrency < 1:
        raise HopidError("--concurrency must be at least 1")
    data = Dataset.open(root)
    cache_path = Path(root) / CACHE
    key = prompt_hash(system, template)
    cache = _read_cache(cache_path)
    done = set(cache.filter((pl.col("llm") == client.model) & (pl.col("prompt_hash") == key))["caption_id"])
    captions = data.captions
    has_own = pl.col("explanation").is_not_null() & (pl.col("explanation").str.strip_chars() != "")
    wanted = captions if overwrite else captions.filter(~has_own)
    todo = wanted.filter(~pl.col("caption_id").is_in(list(done)))
    contexts = todo["context"].to_list() if "context" in todo.columns else [None] * todo.height
    jobs = list(zip(todo["caption_id"].to_list(), todo["text"].to_list(), contexts, strict=True))
    errors = ErrorLog("explain")
    fresh: list[dict] = []
    failures_in_row, answered, stopped = 0, 0, None

    def flush() -> None:
        nonlocal cache
        if fresh:
            cache = pl.concat([cache, pl.DataFrame(fresh, schema=CACHE_SCHEMA)])
            fresh.clear()
            atomic_write_bytes(cache_path, lambda tmp: cache.write_parquet(tmp))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: dict[Future, str] = {}
        queue = iter(jobs)
        finished = 0
        while True:
            while stopped is None and len(pending) < 2 * concurrency:
                job = next(queue, None)
                if job is None:
                    break
                caption_id, text, context = job
                prompt = render_prompt(template, text, context, context_chars)
                pending[pool.submit(client.complete, system, prompt)] = caption_id
            if not pending:
                break
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in ready:
                caption_id = pending.pop(future)
                finished += 1
                try:
                    answer = future.result()
                except EndpointError as exc:
                    errors.add(caption_id, str(exc))
                    failures_in_row += 1
                    if exc.unreachable and not answered:
                        stopped = f"endpoint unreachable: {exc}"
                    elif failures_in_row >= 3 * concurrency:
                        stopped = f"the endpoint kept failing ({exc})"
                    continue
                failures_in_row, answered = 0, answered + 1
                fresh.append({"caption_id": caption_id, "explanation": answer, "llm": client.model, "prompt_hash": key})
                if len(fresh) >= save_every:
                    flush()
                if progress:
                    progress("explain", finished, len(jobs))
    flush()
    _merge_into_captions(data, cache.filter((pl.col("llm") == client.model) & (pl.col("prompt_hash") == key)))
    errors.save(root)
    return ExplainSummary(
        explained=answered,
        reused=captions.height - len(jobs),
        failed=len(errors),
        left=len(jobs) - answered - len(errors),
        total=captions.height,
        stopped=stopped,
    )


def _merge_into_captions(data: Dataset, answers: pl.DataFrame) -> None:
    if answers.is_empty():
        return
    latest = answers.unique("caption_id", keep="last").select("caption_id", pl.col("explanation").alias("_new"))
    merged = (
        data.captions.join(latest, on="caption_id", how="left")
        .with_columns(explanation=pl.coalesce("_new", "explanation"))
        .drop("_new")
    )
    write_table(merged, table_path(data.root, "captions"), "captions")
