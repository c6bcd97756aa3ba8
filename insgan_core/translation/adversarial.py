"""Adversarial stage of the structured model: train only its bounded residual against a PatchGAN.

The physics part (signal path, elastic line, backgrounds, coverage) is frozen; the residual ρ can change
the expectation by at most the fraction f (μ·(1 + f·tanh ρ)), so the discriminator can only teach it
what the explicit terms leave out, never move or delete the signal. Generated maps are the expectation
plus Gaussian-approximated noise (counting noise with the learnt count scale at each target's exposure, and
the coverage-edge scatter; differentiable); real maps are
the targets. Paired training adds the χ² likelihood of the targets; unpaired training uses the
adversarial loss alone (the residual's bound keeps the physics).
"""

from __future__ import annotations

import numpy as np
import torch

from ..gan.losses import GANLoss
from ..gan.networks import PatchGANDiscriminator

__all__ = ["train_residual"]


def _to_d(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.asinh(torch.nan_to_num(x, nan=0.0) / scale).float()[:, None]


def train_residual(model, prob, *, fraction: float, steps: int, seed: int = 0, targets=None, history=None,
                   paired: bool = True, lr: float = 2e-4, adv_weight: float = 0.1):
    """Add a residual of bound ``fraction`` to ``model`` and train it adversarially for ``steps`` steps.

    Parameters
    ----------
    model : StructuredTranslator
        Fitted physics model (changed in place and returned).
    prob : structured._Problem
        Training data (inputs, targets, weights, valid bins).
    fraction : float
        f in (0, 1): largest relative change the residual may make.
    steps : int
        Adversarial steps (0: the residual stays exactly zero).
    paired : bool
        Include the χ² likelihood (paired) or not (unpaired).
    """
    from .structured import _Residual

    if not 0 < fraction < 1:
        from ..errors import InsganInputError

        raise InsganInputError(f"residual_fraction must be in (0, 1), got {fraction}")
    torch.manual_seed(seed)
    model.residual_fraction = float(fraction)
    model.residual = _Residual().double()
    model.invalidate()
    if steps <= 0:
        return model
    frozen = [p for n, p in model.named_parameters() if not n.startswith("residual.")]
    for p in frozen:
        p.requires_grad_(False)
    disc = PatchGANDiscriminator(in_channels=1, width=16, n_layers=2, norm="none")
    gan_loss = GANLoss("lsgan")
    opt_g = torch.optim.Adam(model.residual.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    valid = prob.valid
    real = torch.where(valid, prob.y, torch.full_like(prob.y, float("nan")))
    scale = float(torch.median(prob.y[valid].abs()).clamp_min(1e-12))
    # each target at its own run exposure (joint training on runs of different exposure): the background fixed
    # in counts scales as 1/x and the counting noise has x·c counts per unit intensity
    x = prob.x
    c = model.count_scale[None] * x[:, None, None] if model.has_count_scale else None
    scatter = model.relative_scatter_map()
    eps2 = torch.from_numpy(scatter) if scatter is not None else torch.zeros((), dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    for step in range(int(steps)):
        mu = model.expectation(prob.s, prob.t, exposure=x)
        noise = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
        # variance floored at a tiny value: √ has an infinite derivative at 0 (bins with μ ≤ 0)
        fake = mu + (torch.sqrt((mu.clamp_min(0) / c + eps2 * mu**2).clamp_min(1e-300)) * noise if c is not None else 0.0)
        fake = torch.where(valid, fake, torch.full_like(fake, float("nan")))
        # discriminator
        opt_d.zero_grad()
        ld = 0.5 * (gan_loss(disc(_to_d(real, scale)), True) + gan_loss(disc(_to_d(fake.detach(), scale)), False))
        ld.backward()
        opt_d.step()
        # residual
        opt_g.zero_grad()
        lg = adv_weight * gan_loss(disc(_to_d(fake, scale)), True)
        if paired:
            lg = lg + ((prob.y - mu) ** 2 * prob.w).sum() / prob.n
        lg.backward()
        opt_g.step()
    for p in frozen:
        p.requires_grad_(True)
    model.invalidate()
    if history is not None:
        with torch.no_grad():
            history.append({"stage": "adversarial_residual", "steps": int(steps), "chi2_per_bin": float(prob.chi2()),
                            "loss_d": float(ld), "fraction": float(fraction), "paired": bool(paired)})
    return model
