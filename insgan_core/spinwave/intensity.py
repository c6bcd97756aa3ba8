"""What a neutron sees of a spin-wave mode: S⊥ with the polarisation factor, form factor, Bose factor.

Normalisation: S⊥ is per magnetic site of the model's cell, in units of spin correlation (ħ = 1), and
integrates over energy to a dimensionless number (a ferromagnet gives Σ_modes S⊥ = S(1 + Q̂_z²)/2 per
site for moments along z, i.e. 2S/3 averaged over directions). ``units="mbarn"`` multiplies by
(γ r₀)² (g/2)² = 290.6 mbarn × (g/2)², giving mbarn sr⁻¹ meV⁻¹ per magnetic site once histogrammed
per meV (Squires, *Introduction to the Theory of Thermal Neutron Scattering*, eq. 7.34, dipole
approximation, no Debye–Waller factor, no kf/ki).
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["GAMMA_R0_SQUARED_MBARN", "UNITS", "perpendicular_weight", "perpendicular_weight_tensor", "check_units"]

#: (γ r₀)² in millibarn: γ = 1.913 (neutron magnetic moment in nuclear magnetons), r₀ = 2.818 fm
GAMMA_R0_SQUARED_MBARN = 290.6

#: intensity units understood by the spinwave layer
UNITS = ("spin", "mbarn")


def check_units(units: str) -> str:
    if units not in UNITS:
        raise InsganInputError(f"units = {units!r}; expected one of {UNITS} ('spin': S⊥ per site, 'mbarn': mbarn/sr/meV per site)")
    return units


def perpendicular_weight(amplitudes: np.ndarray, q_hat: np.ndarray, n_sites: int) -> np.ndarray:
    """S⊥ of each mode from amplitudes Y (N, 3, M) and unit Q directions (N, 3): (|Y|² − |Q̂·Y|²)/n."""
    total = np.sum(np.abs(amplitudes) ** 2, axis=1)
    par = np.abs(np.einsum("na,nam->nm", q_hat, amplitudes)) ** 2
    return np.maximum(total - par, 0.0) / n_sites


def perpendicular_weight_tensor(sab: np.ndarray, q_hat: np.ndarray) -> np.ndarray:
    """S⊥ = Re[tr S − Q̂ᵀ S Q̂] from correlation tensors (N, M, 3, 3) and Q̂ (N, 3)."""
    tr = np.trace(sab, axis1=2, axis2=3).real
    par = np.einsum("na,nmab,nb->nm", q_hat, sab, q_hat).real
    return tr - par
