"""Direct-geometry kinematics: wavevectors, |Q| from scattering angle and energy transfer, |Q| limits.

Units: energies in meV, wavevectors and |Q| in Å⁻¹, angles in degrees. Inaccessible points
(final energy Ei − E ≤ 0) are NaN.
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["E_TO_K2", "k_from_energy", "q_from_angle", "q_limits"]

#: E = E_TO_K2 · k² for a neutron, with E in meV and k in Å⁻¹ (ħ²/2mₙ = 2.0721 meV Å²).
E_TO_K2 = 2.0721


def k_from_energy(energy_meV):
    """Neutron wavevector from its kinetic energy.

    Parameters
    ----------
    energy_meV : float or ndarray
        Neutron energy in meV.

    Returns
    -------
    float or ndarray
        k = sqrt(E / 2.0721) in Å⁻¹, same shape as the input; NaN where the energy is negative.
    """
    energy = np.asarray(energy_meV, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        k = np.sqrt(np.where(energy >= 0, energy, np.nan) / E_TO_K2)
    return k if k.ndim else float(k)


def q_from_angle(*, ei_meV: float, energy_transfer_meV, two_theta_deg):
    """|Q| for direct geometry from the scattering angle and energy transfer.

    Parameters
    ----------
    ei_meV : float
        Incident energy in meV (> 0).
    energy_transfer_meV : float or ndarray
        Energy transfer E = Ei − Ef in meV; broadcast against ``two_theta_deg``.
    two_theta_deg : float or ndarray
        Scattering angle 2θ in degrees.

    Returns
    -------
    float or ndarray
        |Q| in Å⁻¹ (broadcast shape); NaN where E ≥ Ei (no final neutron).

    Notes
    -----
    ki = sqrt(Ei/2.0721), kf = sqrt((Ei − E)/2.0721) and |Q|² = ki² + kf² − 2 ki kf cos 2θ
    (e.g. Squires, *Introduction to the Theory of Thermal Neutron Scattering*, ch. 1), evaluated as
    (ki − kf)² + 4 ki kf sin²θ to avoid cancellation at small |Q|.
    """
    ei = _check_ei(ei_meV)
    e = np.asarray(energy_transfer_meV, dtype=np.float64)
    tt = np.deg2rad(np.asarray(two_theta_deg, dtype=np.float64))
    ef = ei - e
    ki2 = ei / E_TO_K2
    with np.errstate(invalid="ignore"):
        kf2 = np.where(ef > 0, ef, np.nan) / E_TO_K2
        ki, kf = np.sqrt(ki2), np.sqrt(kf2)
        # (ki - kf)² + 4 ki kf sin²θ equals ki² + kf² − 2 ki kf cos 2θ without cancellation near Q = 0
        q = np.sqrt((ki - kf) ** 2 + 4.0 * ki * kf * np.sin(0.5 * tt) ** 2)
    q = np.where(np.isnan(kf2), np.nan, q)
    return q if q.ndim else float(q)


def q_limits(*, ei_meV: float, energy_transfer_meV, two_theta_min_deg: float, two_theta_max_deg: float):
    """The |Q| range reached by detectors between two scattering angles.

    Parameters
    ----------
    ei_meV : float
        Incident energy in meV.
    energy_transfer_meV : float or ndarray
        Energy transfer in meV.
    two_theta_min_deg, two_theta_max_deg : float
        Smallest and largest scattering angle covered, degrees, 0 ≤ min < max ≤ 180.

    Returns
    -------
    (q_min, q_max) : tuple of float or ndarray
        |Q| limits in Å⁻¹ at each energy transfer; NaN where E ≥ Ei.

    Notes
    -----
    |Q| grows monotonically with 2θ on [0°, 180°] at fixed E, so the limits are reached at the
    extreme angles.
    """
    if not 0.0 <= two_theta_min_deg < two_theta_max_deg <= 180.0:
        raise InsganInputError(
            f"q_limits: need 0 <= two_theta_min_deg < two_theta_max_deg <= 180, got "
            f"{two_theta_min_deg} and {two_theta_max_deg}"
        )
    q_min = q_from_angle(ei_meV=ei_meV, energy_transfer_meV=energy_transfer_meV, two_theta_deg=two_theta_min_deg)
    q_max = q_from_angle(ei_meV=ei_meV, energy_transfer_meV=energy_transfer_meV, two_theta_deg=two_theta_max_deg)
    return q_min, q_max


def _check_ei(ei_meV) -> float:
    try:
        ei = float(ei_meV)
    except (TypeError, ValueError):
        raise InsganInputError(f"ei_meV: expected a number (incident energy in meV), got {ei_meV!r}") from None
    if not np.isfinite(ei) or ei <= 0:
        raise InsganInputError(f"ei_meV: incident energy must be a finite number > 0 meV, got {ei_meV!r}")
    return ei
