"""Resolution kernels of the structured translation model: banded Gaussian redistribution matrices.

The signal path of :class:`insgan_core.translation.structured.StructuredTranslator` is linear in the
input S(|Q|,E): first a Gaussian along energy transfer with a width σ_E(E) per input energy bin, then a
Gaussian along |Q| with a width σ_Q(|Q|,E) per input bin. Every kernel column is normalised to one, so
the signal path conserves the integrated intensity (up to the model's scale ``a``) and cannot move a
feature: it only spreads each input bin symmetrically about its own centre.

The widths are the analytic pipeline's (:func:`insgan_core.instrument.energy_resolution.energy_sigma_meV`,
resins; :func:`insgan_core.instrument.q_resolution.q_sigma_invA`, detector geometry) multiplied by a
smooth learned factor exp(0.7·tanh(p(x))) ∈ [0.50, 2.01], p a low-order polynomial in x = E / Ei.
Units: |Q| in Å⁻¹, E in meV.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..instrument.energy_resolution import energy_sigma_meV
from ..instrument.q_resolution import q_sigma_invA
from ..instrument.settings import InstrumentSettings

__all__ = [
    "analytic_widths", "gaussian_kernel_torch", "width_factor", "WIDTH_BOUND", "LEGACY_WIDTH_BOUND", "band_half_width", "banded_fractions",
    "banded_gaussian_apply",
]

#: |log| of the largest learned change of a resolution width (factor exp(±1.4) ≈ 0.25…4.1). The |Q| width
#: has to absorb what the analytic σ_Q (detector angular width, divergence) leaves out: the detector
#: pixels' |Q| extent in the powder reduction and the Q–E correlation of the resolution. Trained on
#: Monte-Carlo MERLIN targets it wants ≈ 3.3 × σ_Q; the earlier bound ×2 held it there and left the
#: zone-centre intensity of the chain families 0.44 from the target in relative L1 (0.17 at ×3.3).
WIDTH_BOUND = 1.4
#: the bound of model files written before it was recorded in them
LEGACY_WIDTH_BOUND = 0.7


def analytic_widths(settings: InstrumentSettings, q_edges: np.ndarray, e_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Analytic resolution widths on a grid.

    Returns
    -------
    sigma_e : ndarray, shape (ne,)
        Energy σ (meV) at each energy-bin centre; 0 (no broadening) at E ≥ Ei.
    sigma_q : ndarray, shape (nq, ne)
        |Q| σ (Å⁻¹); kinematically inaccessible bins take the nearest accessible |Q| bin's width of their
        energy column (0 where a column has none). Those bins are outside the coverage anyway.
    """
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    sigma_e = np.zeros_like(ec)
    ok = ec < settings.ei_meV
    if ok.any():
        sigma_e[ok] = energy_sigma_meV(settings, ec[ok])
    sigma_q = np.asarray(q_sigma_invA(settings, q_invA=qc[:, None], energy_transfer_meV=ec[None, :]), dtype=np.float64)
    sigma_q = np.broadcast_to(sigma_q, (qc.size, ec.size)).copy()
    for j in range(ec.size):
        col = sigma_q[:, j]
        good = np.isfinite(col) & (col > 0)
        if not good.any():
            sigma_q[:, j] = 0.0
            continue
        idx = np.flatnonzero(good)
        nearest = idx[np.argmin(np.abs(np.arange(col.size)[:, None] - idx[None, :]), axis=1)]
        sigma_q[:, j] = col[nearest]
    return sigma_e, sigma_q


def width_factor(coef: torch.Tensor, x: torch.Tensor, bound: float = WIDTH_BOUND) -> torch.Tensor:
    """exp(B·tanh(Σ_k coef_k x^k)), B = ``bound`` (default :data:`WIDTH_BOUND`); 1 when all coefficients are 0."""
    p = torch.zeros_like(x)
    for k in range(coef.shape[0]):
        p = p + coef[k] * x**k
    return torch.exp(bound * torch.tanh(p))


def gaussian_kernel_torch(edges: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Differentiable twin of :func:`insgan_core.instrument.broadening.gaussian_kernel`.

    Parameters
    ----------
    edges : tensor, shape (n + 1,)
    sigma : tensor, shape (..., n)
        σ per input bin; ≤ 0 means no broadening (identity column).

    Returns
    -------
    tensor, shape (..., n, n)
        ``K[..., j, i]``: fraction of input bin *i* landing in output bin *j*; each column is renormalised
        to sum to 1 (content is conserved also at the grid's ends, as a detector that sees a bin sees
        everything redistributed into the measured range).
    """
    centres = 0.5 * (edges[1:] + edges[:-1])
    narrow = sigma <= 1e-12
    safe = torch.where(narrow, torch.ones_like(sigma), sigma)
    z = (edges[:, None] - centres[None, :]) / (math.sqrt(2.0) * safe[..., None, :])
    cdf = 0.5 * torch.erf(z)
    k = cdf[..., 1:, :] - cdf[..., :-1, :]
    eye = torch.eye(centres.shape[0], dtype=k.dtype, device=k.device)
    k = torch.where(narrow[..., None, :], eye.expand_as(k), k)
    return k / k.sum(dim=-2, keepdim=True).clamp_min(1e-300)


def band_half_width(edges: np.ndarray, sigma_max: float, *, n_sigma: float = 8.0) -> int:
    """Bins either side that hold a Gaussian of width up to ``sigma_max`` to ``n_sigma`` σ (erf tail < 1e-15)."""
    return int(np.ceil(n_sigma * sigma_max / float(np.min(np.diff(edges))))) + 1


def banded_gaussian_apply(edges: torch.Tensor, sigma: torch.Tensor, content: torch.Tensor, half_width: int) -> torch.Tensor:
    """Apply per-column Gaussian kernels (as :func:`gaussian_kernel_torch`, column-normalised) along axis 1.

    Parameters
    ----------
    edges : tensor, shape (n + 1,)
    sigma : tensor, shape (n, m)
        σ of input bin i in column e (≤ 0: identity).
    content : tensor, shape (B, n, m)
        Bin contents (value × width) to redistribute along axis 1.
    half_width : int
        b: only output bins i−b … i+b receive from input bin i (see :func:`band_half_width`).

    Returns
    -------
    tensor, shape (B, n, m)
        Redistributed contents; (2b+1)·n·m error functions instead of n²·m.
    """
    n = edges.shape[0] - 1
    b = int(half_width)
    frac = banded_fractions(edges, sigma, b)
    out = torch.zeros_like(content)
    for k in range(2 * b + 1):
        dd = k - b
        contrib = frac[k][None] * content
        if dd >= 0:
            out[:, dd:] = out[:, dd:] + contrib[:, : n - dd]
        else:
            out[:, : n + dd] = out[:, : n + dd] + contrib[:, -dd:]
    return out


def banded_fractions(edges: torch.Tensor, sigma: torch.Tensor, half_width: int) -> torch.Tensor:
    """``frac[k, i, e]``: fraction of input bin i (column e) landing in output bin i + k − b, each column
    normalised to one over the band; shape (2b+1, n, m). See :func:`banded_gaussian_apply`."""
    n = edges.shape[0] - 1
    b = int(half_width)
    centres = 0.5 * (edges[1:] + edges[:-1])
    d = torch.arange(-b, b + 1, device=edges.device)
    j = torch.arange(n, device=edges.device)[None, :] + d[:, None]  # (D, n): output bin of input i at offset d
    valid = (j >= 0) & (j < n)
    jc = j.clamp(0, n - 1)
    narrow = sigma <= 1e-12
    safe = torch.where(narrow, torch.ones_like(sigma), sigma)[None]  # (1, n, m)
    scale = math.sqrt(2.0) * safe
    hi = 0.5 * torch.erf((edges[jc + 1][:, :, None] - centres[None, :, None]) / scale)
    lo = 0.5 * torch.erf((edges[jc][:, :, None] - centres[None, :, None]) / scale)
    frac = torch.where(valid[:, :, None], hi - lo, torch.zeros_like(hi))
    ident = (d == 0).to(frac.dtype)[:, None, None].expand_as(frac)
    frac = torch.where(narrow[None], ident, frac)
    return frac / frac.sum(dim=0, keepdim=True).clamp_min(1e-300)
