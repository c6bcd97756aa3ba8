"""PatchGAN discriminator (pix2pix): a fully convolutional classifier of overlapping patches."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._blocks import norm_layer

__all__ = ["PatchGANDiscriminator"]


class PatchGANDiscriminator(nn.Module):
    """Scores each receptive-field patch of the input as real (high) or generated (low).

    Parameters
    ----------
    in_channels : int
        1 for unconditional use (the intensity map; unpaired mode), 3 for conditional use (source
        intensity, coverage mask and the real or generated target; paired mode).
    width : int
        Channels of the first layer, doubled per layer up to ``8 * width``.
    n_layers : int
        Stride-2 layers; receptive field 16 (n=1), 34 (2), 70 (3) pixels.
    norm : {"instance", "batch", "none"}

    Returns
    -------
    forward(x (B, in_channels, H, W)) -> logits (B, 1, H', W'), H' ≈ H / 2**n_layers.

    Notes
    -----
    Isola et al., "Image-to-image translation with conditional adversarial networks" (pix2pix), CVPR 2017.
    """

    def __init__(self, *, in_channels: int = 1, width: int = 32, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        ch = width
        for n in range(1, n_layers):
            nxt = width * min(2**n, 8)
            layers += [nn.Conv2d(ch, nxt, 4, stride=2, padding=1), norm_layer(norm, nxt), nn.LeakyReLU(0.2, True)]
            ch = nxt
        nxt = width * min(2**n_layers, 8)
        layers += [nn.Conv2d(ch, nxt, 4, stride=1, padding=1), norm_layer(norm, nxt), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(nxt, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)
        #: smallest input side that leaves ≥ 2x2 positions before the last normalisation layer
        self.min_size = 3 * 2**n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h < self.min_size or w < self.min_size:  # small patches: zero-pad (= "no data") to the minimum
            x = F.pad(x, (0, max(0, self.min_size - w), 0, max(0, self.min_size - h)))
        return self.model(x)
