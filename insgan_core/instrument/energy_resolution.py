"""Energy resolution of direct-geometry spectrometers from resins' PyChop models.

No resolution tables are written here: every width comes from ``resins`` (PyChop_fit models).
resins does not check kinematics, so energy transfers E ≥ Ei (no scattered neutron) are refused here.
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError
from .settings import InstrumentSettings

__all__ = ["SIGMA_TO_FWHM", "energy_fwhm_meV", "energy_sigma_meV"]

#: FWHM = SIGMA_TO_FWHM · σ for a Gaussian
SIGMA_TO_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))


def energy_sigma_meV(settings: InstrumentSettings, energy_transfer_meV):
    """Gaussian standard deviation σ of the energy resolution.

    Parameters
    ----------
    settings : InstrumentSettings
    energy_transfer_meV : float or ndarray, shape (n,)
        Energy transfers in meV, all < Ei.

    Returns
    -------
    float or ndarray, shape (n,)
        σ in meV.

    Raises
    ------
    InsganInputError
        When any energy transfer is ≥ Ei (kinematically forbidden) or not finite.
    """
    e = np.asarray(energy_transfer_meV, dtype=np.float64)
    if not np.all(np.isfinite(e)):
        raise InsganInputError("energy_transfer_meV: contains NaN or inf; give finite energy transfers in meV")
    if np.any(e >= settings.ei_meV):
        raise InsganInputError(
            f"energy_transfer_meV: {float(e.max()):g} meV is >= Ei = {settings.ei_meV:g} meV; no neutron can "
            f"lose that much energy, so the resolution is undefined there (resins would extrapolate silently)"
        )
    sigma = settings.resolution_model().get_characteristics(e.reshape(-1, 1))["sigma"]
    sigma = np.asarray(sigma, dtype=np.float64).reshape(e.shape)
    return sigma if sigma.ndim else float(sigma)


def energy_fwhm_meV(settings: InstrumentSettings, energy_transfer_meV):
    """Full width at half maximum of the (Gaussian) energy resolution.

    Parameters
    ----------
    settings : InstrumentSettings
    energy_transfer_meV : float or ndarray, shape (n,)
        Energy transfers in meV, all < Ei.

    Returns
    -------
    float or ndarray, shape (n,)
        FWHM in meV.

    Notes
    -----
    resins' PyChop model gives σ(E) from a 4th-order polynomial fitted to the PyChop van Vuuren variance
    (moderator, chopper, aperture, sample and detector contributions, Bewley et al., PyChop 2018);
    FWHM = 2√(2 ln 2) σ.
    """
    sigma = energy_sigma_meV(settings, energy_transfer_meV)
    return sigma * SIGMA_TO_FWHM
