"""Judge translators map by map against a physics target or a measured map.

:func:`evaluate_translators` runs every translator (learned model or baseline, see
:class:`insgan_core.translation.baselines.Translator`) on each test simulation and reports, per test map:

* relative L1 of the expected map to the target (all covered bins, and the inelastic part E > E_min);
* χ²/N with the target's errors, inelastic (E > E_min, default 3 meV) and over all bins;
* patch distance (:func:`insgan_core.gan.metrics.patch_distance`) of a noisy sample and of the expected
  map to the target;
* energy cuts in given |Q| windows: peak position and FWHM (:func:`insgan_core.gan.metrics.peak_centre_fwhm`)
  of the expected map, the target and the input simulation, with the shifts;
* a |Q| cut in an energy window: peak position and FWHM;
* inelastic and elastic integrals on the bins covered in both maps, and their ratios to the target's;
* noise variance/mean (:func:`insgan_core.gan.metrics.noise_variance_to_mean`) of the sample over the target's;
* the background against energy at high |Q| (mean over a |Q| window) of the expected map and the target.

Units: |Q| Å⁻¹, E meV, integrals in target intensity × Å⁻¹ × meV. Masked bins (NaN) are left out everywhere.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ..data.ins_map import INSMap
from ..errors import InsganInputError
from ..gan.metrics import noise_variance_to_mean, patch_distance, peak_centre_fwhm, relative_l1

__all__ = ["evaluate_translators", "chi2_per_bin", "common_integral", "summarise", "Renamed"]


class Renamed:
    """A translator under another name in a report (a learned model and the structured baseline are both
    "structured")."""

    def __init__(self, inner, name: str):
        self.inner, self.name = inner, name

    def predict(self, sim, *, temperature_K):
        return self.inner.predict(sim, temperature_K=temperature_K)

    def sample(self, sim, *, temperature_K, rng):
        return self.inner.sample(sim, temperature_K=temperature_K, rng=rng)

    def parameters(self) -> dict:
        return {"model": repr(self.inner)}


def chi2_per_bin(pred: INSMap, target: INSMap, *, e_min_meV: float | None = None) -> tuple[float, int]:
    """Σ ((pred − y)/σ_y)² / N over bins where both are finite and σ_y > 0 (and E > ``e_min_meV``).

    Returns (χ²/N, N); (NaN, 0) when the target has no positive error on a common bin.
    """
    s, y, err = pred.signal, target.signal, target.error
    ok = np.isfinite(s) & np.isfinite(y) & np.isfinite(err) & (err > 0)
    if e_min_meV is not None:
        ok &= (target.e_axis.centres > e_min_meV)[None, :]
    n = int(ok.sum())
    if n == 0:
        return float("nan"), 0
    return float(np.sum(((s[ok] - y[ok]) / err[ok]) ** 2) / n), n


def common_integral(a: INSMap, b: INSMap, *, e_window: tuple[float, float]) -> tuple[float, float]:
    """∫∫ S d|Q| dE of ``a`` and of ``b`` over the bins covered in both with E centre in ``e_window`` (meV)."""
    ec = a.e_axis.centres
    ok = np.isfinite(a.signal) & np.isfinite(b.signal) & ((ec > e_window[0]) & (ec < e_window[1]))[None, :]
    area = a.bin_areas
    return float(np.sum((a.signal * area)[ok])), float(np.sum((b.signal * area)[ok]))


def _ratio(x: float, y: float) -> float:
    return float(x / y) if y != 0 and np.isfinite(x) and np.isfinite(y) else float("nan")


def _safe(fn, *args, **kwargs) -> float:
    try:
        return float(fn(*args, **kwargs))
    except InsganInputError:
        return float("nan")


def _cut_peak(m: INSMap, *, axis: str, window, search) -> tuple[float, float]:
    try:
        cut = m.cut(axis=axis, window=window, average=True)
    except InsganInputError:
        return float("nan"), float("nan")
    return peak_centre_fwhm(cut.centres, cut.signal, x_range=search)


def _call(translator, method: str, sim: INSMap, temperature_K: float, detectors, **kwargs) -> INSMap:
    fn = getattr(translator, method)
    if detectors is not None and "detectors" in inspect.signature(fn).parameters:
        kwargs["detectors"] = detectors
    out = fn(sim, temperature_K=temperature_K, **kwargs)
    if not isinstance(out, INSMap) or not out.same_grid(sim):
        raise InsganInputError(f"translator {getattr(translator, 'name', translator)!r}: {method} must return an INSMap "
                               "on the simulation's grid")
    return out


def _has_errors(m: INSMap) -> bool:
    return bool(np.any(np.isfinite(m.error) & (m.error > 0)))


def evaluate_translators(
    translators,
    test_sims,
    test_targets,
    temperatures_K,
    *,
    detectors=None,
    q_windows=None,
    e_window=None,
    e_range=None,
    q_range=None,
    inelastic_min_meV: float = 3.0,
    elastic_window_meV: tuple[float, float] = (-3.0, 3.0),
    background_q_window=None,
    noise_e_window=None,
    patch_size: int = 16,
    n_patches: int = 256,
    seed: int = 0,
    sample: bool = True,
) -> dict:
    """Metrics of every translator on every test map.

    Parameters
    ----------
    translators : list of Translator (or dict name → Translator)
        Fitted models with ``predict``/``sample`` and a ``name``.
    test_sims : list of INSMap
        Clean simulations S(|Q|,E) at the test temperatures, each on its target's grid.
    test_targets : list of INSMap
        Measured maps (with errors) or physics targets (noise-free, errors 0: χ² and noise ratios are NaN).
    temperatures_K : list of float
        Temperature of each test map (K).
    detectors : list of DetectorData or None
        Coverage table of each test map, passed to translators whose ``predict`` takes ``detectors``.
    q_windows : list of (lo, hi), optional
        |Q| windows (Å⁻¹) of the energy cuts; default: the covered |Q| range of the first target split in three.
    e_window : (lo, hi), optional
        Energy window (meV) of the |Q| cut; default (E_min, middle of the inelastic range).
    e_range : (lo, hi), optional
        Energies (meV) searched for peaks in energy cuts; default (E_min, top of the grid).
    q_range : (lo, hi), optional
        |Q| (Å⁻¹) searched for the peak of the |Q| cut; default the whole axis.
    inelastic_min_meV : float
        E_min: bins with energy centre above it are inelastic.
    elastic_window_meV : (lo, hi)
        Energy window of the elastic integral.
    background_q_window : (lo, hi), optional
        |Q| window (Å⁻¹) of the background-vs-energy profile; default the top 15 % of the covered |Q| range.
    noise_e_window : (lo, hi), optional
        Energy window (meV) of the noise variance/mean (default ``e_range``): the elastic line and the rise
        towards Ei leak structure into the small-scale residual, so keep them out.
    patch_size, n_patches, seed
        Options of the patch distance (patch side is reduced to fit small maps); ``seed`` also seeds the samples.
    sample : bool
        Draw one noisy sample per map for the patch distance and the noise ratio (False: skip them).

    Returns
    -------
    dict
        ``{"options", "maps": [{"index", "temperature_K", "target": {...}, "input": {...}, "translators":
        {name: {...}}}], "summary": {name: {metric: mean over maps}}}``; see the module docstring for the
        metrics. Non-finite values stay NaN (write JSON through a NaN → null filter).
    """
    if isinstance(translators, dict):
        named = list(translators.items())
    else:
        named = [(getattr(t, "name", type(t).__name__), t) for t in translators]
    if not named:
        raise InsganInputError("evaluate_translators: no translators given")
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise InsganInputError(f"evaluate_translators: translator names must be unique, got {names}")
    sims = [test_sims] if isinstance(test_sims, INSMap) else list(test_sims)
    targets = [test_targets] if isinstance(test_targets, INSMap) else list(test_targets)
    temps = [temperatures_K] if np.isscalar(temperatures_K) else list(temperatures_K)
    dets = [None] * len(sims) if detectors is None else (list(detectors) if isinstance(detectors, (list, tuple)) else [detectors] * len(sims))
    if not sims or not (len(sims) == len(targets) == len(temps) == len(dets)):
        raise InsganInputError(
            f"evaluate_translators: {len(sims)} simulations, {len(targets)} targets, {len(temps)} temperatures and "
            f"{len(dets)} detector tables; expected at least one and one of each per test map"
        )
    for i, (s, t) in enumerate(zip(sims, targets)):
        if not (isinstance(s, INSMap) and isinstance(t, INSMap)) or not s.same_grid(t):
            raise InsganInputError(f"evaluate_translators: test map {i}: simulation and target must be INSMaps on one grid")

    ref = targets[0]
    covered_q = ref.x_axis.centres[np.isfinite(ref.signal).any(axis=1)]
    q_lo, q_hi = (float(covered_q[0]), float(covered_q[-1])) if covered_q.size else (ref.x_axis.edges[0], ref.x_axis.edges[-1])
    e_top = float(ref.e_axis.edges[-1])
    if q_windows is None:
        qs = np.linspace(q_lo, q_hi, 4)
        q_windows = [(float(qs[i]), float(qs[i + 1])) for i in range(3)]
    if e_window is None:
        e_window = (inelastic_min_meV, 0.5 * (inelastic_min_meV + e_top))
    if e_range is None:
        e_range = (inelastic_min_meV, e_top)
    if noise_e_window is None:
        noise_e_window = e_range
    if background_q_window is None:
        background_q_window = (q_hi - 0.15 * (q_hi - q_lo), q_hi + 1e-9)
    options = {
        "q_windows_invA": [list(map(float, w)) for w in q_windows], "e_window_meV": list(map(float, e_window)),
        "e_range_meV": list(map(float, e_range)), "q_range_invA": None if q_range is None else list(map(float, q_range)),
        "inelastic_min_meV": float(inelastic_min_meV), "elastic_window_meV": list(map(float, elastic_window_meV)),
        "background_q_window_invA": list(map(float, background_q_window)),
        "noise_e_window_meV": list(map(float, noise_e_window)), "patch_size": int(patch_size),
        "n_patches": int(n_patches), "seed": int(seed),
    }
    inel = (inelastic_min_meV, math.inf)
    rng = np.random.default_rng(seed)
    maps = []
    for i, (sim, target, T, det) in enumerate(zip(sims, targets, temps, dets)):
        measured = _has_errors(target)
        pd_kw = {"patch_size": min(patch_size, *target.shape), "n_patches": n_patches, "seed": seed,
                 "max_nan_fraction": 0.0}
        tgt_info = {
            "has_errors": measured,
            "energy_cuts": [dict(zip(("peak_meV", "fwhm_meV"), _cut_peak(target, axis="e", window=w, search=e_range)))
                            for w in q_windows],
            "q_cut": dict(zip(("peak_invA", "fwhm_invA"), _cut_peak(target, axis="x", window=e_window, search=q_range))),
            "variance_to_mean": _noise(target, noise_e_window) if measured else float("nan"),
        }
        input_info = {
            "energy_cuts": [dict(zip(("peak_meV", "fwhm_meV"), _cut_peak(sim, axis="e", window=w, search=e_range)))
                            for w in q_windows],
        }
        bg_target = _cut_signal(target, background_q_window)
        entry = {"index": i, "temperature_K": float(T), "target": tgt_info, "input": input_info, "translators": {}}
        for name, tr in named:
            pred = _call(tr, "predict", sim, T, det)
            m: dict = {}
            m["relative_l1"] = _safe(relative_l1, pred.signal, target.signal)
            inel_mask = (target.e_axis.centres > inelastic_min_meV)[None, :]
            m["relative_l1_inelastic"] = _safe(relative_l1, np.where(inel_mask, pred.signal, np.nan),
                                               np.where(inel_mask, target.signal, np.nan))
            m["chi2_per_bin_inelastic"], m["n_bins_inelastic"] = chi2_per_bin(pred, target, e_min_meV=inelastic_min_meV)
            m["chi2_per_bin_all"], m["n_bins_all"] = chi2_per_bin(pred, target)
            m["patch_distance_expected"] = _safe(patch_distance, pred, target, **pd_kw)
            noisy = None
            if sample:
                noisy = _call(tr, "sample", sim, T, det, rng=rng)
                m["patch_distance"] = _safe(patch_distance, noisy, target, **pd_kw)
                vtm = _noise(noisy, noise_e_window)
                m["variance_to_mean"] = vtm
                m["variance_to_mean_ratio"] = _ratio(vtm, tgt_info["variance_to_mean"])
            cuts = []
            for w, tc, ic in zip(q_windows, tgt_info["energy_cuts"], input_info["energy_cuts"]):
                p, f = _cut_peak(pred, axis="e", window=w, search=e_range)
                cuts.append({"q_window_invA": list(map(float, w)), "peak_meV": p, "fwhm_meV": f,
                             "shift_from_target_meV": p - tc["peak_meV"], "shift_from_input_meV": p - ic["peak_meV"],
                             "fwhm_ratio_to_target": _ratio(f, tc["fwhm_meV"])})
            m["energy_cuts"] = cuts
            p, f = _cut_peak(pred, axis="x", window=e_window, search=q_range)
            m["q_cut"] = {"peak_invA": p, "fwhm_invA": f, "shift_from_target_invA": p - tgt_info["q_cut"]["peak_invA"]}
            a_in, b_in = common_integral(pred, target, e_window=inel)
            a_el, b_el = common_integral(pred, target, e_window=tuple(elastic_window_meV))
            m["inelastic_integral"], m["target_inelastic_integral"] = a_in, b_in
            m["inelastic_ratio"] = _ratio(a_in, b_in)
            m["elastic_integral"], m["target_elastic_integral"] = a_el, b_el
            m["elastic_ratio"] = _ratio(a_el, b_el)
            bg = _cut_signal(pred, background_q_window)
            m["background_high_q"] = {
                "relative_l1": _safe(relative_l1, bg[None, None], bg_target[None, None]),
                "e_meV": [float(e) for e in target.e_axis.centres],
                "predicted": [float(v) for v in bg],
                "target": [float(v) for v in bg_target],
            }
            entry["translators"][name] = m
        maps.append(entry)
    return {"options": options, "maps": maps, "summary": summarise(maps, names)}


def _noise(m: INSMap, window) -> float:
    ec = m.e_axis.centres
    inside = ((ec > window[0]) & (ec < window[1]))[None, :]
    return _safe(noise_variance_to_mean, np.where(inside, m.signal, np.nan))


def _cut_signal(m: INSMap, window) -> np.ndarray:
    try:
        return m.cut(axis="e", window=window, average=True).signal
    except InsganInputError:
        return np.full(m.shape[1], np.nan)


#: scalar metrics averaged over maps in the summary
SUMMARY_KEYS = ("relative_l1", "relative_l1_inelastic", "chi2_per_bin_inelastic", "chi2_per_bin_all", "patch_distance",
                "patch_distance_expected", "inelastic_ratio", "elastic_ratio", "variance_to_mean_ratio")


def summarise(maps: list[dict], names: list[str]) -> dict:
    """Mean over maps of each scalar metric per translator, plus the largest |peak shift from the target| (meV)."""
    out = {}
    for name in names:
        rows = [mp["translators"][name] for mp in maps]
        s = {}
        for key in SUMMARY_KEYS:
            v = np.array([r.get(key, np.nan) for r in rows], dtype=np.float64)
            s[key] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        shifts = np.array([abs(c["shift_from_target_meV"]) for r in rows for c in r["energy_cuts"]], dtype=np.float64)
        s["max_abs_peak_shift_meV"] = float(np.nanmax(shifts)) if np.isfinite(shifts).any() else float("nan")
        out[name] = s
    return out
