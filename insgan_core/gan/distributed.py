"""Data-parallel training with torch.distributed, launched by ``torchrun``.

``torchrun --nproc_per_node N -m insgan_core.cli.main train ...`` (or any script calling
:func:`insgan_core.gan.training.train`) starts N processes; each reads ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` from the environment, draws its own batches (seeded by seed, step and rank), and the
gradients of every network are averaged over all processes before each optimiser step, so the weights
stay identical on every rank — the same synchronous data parallelism as ``DistributedDataParallel``.
Rank 0 alone writes checkpoints, logs and the model file.

Notes
-----
Gradients are averaged with an explicit ``all_reduce`` (one flattened buffer per network) instead of
wrapping the networks in ``DistributedDataParallel``: a GAN step runs the generator encoder and the
discriminator several times per backward pass (real and fake branches, PatchNCE features), which DDP's
per-forward gradient bookkeeping does not support without restructuring every loss. Backend: ``nccl``
for CUDA devices, ``gloo`` for CPU (multi-node works the same way with ``torchrun --nnodes``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "init_distributed", "average_gradients", "broadcast_module", "is_main_process"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size`` processes; ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Destroy the process group if :func:`init_distributed` created it."""
        if self.initialised_here and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the process group described by torchrun's environment variables (no-op when WORLD_SIZE ≤ 1).

    Uses the ``nccl`` backend for CUDA devices and ``gloo`` otherwise; on CUDA, selects the device
    ``cuda:LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
        here = True
    return DistributedContext(rank=rank, world_size=world, local_rank=local, initialised_here=here)


def is_main_process() -> bool:
    """True on rank 0 or when not running distributed."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def average_gradients(module: torch.nn.Module, ctx: DistributedContext) -> None:
    """Average the gradients of ``module`` over all processes (in place); parameters without a gradient
    contribute zeros so every rank takes part in the same collective."""
    if not ctx.enabled:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= ctx.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def broadcast_module(module: torch.nn.Module, ctx: DistributedContext) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not ctx.enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)
