"""Data parallel training over torchrun (gloo on CPU, nccl on GPU).

Every rank embeds its share of the global batch; features are gathered so the losses see
the whole global batch as negatives, with gradients flowing into the local share (as
open_clip's gather-with-grad). Each rank computes the loss over the global batch and the
gradients are summed across ranks, which gives exactly the gradient of one process with the
global batch; parameters used outside the features (the InfoNCE temperature) go through
:func:`global_param` so they are not counted once per rank.
"""

from __future__ import annotations

from datetime import timedelta

import torch
import torch.distributed as dist

from hopid.torchrun import World, torchrun_launch


def init_world(device: str) -> World:
    """The torchrun world from its environment variables (a single process without them)."""
    if torchrun_launch().size <= 1:
        return World()
    if not dist.is_initialized():
        # rank 0 alone prepares data and trains the tagger first: the others wait at a barrier
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=timedelta(hours=3))
    return World(dist.get_rank(), dist.get_world_size(), torchrun_launch().local_rank)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def gather_with_grad(local: torch.Tensor, world: World) -> torch.Tensor:
    """All ranks' rows in rank order; only this rank's rows carry gradient."""
    if not world.distributed:
        return local
    parts = [torch.zeros_like(local) for _ in range(world.size)]
    dist.all_gather(parts, local.detach().contiguous())
    parts[world.rank] = local
    return torch.cat(parts)


def global_param(value: torch.Tensor, world: World) -> torch.Tensor:
    """The same value, with its gradient divided by the number of ranks."""
    if not world.distributed:
        return value
    return value / world.size + value.detach() * (1 - 1 / world.size)


def sum_gradients(parameters: list[torch.nn.Parameter], world: World) -> None:
    """Sum gradients over ranks in one flat buffer."""
    if not world.distributed:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
