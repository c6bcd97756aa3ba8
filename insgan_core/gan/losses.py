"""Losses: adversarial (LSGAN / vanilla behind one class), L1 on covered bins, spectral, PatchNCE.

All image tensors are (B, C, H, W) in the normalised intensity domain; ``mask`` tensors are (B, 1, H, W)
with 1 where the target has data and 0 where it has none (masked / inaccessible), so no loss is ever
computed on bins without data.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InsganInputError

__all__ = ["GANLoss", "masked_l1", "spectral_loss", "PatchSampler", "patch_nce_loss"]


class GANLoss(nn.Module):
    """Adversarial loss for discriminator logits, hiding the variant.

    Parameters
    ----------
    mode : {"lsgan", "vanilla"}
        "lsgan": least squares, ``mean((D - y)²)`` with y = 1 (real) or 0 (fake) (Mao et al. 2017);
        "vanilla": binary cross-entropy on logits (Goodfellow et al. 2014).

    Call ``loss(logits, target_is_real)`` → scalar tensor.
    """

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in ("lsgan", "vanilla"):
            raise InsganInputError(f"GANLoss: mode must be 'lsgan' or 'vanilla', got {mode!r}")
        self.mode = mode

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        logits = logits.float()
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        if self.mode == "lsgan":
            return F.mse_loss(logits, target)
        return F.binary_cross_entropy_with_logits(logits, target)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred − target| over bins where ``mask`` is 1: ``Σ m|p − t| / max(Σ m, 1)``."""
    m = mask.to(pred.dtype)
    return (m * (pred - target).abs()).sum() / m.sum().clamp_min(1.0)


def spectral_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 distance between log Fourier amplitudes of the masked maps.

    Compares the 2-D power spectra (texture: noise level and correlation length, resolution
    broadening) rather than pixel values, so it can teach noise statistics that pixel L1 averages away.

    Notes
    -----
    ``L = mean | log(1 + |FFT2(m·p)|) − log(1 + |FFT2(m·t)|) |``, normalised FFT ("ortho").
    """
    m = mask.to(torch.float32)
    fp = torch.fft.rfft2(pred.float() * m, norm="ortho").abs()
    ft = torch.fft.rfft2(target.float() * m, norm="ortho").abs()
    return (torch.log1p(fp) - torch.log1p(ft)).abs().mean()


class PatchSampler(nn.Module):
    """CUT's feature-patch sampler with one 2-layer MLP projection head per encoder layer.

    Parameters
    ----------
    in_channels : list of int
        Channels of each encoder feature map used for PatchNCE.
    nc : int
        Projection dimension.

    ``forward(feats, num_patches, *, ids=None, generator=None) -> (projected, ids)``: for each feature map
    (B, C, H, W), sample ``num_patches`` spatial positions (the same positions for every image of the
    batch; pass the returned ``ids`` to sample the same positions of another feature set), project and
    L2-normalise: (B, P, nc) per layer.
    """

    def __init__(self, in_channels: list[int], *, nc: int = 64):
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc)) for c in in_channels
        )

    def forward(self, feats, num_patches: int, *, ids=None, generator: torch.Generator | None = None):
        out, out_ids = [], []
        for k, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            b, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).reshape(b, h * w, c)
            if ids is None:
                n = min(num_patches, h * w)
                idx = torch.randperm(h * w, generator=generator)[:n].to(feat.device)
            else:
                idx = ids[k]
            x = mlp(flat[:, idx, :].float())
            out.append(F.normalize(x, dim=-1))
            out_ids.append(idx)
        return out, out_ids


def patch_nce_loss(query: torch.Tensor, key: torch.Tensor, *, temperature: float = 0.07) -> torch.Tensor:
    """PatchNCE (InfoNCE over patches of the same image), Park et al., "Contrastive Learning for Unpaired
    Image-to-Image Translation" (CUT), ECCV 2020.

    Parameters
    ----------
    query : Tensor (B, P, nc)
        Projected features of the output patches (L2-normalised).
    key : Tensor (B, P, nc)
        Projected features of the input patches at the same positions; patch i of ``key`` is the positive
        for patch i of ``query``, the other P − 1 patches of the same image are negatives.

    Notes
    -----
    ``L = −mean_i log( exp(q_i·k_i/τ) / Σ_j exp(q_i·k_j/τ) )``; keys are detached as in CUT.
    """
    key = key.detach()
    logits = torch.bmm(query, key.transpose(1, 2)) / temperature  # (B, P, P)
    b, p, _ = logits.shape
    labels = torch.arange(p, device=logits.device).expand(b, p)
    return F.cross_entropy(logits.reshape(b * p, p), labels.reshape(-1))
