"""Building blocks shared by the generators and the discriminator: normalisation layers, padding, cropping."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import InsganInputError

__all__ = ["norm_layer", "pad_to_multiple", "crop_to", "check_generator_input", "NORMS"]

#: accepted values of the ``norm`` option of every network
NORMS = ("instance", "batch", "none")


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The feature normalisation layer named ``norm`` for ``channels`` channels."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise InsganInputError(f"network option 'norm': unknown value {norm!r}; expected one of {', '.join(NORMS)}")


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad the last two dimensions of ``x`` (B, C, H, W) up to multiples of ``multiple``.

    Zero padding is right for our inputs: the intensity channel is 0 and the coverage-mask channel is 0
    (= "no data") in the padding, the same as in masked bins. Returns the padded tensor and (H, W).
    """
    h, w = x.shape[-2:]
    ph = (-h) % multiple
    pw = (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph))
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two dimensions of ``x`` back to ``size`` = (H, W)."""
    return x[..., : size[0], : size[1]]


def check_generator_input(x: torch.Tensor, in_channels: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise InsganInputError(
            f"{name}: expected input of shape (B, {in_channels}, H, W) = (normalised intensity, coverage mask), "
            f"got {tuple(x.shape)}"
        )
