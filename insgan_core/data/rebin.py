"""Conserving, NaN-aware rebinning of histograms by fractional bin overlap.

The signal is treated as a density on each axis (intensity per unit |Q| per meV), so a new bin takes
the overlap-weighted mean of the old bins it covers and the integral Σ signal·Δx·ΔE is conserved.
"""

from __future__ import annotations

import numpy as np

__all__ = ["overlap_matrix", "rebin_2d"]


def overlap_matrix(old_edges: np.ndarray, new_edges: np.ndarray) -> np.ndarray:
    """Overlap lengths between two sets of bins on one axis.

    Parameters
    ----------
    old_edges : ndarray, shape (n_old + 1,)
    new_edges : ndarray, shape (n_new + 1,)
        Strictly increasing bin edges in the same unit.

    Returns
    -------
    ndarray, shape (n_new, n_old)
        ``W[i, j]`` = length of [new_i, new_{i+1}] ∩ [old_j, old_{j+1}] (0 when disjoint).
    """
    old = np.asarray(old_edges, dtype=np.float64)
    new = np.asarray(new_edges, dtype=np.float64)
    lo = np.maximum(new[:-1, None], old[None, :-1])
    hi = np.minimum(new[1:, None], old[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def rebin_2d(
    signal: np.ndarray,
    error: np.ndarray,
    *,
    x_edges: np.ndarray,
    e_edges: np.ndarray,
    new_x_edges: np.ndarray,
    new_e_edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rebin a 2-D density histogram onto new edges.

    Parameters
    ----------
    signal, error : ndarray, shape (nx, ne)
        Density (per unit x per unit E) and its standard deviation; NaN marks missing bins.
    x_edges, e_edges : ndarray, shapes (nx + 1,), (ne + 1,)
        Old edges.
    new_x_edges, new_e_edges : ndarray, shapes (mx + 1,), (me + 1,)
        New edges.

    Returns
    -------
    signal, error : ndarray, shape (mx, me)
        Overlap-area-weighted mean of the valid old bins; NaN where no valid old bin overlaps.
    covered : ndarray, shape (mx, me)
        Fraction of each new bin's area covered by valid old bins (0 to 1).

    Notes
    -----
    With A_ij,kl the overlap area of new bin (i, j) and old bin (k, l) (a product of 1-D overlaps),
    S'_ij = Σ A S / Σ A and σ'²_ij = Σ A² σ² / (Σ A)², sums over valid old bins. Where every new bin
    touched is fully covered, Σ S' ΔA' = Σ S ΔA exactly (the integrated intensity is conserved).
    """
    signal = np.asarray(signal, dtype=np.float64)
    error = np.asarray(error, dtype=np.float64)
    wx = overlap_matrix(x_edges, new_x_edges)
    we = overlap_matrix(e_edges, new_e_edges)
    valid = ~np.isnan(signal)
    s = np.where(valid, signal, 0.0)
    v = np.where(valid, np.nan_to_num(error) ** 2, 0.0)
    num = wx @ s @ we.T
    den = wx @ valid.astype(np.float64) @ we.T
    var = (wx**2) @ v @ (we**2).T
    area = np.diff(new_x_edges)[:, None] * np.diff(new_e_edges)[None, :]
    ok = den > 1e-12 * area
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, num / den, np.nan)
        err = np.where(ok, np.sqrt(var) / den, np.nan)
    return out, err, np.where(ok, den / area, 0.0)
