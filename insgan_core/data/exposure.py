"""Exposure of a measured run: counts per unit intensity, read from the run's own error bars.

A reduced map in intensity units holds S = N / c in every bin, where N are the detected counts (Poisson,
σ_N = √N) and c is the normalisation (proton charge or monitor counts, detector efficiency, solid angle,
bin widths, ki/kf). Its error is σ_S = √N / c, so ``S / σ_S² = c`` in every bin with N > 0, whatever the
physics in that bin. For two runs of one setup reduced onto one grid, the ratio of their c is the ratio of
their beam exposures (e.g. the proton-charge ratio): a property of the measurement, not of the sample,
just like the detector table.

This module turns that into one number per run: the median of S/σ² over bins with enough counts
(N = S²/σ² ≥ ``min_counts``; bins rebinned from few counts or after background subtraction scatter more).
The median is robust against the few bins where reduction mixed pixels of different c. Because c varies
from bin to bin (ki/kf, detector efficiency, solid angle) and a run with fewer counts has more empty bins,
the medians of two runs are taken over different bins: their ratio is off by a few per cent (17.2–17.4
instead of 17.5 for the shared Bi2Fe4O9 runs). :func:`relative_exposure` against a reference *map* on the
same grid takes the median of the per-bin ratio instead (17.5, the same in every energy bin). Relative exposure
x = c_run / c_reference is what a translation model needs to move between runs: counting noise
var = μ / (x c) and a background fixed in counts B / (x c) (:mod:`insgan_core.translation.exposure`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InsganInputError
from .counting import count_scale_map

__all__ = ["run_exposure", "exposure_map", "relative_exposure", "check_exposure", "MIN_COUNTS"]

#: bins with fewer counts N = S²/σ² than this are left out of the estimate (used only if ≥ 10 bins remain)
MIN_COUNTS = 4.0


def run_exposure(run, *, min_counts: float = MIN_COUNTS, where: str = "run") -> float:
    """Counts per unit intensity c of a measured map: median of S/σ² over bins with S > 0, σ > 0, N ≥ ``min_counts``.

    Parameters
    ----------
    run : INSMap, DetectorData or (signal, error) tuple of ndarrays
        Anything with ``signal`` and ``error`` arrays of one shape (intensity units; NaN = no data).
    min_counts : float
        Least counts N = S²/σ² a bin must hold (falls back to every bin with S, σ > 0 when fewer than 10 do).
    where : str
        Name of the run in error messages (a file name or option).

    Returns
    -------
    float
        c > 0 (counts per unit intensity on the run's own grid: compare runs on one grid).

    Raises
    ------
    InsganInputError
        When no bin has a finite positive signal and error (noise-free maps, errors all zero or NaN).
    """
    s, e = _arrays(run)
    if s.shape != e.shape:
        raise InsganInputError(f"{where}: signal {s.shape} and error {e.shape} arrays differ in shape")
    c = count_scale_map(s, e)
    ok = c > 0
    if not ok.any():
        raise InsganInputError(
            f"{where}: no bin has a positive finite signal and error (errors all zero or NaN?); the run's exposure "
            "(counts per unit intensity) is read from its Poisson error bars"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        counts = np.where(ok, s * c, 0.0)
    enough = ok & (counts >= min_counts)
    use = enough if enough.sum() >= 10 else ok
    value = float(np.median(c[use]))
    if not (math.isfinite(value) and value > 0):
        raise InsganInputError(f"{where}: the exposure estimate is {value!r}; the errors do not look like counting errors")
    return value


def check_exposure(value, *, name: str = "exposure") -> float:
    """``value`` as a float > 0 and finite, else a one-line error naming ``name``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InsganInputError(f"{name}: expected a number > 0 (exposure relative to the training run), got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise InsganInputError(f"{name}: expected a number > 0 (exposure relative to the training run), got {value!r}")
    return x


def _arrays(run):
    if isinstance(run, tuple):
        return np.asarray(run[0], np.float64), np.asarray(run[1], np.float64)
    return np.asarray(run.signal, np.float64), np.asarray(run.error, np.float64)


def exposure_map(run) -> np.ndarray:
    """Per-bin counts per unit intensity S/σ² (same shape as the signal; 0 where S ≤ 0, σ ≤ 0 or not finite)."""
    return count_scale_map(*_arrays(run))


def relative_exposure(run, *, reference, min_counts: float = MIN_COUNTS, where: str = "run") -> float:
    """x = c_run / c_reference: the exposure of ``run`` relative to a reference run.

    Parameters
    ----------
    run : INSMap, DetectorData or (signal, error)
        The measured run.
    reference : float, ndarray or map-like
        Counts per unit intensity of the reference run: one number (ratio of medians,
        :func:`run_exposure`), or a per-bin map (:func:`exposure_map`, 0 = unknown) or a measured map on the
        same grid as ``run``: then the median over common bins of the per-bin ratio (robust to which bins
        hold counts).
    """
    if np.isscalar(reference):
        ref = check_exposure(reference, name=f"{where}: reference exposure")
        return run_exposure(run, min_counts=min_counts, where=where) / ref
    ref_map = np.asarray(reference, np.float64) if isinstance(reference, np.ndarray) else exposure_map(reference)
    c = exposure_map(run)
    if c.shape != ref_map.shape:
        raise InsganInputError(f"{where}: {c.shape} bins, but the reference exposure map has {ref_map.shape}; "
                               "reduce both onto one grid")
    if not (c > 0).any():
        run_exposure(run, where=where)  # raises the no-errors message
    both = (c > 0) & (ref_map > 0) & np.isfinite(ref_map)
    if both.sum() < 10:
        raise InsganInputError(f"{where}: fewer than 10 bins with counts in both this run and the reference; "
                               "cannot compare their exposures")
    value = float(np.median(c[both] / ref_map[both]))
    return check_exposure(value, name=f"{where}: exposure estimate")
