"""Monte-Carlo resolution convolution (the slow, faithful path, in the spirit of TobyFit).

For every (|Q|, E) bin centre the nominal scattering angle 2θ and time of flight are fixed by the
measurement; random neutron histories consistent with that pixel are drawn from the instrument's
moderator, chopper and detector distributions, each gives the true (|Q|', E') the neutron actually
probed, and the map value is the average of S(|Q|', E') over the histories.

Model (direct geometry, distances from resins' PyChop description)
------------------------------------------------------------------
Moderator → (x0) → last chopper → (x1) → sample → (x2) → detector. Time zero is the nominal chopper
opening. For a pixel of nominal energy transfer E the measured arrival time is
T = x1/vi + x2/vf with vi = 437.39 √Ei, vf = 437.39 √(Ei − E) (m/s, meV). One history draws

* t_m: moderator emission-time deviation, Gaussian with resins' moderator FWHM (measured table or
  analytic χ² model); for disk-chopper instruments (LET) the first chopper acts as the source, as in
  PyChop;
* t_c: chopper opening time, triangular for a Fermi chopper (half-base √6 σ_c, σ_c from resins'
  Fermi-chopper variance), Gaussian for a disk chopper;
* δL2: depth of absorption in the detector tube, uniform over the tube diameter;
* δ2θ: uniform over the detector angular width plus a Gaussian incident divergence.

Then vi' = x0 / (x0/vi + t_c − t_m), the neutron reaches the sample at t_c + x1/vi' and the detector at
T, so vf' = (x2 + δL2) / (T − t_c − x1/vi' + δt); E' = Ei' − Ef' and
|Q'|² = ki'² + kf'² − 2 ki' kf' cos(2θ + δ2θ). Linearised, the sampled terms are PyChop's moderator,
chopper and detector-depth terms. PyChop's other terms (the aperture × Fermi-chopper sweep, which
dominates on MERLIN and MAPS at large energy transfer, sample size, jitter, the He-tube absorption
profile) enter as one Gaussian arrival-time jitter δt whose variance makes up the difference to resins'
energy variance at that energy (zero where the sampled terms already exceed it), so the Monte-Carlo
energy width follows resins while |Q| and E deviations stay correlated as in a real instrument.
Reference: T. G. Perring, TobyFit (Horace) documentation; Bewley et al., PyChop (2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.ins_map import INSMap
from ..errors import InsganInputError
from .coverage import interpolate_map
from .energy_resolution import SIGMA_TO_FWHM
from .q_resolution import default_detector_width_deg, default_divergence_deg, two_theta_from_q
from .settings import InstrumentSettings

__all__ = ["E_TO_V", "TimingModel", "timing_model", "mc_resolution_map"]

#: neutron speed v = E_TO_V · √E, v in m/s and E in meV
E_TO_V = 437.393362604208619
_E_TO_K2 = 2.0721


@dataclass(frozen=True)
class TimingModel:
    """Distributions of one instrument setting (times in s, lengths in m, angles in degrees)."""

    x0_m: float
    x1_m: float
    x2_m: float
    moderator_sigma_s: float
    chopper_sigma_s: float
    chopper_triangular: bool
    detector_depth_m: float
    detector_width_deg: float
    divergence_fwhm_deg: float


def timing_model(settings: InstrumentSettings, *, detector_width_deg=None, divergence_deg=None) -> TimingModel:
    """Moderator, chopper and detector distributions for ``settings`` from resins' PyChop description."""
    model = settings.resolution_model()
    md = settings.model_data()
    cls = type(model)
    ei = settings.ei_meV
    freqs = _chopper_frequencies(settings)
    x0, _, xm = cls._get_distances(md.choppers)
    tsq_mod = float(np.squeeze(cls._get_moderator_width_squared(md.moderator, ei)))  # FWHM², s²
    tsq_chop, tsq_first = cls._get_chopper_width_squared(md, ei, freqs)
    fermi = tsq_first is None
    if not fermi:
        # As PyChop: for disk-chopper instruments the first chopper can act as the effective source.
        frac = 1.0 - xm / x0
        tsmeff = tsq_mod * frac**2
        x0 = x0 - xm
        tsq_mod = tsmeff if tsq_first > tsmeff else tsq_first
    det = md.detector
    return TimingModel(
        x0_m=float(x0),
        x1_m=float(md.d_chopper_sample),
        x2_m=float(md.d_sample_detector),
        moderator_sigma_s=float(np.sqrt(tsq_mod)) / SIGMA_TO_FWHM,
        chopper_sigma_s=float(np.sqrt(float(np.squeeze(tsq_chop)))) / SIGMA_TO_FWHM,
        chopper_triangular=fermi,
        detector_depth_m=float(det["depth"]) if det else 0.025,
        detector_width_deg=default_detector_width_deg(settings) if detector_width_deg is None else float(detector_width_deg),
        divergence_fwhm_deg=default_divergence_deg(settings) if divergence_deg is None else float(divergence_deg),
    )


def _chopper_frequencies(settings: InstrumentSettings) -> list:
    kw = settings.resins_kwargs()
    if "chopper_frequency" in kw:
        return [kw["chopper_frequency"]]
    return [kw["resolution_frequency"], kw["pulse_remover_frequency"]]


def _sample_histories(tm: TimingModel, n: int, rng: np.random.Generator):
    t_m = rng.normal(0.0, tm.moderator_sigma_s, n)
    if tm.chopper_triangular:
        half = np.sqrt(6.0) * tm.chopper_sigma_s  # triangle of half-base a has variance a²/6
        t_c = half * (rng.random(n) - rng.random(n))
    else:
        t_c = rng.normal(0.0, tm.chopper_sigma_s, n)
    d_l2 = tm.detector_depth_m * (rng.random(n) - 0.5)
    d_tt = tm.detector_width_deg * (rng.random(n) - 0.5) + rng.normal(0.0, tm.divergence_fwhm_deg / SIGMA_TO_FWHM, n)
    return t_m, t_c, d_l2, d_tt


def _residual_time_sigma(tm: TimingModel, settings, *, ei, vi, e_nom, vf):
    """σ (s) of the extra arrival-time jitter that brings the sampled energy variance up to resins'.

    Linearising the history (module docstring) gives δE = a_c t_c + a_m t_m + a_L δL2 with
    a_m = 2Ei vi/x0 + 2Ef vf x1/(x2 x0), a_c = −a_m − 2Ef vf/x2, a_L = −2Ef/x2. PyChop's remaining
    terms (aperture × Fermi-chopper sweep, sample size, jitter, He-tube absorption profile) are
    represented by a Gaussian arrival-time jitter of variance (σ_resins² − σ_sampled²) (2Ef vf/x2)⁻²,
    zero where the sampled terms already exceed resins' width.
    """
    from .energy_resolution import energy_sigma_meV

    ef = ei - e_nom
    a_m = 2 * ei * vi / tm.x0_m + 2 * ef * vf * tm.x1_m / (tm.x2_m * tm.x0_m)
    a_c = -a_m - 2 * ef * vf / tm.x2_m
    a_l = -2 * ef / tm.x2_m
    var_sampled = (a_c * tm.chopper_sigma_s) ** 2 + (a_m * tm.moderator_sigma_s) ** 2 + (a_l * tm.detector_depth_m) ** 2 / 12.0
    var_resins = energy_sigma_meV(settings, e_nom) ** 2
    return np.sqrt(np.maximum(var_resins - var_sampled, 0.0)) * tm.x2_m / (2 * ef * vf)


def mc_resolution_map(
    sqw: INSMap,
    settings: InstrumentSettings,
    *,
    n_samples: int = 64,
    seed: int | np.random.Generator = 0,
    detector_width_deg: float | None = None,
    divergence_deg: float | None = None,
    chunk: int = 4096,
) -> INSMap:
    """Monte-Carlo resolution convolution of a |Q| map (see module docstring for the model).

    Parameters
    ----------
    sqw : INSMap, shape (nq, ne)
        Resolution-free S(|Q|, E), x unit ``MomentumTransfer`` (Å⁻¹), E in meV.
    settings : InstrumentSettings
    n_samples : int
        Neutron histories per bin (independent for every bin, so the output carries Monte-Carlo noise
        of relative size ~1/√n_samples where S varies within the resolution).
    seed : int or Generator
    detector_width_deg, divergence_deg : float or None
        Angular detector width (full, box) and incident divergence FWHM; None: instrument defaults.
    chunk : int
        Bins processed together (memory ~ chunk × n_samples × 8 floats).

    Returns
    -------
    INSMap
        Same grid; bins no detector angle can reach (E ≥ Ei or |Q| outside [|ki−kf|, ki+kf]) keep the
        input value (the coverage step masks them).
    """
    if sqw.x_axis.unit != "MomentumTransfer":
        raise InsganInputError(f"Monte-Carlo resolution: the map's x axis must be |Q| (MomentumTransfer), got '{sqw.x_axis.unit}'")
    if int(n_samples) < 1:
        raise InsganInputError(f"Monte-Carlo resolution: n_samples must be >= 1, got {n_samples}")
    n_samples = int(n_samples)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tm = timing_model(settings, detector_width_deg=detector_width_deg, divergence_deg=divergence_deg)
    ei = settings.ei_meV
    qc, ec = np.meshgrid(sqw.x_axis.centres, sqw.e_axis.centres, indexing="ij")
    tt = two_theta_from_q(ei_meV=ei, q_invA=qc, energy_transfer_meV=ec)
    ok = np.isfinite(tt) & ~np.isnan(sqw.signal)
    out = sqw.signal.copy()
    idx = np.flatnonzero(ok)
    vi = E_TO_V * np.sqrt(ei)
    for start in range(0, idx.size, chunk):
        sel = idx[start : start + chunk]
        e_nom = ec.ravel()[sel][:, None]
        tt_nom = tt.ravel()[sel][:, None]
        vf = E_TO_V * np.sqrt(ei - e_nom)
        t_arrival = tm.x1_m / vi + tm.x2_m / vf
        t_m, t_c, d_l2, d_tt = (a.reshape(sel.size, n_samples) for a in _sample_histories(tm, sel.size * n_samples, rng))
        sigma_extra_t = _residual_time_sigma(tm, settings, ei=ei, vi=vi, e_nom=e_nom, vf=vf)
        t_extra = rng.normal(0.0, 1.0, (sel.size, n_samples)) * sigma_extra_t
        vi_true = tm.x0_m / (tm.x0_m / vi + t_c - t_m)
        t_fly = t_arrival - t_c - tm.x1_m / vi_true + t_extra
        with np.errstate(invalid="ignore", divide="ignore"):
            vf_true = np.where(t_fly > 0, (tm.x2_m + d_l2) / t_fly, np.nan)
        ei_true = (vi_true / E_TO_V) ** 2
        ef_true = (vf_true / E_TO_V) ** 2
        ki, kf = np.sqrt(ei_true / _E_TO_K2), np.sqrt(ef_true / _E_TO_K2)
        q_true = np.sqrt(np.maximum(ki**2 + kf**2 - 2 * ki * kf * np.cos(np.radians(tt_nom + d_tt)), 0.0))
        values = interpolate_map(sqw, q_true, ei_true - ef_true)
        with np.errstate(invalid="ignore"):
            good = np.isfinite(values)
            counts = good.sum(axis=1)
            mean = np.where(good, values, 0.0).sum(axis=1) / np.where(counts > 0, counts, 1)
        out.flat[sel] = np.where(counts > 0, mean, np.nan)
    return sqw.with_data(out, np.zeros_like(out))
