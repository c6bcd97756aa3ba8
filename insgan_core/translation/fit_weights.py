"""Least-squares weights of the structured model's fit that survive dynamic ranges of 10⁶.

``weighting="errors"`` (the default of :func:`insgan_core.translation.structured.fit_structured`) weights
every bin by 1/σ² of the target's stated errors. Over a large dynamic range this breaks in two ways,
both seen when training on square_afm + afm_chain:

* Weights from the data favour bins that fluctuated low and give bins where the target is small but the
  model is not (a resolution tail that the target does not have) weights of 10⁶ × the band's;
* one map can carry noise its errors do not state (a powder average that sampled one direction next to a
  Goldstone zero puts 4.9 × 10⁸ in one bin against a 99.9th percentile of 350; the Monte-Carlo target
  around it is shot noise), and then decides the shared parameters for every other map (99.7 % of the
  χ² came from one of twelve maps, and the fitted scale a went to 0.0006).

``weighting="model"`` iterates (:data:`REWEIGHT_PASSES` times after the first solve with the errors):

* the Poisson variance of the model's own expectation, max(|μ|, 1/c)/c with c the learnt counts per unit
  intensity (floored at one count), instead of the target's errors (the standard iteratively reweighted
  Poisson fit: no bias towards low fluctuations);
* each map's variances times its Birge ratio max(1, χ²_k/N_k): a map the model cannot describe to within
  its errors gets its errors enlarged instead of dominating; maps that fit keep theirs.

Weights only choose which misfit is preferred: the model stays linear in S and its structure unchanged.
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["FIT_WEIGHTINGS", "REWEIGHT_PASSES", "check_weighting", "model_variance", "per_map_error_scale"]

#: weighting schemes of :func:`insgan_core.translation.structured.fit_structured`
FIT_WEIGHTINGS = ("errors", "model")
#: passes of (new weights from the model's expectation, linear solve) of ``weighting="model"``
REWEIGHT_PASSES = 3


def check_weighting(weighting, who: str) -> str:
    """``weighting`` if it is one of :data:`FIT_WEIGHTINGS`, else a one-line error naming ``who``."""
    if weighting not in FIT_WEIGHTINGS:
        raise InsganInputError(f"{who}: weighting must be one of {', '.join(FIT_WEIGHTINGS)}, got {weighting!r}")
    return weighting


def model_variance(mu: np.ndarray, count_scale: np.ndarray) -> np.ndarray:
    """Poisson variance max(|μ|, 1/c)/c of the expectation μ (intensity²), c counts per unit intensity.

    Parameters
    ----------
    mu : ndarray, shape (B, nq, ne)
        Model expectation; NaN counts as 0.
    count_scale : ndarray, broadcastable to ``mu``
        c > 0 per bin.
    """
    c = np.asarray(count_scale, dtype=np.float64)
    return np.maximum(np.abs(np.nan_to_num(mu)), 1.0 / c) / c


def per_map_error_scale(y: np.ndarray, mu: np.ndarray, w: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """max(1, χ²_k/N_k) of each map k (its Birge ratio), the factor its variances are multiplied by.

    Parameters
    ----------
    y, mu, w : ndarray, shape (B, nq, ne)
        Targets, model expectation, weights 1/σ².
    fitted : ndarray of bool, shape (B, nq, ne)
        Bins in the fit.

    Returns
    -------
    ndarray, shape (B,)
    """
    r2 = np.where(fitted, (np.nan_to_num(y) - np.nan_to_num(mu)) ** 2 * w, 0.0)
    n = np.maximum(fitted.sum(axis=(1, 2)), 1)
    return np.maximum(1.0, r2.sum(axis=(1, 2)) / n)
