"""The run directory of ``hopid train``: its file names, weights I/O and description, in one place.

``config.yaml`` (the resolved recipe), ``model.safetensors`` (the best weights), ``run.json``
(what serving reads: fusion.alpha, dimensions, the OCR engine), ``tagger/`` (the entity tagger
and its light word tables), ``provenance.json``, ``train_log.parquet``, ``metrics.parquet``,
``checkpoints/last.safetensors`` and ``cache/``. Training writes it (:mod:`hopid.train.loop`),
serving reads it (:class:`hopid.models.run.RunEncoder`); docs/data-model.md describes it.
Light to import: torch and safetensors load only when weights are read or written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hopid.errors import HopidError

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
RUN_FILE = "run.json"
PROVENANCE_FILE = "provenance.json"
TAGGER_DIR = "tagger"
LAST_CHECKPOINT = "checkpoints/last.safetensors"
CACHE_DIR = "cache"


def is_finished_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run's recipe and best weights (what ``--model DIR`` needs)."""
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def save_weights(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Tensors to a safetensors file, atomically (nothing pickled)."""
    from safetensors.torch import save_file

    from hopid.data.schema import atomic_write_bytes

    tensors = {name: t.detach().cpu().contiguous() for name, t in state.items()}
    atomic_write_bytes(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a one-line error when it is not one."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise HopidError(f"{path}: not a readable safetensors file ({exc})") from exc


def read_run_config(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resolved recipe and the serving facts (``run.json``) of a run directory."""
    import yaml

    try:
        recipe = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
        info = json.loads((run_dir / RUN_FILE).read_text())
    except FileNotFoundError as exc:
        raise HopidError(f"{run_dir}: an unfinished run ({exc.filename} missing); finish it with --resume") from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise HopidError(f"{run_dir}: unreadable run description ({exc})") from exc
    if not isinstance(recipe, dict) or "model" not in recipe:
        raise HopidError(f"{run_dir / CONFIG_FILE}: not a hopid run configuration")
    return recipe, info
