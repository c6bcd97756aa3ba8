"""Counting-noise model learnt from measured errors: counts per unit intensity c(|Q|,E).

A measured map S = N / c from N Poisson counts has σ = √N / c, so c = S / σ² in every bin with S > 0 and
σ > 0. The per-bin estimate is itself noisy (relative scatter ≈ 1/√N), so it is smoothed in log space
with a NaN-aware Gaussian; bins without an estimate take a wider smoothing, then the median.
Sampling draws N ~ Poisson(c·μ) and returns N / c with errors √N / c (zero counts: zero error, as
Mantid histograms).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..data.counting import poisson_counts

__all__ = ["estimate_count_scale_map", "sample_counts"]


def _nan_smooth(values: np.ndarray, sigma_bins: float) -> np.ndarray:
    valid = np.isfinite(values)
    num = gaussian_filter(np.where(valid, values, 0.0), sigma_bins, mode="nearest")
    den = gaussian_filter(valid.astype(np.float64), sigma_bins, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-3, num / den, np.nan)


def estimate_count_scale_map(signals, errors, *, sigma_bins: float = 2.0) -> np.ndarray | None:
    """Smoothed counts per unit intensity c(x, E) from measured maps of one setup.

    Parameters
    ----------
    signals, errors : sequence of ndarray, each shape (nx, ne)
        Measured intensities and their standard deviations (NaN = no data).
    sigma_bins : float
        Width (bins) of the Gaussian smoothing of log c.

    Returns
    -------
    ndarray, shape (nx, ne), or None
        c > 0 everywhere (counts per unit intensity in a bin), the geometric mean over the maps; None when
        no bin of any map has S > 0 and σ > 0 (noise-free maps).
    """
    logs = []
    for s, e in zip(signals, errors):
        s, e = np.asarray(s, float), np.asarray(e, float)
        ok = np.isfinite(s) & np.isfinite(e) & (s > 0) & (e > 0)
        if ok.sum() < 10:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            logc = np.where(ok, np.log(s / np.where(ok, e, 1.0) ** 2), np.nan)
        logs.append(logc)
    if not logs:
        return None
    with np.errstate(invalid="ignore"):
        stacked = np.array(logs)
        count = np.isfinite(stacked).sum(0)
        mean = np.where(count > 0, np.nansum(stacked, 0) / np.maximum(count, 1), np.nan)
    smooth = _nan_smooth(mean, sigma_bins)
    wide = _nan_smooth(mean, 4.0 * sigma_bins)
    fill = float(np.nanmedian(mean))
    out = np.where(np.isfinite(smooth), smooth, np.where(np.isfinite(wide), wide, fill))
    return np.exp(out)


def sample_counts(mean: np.ndarray, count_scale: np.ndarray, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One Poisson realisation of an expected map.

    Parameters
    ----------
    mean : ndarray, shape (..., nx, ne)
        Expected intensity (NaN = no coverage; negative values count as 0).
    count_scale : ndarray, broadcastable to ``mean``
        Counts per unit intensity c.

    Returns
    -------
    (signal, error) : ndarrays like ``mean``
        N / c and √N / c, NaN where ``mean`` is NaN.
    """
    counts = poisson_counts(mean * count_scale, rng=rng)
    return counts / count_scale, np.sqrt(counts) / count_scale
