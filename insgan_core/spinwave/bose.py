"""Detailed-balance (Bose) factor for energy gain and loss."""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["KB_MEV_PER_K", "bose_factor"]

#: Boltzmann constant in meV/K (CODATA 2018: 8.617333262e-5 eV/K)
KB_MEV_PER_K = 8.617333262e-2


def _check_temperature(temperature_K: float) -> float:
    t = float(temperature_K)
    if not np.isfinite(t) or t < 0:
        raise InsganInputError(f"temperature_K = {temperature_K}; the temperature must be a finite number ≥ 0 K")
    return t


def bose_factor(energy_meV, *, temperature_K: float) -> np.ndarray:
    """n(E) + 1 for signed energy transfer E (meV), any shape.

    Notes
    -----
    A spin-wave mode of energy ω > 0 appears at E = +ω (neutron energy loss) with weight n(ω) + 1 and
    at E = −ω (energy gain) with weight n(ω), n(ω) = 1/(exp(ω/k_B T) − 1). This function returns
    n(E) + 1 for E > 0 and n(|E|) for E < 0, so detailed balance S(−E) = exp(−E/k_B T) S(E) holds. At
    T = 0 it is 1 for E > 0 and 0 for E ≤ 0; E = 0 gives 0 (no inelastic weight on the elastic line).
    """
    t = _check_temperature(temperature_K)
    e = np.asarray(energy_meV, dtype=float)
    if t == 0.0:
        return (e > 0).astype(float)
    x = np.abs(e) / (KB_MEV_PER_K * t)
    with np.errstate(divide="ignore", over="ignore"):
        n = np.where(x > 0, 1.0 / np.expm1(np.where(x > 0, x, 1.0)), 0.0)
    return np.where(e > 0, n + 1.0, np.where(e < 0, n, 0.0))

