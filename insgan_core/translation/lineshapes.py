"""Bin-averaged, unit-area line shapes (torch, differentiable) for the structured model's additive terms.

All functions take bin edges in meV and return the average over each bin of a unit-area profile
(meV⁻¹), i.e. the exact bin integral divided by the bin width.
"""

from __future__ import annotations

import math

import torch

__all__ = ["gaussian_bins", "lorentzian_bins", "exp_tail_bins", "near_ei_bins", "bose_energy"]

_SQRT2 = math.sqrt(2.0)


def _per_width(cdf: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    return (cdf[1:] - cdf[:-1]) / (edges[1:] - edges[:-1])


def gaussian_bins(edges: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian of standard deviation σ centred at 0."""
    return _per_width(0.5 * torch.erf(edges / (_SQRT2 * sigma)), edges)


def lorentzian_bins(edges: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Lorentzian of half width at half maximum γ centred at 0 (heavy tails on both sides)."""
    return _per_width(torch.atan(edges / gamma) / math.pi, edges)


def exp_tail_bins(edges: torch.Tensor, sigma: torch.Tensor, tau: torch.Tensor, *, side: float = 1.0) -> torch.Tensor:
    """Exponentially modified Gaussian: a one-sided exponential of decay τ (meV) convolved with a Gaussian σ.

    ``side`` = +1 puts the tail at positive energy transfer, −1 at negative. Its CDF is
    Φ(x/σ) − exp(−x/τ + σ²/2τ² + log Φ(x/σ − σ/τ)) (computed in log space, stable for any x).
    """
    x = side * edges
    cdf = torch.special.ndtr(x / sigma) - torch.exp(-x / tau + sigma**2 / (2 * tau**2) + torch.special.log_ndtr(x / sigma - sigma / tau))
    if side < 0:
        cdf = 1.0 - cdf  # P(X <= E) = 1 - CDF_tail(-E) for the mirrored profile
    return _per_width(cdf, edges)


def near_ei_bins(edges: torch.Tensor, ei_meV: float, lam: torch.Tensor, *, n_sub: int = 8) -> torch.Tensor:
    """Bin average of exp(−(Ei − E)/λ) for E < Ei (0 beyond Ei): the rise of the background towards Ei."""
    lo, hi = edges[:-1], edges[1:]
    t = (torch.arange(n_sub, dtype=edges.dtype, device=edges.device) + 0.5) / n_sub
    e = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    val = torch.where(e < ei_meV, torch.exp(-(ei_meV - e).clamp_min(0.0) / lam), torch.zeros_like(e))
    return val.mean(dim=1)


def bose_energy(e_meV: torch.Tensor, temperature_K: torch.Tensor, kb_meV_per_K: float) -> torch.Tensor:
    """E·(n(E,T) + 1) = E / (1 − exp(−E/k_BT)) in meV; k_BT at E = 0, max(E, 0) at T = 0.

    ``e_meV`` shape (ne,), ``temperature_K`` shape (B,) → (B, ne).
    """
    kt = (kb_meV_per_K * temperature_K)[:, None].clamp_min(1e-9)
    x = e_meV[None, :] / kt
    small = x.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(x), x)
    val = kt * safe / -torch.expm1(-safe)
    return torch.where(small, kt.expand_as(x), val)
