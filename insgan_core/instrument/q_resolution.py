"""|Q| resolution of a direct-geometry powder measurement from the angular uncertainty of a pixel.

Model
-----
At fixed energy transfer, |Q| depends on the scattering angle 2θ through
|Q|² = ki² + kf² − 2 ki kf cos 2θ, so an angular uncertainty δ(2θ) gives
δ|Q| = (ki kf sin 2θ / |Q|) δ(2θ). Two independent angular contributions are combined in quadrature:

* the detector's angular width seen from the sample, a uniform (box) distribution of full width
  ``w_det`` (σ = w_det/√12); default: the detector tube diameter in resins' instrument description
  divided by the sample–detector distance (25 mm / 2.5 m ≈ 0.57° on MERLIN);
* the incident-beam divergence, Gaussian with FWHM ``divergence_deg``; default: the moderator aperture
  width over the moderator–sample distance from resins' description (MERLIN 0.067 m / 11.9 m ≈ 0.32°),
  0.5° where resins gives no aperture (LET's guide).

The energy-resolution contribution to |Q| (correlated with E at fixed angle) is left to the
Monte-Carlo path (:mod:`insgan_core.instrument.montecarlo`); the analytic path treats |Q| and E
widths as independent.
"""

from __future__ import annotations

import numpy as np

from ..data.kinematics import E_TO_K2
from ..errors import InsganInputError
from .energy_resolution import SIGMA_TO_FWHM
from .settings import InstrumentSettings

__all__ = ["two_theta_from_q", "default_detector_width_deg", "default_divergence_deg", "q_sigma_invA", "q_fwhm_invA"]

#: detector tube diameter (m) used where resins has no detector description (LET)
_DEFAULT_TUBE_DIAMETER_M = 0.025


def two_theta_from_q(*, ei_meV: float, q_invA, energy_transfer_meV):
    """Scattering angle 2θ (degrees) at which a detector sees (|Q|, E); NaN where no angle reaches it.

    Parameters
    ----------
    ei_meV : float
    q_invA, energy_transfer_meV : float or ndarray (broadcast)

    Returns
    -------
    ndarray
        2θ in degrees, in [0, 180]; NaN where E ≥ Ei or |Q| is outside [|ki − kf|, ki + kf].

    Notes
    -----
    cos 2θ = (ki² + kf² − |Q|²) / (2 ki kf), ki = √(Ei/2.0721), kf = √((Ei − E)/2.0721).
    """
    q = np.asarray(q_invA, dtype=np.float64)
    e = np.asarray(energy_transfer_meV, dtype=np.float64)
    ki2 = ei_meV / E_TO_K2
    with np.errstate(invalid="ignore", divide="ignore"):
        kf2 = np.where(e < ei_meV, (ei_meV - e) / E_TO_K2, np.nan)
        cos2t = (ki2 + kf2 - q**2) / (2.0 * np.sqrt(ki2 * kf2))
        tt = np.degrees(np.arccos(np.where(np.abs(cos2t) <= 1.0, cos2t, np.nan)))
    return tt


def _geometry(settings: InstrumentSettings) -> tuple[float, float, float]:
    """(sample–detector distance m, moderator–sample distance m, aperture width m) from resins."""
    md = settings.model_data()
    choppers = list(md.choppers.values())
    x0 = float(choppers[-1]["distance"])
    return float(md.d_sample_detector), x0 + float(md.d_chopper_sample), float(md.aperture_width)


def default_detector_width_deg(settings: InstrumentSettings) -> float:
    """Full angular width of one detector tube seen from the sample, degrees (tube diameter / L2)."""
    l2, _, _ = _geometry(settings)
    det = settings.model_data().detector
    diameter = float(det["depth"]) if det else _DEFAULT_TUBE_DIAMETER_M
    return float(np.degrees(diameter / l2))


def default_divergence_deg(settings: InstrumentSettings) -> float:
    """FWHM of the incident divergence, degrees (aperture width / moderator–sample distance, or 0.5°)."""
    _, l_ms, aperture = _geometry(settings)
    return float(np.degrees(aperture / l_ms)) if aperture > 0 else 0.5


def q_sigma_invA(
    settings: InstrumentSettings,
    *,
    q_invA,
    energy_transfer_meV,
    detector_width_deg=None,
    divergence_deg: float | None = None,
):
    """Gaussian σ of |Q| at (|Q|, E) from the angular uncertainty (see module docstring).

    Parameters
    ----------
    settings : InstrumentSettings
    q_invA, energy_transfer_meV : ndarray (broadcast)
        |Q| in Å⁻¹ and energy transfer in meV.
    detector_width_deg : float or ndarray or None
        Full angular width of a detector (box), degrees; None: :func:`default_detector_width_deg`.
    divergence_deg : float or None
        FWHM of the incident divergence, degrees; None: :func:`default_divergence_deg`.

    Returns
    -------
    ndarray
        σ_|Q| in Å⁻¹; NaN where (|Q|, E) is kinematically inaccessible.
    """
    w = default_detector_width_deg(settings) if detector_width_deg is None else detector_width_deg
    div = default_divergence_deg(settings) if divergence_deg is None else float(divergence_deg)
    if np.any(np.asarray(w) < 0) or div < 0:
        raise InsganInputError(
            f"q resolution: detector_width_deg and divergence_deg must be >= 0, got {w} and {div}"
        )
    ei = settings.ei_meV
    q = np.asarray(q_invA, dtype=np.float64)
    e = np.asarray(energy_transfer_meV, dtype=np.float64)
    tt = np.radians(two_theta_from_q(ei_meV=ei, q_invA=q, energy_transfer_meV=e))
    ki = np.sqrt(ei / E_TO_K2)
    with np.errstate(invalid="ignore", divide="ignore"):
        kf = np.sqrt(np.where(e < ei, ei - e, np.nan) / E_TO_K2)
        dq_dtt = ki * kf * np.sin(tt) / np.where(q > 0, q, np.nan)  # Å⁻¹ per radian
    sigma_tt = np.radians(np.sqrt(np.asarray(w, dtype=np.float64) ** 2 / 12.0 + (div / SIGMA_TO_FWHM) ** 2))
    return np.abs(dq_dtt) * sigma_tt


def q_fwhm_invA(settings: InstrumentSettings, *, q_invA, energy_transfer_meV, detector_width_deg=None, divergence_deg=None):
    """FWHM of the |Q| resolution in Å⁻¹ (2√(2 ln 2) × :func:`q_sigma_invA`)."""
    return SIGMA_TO_FWHM * q_sigma_invA(
        settings,
        q_invA=q_invA,
        energy_transfer_meV=energy_transfer_meV,
        detector_width_deg=detector_width_deg,
        divergence_deg=divergence_deg,
    )
