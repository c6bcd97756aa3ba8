"""Physics-keeping metrics of a translation, measured on the signal part of the maps (issue 16 acceptance).

A translator's output is signal + S-independent terms (background, elastic line, ...). Whether it keeps
the physics is judged on the **signal part**: the prediction minus the prediction for an all-zero input,
against the physics target minus its background-only target. Both are exactly linear in S for a model
that keeps physics, so the additive terms cannot hide or fake a moved, deleted or invented excitation.

* :func:`inelastic_cut_meV`: lower energy limit of the inelastic region, ``max(e_min, n × FWHM(E=0))``:
  the elastic line, and the resolution tails of intense quasi-elastic signal (the zone-centre 1/ω
  spin-wave intensity of chains reaches 10⁵ × the band's), lie below it. How far those tails reach
  depends on the resolution's tail shape and on whether the width is taken at the incident or at the
  measured energy (the analytic pipeline and the Monte-Carlo pipeline differ there by ×20 at 4.75 meV
  for fm_chain on MERLIN Ei 62), which is not what "inelastic intensity" or "peak position" asks.
* :func:`signal_inelastic_ratio`: ∫∫ signal part over the inelastic region, prediction over target.
* :func:`signal_peak_shifts`: energy-cut peak positions of the signal part, per |Q| window: the
  strongest *interior* local maximum of the target's cut (a cut rising to the window's edge has no
  peak there and is skipped), and the prediction's local maximum nearest to it; the shift in units of
  half the resolution FWHM at the target's peak. A cut whose target has a peak but whose prediction
  has none is a failure (shift = inf).

Why not the strongest maximum of each total map (the earlier definition): with backgrounds and a
quasi-elastic tail in the cut, the strongest value in the search range is often the range's lower
edge (a tail, not a peak), and two van Hove peaks of similar height swap rank under small intensity
changes, so a perfect translator could score shifts of ~15 half-widths.

Units: |Q| Å⁻¹, E meV; integrals in map intensity × Å⁻¹ × meV. NaN bins are left out.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.ins_map import INSMap
from ..errors import InsganInputError

__all__ = [
    "inelastic_cut_meV",
    "signal_inelastic_ratio",
    "interior_peaks",
    "signal_peak_shifts",
    "ELASTIC_FWHMS",
]

#: inelastic region starts this many elastic-resolution FWHMs above E = 0
ELASTIC_FWHMS = 2.0


def inelastic_cut_meV(fwhm_at_zero_meV: float, *, e_min_meV: float = 3.0, n_fwhm: float = ELASTIC_FWHMS) -> float:
    """Lower energy edge (meV) of the inelastic region: ``max(e_min_meV, n_fwhm × fwhm_at_zero_meV)``."""
    if not (np.isfinite(fwhm_at_zero_meV) and fwhm_at_zero_meV >= 0):
        raise InsganInputError(f"inelastic_cut_meV: fwhm_at_zero_meV must be a number >= 0 (meV), got {fwhm_at_zero_meV!r}")
    return float(max(e_min_meV, n_fwhm * fwhm_at_zero_meV))


def _check_pair(a: INSMap, b: INSMap, who: str) -> None:
    if not (isinstance(a, INSMap) and isinstance(b, INSMap)) or not a.same_grid(b):
        raise InsganInputError(f"{who}: expected two INSMaps on one grid")


def signal_inelastic_ratio(pred_signal: INSMap, target_signal: INSMap, *, e_cut_meV: float,
                           e_max_meV: float = math.inf) -> float:
    """∫∫ pred / ∫∫ target over bins finite in both with energy centre in (e_cut_meV, e_max_meV).

    Parameters
    ----------
    pred_signal, target_signal : INSMap
        Signal parts (prediction − prediction for zero input; target − background-only target), one grid.
    e_cut_meV, e_max_meV : float
        Inelastic region (meV), e.g. from :func:`inelastic_cut_meV`.

    Returns
    -------
    float
        The ratio; NaN when the target's integral is 0 or no bin is common.
    """
    _check_pair(pred_signal, target_signal, "signal_inelastic_ratio")
    ec = target_signal.e_axis.centres
    inside = ((ec > e_cut_meV) & (ec < e_max_meV))[None, :]
    ok = inside & np.isfinite(pred_signal.signal) & np.isfinite(target_signal.signal)
    area = target_signal.bin_areas
    num = float(np.sum((pred_signal.signal * area)[ok]))
    den = float(np.sum((target_signal.signal * area)[ok]))
    return num / den if den != 0 and ok.any() else float("nan")


def interior_peaks(y) -> np.ndarray:
    """Indices of interior local maxima of ``y``: y[i] > y[i−1] and y[i] ≥ y[i+1], both neighbours finite.

    Plateaus count once (at their first bin). The end points are never peaks: a profile that rises to
    the edge of the searched range has its maximum outside it.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size < 3:
        return np.zeros(0, dtype=int)
    mid = y[1:-1]
    ok = np.isfinite(y[:-2]) & np.isfinite(mid) & np.isfinite(y[2:]) & (mid > y[:-2]) & (mid >= y[2:])
    return np.flatnonzero(ok) + 1


def _vertex(x, y, i) -> float:
    x0, x1, x2 = x[i - 1], x[i], x[i + 1]
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
    return float(np.clip(-b / (2 * a), x0, x2)) if a < 0 else float(x1)


def signal_peak_shifts(pred_signal: INSMap, target_signal: INSMap, *, q_windows, e_range, half_fwhm) -> list[dict]:
    """Energy-cut peak of the target's signal part and the prediction's nearest peak, per |Q| window.

    Parameters
    ----------
    pred_signal, target_signal : INSMap
        Signal parts on one grid.
    q_windows : sequence of (lo, hi)
        |Q| windows (Å⁻¹) of the energy cuts (mean over the window's covered bins).
    e_range : (lo, hi)
        Energies searched (meV), e.g. (inelastic cut, top of the band region).
    half_fwhm : callable
        E (meV) → half the energy-resolution FWHM (meV) at E.

    Returns
    -------
    list of dict
        Per window: ``target_peak_meV`` (NaN: the target's cut has no interior peak; the window is not
        judged), ``peak_meV`` (NaN: the prediction has none → ``shift_over_half_fwhm`` = inf),
        ``shift_meV``, ``shift_over_half_fwhm``.
    """
    _check_pair(pred_signal, target_signal, "signal_peak_shifts")
    out = []
    for w in q_windows:
        row = {"q_window_invA": [float(w[0]), float(w[1])], "target_peak_meV": float("nan"), "peak_meV": float("nan"),
               "shift_meV": float("nan"), "shift_over_half_fwhm": float("nan")}
        try:
            ct = target_signal.cut(axis="e", window=w, average=True)
            cp = pred_signal.cut(axis="e", window=w, average=True)
        except InsganInputError:
            out.append(row)
            continue
        x = ct.centres
        sel = (x >= e_range[0]) & (x <= e_range[1])
        xs, yt, yp = x[sel], ct.signal[sel], cp.signal[sel]
        pt = interior_peaks(yt)
        if pt.size == 0:
            out.append(row)
            continue
        it = int(pt[np.argmax(yt[pt])])
        e_t = _vertex(xs, yt, it)
        row["target_peak_meV"] = e_t
        pp = interior_peaks(yp)
        if pp.size == 0:
            row["shift_over_half_fwhm"] = float("inf")
        else:
            cand = [_vertex(xs, yp, int(i)) for i in pp]
            e_p = min(cand, key=lambda v: abs(v - e_t))
            row["peak_meV"] = e_p
            row["shift_meV"] = e_p - e_t
            row["shift_over_half_fwhm"] = abs(e_p - e_t) / float(half_fwhm(e_t))
        out.append(row)
    return out
