"""What a finished training run leaves in its run directory besides the weights: ``run.json``
(the serving facts), ``provenance.json``, ``metrics.parquet``, ``train_log.parquet`` and
``errors.parquet`` (file names: :mod:`hopid.models.run_dir`)."""

from __future__ import annotations

import json
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hopid.data.error_log import ErrorLog
from hopid.data.schema import atomic_write_bytes, table_path, write_table
from hopid.models.run_dir import PROVENANCE_FILE, RUN_FILE
from hopid.train.data import dataset_fingerprint

PROVENANCE_PACKAGES = ("hopid", "torch", "open_clip_torch", "spacy", "numpy", "polars", "faiss-cpu")


def provenance_of(recipe: dict[str, Any], root: Path) -> dict[str, Any]:
    """Package versions, git commit, seed and data fingerprint of a run."""
    versions = {}
    for package in PROVENANCE_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "versions": versions,
        "git_commit": commit or None,
        "seed": recipe["train"]["seed"],
        "dataset": str(root),
        "data_fingerprint": dataset_fingerprint(root),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _write_json(path: Path, value: dict[str, Any]) -> None:
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(json.dumps(value, indent=2)))


def write_run_outputs(
    run_dir: Path,
    info: dict[str, Any],
    provenance: dict[str, Any],
    metrics: dict[str, dict[str, float]],
    split: str,
    ocr_engine: str | None,
    log: list[dict[str, Any]],
    errors: ErrorLog,
) -> None:
    """Write the run's files; ``metrics`` maps a scoring (``dense``, ``fused``) to its test metrics."""
    _write_json(run_dir / RUN_FILE, info)
    _write_json(run_dir / PROVENANCE_FILE, provenance)
    rows = [
        {"metric": name, "value": value, "split": split, "model": scoring, "ocr_engine": ocr_engine}
        for scoring, values in metrics.items()
        for name, value in values.items()
    ]
    write_table(rows, table_path(run_dir, "metrics"), "metrics")
    write_table(log, table_path(run_dir, "train_log"), "train_log")
    if len(errors):
        errors.save(run_dir)
