"""Energy histograms of spin-wave modes and Gaussian energy broadening (spectral weight conserved)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import ndtr

from ..errors import InsganInputError

__all__ = ["FWHM_TO_SIGMA", "histogram_modes", "resolve_width", "fine_edges", "fine_index", "broaden_fine"]

#: σ = FWHM / sqrt(8 ln 2) (not SpinW sw_egrid's 'dE' factor, which broadens 1.386× too much)
FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


def resolve_width(fwhm_meV=None, width_function: Callable | None = None):
    """Normalise the broadening options to a callable E (meV) -> FWHM (meV), or None for none."""
    if fwhm_meV is not None and width_function is not None:
        raise InsganInputError("broadening: give either fwhm_meV (constant) or width_function (callable of E), not both")
    if fwhm_meV is not None:
        if callable(fwhm_meV):
            return fwhm_meV
        fwhm = float(fwhm_meV)
        if not np.isfinite(fwhm) or fwhm < 0:
            raise InsganInputError(f"broadening: fwhm_meV = {fwhm_meV}; give a FWHM ≥ 0 meV (0 = no broadening)")
        if fwhm == 0:
            return None
        return lambda e: np.full(np.shape(e), fwhm)
    if width_function is not None:
        if not callable(width_function):
            raise InsganInputError("broadening: width_function must be a callable E_meV -> FWHM_meV")
        return width_function
    return None


def _widths(width, energies: np.ndarray, lo: float, hi: float) -> np.ndarray:
    w = np.asarray(width(np.clip(energies, lo, hi)), dtype=float)
    w = np.broadcast_to(w, energies.shape)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        bad = energies[~(np.isfinite(w) & (w > 0))][:3]
        raise InsganInputError(
            f"broadening: the width function returned a non-positive or non-finite FWHM at E = {bad.tolist()} meV; "
            "it must give a FWHM > 0 meV over the whole energy range"
        )
    return w


def histogram_modes(
    energies: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    n_rows: int,
    e_edges: np.ndarray,
    *,
    width=None,
    oversample: int = 4,
) -> np.ndarray:
    """Spectral density (per meV) of weighted modes on energy bins, optionally Gaussian-broadened.

    Parameters
    ----------
    energies, weights : ndarray (N, M)
        Signed mode energies (meV) and their weights (NaN-free).
    rows : ndarray (N,) int
        Output row of each wavevector (|Q| shell or path point); weights are summed into it.
    n_rows : int
    e_edges : ndarray (ne + 1,)
        Output energy bin edges (meV), increasing.
    width : callable or None
        E (meV) -> FWHM (meV); None for plain histogramming.
    oversample : int
        Sub-bins per output bin of the internal grid used before broadening.

    Returns
    -------
    ndarray (n_rows, ne)
        Σ weights per bin divided by the bin width (meV⁻¹).

    Notes
    -----
    Histogramming conserves Σ weights exactly for modes inside [e_edges[0], e_edges[-1]]. Broadening
    first histograms onto a fine grid extending 4 FWHM beyond the output range, then spreads each fine
    bin over the output bins with the exact Gaussian bin integrals
    Φ((e_{j+1} − E)/σ) − Φ((e_j − E)/σ), σ = FWHM/sqrt(8 ln 2) evaluated at the fine-bin energy E, so
    weight is conserved up to the tails beyond the output range.
    """
    e_edges = np.asarray(e_edges, dtype=float)
    rows = np.asarray(rows, dtype=np.int64)
    E = np.asarray(energies, dtype=float)
    W = np.asarray(weights, dtype=float)
    fine = fine_edges(e_edges, width=width, oversample=oversample)
    nfine = fine.size - 1
    idx = fine_index(E, fine)
    ok = (idx >= 0) & (idx < nfine) & (W != 0)
    flat = (np.broadcast_to(rows[:, None], E.shape)[ok] * nfine + idx[ok]).astype(np.int64)
    hist = np.bincount(flat, weights=W[ok], minlength=n_rows * nfine).reshape(n_rows, nfine)
    return broaden_fine(hist, fine, e_edges, width=width)


def fine_edges(e_edges: np.ndarray, *, width=None, oversample: int = 4) -> np.ndarray:
    """Internal energy grid of :func:`histogram_modes`: ``e_edges`` itself without broadening, else a
    uniform grid of step min(bin)/oversample (at most FWHM_max/4) extending 4 FWHM_max beyond the range."""
    e_edges = np.asarray(e_edges, dtype=float)
    if width is None:
        return e_edges
    lo, hi = e_edges[0], e_edges[-1]
    wmax = float(np.max(_widths(width, e_edges, lo, hi)))
    step = float(np.min(np.diff(e_edges))) / max(int(oversample), 1)
    step = min(step, wmax / 4.0)
    f_lo, f_hi = lo - 4.0 * wmax, hi + 4.0 * wmax
    nf = int(np.ceil((f_hi - f_lo) / step))
    return f_lo + step * np.arange(nf + 1)


def fine_index(E: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """Bin index of energies E on the grid ``fine`` (−1 or ≥ nfine outside; the last edge is inside)."""
    nfine = fine.size - 1
    uniform = np.allclose(np.diff(fine), fine[1] - fine[0], rtol=1e-9, atol=0)
    if uniform:
        idx = np.floor((E - fine[0]) / (fine[1] - fine[0])).astype(np.int64)
    else:
        idx = np.searchsorted(fine, E, side="right") - 1
    idx[E == fine[-1]] = nfine - 1
    return idx


def broaden_fine(hist: np.ndarray, fine: np.ndarray, e_edges: np.ndarray, *, width=None) -> np.ndarray:
    """Summed weights on the grid ``fine`` (n_rows, nfine) -> spectral density (n_rows, ne) per meV on
    ``e_edges``, Gaussian-broadened with the exact bin integrals when ``width`` is given."""
    e_edges = np.asarray(e_edges, dtype=float)
    if width is None:
        return hist / np.diff(e_edges)[None, :]
    lo, hi = e_edges[0], e_edges[-1]
    centres = 0.5 * (fine[1:] + fine[:-1])
    sigma = _widths(width, centres, lo, hi) * FWHM_TO_SIGMA
    G = ndtr((e_edges[None, 1:] - centres[:, None]) / sigma[:, None]) - ndtr(
        (e_edges[None, :-1] - centres[:, None]) / sigma[:, None]
    )
    return (hist @ G) / np.diff(e_edges)[None, :]
