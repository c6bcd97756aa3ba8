"""Counting statistics of histogram data: Poisson counts, and the count scale implied by errors.

A map in intensity units S = N / c from N counts has σ_S = √N / c, where c is the count scale (counts per
unit intensity in a bin).
"""

from __future__ import annotations

import numpy as np

__all__ = ["poisson_counts", "count_scale_map", "estimate_count_scale"]


def poisson_counts(expected: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Poisson-distributed counts with the given (non-negative) means; NaN means stay NaN.

    Parameters
    ----------
    expected : ndarray
        Expected counts (negative values are clipped to 0: counts cannot be negative).
    rng : numpy.random.Generator
    """
    nan = np.isnan(expected)
    lam = np.where(nan, 0.0, np.clip(expected, 0.0, None))
    counts = rng.poisson(lam).astype(np.float64)
    counts[nan] = np.nan
    return counts


def estimate_count_scale(maps) -> float | None:
    """Counts per unit intensity of Poisson-noisy maps: median of S/σ² over bins with S > 0 and σ > 0.

    ``maps`` is an INSMap or MapStack (anything with ``signal`` and ``error`` arrays of one shape).

    For counts N with σ_N = sqrt(N), a map S = N / c has σ_S = sqrt(S / c), so c = S / σ_S². Returns
    None when no bin has a positive signal and error (e.g. noise-free maps with zero errors).
    """
    c = count_scale_map(maps.signal, maps.error)
    ok = c > 0
    if not ok.any():
        return None
    return float(np.median(c[ok]))


def count_scale_map(signal, error) -> np.ndarray:
    """Per-bin counts per unit intensity S/σ² (shape of ``signal``; 0 where S ≤ 0, σ ≤ 0 or either is not finite)."""
    s, e = np.asarray(signal, np.float64), np.asarray(error, np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ok = np.isfinite(s) & np.isfinite(e) & (s > 0) & (e > 0)
        return np.where(ok, s / np.where(ok, e, 1.0) ** 2, 0.0)
