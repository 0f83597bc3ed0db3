"""Writes the torch-free query side of an index generation (read by
:mod:`hopid.search.query_encoder`): ``query.onnx`` and ``query.json``, plus a trained run's light
tagger and MMRef references; a checked previous generation of the same model lends its files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from hopid.index.directory import (
    QUERY_ENTITIES,
    QUERY_IMAGE_MODEL,
    QUERY_INFO,
    QUERY_MODEL,
    QUERY_REFERENCES,
    Generation,
)
from hopid.models.encoder import TextEncoder
from hopid.models.onnx_clip import IMAGE_GRAPH, TEXT_GRAPH, Towers
from hopid.models.tower_export import export_text_tower

QUERY_FILES = (QUERY_MODEL, QUERY_IMAGE_MODEL, QUERY_INFO, QUERY_ENTITIES, QUERY_REFERENCES)


def export_query_encoder(
    encoder: TextEncoder, index_dir: Path, previous: Generation | None = None, towers: Towers | None = None
) -> bool:
    """Write the ONNX text side of ``encoder`` (plain CLIP or a trained run) into the generation
    folder ``index_dir``: a plain CLIP model's prepared ``towers`` (text and image, optimized,
    int8 where that was kept) are linked in; else the text side is exported, or linked from
    ``previous`` when that exported the same model. False (nothing written) for other encoders
    or when the export is not possible here."""
    from hopid.data.schema import atomic_write_bytes
    from hopid.entities.light import LIGHT_FILE
    from hopid.models.factory import ClipEncoder
    from hopid.models.run import RunEncoder

    run = isinstance(encoder, RunEncoder)
    if not run and not isinstance(encoder, ClipEncoder):
        return False
    if run and not (encoder.tagger_dir / LIGHT_FILE).is_file():
        return False
    info_path = index_dir / QUERY_INFO
    if towers is not None and not run:
        context_length = int(encoder.tokenizer(["a photo"]).shape[1])
        if not _same_tokens(encoder.tokenizer, context_length):
            return False
        _link_or_copy(towers.folder / TEXT_GRAPH, index_dir / QUERY_MODEL)
        _link_or_copy(towers.folder / IMAGE_GRAPH, index_dir / QUERY_IMAGE_MODEL)
        info = {"kind": "clip", "context_length": context_length, "dim": encoder.dim}
        info |= {"optimized": True} | {k: v for k, v in towers.facts.items() if k in ("fingerprint", "preprocess")}
        info |= {tower: towers.facts[tower] for tower in ("text", "image")}
        atomic_write_bytes(info_path, lambda tmp: Path(tmp).write_text(json.dumps(info)))
        return True
    if previous is not None and _exported_fingerprint(previous) == encoder.fingerprint:
        for name in QUERY_FILES:
            if previous.has(name):
                _link_or_copy(previous.path(name), index_dir / name)
        return True
    tokenizer = encoder.net.tokenizer if run else encoder.tokenizer
    context_length = int(tokenizer(["a photo"]).shape[1])
    if not _same_tokens(tokenizer, context_length):
        return False
    try:
        atomic_write_bytes(index_dir / QUERY_MODEL, lambda tmp: _export(encoder, run, context_length, tmp))
    except Exception:  # noqa: BLE001 - no exporter here: queries keep the full encoder
        return False
    info = {"kind": "clip", "fingerprint": encoder.fingerprint, "context_length": context_length, "dim": encoder.dim}
    if run:
        info |= _run_extras(encoder, index_dir)
    atomic_write_bytes(info_path, lambda tmp: Path(tmp).write_text(json.dumps(info)))
    return True


def _exported_fingerprint(generation: Generation) -> str | None:
    """The model fingerprint of a generation's exported query side, None when it has none."""
    if not (generation.has(QUERY_MODEL) and generation.has(QUERY_INFO)):
        return None
    try:
        info = json.loads(generation.path(QUERY_INFO).read_bytes())
    except (ValueError, OSError):
        return None
    return info.get("fingerprint") if isinstance(info, dict) else None


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (generations never change a committed file), a copy where links fail."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _same_tokens(tokenizer, context_length: int) -> bool:
    """Whether the pure-Python CLIP tokenizer gives the model's own token ids."""
    from hopid.models.bpe import ClipBPE

    probe = ["a photo", 'The sign reads "HarbourFront 2024" in café-red', ""]
    return np.array_equal(ClipBPE(context_length=context_length)(probe), np.asarray(tokenizer(probe)))


def _export(encoder, run: bool, context_length: int, path: str) -> None:
    if run:
        from hopid.models.query_export import export_run_text_side

        export_run_text_side(encoder.net, context_length, Path(path))
        return
    example = encoder.tokenizer(["a photo"]).to(encoder.device)
    export_text_tower(encoder.model, example, Path(path))


def _run_extras(encoder, index_dir: Path) -> dict:
    """A run's serving facts for the ONNX side; copies its light tagger and references."""
    from hopid.data.schema import atomic_write_bytes
    from hopid.entities.light import LIGHT_FILE

    net = encoder.net
    shutil.copyfile(encoder.tagger_dir / LIGHT_FILE, index_dir / QUERY_ENTITIES)
    extras = {
        "kind": "run",
        "uses_entities": encoder.uses_entities,
        "spelling_dim": net.word_dim - net.dim,
        "max_entities": net.config.max_entities,
        "fusion_alpha": encoder.fusion_alpha,
        "rerank": encoder.rerank_defaults,
    }
    if net.references is not None:
        import torch.nn.functional as F

        references = F.normalize(net.references.vectors.detach().float(), dim=-1).cpu().numpy()

        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, references, allow_pickle=False)

        atomic_write_bytes(index_dir / QUERY_REFERENCES, write)
        extras["profile_temperature"] = net.references.profile_temperature
    return extras
