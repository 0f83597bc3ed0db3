"""Checkpoints as safetensors: weights, optimizer state and the loop's position, nothing pickled.

A checkpoint is one ``.safetensors`` file: tensors ``model.*`` (trainable weights),
``optim.<param>.<key>`` (optimizer state) and ``rng.torch``; the JSON ``state`` in the
file's metadata holds the step, epoch, position in the epoch, best score, the optimizer's
param groups and the log so far. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from hopid.errors import HopidError
from hopid.models.run_dir import load_weights, save_weights


def save_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    tensors = {f"model.{n}": p for n, p in model.named_parameters() if p.requires_grad}
    optim_state = optimizer.state_dict()
    for index, values in optim_state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    tensors["rng.torch"] = torch.get_rng_state()
    state = dict(state, param_groups=optim_state["param_groups"])
    save_weights(tensors, path, metadata={"state": json.dumps(state)})


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore weights, optimizer and RNG from ``path``; returns the loop state."""
    from safetensors import safe_open

    tensors = load_weights(path)
    try:
        with safe_open(str(path), "pt") as handle:
            state = json.loads((handle.metadata() or {}).get("state", "{}"))
    except (ValueError, OSError) as exc:
        raise HopidError(f"{path}: unreadable checkpoint metadata ({exc}); start afresh without --resume") from exc
    if not isinstance(state, dict) or "step" not in state or "param_groups" not in state:
        raise HopidError(f"{path}: not a hopid training checkpoint")
    weights = {name[len("model.") :]: t for name, t in tensors.items() if name.startswith("model.")}
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in weights]
    if missing:
        raise HopidError(f"{path}: the checkpoint does not fit this recipe's model (missing {missing[:3]}...)")
    model.load_state_dict(weights, strict=False)
    optim_state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            optim_state.setdefault(int(index), {})[key] = tensor
    optimizer.load_state_dict({"state": optim_state, "param_groups": state.pop("param_groups")})
    torch.set_rng_state(tensors["rng.torch"])
    return state
