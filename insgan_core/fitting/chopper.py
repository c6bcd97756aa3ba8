"""The chopper frequency that the elastic line implies: files do not record it, resins needs it."""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError
from ..instrument.energy_resolution import energy_fwhm_meV
from ..instrument.settings import InstrumentSettings, instrument_options

__all__ = ["best_chopper_frequency"]


def best_chopper_frequency(result) -> dict:
    """Allowed chopper frequency whose resins FWHM at E = 0 is closest to the fitted elastic-line FWHM.

    Uses the first dataset's instrument, package and Ei and the fitted ``elastic_fwhm`` of every dataset
    (their mean). Returns ``{"frequency_hz", "elastic_fwhm_meV", "resins_fwhm_meV": {freq: fwhm}}``.
    """
    p = result.problem
    vals = result.values
    widths = [v for k, v in vals.items() if k.split("[")[0] == "elastic_fwhm"]
    if not widths:
        raise InsganInputError("--fit-chopper: the elastic line is not fitted (masked or outside the data); remove "
                               "--mask-elastic or give --chopper-frequency")
    s = p.datasets[0].settings
    freqs = instrument_options(s.instrument)["packages"][s.chopper_package]["frequencies_hz"]
    table = {}
    for f in freqs:
        try:
            st = InstrumentSettings(instrument=s.instrument, ei_meV=s.ei_meV, chopper_package=s.chopper_package,
                                    chopper_frequency_hz=float(f))
            table[float(f)] = float(energy_fwhm_meV(st, 0.0))
        except InsganInputError:
            continue
    target = float(np.mean(widths))
    best = min(table, key=lambda f: abs(table[f] - target))
    return {"frequency_hz": best, "elastic_fwhm_meV": [float(w) for w in widths], "resins_fwhm_meV": table}
