"""Parsing ``--model`` strings (no heavy imports here: the CLI parses before it loads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hopid.errors import HopidError
from hopid.models.run_dir import CONFIG_FILE, WEIGHTS_FILE, is_finished_run

TINY = "tiny"
TINY_ARCH = "hopid-tiny"


@dataclass(frozen=True)
class ModelSpec:
    """What ``--model`` names: ``kind`` is tiny, pretrained (a tag to download), weights (a local
    open_clip checkpoint) or run (a ``hopid train`` run directory)."""

    text: str
    kind: str
    arch: str
    source: str | None = None

    @property
    def weights_path(self) -> Path | None:
        return Path(self.source) if self.kind == "weights" and self.source else None


def parse_model_spec(text: str) -> ModelSpec:
    """``tiny`` | ``RUN_DIR`` | ``ARCH:PRETRAINED_TAG`` | ``ARCH:/path/to/weights`` | ``hf-hub:org/repo``."""
    text = text.strip()
    if not text:
        raise HopidError("--model is empty; use tiny, ARCH:PRETRAINED (e.g. ViT-B-32:laion2b_s34b_b79k) or ARCH:/path")
    if text == TINY:
        return ModelSpec(text, "tiny", TINY_ARCH)
    if Path(text).is_dir():
        run_dir = Path(text).resolve()
        if not is_finished_run(run_dir):
            raise HopidError(
                f"--model {text!r}: a folder, but not a finished training run (needs {CONFIG_FILE} and "
                f"{WEIGHTS_FILE}); train one with `hopid train RECIPE --out DIR`"
            )
        return ModelSpec(str(run_dir), "run", "run", str(run_dir))
    if text.startswith("hf-hub:"):
        return ModelSpec(text, "pretrained", text, None)
    if ":" not in text and ("/" in text or "\\" in text):
        raise HopidError(f"--model {text!r}: no such run directory; train one with `hopid train RECIPE --out DIR`")
    arch, sep, source = text.partition(":")
    if not sep or not arch or not source:
        raise HopidError(
            f"--model {text!r}: expected tiny, a run directory from `hopid train`, "
            "ARCH:PRETRAINED (e.g. ViT-B-32:laion2b_s34b_b79k) or ARCH:/path/to/weights"
        )
    looks_like_path = "/" in source or "\\" in source or source.endswith((".safetensors", ".pt", ".bin", ".pth"))
    if looks_like_path or Path(source).exists():
        if not Path(source).is_file():
            raise HopidError(f"--model {text!r}: weights file {source} does not exist")
        return ModelSpec(text, "weights", arch, source)
    return ModelSpec(text, "pretrained", arch, source)
