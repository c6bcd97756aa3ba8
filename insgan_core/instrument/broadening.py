"""Gaussian broadening of histogram data with a width that varies from bin to bin.

Used by the analytic (fast) resolution path: energy broadening with σ(E) from resins and |Q|
broadening with σ(|Q|, E) from the detector geometry.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = ["gaussian_kernel", "broaden_energy", "broaden_q"]


def gaussian_kernel(edges: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Redistribution matrix of a Gaussian with a per-input-bin width.

    Parameters
    ----------
    edges : ndarray, shape (n + 1,)
        Bin edges (same for input and output), any unit.
    sigma : ndarray, shape (..., n)
        Gaussian σ for each input bin (same unit as ``edges``); 0 or NaN means no broadening.

    Returns
    -------
    ndarray, shape (..., n, n)
        ``K[..., j, i]``: fraction of the content of input bin *i* that lands in output bin *j*.

    Notes
    -----
    The content of input bin *i* (value × width) is treated as a point at the bin centre cᵢ spread by a
    normalised Gaussian: K_ji = ½[erf((e_{j+1} − cᵢ)/(√2σᵢ)) − erf((e_j − cᵢ)/(√2σᵢ))]. Content is
    conserved except for the Gaussian tails that leave the range of ``edges``.
    """
    edges = np.asarray(edges, dtype=np.float64)
    centres = 0.5 * (edges[1:] + edges[:-1])
    sigma = np.asarray(sigma, dtype=np.float64)
    narrow = ~(sigma > 0)  # also catches NaN
    safe = np.where(narrow, 1.0, sigma)
    z = (edges[:, None] - centres[None, :]) / (np.sqrt(2.0) * safe[..., None, :])  # (..., n+1, n)
    cdf = 0.5 * erf(z)
    k = cdf[..., 1:, :] - cdf[..., :-1, :]
    if np.any(narrow):
        eye = np.broadcast_to(np.eye(centres.size), k.shape)
        k = np.where(narrow[..., None, :], eye, k)
    return k


def broaden_energy(signal: np.ndarray, e_edges: np.ndarray, sigma_meV: np.ndarray) -> np.ndarray:
    """Broaden every row of a map along energy transfer with σ depending on the input energy.

    Parameters
    ----------
    signal : ndarray, shape (nx, ne)
        Intensity per meV; NaN bins contribute nothing and stay NaN.
    e_edges : ndarray, shape (ne + 1,)
        Energy-transfer edges in meV.
    sigma_meV : ndarray, shape (ne,)
        Gaussian σ at each input energy bin, meV (0 or NaN: bin left as is).

    Returns
    -------
    ndarray, shape (nx, ne)
        Broadened intensity per meV (integrated intensity conserved inside the energy range).
    """
    widths = np.diff(e_edges)
    k = gaussian_kernel(e_edges, sigma_meV)  # (ne_out, ne_in)
    nan = np.isnan(signal)
    content = np.where(nan, 0.0, signal) * widths[None, :]
    out = content @ k.T / widths[None, :]
    out[nan] = np.nan
    return out


def broaden_q(signal: np.ndarray, q_edges: np.ndarray, sigma_invA: np.ndarray) -> np.ndarray:
    """Broaden every energy column of a map along |Q| with σ depending on (|Q|, E).

    Parameters
    ----------
    signal : ndarray, shape (nq, ne)
        Intensity; NaN bins contribute nothing and stay NaN.
    q_edges : ndarray, shape (nq + 1,)
        |Q| edges in Å⁻¹.
    sigma_invA : ndarray, shape (nq, ne)
        Gaussian σ of |Q| for input bin (i, j), Å⁻¹ (0 or NaN: bin left as is).

    Returns
    -------
    ndarray, shape (nq, ne)
        Broadened intensity (integral over |Q| conserved inside the range).
    """
    widths = np.diff(q_edges)
    k = gaussian_kernel(q_edges, sigma_invA.T)  # (ne, nq_out, nq_in)
    nan = np.isnan(signal)
    content = np.where(nan, 0.0, signal) * widths[:, None]
    out = np.einsum("eji,ie->je", k, content) / widths[:, None]
    out[nan] = np.nan
    return out
