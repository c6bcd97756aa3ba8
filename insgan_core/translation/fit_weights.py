"""Least-squares weights that stay sane over dynamic ranges of 10⁶: counting variance plus a relative
model-error floor.

With pure counting weights w = 1/σ², a bin holding 10⁹ counts (the zone-centre 1/ω intensity of a
spin-wave chain, an intense elastic line) weighs 10⁶ × a band bin with 10³ counts, so any small
mismatch of the model there (a resolution tail shape, Monte-Carlo sampling noise of a synthetic target,
detector-efficiency scatter of a measurement) decides every fitted parameter. Adding a relative
model-error term,

    σ²_fit = σ²_counting + (ε · max(|μ|, |y|))²,

caps the information any one bin can carry at a relative precision ε: bins with few counts keep their
counting weight, intense bins are fitted to ~ε. The weights only change which misfit is preferred;
the model stays linear in S. Using the larger of model μ and data y never gives a bin more weight
than either alone would (the bias of weights from data that fluctuated low does not arise).
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["fit_variance", "check_relative_error"]


def check_relative_error(value, who: str) -> float:
    """``value`` as a float in [0, 1) or a one-line error naming ``who``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InsganInputError(f"{who}: relative_error must be a number in [0, 1), got {value!r}") from None
    if not (np.isfinite(v) and 0.0 <= v < 1.0):
        raise InsganInputError(f"{who}: relative_error must be a number in [0, 1), got {value!r}")
    return v


def fit_variance(counting_var: np.ndarray, y: np.ndarray, mu: np.ndarray | None, *, relative_error: float) -> np.ndarray:
    """σ²_counting + (ε · max(|μ|, |y|))² per bin (NaN in y or μ count as 0).

    Parameters
    ----------
    counting_var : ndarray
        Counting variance σ² of each target bin (intensity²).
    y : ndarray
        Target values (same shape).
    mu : ndarray or None
        Model expectation (same shape); None: the target alone sets the floor.
    relative_error : float
        ε (0: the counting variance unchanged).
    """
    if relative_error == 0:
        return counting_var
    mag = np.abs(np.nan_to_num(y))
    if mu is not None:
        mag = np.maximum(mag, np.abs(np.nan_to_num(mu)))
    return counting_var + (relative_error * mag) ** 2
