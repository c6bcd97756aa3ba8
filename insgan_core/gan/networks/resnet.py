"""ResNet-block generator (Johnson et al. 2016; the CycleGAN/CUT/Exp2SimGAN generator), fully convolutional.

Input (B, 2, H, W): normalised intensity and coverage mask; output (B, 1, H, W). Any H, W (zero-padded
to a multiple of 2**n_downsampling and cropped back). ``width=64, n_blocks=9`` is the Exp2SimGAN size
(~11 M parameters); the defaults here are much smaller for CPU use.
"""

from __future__ import annotations

import torch
from torch import nn

from ._blocks import check_generator_input, crop_to, norm_layer, pad_to_multiple

__all__ = ["ResnetGenerator"]


class _ResBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            norm_layer(norm, channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            norm_layer(norm, channels),
        )

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Encoder (7x7 conv + ``n_downsampling`` stride-2 convs), ``n_blocks`` residual blocks, decoder.

    Parameters
    ----------
    in_channels, out_channels : int
        2 (intensity, mask) and 1 (intensity).
    width : int
        Channels after the stem; doubled at each down-sampling.
    n_blocks : int
        Residual blocks at the bottleneck.
    n_downsampling : int
    norm : {"instance", "batch", "none"}
    residual : bool
        Add the input intensity to the output (start near the identity).

    Notes
    -----
    Johnson, Alahi & Fei-Fei, ECCV 2016; Zhu et al. (CycleGAN) 2017; Park et al. (CUT) 2020. Up-sampling
    is nearest-neighbour interpolation + 3x3 convolution instead of transposed convolution.
    """

    def __init__(
        self,
        *,
        in_channels: int = 2,
        out_channels: int = 1,
        width: int = 16,
        n_blocks: int = 4,
        n_downsampling: int = 2,
        norm: str = "instance",
        residual: bool = True,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.n_downsampling = n_downsampling
        self.residual = residual
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), norm_layer(norm, width), nn.ReLU(inplace=True)
            )
        ]
        ch = width
        for _ in range(n_downsampling):
            layers.append(
                nn.Sequential(nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), norm_layer(norm, 2 * ch), nn.ReLU(inplace=True))
            )
            ch *= 2
        layers.extend(_ResBlock(ch, norm) for _ in range(n_blocks))
        self.encoder = nn.ModuleList(layers)
        dec: list[nn.Module] = []
        for _ in range(n_downsampling):
            dec += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(ch, ch // 2, 3, padding=1),
                norm_layer(norm, ch // 2),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        dec += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7)]
        self.decoder = nn.Sequential(*dec)
        if residual:  # start exactly at the identity map
            nn.init.zeros_(dec[-1].weight)
            nn.init.zeros_(dec[-1].bias)
        #: channels of each encoder layer output (index = layer number for :meth:`encode_features`)
        self.feature_channels = [width * 2 ** min(i, n_downsampling) for i in range(len(layers))]

    def pad_input(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Zero-pad (B, C, H, W) to the size multiple this network needs; returns (padded, (H, W))."""
        return pad_to_multiple(x, 2**self.n_downsampling)

    def encode_features(self, x: torch.Tensor, *, layers: tuple[int, ...] | None = None) -> list[torch.Tensor]:
        """Encoder features (B, C_l, H_l, W_l) after the requested encoder layers (default: stem, each
        down-sampling, middle residual block), for PatchNCE. ``x`` must be padded (:meth:`pad_input`)."""
        if layers is None:
            layers = self.default_feature_layers()
        wanted = set(layers)
        out = {}
        y = x
        for i, layer in enumerate(self.encoder):
            y = layer(y)
            if i in wanted:
                out[i] = y
            if i >= max(wanted):
                break
        return [out[i] for i in layers]

    def default_feature_layers(self) -> tuple[int, ...]:
        """Stem, each down-sampling layer and the middle residual block."""
        mid = self.n_downsampling + 1 + (len(self.encoder) - self.n_downsampling - 1) // 2
        return tuple(sorted({min(i, len(self.encoder) - 1) for i in (*range(self.n_downsampling + 1), mid)}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_generator_input(x, self.in_channels, "ResnetGenerator")
        xp, size = self.pad_input(x)
        y = xp
        for layer in self.encoder:
            y = layer(y)
        y = crop_to(self.decoder(y), size)
        if self.residual:
            y = y + x[:, :1]
        return y
