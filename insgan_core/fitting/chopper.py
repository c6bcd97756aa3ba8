"""The chopper frequency that the elastic line implies: files do not record it, resins needs it."""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError
from ..instrument.energy_resolution import energy_fwhm_meV
from ..instrument.settings import InstrumentSettings, instrument_options

__all__ = ["best_chopper_frequency", "elastic_half_max"]


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


def _half_max_width(e, y):
    """FWHM of a peak sampled at ``e`` from the half-maximum crossings (linear interpolation)."""
    i = int(np.nanargmax(y))
    half = 0.5 * y[i]
    lo = i
    while lo > 0 and y[lo] > half:
        lo -= 1
    hi = i
    while hi < len(y) - 1 and y[hi] > half:
        hi += 1
    if y[lo] > half or y[hi] > half:
        return float("nan")
    left = e[lo] + (half - y[lo]) * (e[lo + 1] - e[lo]) / (y[lo + 1] - y[lo])
    right = e[hi - 1] + (half - y[hi - 1]) * (e[hi] - e[hi - 1]) / (y[hi] - y[hi - 1])
    return float(right - left)


def elastic_half_max(dataset, *, half_window_meV: float | None = None) -> dict:
    """Chopper frequency from the elastic line's half-maximum width (model-free, shape-independent).

    The |Q|-summed elastic cut (|E| ≤ ``half_window_meV``, default 2.5 × the resins FWHM at E = 0 at the
    dataset's nominal frequency; a straight background through the outermost
    two bins on each side subtracted) gives a FWHM from its half-maximum crossings. The same measure is
    applied to the resins line of every allowed frequency (a Gaussian of the resins FWHM at E = 0,
    averaged over the same energy bins), and the frequency whose width is closest is returned with the
    table ``{"frequency_hz", "measured_fwhm_meV", "resins_binned_fwhm_meV": {f: w}}``.
    """
    from scipy.special import erf

    m = dataset.measured
    edges = np.asarray(m.e_axis.edges, float)
    c = m.e_axis.centres
    if half_window_meV is None:
        half_window_meV = 2.5 * float(energy_fwhm_meV(dataset.settings, 0.0))
    sel = np.abs(c) <= half_window_meV
    if sel.sum() < 7:
        raise InsganInputError(f"{dataset.name}: fewer than 7 energy bins within ±{half_window_meV:g} meV of the "
                               "elastic line; the chopper frequency cannot be measured from it")
    y = np.nansum(np.where(np.isfinite(m.signal[:, sel]), m.signal[:, sel], 0.0), axis=0)
    e = c[sel]
    bg = np.polyfit(np.r_[e[:2], e[-2:]], np.r_[y[:2], y[-2:]], 1)
    y = y - np.polyval(bg, e)
    measured = _half_max_width(e, y)
    s = dataset.settings
    freqs = instrument_options(s.instrument)["packages"][s.chopper_package]["frequencies_hz"]
    lo, hi = edges[:-1][sel], edges[1:][sel]
    table = {}
    for f in freqs:
        try:
            st = InstrumentSettings(instrument=s.instrument, ei_meV=s.ei_meV, chopper_package=s.chopper_package,
                                    chopper_frequency_hz=float(f))
        except InsganInputError:
            continue
        sig = float(energy_fwhm_meV(st, 0.0)) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        g = 0.5 * (erf(hi / (np.sqrt(2) * sig)) - erf(lo / (np.sqrt(2) * sig))) / (hi - lo)
        w = _half_max_width(e, g)
        if np.isfinite(w):
            table[float(f)] = w
    if not np.isfinite(measured) or not table:
        raise InsganInputError(f"{dataset.name}: the elastic line has no clear half maximum within "
                               f"±{half_window_meV:g} meV; give --chopper-frequency")
    best = min(table, key=lambda f: abs(table[f] - measured))
    return {"frequency_hz": best, "measured_fwhm_meV": measured, "resins_binned_fwhm_meV": table}
