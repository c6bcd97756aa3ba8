"""Baseline translators: what the learned translation model has to beat, each fitted on the same maps.

All four implement :class:`Translator` and are fitted by ``<Class>.fit(sims, targets, *, temperatures_K,
...)`` on pairs (clean simulation S(|Q|,E), measured or artefact-simulated map with errors) on one grid:

* :class:`CleanInput` — the clean simulation times one scale (weighted least squares), with the target's
  coverage mask (NaN where no detector reaches).
* :class:`BlurMask` — the clean simulation blurred by constant Gaussians in E (meV) and |Q| (Å⁻¹), widths
  fitted on the training maps (grid search) or given, then the coverage mask and one scale.
* :class:`AnalyticPipeline` — insgan's analytic physics pipeline (resins energy resolution, angular |Q|
  resolution, default backgrounds with the map's temperature, coverage from a detector table; no noise)
  times one scale.
* :class:`StructuredLSQ` — a·P_T + Σ_{k<K} (|Q|/q₀)^{2k} h_k(E): P_T the clean simulation at the map's
  temperature through the analytic resolution and the detector coverage, ``a`` one global scale and
  h_k free per-energy-bin background profiles, fitted by weighted least squares with the measured errors
  and applied unchanged to other maps. Physics cannot move in it (one scale on P_T).

Scales are fitted on bins above ``e_min_meV`` (default 3 meV, off the elastic line) for the first three;
the structured baseline fits every covered bin (its h_k absorb the elastic line). ``sample`` draws
Poisson counts with the count scale read from the training targets' errors
(:func:`insgan_core.data.counting.estimate_count_scale`); without errors it returns ``predict``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..data.counting import estimate_count_scale, poisson_counts
from ..data.detector import DetectorData
from ..data.ins_map import INSMap
from ..errors import InsganInputError
from ..instrument.backgrounds import PhononBackground
from ..instrument.broadening import broaden_energy, broaden_q
from ..instrument.coverage import detector_path
from ..instrument.pipeline import ArtefactConfig, apply_artefacts
from ..instrument.settings import InstrumentSettings

__all__ = [
    "Translator",
    "CleanInput",
    "BlurMask",
    "AnalyticPipeline",
    "StructuredLSQ",
    "BASELINES",
    "fit_baseline",
    "weighted_lsq_scale",
    "coverage_from_detectors",
    "WEIGHTINGS",
]


@runtime_checkable
class Translator(Protocol):
    """What every translator (learned model or baseline) offers.

    ``predict(sim, *, temperature_K)``: noise-free expected measured map on ``sim``'s grid, NaN where no
    coverage. ``sample(sim, *, temperature_K, rng)``: one noisy realisation with errors. ``sim`` is the
    clean S(|Q|,E) at the temperature ``temperature_K`` (K).
    """

    name: str

    def predict(self, sim: INSMap, *, temperature_K: float) -> INSMap: ...

    def sample(self, sim: INSMap, *, temperature_K: float, rng: np.random.Generator) -> INSMap: ...


# --- checks and shared pieces ------------------------------------------------------------------------
def _check_training(sims, targets, temperatures_K, *, who: str) -> tuple[list, list, list]:
    sims = [sims] if isinstance(sims, INSMap) else list(sims)
    targets = [targets] if isinstance(targets, INSMap) else list(targets)
    temps = [temperatures_K] if np.isscalar(temperatures_K) else list(temperatures_K)
    if not sims:
        raise InsganInputError(f"{who}: no training maps given (expected at least one simulation/target pair)")
    if not (len(sims) == len(targets) == len(temps)):
        raise InsganInputError(
            f"{who}: {len(sims)} simulations, {len(targets)} targets and {len(temps)} temperatures; expected one of each per pair"
        )
    for i, (s, t) in enumerate(zip(sims, targets)):
        if not isinstance(s, INSMap) or not isinstance(t, INSMap):
            raise InsganInputError(f"{who}: pair {i} must be two INSMaps, got {type(s).__name__} and {type(t).__name__}")
        if s.x_axis.unit != "MomentumTransfer":
            raise InsganInputError(f"{who}: simulation {i} must have |Q| (MomentumTransfer) on x, got '{s.x_axis.unit}'")
        if not s.same_grid(t):
            raise InsganInputError(
                f"{who}: simulation {i} ({s.shape[0]}x{s.shape[1]} bins) and its target ({t.shape[0]}x{t.shape[1]}) "
                "are on different grids; reduce or rebin the target onto the simulation's grid"
            )
    for i, T in enumerate(temps):
        if not (np.isfinite(T) and T >= 0):
            raise InsganInputError(f"{who}: temperatures_K[{i}] must be a number >= 0 (kelvin), got {T!r}")
    return sims, targets, [float(T) for T in temps]


def _weights(target: INSMap) -> np.ndarray:
    """Least-squares weights 1/σ² of a target's bins with a positive finite error, 0 elsewhere; unit weights
    on every finite bin when the target carries no positive error at all (noise-free physics targets).

    Notes
    -----
    These are the measured errors, as the structured baseline is defined; with few counts per bin (σ² = N/c²)
    such weights favour bins that fluctuated low, so every fitted scale is biased low there. Measured INS
    maps have hundreds of counts per bin where it matters; keep synthetic training maps at similar counts.
    """
    e = target.error
    good = np.isfinite(e) & (e > 0)
    if not good.any():
        return np.isfinite(target.signal).astype(np.float64)
    return np.where(good & np.isfinite(target.signal), 1.0 / np.where(good, e, 1.0) ** 2, 0.0)


#: weighting schemes of every fit: the measured errors (as the structured baseline is defined), or Poisson
#: variances from the model's own prediction (iteratively reweighted; robust for low counts and large
#: dynamic ranges)
WEIGHTINGS = ("errors", "model")
#: reweighting passes of ``weighting="model"``
IRLS_PASSES = 4


def _check_weighting(weighting: str, who: str) -> None:
    if weighting not in WEIGHTINGS:
        raise InsganInputError(f"{who}: weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")


def _model_weights(prediction: np.ndarray, target: INSMap) -> np.ndarray:
    """Poisson weights c / max(μ, 1/c) from the predicted intensity μ (variance of N/c with N ~ Poisson(cμ), at
    least one count); the measured-error weights when the target has no counting errors (no count scale)."""
    c = estimate_count_scale(target)
    if c is None:
        return _weights(target)
    mu = np.where(np.isfinite(prediction), prediction, 0.0)
    return np.where(np.isfinite(target.signal), c / np.maximum(mu, 1.0 / c), 0.0)


def _scale_with(models, targets, weights, e_min_meV) -> float:
    num = den = 0.0
    for m, y, w in zip(models, targets, weights):
        ok = np.isfinite(m.signal) & np.isfinite(y.signal) & (w > 0)
        if e_min_meV is not None:
            ok &= (m.e_axis.centres > e_min_meV)[None, :]
        num += float(np.sum(w[ok] * m.signal[ok] * y.signal[ok]))
        den += float(np.sum(w[ok] * m.signal[ok] ** 2))
    if not den > 0:
        above = "" if e_min_meV is None else f" above {e_min_meV:g} meV"
        raise InsganInputError(f"least-squares scale: the simulations are zero on every covered bin{above}; nothing to scale")
    return num / den


def weighted_lsq_scale(models, targets, *, e_min_meV: float | None = 3.0, weighting: str = "errors") -> float:
    """One scale a minimising Σ w (a·m − y)² over all pairs: a = Σ w m y / Σ w m².

    Parameters
    ----------
    models, targets : lists of INSMap (pairwise on one grid)
        Model maps m and targets y.
    e_min_meV : float or None
        Only bins with energy-transfer centre above this (meV); None: all bins.
    weighting : {"errors", "model"}
        w = 1/σ_y² (unit weights for targets without errors), or Poisson weights c / max(a·m, 1/c) from the
        model (c the target's count scale), iterated :data:`IRLS_PASSES` times from the first.

    Raises
    ------
    InsganInputError
        When the models are zero on every usable bin.
    """
    _check_weighting(weighting, "weighted_lsq_scale")
    a = _scale_with(models, targets, [_weights(y) for y in targets], e_min_meV)
    if weighting == "model":
        for _ in range(IRLS_PASSES):
            a = _scale_with(models, targets, [_model_weights(a * m.signal, y) for m, y in zip(models, targets)], e_min_meV)
    return a


def coverage_from_detectors(grid: INSMap, detectors: DetectorData) -> np.ndarray:
    """Bins of ``grid`` that the detector table reaches (bool, shape (nq, ne)): True where covered."""
    ones = grid.with_data(np.ones(grid.shape))
    return np.isfinite(detector_path(ones, detectors).signal)


class _Base:
    """Shared parts: the coverage used by ``predict`` and Poisson sampling with the fitted count scale."""

    name = "base"

    def __init__(self, *, coverage: np.ndarray | None, grid: INSMap | None, count_scale: float | None):
        self.coverage = coverage
        self._grid = grid
        self.count_scale = count_scale

    def _mask(self, sim: INSMap, detectors: DetectorData | None) -> np.ndarray | None:
        if detectors is not None:
            return coverage_from_detectors(sim, detectors)
        if self.coverage is not None and self._grid is not None and sim.same_grid(self._grid):
            return self.coverage
        return None

    def sample(self, sim: INSMap, *, temperature_K: float, rng: np.random.Generator, detectors=None) -> INSMap:
        """One Poisson realisation of :meth:`predict` with errors √N / c (c = the fitted count scale);
        ``predict`` itself when the training targets carried no errors."""
        pred = self.predict(sim, temperature_K=temperature_K, detectors=detectors)
        c = self.count_scale
        if c is None:
            return pred
        counts = poisson_counts(pred.signal * c, rng=rng)
        return pred.with_data(counts / c, np.sqrt(counts) / c)

    def parameters(self) -> dict:
        """Fitted parameters (JSON-friendly), for reports."""
        return {"count_scale": self.count_scale}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({p})"


def _count_scale(targets) -> float | None:
    values = [c for c in (estimate_count_scale(t) for t in targets) if c is not None]
    return float(np.median(values)) if values else None


def _union_coverage(targets) -> np.ndarray | None:
    ref = targets[0]
    if not all(ref.same_grid(t) for t in targets):
        return None
    return np.any([np.isfinite(t.signal) for t in targets], axis=0)


def _apply_mask(signal: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return signal if mask is None else np.where(mask, signal, np.nan)


# --- clean input -----------------------------------------------------------------------------------
class CleanInput(_Base):
    """The clean simulation × one least-squares scale, NaN where the target has no coverage.

    Attributes
    ----------
    scale : float
        a of a·S (target intensity unit per simulation unit).
    """

    name = "clean"

    def __init__(self, *, scale: float, coverage=None, grid=None, count_scale=None):
        super().__init__(coverage=coverage, grid=grid, count_scale=count_scale)
        self.scale = float(scale)

    @classmethod
    def fit(cls, sims, targets, *, temperatures_K, e_min_meV: float | None = 3.0, weighting: str = "errors") -> "CleanInput":
        """Fit the scale on the training pairs (bins above ``e_min_meV`` meV covered in the target; ``weighting``
        as :func:`weighted_lsq_scale`)."""
        sims, targets, _ = _check_training(sims, targets, temperatures_K, who="CleanInput.fit")
        masked = [s.with_data(np.where(np.isfinite(t.signal), s.signal, np.nan)) for s, t in zip(sims, targets)]
        return cls(scale=weighted_lsq_scale(masked, targets, e_min_meV=e_min_meV, weighting=weighting), coverage=_union_coverage(targets),
                   grid=targets[0], count_scale=_count_scale(targets))

    def predict(self, sim: INSMap, *, temperature_K: float, detectors: DetectorData | None = None) -> INSMap:
        """a·S on ``sim``'s grid, NaN outside the coverage (of ``detectors`` if given, else of the training targets)."""
        return sim.with_data(_apply_mask(self.scale * sim.signal, self._mask(sim, detectors)))

    def parameters(self) -> dict:
        return {"scale": self.scale, **super().parameters()}


# --- Gaussian blur + mask --------------------------------------------------------------------------
#: candidate widths (σ) of the blur grid search
BLUR_SIGMA_E_MEV = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
BLUR_SIGMA_Q_INVA = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)


def _blur(sim: INSMap, sigma_e: float, sigma_q: float) -> np.ndarray:
    s = sim.signal
    if sigma_e > 0:
        s = broaden_energy(s, sim.e_axis.edges, np.full(sim.shape[1], sigma_e))
    if sigma_q > 0:
        s = broaden_q(s, sim.x_axis.edges, np.full(sim.shape, sigma_q))
    return s


class BlurMask(_Base):
    """Clean simulation blurred by Gaussians of constant σ in E and |Q|, masked, times one scale.

    Attributes
    ----------
    sigma_e_meV, sigma_q_invA : float
        Gaussian standard deviations (meV, Å⁻¹).
    scale : float
    """

    name = "blur"

    def __init__(self, *, sigma_e_meV: float, sigma_q_invA: float, scale: float, coverage=None, grid=None, count_scale=None):
        super().__init__(coverage=coverage, grid=grid, count_scale=count_scale)
        self.sigma_e_meV, self.sigma_q_invA, self.scale = float(sigma_e_meV), float(sigma_q_invA), float(scale)

    @classmethod
    def fit(cls, sims, targets, *, temperatures_K, sigma_e_meV: float | None = None, sigma_q_invA: float | None = None,
            e_min_meV: float | None = 3.0, weighting: str = "errors") -> "BlurMask":
        """Widths not given are chosen on the grids :data:`BLUR_SIGMA_E_MEV` × :data:`BLUR_SIGMA_Q_INVA` by the
        smallest weighted χ² after the least-squares scale (bins above ``e_min_meV``)."""
        sims, targets, _ = _check_training(sims, targets, temperatures_K, who="BlurMask.fit")
        _check_weighting(weighting, "BlurMask.fit")
        for name, v in (("sigma_e_meV", sigma_e_meV), ("sigma_q_invA", sigma_q_invA)):
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise InsganInputError(f"BlurMask.fit: {name} must be a number >= 0, got {v!r}")
        e_grid = BLUR_SIGMA_E_MEV if sigma_e_meV is None else (sigma_e_meV,)
        q_grid = BLUR_SIGMA_Q_INVA if sigma_q_invA is None else (sigma_q_invA,)
        best = None
        for se in e_grid:
            blurred_e = [s.with_data(_blur(s, se, 0.0)) for s in sims]
            for sq in q_grid:
                models = [b.with_data(np.where(np.isfinite(t.signal), _blur(b, 0.0, sq), np.nan))
                          for b, t in zip(blurred_e, targets)]
                try:
                    a = weighted_lsq_scale(models, targets, e_min_meV=e_min_meV, weighting=weighting)
                except InsganInputError:
                    continue
                chi2 = 0.0
                for m, t in zip(models, targets):
                    w = _weights(t) if weighting == "errors" else _model_weights(a * m.signal, t)
                    ok = np.isfinite(m.signal) & np.isfinite(t.signal) & (w > 0)
                    if e_min_meV is not None:
                        ok &= (m.e_axis.centres > e_min_meV)[None, :]
                    chi2 += float(np.sum(w[ok] * (a * m.signal[ok] - t.signal[ok]) ** 2))
                if best is None or chi2 < best[0]:
                    best = (chi2, se, sq, a)
        if best is None:
            raise InsganInputError("BlurMask.fit: the simulations are zero on every covered bin; nothing to scale")
        return cls(sigma_e_meV=best[1], sigma_q_invA=best[2], scale=best[3], coverage=_union_coverage(targets),
                   grid=targets[0], count_scale=_count_scale(targets))

    def predict(self, sim: INSMap, *, temperature_K: float, detectors: DetectorData | None = None) -> INSMap:
        return sim.with_data(_apply_mask(self.scale * _blur(sim, self.sigma_e_meV, self.sigma_q_invA),
                                         self._mask(sim, detectors)))

    def parameters(self) -> dict:
        return {"sigma_e_meV": self.sigma_e_meV, "sigma_q_invA": self.sigma_q_invA, "scale": self.scale,
                **super().parameters()}


# --- analytic physics pipeline ---------------------------------------------------------------------
def _detector_list(detectors, n: int, *, who: str) -> list:
    if detectors is None or isinstance(detectors, DetectorData):
        return [detectors] * n
    detectors = list(detectors)
    if len(detectors) != n:
        raise InsganInputError(f"{who}: {len(detectors)} detector tables for {n} training maps; give one, or one per map")
    return detectors


def _check_settings(settings, who: str) -> InstrumentSettings:
    if not isinstance(settings, InstrumentSettings):
        raise InsganInputError(f"{who}: settings must be InstrumentSettings (instrument, Ei, chopper), got {type(settings).__name__}")
    return settings


class _Cached:
    """A one-entry cache of the last physics map, so ``predict`` then ``sample`` on one map runs the pipeline once."""

    def __init__(self):
        self._key = None
        self._value = None

    def get(self, key, make):
        if self._key is not None and self._key[0] is key[0] and self._key[1:] == key[1:]:
            return self._value
        value = make()
        self._key, self._value = key, value
        return value


class AnalyticPipeline(_Base):
    """insgan's analytic artefact pipeline without noise (resolution, default backgrounds, coverage) × one scale.

    Attributes
    ----------
    settings : InstrumentSettings
    config : ArtefactConfig
        Steps ``resolution``, ``background``, ``coverage``; the phonon background takes the temperature of
        each map.
    scale : float
    detectors : DetectorData or None
        Coverage table used when ``predict`` gets none (None: the instrument's built-in coverage).
    """

    name = "analytic"

    def __init__(self, *, settings: InstrumentSettings, scale: float, config: ArtefactConfig | None = None,
                 detectors: DetectorData | None = None, count_scale=None):
        super().__init__(coverage=None, grid=None, count_scale=count_scale)
        self.settings = _check_settings(settings, "AnalyticPipeline")
        self.config = config or ArtefactConfig(steps=("resolution", "background", "coverage"))
        self.scale = float(scale)
        self.detectors = detectors
        self._cache = _Cached()

    def _config_at(self, temperature_K: float) -> ArtefactConfig:
        bgs = tuple(PhononBackground(amplitude=b.amplitude, temperature_K=float(temperature_K),
                                     debye_energy_meV=b.debye_energy_meV, u2_A2=b.u2_A2)
                    if isinstance(b, PhononBackground) else b for b in self.config.backgrounds)
        return ArtefactConfig(steps=tuple(s for s in self.config.steps if s != "noise"), resolution=self.config.resolution,
                              backgrounds=bgs, reduction_method=self.config.reduction_method)

    def physics(self, sim: INSMap, *, temperature_K: float, detectors: DetectorData | None = None) -> INSMap:
        """The pipeline's map before the scale (intensity in simulation units)."""
        det = detectors if detectors is not None else self.detectors
        return self._cache.get(
            (sim, float(temperature_K), id(det)),
            lambda: apply_artefacts(sim, settings=self.settings, config=self._config_at(temperature_K), detectors=det),
        )

    @classmethod
    def fit(cls, sims, targets, *, temperatures_K, settings: InstrumentSettings, detectors=None,
            config: ArtefactConfig | None = None, e_min_meV: float | None = 3.0,
            weighting: str = "errors") -> "AnalyticPipeline":
        """Fit the scale of the pipeline's output on the training pairs (bins above ``e_min_meV``).

        ``detectors``: one table (used for every map and kept for ``predict``), one per map, or None.
        """
        sims, targets, temps = _check_training(sims, targets, temperatures_K, who="AnalyticPipeline.fit")
        dets = _detector_list(detectors, len(sims), who="AnalyticPipeline.fit")
        model = cls(settings=settings, scale=1.0, config=config, detectors=dets[0], count_scale=_count_scale(targets))
        phys = [model.physics(s, temperature_K=T, detectors=d) for s, T, d in zip(sims, temps, dets)]
        model.scale = weighted_lsq_scale(phys, targets, e_min_meV=e_min_meV, weighting=weighting)
        return model

    def predict(self, sim: INSMap, *, temperature_K: float, detectors: DetectorData | None = None) -> INSMap:
        p = self.physics(sim, temperature_K=temperature_K, detectors=detectors)
        return p.with_data(self.scale * p.signal)

    def parameters(self) -> dict:
        return {"scale": self.scale, "chopper_frequency_hz": self.settings.chopper_frequency_hz, **super().parameters()}


# --- structured least squares ----------------------------------------------------------------------
class StructuredLSQ(_Base):
    """a·P_T + Σ_{k<K} (|Q|/q₀)^{2k} h_k(E), fitted by weighted least squares; physics fixed up to one scale.

    Attributes
    ----------
    settings : InstrumentSettings
        Resolution of P_T (analytic resins energy resolution and angular |Q| resolution).
    scale : float
        a (target intensity unit per simulation unit).
    profiles : ndarray, shape (ne, K)
        h_k(E) per energy bin of the training grid (target intensity unit); NaN in energy bins the training
        maps do not cover.
    e_edges : ndarray, shape (ne + 1,)
        The training energy grid (meV); ``predict`` needs simulations on it.
    q_range : ndarray, shape (ne, 2)
        |Q| range (Å⁻¹) of the training bins in each energy bin; the polynomial is evaluated at |Q| clamped
        to it, so it never extrapolates beyond what was fitted.
    q_norm_invA : float
        q₀ (default 6 Å⁻¹).
    detectors : DetectorData or None
        Coverage used when ``predict`` gets no table (None: the instrument's built-in coverage).

    Notes
    -----
    χ²(a, h) = Σ_j ‖W_j^{1/2}(y_j − a P_j − X_j h_j)‖² over energy bins j (rows: the covered |Q| bins of all
    training maps, W = 1/σ²). For fixed a each h_j is a K-parameter linear fit, so with R_j the residual
    projector of the whitened basis X̃_j, χ²(a) = Σ_j ‖R_j(ỹ_j − a P̃_j)‖² and the global optimum is
    a = Σ_j ⟨R_j P̃_j, R_j ỹ_j⟩ / Σ_j ‖R_j P̃_j‖², then h_j = argmin ‖X̃_j h − (ỹ_j − a P̃_j)‖ (variable
    projection: exact, no iteration).
    """

    name = "structured"

    def __init__(self, *, settings: InstrumentSettings, scale: float, profiles: np.ndarray, e_edges: np.ndarray,
                 q_range: np.ndarray, q_norm_invA: float = 6.0, detectors: DetectorData | None = None,
                 resolution: bool = True, count_scale=None):
        super().__init__(coverage=None, grid=None, count_scale=count_scale)
        self.settings = _check_settings(settings, "StructuredLSQ")
        self.scale = float(scale)
        self.profiles = np.asarray(profiles, dtype=np.float64)
        self.e_edges = np.asarray(e_edges, dtype=np.float64)
        self.q_range = np.asarray(q_range, dtype=np.float64)
        self.q_norm_invA = float(q_norm_invA)
        self.detectors = detectors
        self.resolution = bool(resolution)
        self._cache = _Cached()

    @property
    def n_terms(self) -> int:
        return self.profiles.shape[1]

    def physics(self, sim: INSMap, *, detectors: DetectorData | None = None) -> INSMap:
        """P: the simulation through the analytic resolution and the coverage (simulation units)."""
        det = detectors if detectors is not None else self.detectors
        return _physics_map(sim, self.settings, det, self.resolution, self._cache)

    def basis(self, q_invA: np.ndarray, *, clamp: bool = True) -> np.ndarray:
        """(|Q|/q₀)^{2k} for every training energy bin, shape (nq, ne, K) (|Q| clamped to ``q_range`` per bin)."""
        q = np.asarray(q_invA, dtype=np.float64)[:, None]
        if clamp:
            lo, hi = self.q_range[:, 0], self.q_range[:, 1]
            q = np.clip(q, np.where(np.isfinite(lo), lo, -np.inf), np.where(np.isfinite(hi), hi, np.inf))
        else:
            q = np.broadcast_to(q, (q.shape[0], self.e_edges.size - 1))
        x = (q / self.q_norm_invA) ** 2
        return np.stack([x**k for k in range(self.n_terms)], axis=-1)

    def background(self, sim: INSMap) -> np.ndarray:
        """Σ_k (|Q|/q₀)^{2k} h_k(E) on ``sim``'s grid, shape (nq, ne) (target units)."""
        self._check_grid(sim)
        return np.einsum("qek,ek->qe", self.basis(sim.x_axis.centres), self.profiles)

    def _check_grid(self, sim: INSMap) -> None:
        e = sim.e_axis.edges
        if e.shape != self.e_edges.shape or not np.allclose(e, self.e_edges, rtol=1e-6, atol=1e-9):
            raise InsganInputError(
                f"StructuredLSQ: the simulation has {e.size - 1} energy bins ({e[0]:g} to {e[-1]:g} meV) but the baseline "
                f"was fitted on {self.e_edges.size - 1} ({self.e_edges[0]:g} to {self.e_edges[-1]:g} meV); "
                "its h_k(E) exist on that energy grid only"
            )

    @classmethod
    def fit(cls, sims, targets, *, temperatures_K, settings: InstrumentSettings, detectors=None, n_terms: int = 4,
            q_norm_invA: float = 6.0, resolution: bool = True, weighting: str = "errors") -> "StructuredLSQ":
        """Weighted least-squares fit of a and h_k on one or more training pairs (see the class Notes).

        Parameters
        ----------
        sims : list of INSMap
            Clean simulations at the training temperatures, on the targets' grids (one energy grid for all).
        targets : list of INSMap
            Measured (or artefact) maps; their errors weight the fit (unit weights without errors).
        temperatures_K : list of float
            Temperature of each pair (K); the simulations are expected at these temperatures.
        settings : InstrumentSettings
            Instrument, Ei and chopper (e.g. MERLIN, Ei 62 meV, 350 Hz) of the analytic resolution.
        detectors : DetectorData, list of DetectorData, or None
            Coverage of each training map (one table for all, one per map, or None for the built-in one).
        n_terms : int
            K, number of |Q|-polynomial background terms (powers 0, 2, …, 2K − 2).
        q_norm_invA : float
            q₀ of the basis (Å⁻¹).
        resolution : bool
            Pass the simulation through the analytic resolution (False: coverage only).
        weighting : {"errors", "model"}
            Measured errors (the baseline's definition), or Poisson variances of the prediction, refitted
            :data:`IRLS_PASSES` times from the measured-error fit.
        """
        sims, targets, _ = _check_training(sims, targets, temperatures_K, who="StructuredLSQ.fit")
        _check_weighting(weighting, "StructuredLSQ.fit")
        if not float(n_terms).is_integer() or int(n_terms) < 1:
            raise InsganInputError(f"StructuredLSQ.fit: n_terms must be a whole number >= 1, got {n_terms!r}")
        if not (np.isfinite(q_norm_invA) and q_norm_invA > 0):
            raise InsganInputError(f"StructuredLSQ.fit: q_norm_invA must be > 0 (Å⁻¹), got {q_norm_invA!r}")
        n_terms = int(n_terms)
        e_edges = sims[0].e_axis.edges
        for i, s in enumerate(sims[1:], start=1):
            if s.e_axis.size != sims[0].e_axis.size or not np.allclose(s.e_axis.edges, e_edges, rtol=1e-6, atol=1e-9):
                raise InsganInputError(f"StructuredLSQ.fit: training map {i} has other energy bins than map 0; "
                                       "the per-energy-bin profiles need one energy grid")
        dets = _detector_list(detectors, len(sims), who="StructuredLSQ.fit")
        model = cls(settings=settings, scale=1.0, profiles=np.zeros((e_edges.size - 1, n_terms)), e_edges=e_edges,
                    q_range=np.full((e_edges.size - 1, 2), np.nan), q_norm_invA=q_norm_invA, detectors=dets[0],
                    resolution=resolution, count_scale=_count_scale(targets))
        phys = [_physics_map(s, settings, d, resolution, None).signal for s, d in zip(sims, dets)]
        qs, ys = [s.x_axis.centres for s in sims], [t.signal for t in targets]
        weights = [_weights(t) for t in targets]
        for attempt in range(1 + (IRLS_PASSES if weighting == "model" else 0)):
            if attempt:
                weights = [_model_weights(model.scale * P + model.background(s), t) for P, s, t in zip(phys, sims, targets)]
            model.scale, model.profiles, model.q_range = structured_lsq(qs, phys, ys, weights, n_terms=n_terms,
                                                                        q_norm_invA=q_norm_invA)
        return model

    def predict(self, sim: INSMap, *, temperature_K: float, detectors: DetectorData | None = None) -> INSMap:
        """a·P + background on ``sim``'s grid; NaN outside the coverage and in energy bins not fitted."""
        p = self.physics(sim, detectors=detectors)
        return p.with_data(self.scale * p.signal + self.background(sim))

    def parameters(self) -> dict:
        return {"scale": self.scale, "n_terms": self.n_terms, "q_norm_invA": self.q_norm_invA,
                "chopper_frequency_hz": self.settings.chopper_frequency_hz, **super().parameters()}


def _physics_map(sim: INSMap, settings, detectors, resolution: bool, cache) -> INSMap:
    steps = ("resolution", "coverage") if resolution else ("coverage",)

    def make():
        return apply_artefacts(sim, settings=settings, config=ArtefactConfig(steps=steps, backgrounds=()), detectors=detectors)

    return make() if cache is None else cache.get((sim, id(detectors)), make)


def structured_lsq(q_centres, physics, targets, weights, *, n_terms: int = 4, q_norm_invA: float = 6.0):
    """The variable-projection solve of :class:`StructuredLSQ` on plain arrays.

    Parameters
    ----------
    q_centres : list of ndarray (nq_i,)
        |Q| bin centres of each map (Å⁻¹).
    physics, targets, weights : lists of ndarray (nq_i, ne)
        P, y and w = 1/σ² (0 excludes a bin); bins where P or y is NaN are excluded.
    n_terms, q_norm_invA
        K and q₀.

    Returns
    -------
    (scale, profiles (ne, K), q_range (ne, 2))
        NaN rows of ``profiles``/``q_range`` in energy bins without any usable bin.
    """
    ne = physics[0].shape[1]
    per_bin = []
    num = den = 0.0
    for j in range(ne):
        rows_x, rows_y, rows_p, qs = [], [], [], []
        for q, P, y, w in zip(q_centres, physics, targets, weights):
            ok = np.isfinite(P[:, j]) & np.isfinite(y[:, j]) & (w[:, j] > 0)
            if not ok.any():
                continue
            sw = np.sqrt(w[ok, j])
            x = (q[ok] / q_norm_invA) ** 2
            rows_x.append(np.stack([x**k for k in range(n_terms)], axis=1) * sw[:, None])
            rows_y.append(y[ok, j] * sw)
            rows_p.append(P[ok, j] * sw)
            qs.append(q[ok])
        if not rows_y:
            per_bin.append(None)
            continue
        X, yy, pp = np.concatenate(rows_x), np.concatenate(rows_y), np.concatenate(rows_p)
        # residuals after projecting out the background basis (least squares, rank-safe)
        coef, *_ = np.linalg.lstsq(X, np.stack([yy, pp], axis=1), rcond=None)
        r = np.stack([yy, pp], axis=1) - X @ coef
        num += float(r[:, 1] @ r[:, 0])
        den += float(r[:, 1] @ r[:, 1])
        qq = np.concatenate(qs)
        per_bin.append((X, yy, pp, qq.min(), qq.max()))
    if not den > 1e-300:
        raise InsganInputError(
            "StructuredLSQ.fit: the simulation has no signal that the |Q|-polynomial background cannot absorb "
            "(zero or too smooth on every covered bin); the scale a is undetermined"
        )
    scale = num / den
    profiles = np.full((ne, n_terms), np.nan)
    q_range = np.full((ne, 2), np.nan)
    for j, item in enumerate(per_bin):
        if item is None:
            continue
        X, yy, pp, qlo, qhi = item
        profiles[j] = np.linalg.lstsq(X, yy - scale * pp, rcond=None)[0]
        q_range[j] = (qlo, qhi)
    return float(scale), profiles, q_range


#: baseline names → classes (the command line's ``--baselines``)
BASELINES = {"clean": CleanInput, "blur": BlurMask, "analytic": AnalyticPipeline, "structured": StructuredLSQ}


def fit_baseline(name: str, sims, targets, *, temperatures_K, settings: InstrumentSettings | None = None,
                 detectors=None, **options):
    """Fit the baseline called ``name`` (one of :data:`BASELINES`); ``settings`` is required by ``analytic``
    and ``structured``, ``detectors`` used by them (coverage) and ignored by the others."""
    if name not in BASELINES:
        raise InsganInputError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    cls = BASELINES[name]
    if name in ("analytic", "structured"):
        if settings is None:
            raise InsganInputError(f"baseline {name!r} needs instrument settings (instrument, Ei, chopper frequency)")
        return cls.fit(sims, targets, temperatures_K=temperatures_K, settings=settings, detectors=detectors, **options)
    return cls.fit(sims, targets, temperatures_K=temperatures_K, **options)
