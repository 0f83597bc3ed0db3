"""Training recipes: YAML files (read with ``safe_load``) over fixed defaults, with ``--set key=value``.

Every key has a default here, so a recipe names only what it changes and the resolved
recipe written into the run directory names everything. An unknown key is an error that
lists the valid ones.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from hopid.errors import HopidError
from hopid.models.network import NetConfig

SYNTHETIC = "synthetic"

DEFAULTS: dict[str, Any] = {
    "name": "hopid",
    "data": {
        # "synthetic" (prepared by the recipe itself, cached) or a dataset directory
        "dataset": SYNTHETIC,
        # identities > 0: the identity benchmark (brands x views, with explanations) instead of groups x variants
        # explanations (identities only): knowledge (the brand's visible facts) or template (none)
        # logo_only_views (identities only): views per brand whose name is not written (logo only)
        # slogans (identities only): a slogan per brand, under its name and alone in those views (knowledge states it)
        "synthetic": {
            "seed": 0,
            "groups": 60,
            "variants": 5,
            "size": 256,
            "identities": 0,
            "views": 4,
            "explanations": "knowledge",
            "logo_only_views": 0,
            "slogans": False,
        },
        "ocr_engine": None,  # which OCR rows train the model (None: the best present)
        "train_split": "train",
        "val_split": "val",
        "val_fraction": 0.05,  # without a val split (CTC, ICFG-PEDES): this share of train validates
        "test_split": "test",
    },
    "ocr_noise": {"drop": 0.1, "misspell": 0.15, "merge": 0.05, "variants": 3},
    "tagger": {"epochs": 8, "copy_from": None},  # copy_from: an existing tagger directory to reuse
    "model": NetConfig().to_dict(),
    "loss": {
        "triplet": 1.0,
        "margin": 0.2,
        "infonce": 0.0,
        "reference_construction": 1.0,  # MMRef (model.mmref): references absorb their identity's vectors
        "reference_guided": 1.0,  # MMRef: vectors pulled toward their identity's reference
        "matching": 1.0,  # EntityCLIP (model.explanation_experts): eta, the gated matching loss
        "enhanced": 1.0,  # EntityCLIP: lambda, contrastive loss of the explanation-enhanced V*, T*
        "explained": 0.0,  # EntityCLIP: contrastive loss of the explanation-enhanced query T* against plain V
        # its positives: the caption's own image ("image") or every image of its identity in the batch ("identity")
        "explained_positives": "image",
    },
    "train": {
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-3,
        "backbone_lr": 1e-4,
        "gate_lr": None,  # the scalar channel gates (None: lr)
        "respell": 0.0,  # share of batches whose written words are re-spelt by a random cipher (hopid.train.respell)
        "weight_decay": 0.01,
        "warmup_steps": 20,
        "seed": 0,
        "checkpoint_every": 50,
        "amp": "auto",  # auto (on a GPU), on, off
        "device": "auto",
        "threads": None,  # CPU threads per process (None: torch's default)
        "cache_frozen": True,  # a frozen image tower runs once per image, not once per epoch
        "group_batches": False,  # batches of whole object_id groups (hard negatives), when images have them
    },
    # fusion.alpha: the val score of each alpha; those within alpha_tolerance of the best are ties, and the
    # largest of them is kept (the scene-text channel is precise when it fires; a small val split cannot tell)
    # `hopid explain`: the prompt an LLM answers per caption ({caption}; {context}: the article, if any)
    "explain": {
        "system": "You explain image captions for a retrieval system. Answer in one or two plain sentences.",
        "prompt": (
            "{context}Caption: {caption}\n"
            "What are the named things in this caption (brands, places, organisations, people), what kind "
            "of thing is each, and where is such a name usually written or seen? Answer with the explanation only."
        ),
        "max_tokens": 160,
        "temperature": 0.0,
        "context_chars": 1500,
    },
    "eval": {
        "select_on": "auto",
        "alphas": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0],
        "alpha_tolerance": 1.0,
        # MMRef re-ranking: k, beta and whose profile the candidates are compared with (the
        # caption's, or its best image's: "top") from these grids, best val mAP without losing val Rank-1
        "rerank_ks": [5, 10, 20, 50],
        "rerank_betas": [0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0],
        "rerank_queries": ["caption"],
    },
}


def valid_keys(tree: dict[str, Any] = DEFAULTS, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        if isinstance(value, dict):
            keys += valid_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _merge(base: dict[str, Any], update: dict[str, Any], where: str) -> None:
    for key, value in update.items():
        path = f"{where}{key}"
        if key not in base:
            raise HopidError(f"recipe: unknown key {path!r}; valid keys: {', '.join(valid_keys())}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise HopidError(f"recipe: {path!r} must be a mapping of {', '.join(base[key])}")
            _merge(base[key], value, f"{path}.")
        else:
            base[key] = value


def parse_override(text: str) -> dict[str, Any]:
    """``a.b=value`` -> ``{"a": {"b": value}}``; the value is read as YAML (numbers, lists, null)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise HopidError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.epochs=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise HopidError(f"--set {text!r}: the value is not valid YAML ({exc})") from exc
    tree: dict[str, Any] = value
    for part in reversed(key.strip().split(".")):
        tree = {part: tree}
    return tree


def recipes_dir() -> Path:
    """The shipped recipes: ``hopid.recipes`` of an installed wheel (the repository's top-level
    ``recipes/``, mapped into the package at build time), else ``recipes/`` of this checkout."""
    shipped = importlib.util.find_spec("hopid.recipes")  # a data-only package: no __init__.py
    if shipped is not None and shipped.submodule_search_locations:
        return Path(next(iter(shipped.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "recipes"  # an editable install or a plain checkout


def find_recipe(name: str | Path) -> Path:
    """A recipe path as given, else a shipped recipe by name (``demo-tiny``) or file name."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = recipes_dir()
    for candidate in (shipped / path, shipped / f"{path}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in shipped.glob("*.yaml"))) or "none found"
    raise HopidError(f"{name}: no such recipe file (recipes in {shipped}: {known})")


def load_recipe(path: str | Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    """The defaults, updated by the recipe file and then by each ``--set``; checked."""
    recipe = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = find_recipe(path)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HopidError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise HopidError(f"{path}: a recipe is a YAML mapping of sections ({', '.join(DEFAULTS)})")
        _merge(recipe, loaded, "")
    for override in overrides:
        _merge(recipe, parse_override(override), "")
    check_recipe(recipe)
    return recipe


FLOATS = (
    "train.lr",
    "train.backbone_lr",
    "train.weight_decay",
    "loss.triplet",
    "loss.margin",
    "loss.infonce",
    "loss.reference_construction",
    "loss.reference_guided",
    "loss.matching",
    "loss.enhanced",
    "ocr_noise.drop",
    "ocr_noise.misspell",
    "ocr_noise.merge",
    "eval.alpha_tolerance",
    "train.respell",
    "data.val_fraction",
    "explain.temperature",
)
POSITIVE_INTS = (
    "train.epochs",
    "train.batch_size",
    "train.checkpoint_every",
    "tagger.epochs",
    "ocr_noise.variants",
    "explain.max_tokens",
    "explain.context_chars",
)
CAPTION_METRICS = ("rsum", "t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10")
IDENTITY_METRICS = ("map", "rank1", "rank5", "rank10", "minp")
SELECT_ON = ("auto", *CAPTION_METRICS, *IDENTITY_METRICS)  # auto: the dataset protocol's headline metric


def _coerce(recipe: dict[str, Any], key: str, kind: type) -> None:
    """Make ``key`` a number of ``kind`` (YAML reads ``1e-4`` as a string) or fail with one line."""
    section, name = key.split(".")
    value = recipe[section][name]
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        recipe[section][name] = kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        noun = "whole number" if kind is int else "number"
        raise HopidError(f"recipe: {key} must be a {noun}, not {value!r}") from None


def check_recipe(recipe: dict[str, Any]) -> None:
    """Types and ranges of the keys the trainer reads; numbers given as strings are converted."""
    for key in FLOATS:
        _coerce(recipe, key, float)
    if recipe["train"].get("gate_lr") is not None:
        _coerce(recipe, "train.gate_lr", float)
    for key in (*POSITIVE_INTS, "train.warmup_steps", "train.seed"):
        _coerce(recipe, key, int)
    for key in POSITIVE_INTS:
        section, name = key.split(".")
        if recipe[section][name] < 1:
            raise HopidError(f"recipe: {key} must be a positive integer, not {recipe[section][name]!r}")
    if not 0 <= recipe["train"]["respell"] <= 1:
        raise HopidError(f"recipe: train.respell must be in [0, 1], not {recipe['train']['respell']!r}")
    if not 0 <= recipe["data"]["val_fraction"] < 1:
        raise HopidError(f"recipe: data.val_fraction must be in [0, 1), not {recipe['data']['val_fraction']!r}")
    config = NetConfig.from_dict(recipe["model"])
    if config.backbone.startswith("hf-hub:"):
        raise HopidError("recipe: model.backbone hf-hub:… cannot be rebuilt offline for serving; use ARCH:TAG")
    if recipe["eval"]["select_on"] not in SELECT_ON:
        raise HopidError(f"recipe: eval.select_on must be one of {', '.join(SELECT_ON)}")
    try:
        recipe["eval"]["alphas"] = [float(a) for a in recipe["eval"]["alphas"]]
    except (TypeError, ValueError):
        raise HopidError(f"recipe: eval.alphas must be a list of numbers, not {recipe['eval']['alphas']!r}") from None
    train = recipe["train"]
    if train["amp"] not in ("auto", "on", "off", True, False):
        raise HopidError(f"recipe: train.amp must be auto, on or off, not {train['amp']!r}")
    loss = recipe["loss"]
    if loss["triplet"] <= 0 and loss["infonce"] <= 0:
        raise HopidError("recipe: give loss.triplet or loss.infonce a positive weight")
    positives = recipe["loss"]["explained_positives"]
    if positives not in ("image", "identity"):
        raise HopidError(f"recipe: loss.explained_positives must be image or identity, not {positives!r}")
    if not recipe["eval"]["alphas"]:
        raise HopidError("recipe: eval.alphas must list at least one fusion.alpha to try")
    queries = recipe["eval"]["rerank_queries"]
    if not isinstance(queries, list) or not queries or any(q not in ("caption", "top") for q in queries):
        raise HopidError(f"recipe: eval.rerank_queries must list caption and/or top, not {queries!r}")


def dump_recipe(recipe: dict[str, Any]) -> str:
    return yaml.safe_dump(recipe, sort_keys=False)
