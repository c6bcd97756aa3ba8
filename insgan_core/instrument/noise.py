"""Counting noise: Poisson statistics for a given count scale."""

from __future__ import annotations

import numpy as np

from ..data.counting import poisson_counts
from ..data.ins_map import INSMap
from ..errors import InsganInputError

__all__ = ["check_count_scale", "poisson_counts", "add_poisson_noise"]


def check_count_scale(count_scale) -> float:
    """Validate a count scale (counts per unit intensity): finite and > 0."""
    try:
        value = float(count_scale)
    except (TypeError, ValueError):
        raise InsganInputError(f"count_scale: expected a number (counts per unit intensity), got {count_scale!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InsganInputError(
            f"count_scale: must be a finite number > 0 (counts per unit intensity), got {count_scale!r}; "
            f"larger values mean better statistics"
        )
    return value


def add_poisson_noise(sqw: INSMap, *, count_scale: float, seed: int | np.random.Generator = 0) -> INSMap:
    """Replace a map's intensities by a Poisson sample with errors from counting statistics.

    Parameters
    ----------
    sqw : INSMap
        Noise-free intensity (NaN bins stay NaN).
    count_scale : float
        c, expected counts per unit intensity in a bin: N_ij ~ Poisson(c · S_ij).
    seed : int or numpy.random.Generator

    Returns
    -------
    INSMap
        signal = N / c, error = √N / c (zero counts give zero error, as Mantid's histograms do).
    """
    c = check_count_scale(count_scale)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    counts = poisson_counts(c * sqw.signal, rng=rng)
    return sqw.with_data(counts / c, np.sqrt(counts) / c)
