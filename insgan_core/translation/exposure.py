"""Run exposure in translation: moving a model between runs of different counting statistics.

A measured run's exposure c (counts per unit intensity, :func:`insgan_core.data.exposure.run_exposure`)
enters a translated map twice:

1. **Counting noise.** Var(S) = μ / c: a model trained on a run of exposure c_train predicts, for a run of
   relative exposure x = c_run / c_train, the variance μ / (x c_train(Q,E)).
2. **Background fixed in counts.** Some background has the same *counts* in two runs of one setup whatever
   their exposure (a time-independent background in runs of equal duration, for example), so its
   intensity B/c scales as 1/x. On the shared MERLIN Bi2Fe4O9 maps (5 K and 300 K, Ei 62 meV) the 5 K run
   has 17.5× the counts per unit intensity of the 300 K run, uniformly in E and |Q| (17.2–17.9 in every
   0.5 meV bin); at 48–51 meV the 300 K/5 K intensity ratio climbs to 14–16 while the median counts per
   bin agree within 20 % (e.g. 140 and 115 counts at 49.75 meV), and in the top two bins (51.5–52.5 meV)
   the intensities agree instead (ratio 1.0–2.0): a sharp beam-correlated edge (intensity domain) on top of
   a broader rise fixed in counts.

The structured model (:class:`~insgan_core.translation.structured.StructuredTranslator`, option
``count_background``) carries this as a second near-Ei term r_c(Q)·exp(−(Ei−E)/λ_c)/x next to the
intensity-domain r(Q)·exp(−(Ei−E)/λ).

**Identifiability and the prior.** With training runs of two or more exposures, count- and intensity-domain
terms differ between the runs by 1/x and the split is fitted. With one run it cannot be: any split gives
the same training map. The model then rests on a prior, chosen from what the two shared files show and
stated here so that it can be judged:

* in the *rise* region, from E_on = :data:`COUNT_PRIOR_ONSET_FRACTION` × Ei (46.5 meV at Ei = 62 meV)
  up to :data:`COUNT_PRIOR_EDGE_MEV` below the top of the covered energy range, the per-energy background
  profiles h_k(E) (and the phonon profile g(E)) are held at their value at E_on, so that the rise must be
  carried by the two near-Ei terms, which exist only there (exponentials that are 1 at the top of the
  covered range);
* of those two, the sharper one (λ, started at :data:`COUNT_PRIOR_SHARP_LAMBDA_MEV`) is in intensity, the
  broader one (λ_c = λ + exp(p) > λ, always broader) in counts;
* the *edge*, the last :data:`COUNT_PRIOR_EDGE_MEV` of the covered range, keeps free per-energy profiles
  (intensity): there both files have equal intensities, a steep beam-correlated edge whose shape no
  single exponential follows (and the last, partly covered bin of a reduction lies there).

The onset fraction and the "sharp = intensity, broad = counts" assignment were read off both files (so
the test direction informed the *structure* of the prior, not any fitted number: amplitudes and decay
lengths are fitted on the training run alone). Another instrument or setup can differ; train on two runs
of different exposure to have the split fitted instead: then the edge is not set apart (the rise region
runs to the top of the covered range, ``edge_meV`` = 0), since the two exposures tell the domains apart
there too.

:class:`AtExposure` runs any translator as if for a run of given relative exposure (evaluation helper).
"""

from __future__ import annotations

import inspect

import numpy as np

from ..data.counting import poisson_counts
from ..data.exposure import check_exposure

__all__ = ["COUNT_PRIOR_ONSET_FRACTION", "COUNT_PRIOR_EDGE_MEV", "COUNT_PRIOR_SHARP_LAMBDA_MEV", "count_prior_rise",
           "count_prior_energy_bins", "AtExposure"]

#: onset of the rise towards Ei as a fraction of Ei: per-energy background profiles are held constant above it
COUNT_PRIOR_ONSET_FRACTION = 0.75
#: width (meV) of the edge at the top of the covered energy range that stays in the intensity domain
COUNT_PRIOR_EDGE_MEV = 0.5
#: starting decay length (meV) of the sharp, intensity-domain near-Ei term
COUNT_PRIOR_SHARP_LAMBDA_MEV = 0.3


def count_prior_rise(e_edges: np.ndarray, ei_meV: float, top_meV: float | None = None, *,
                     edge_meV: float = COUNT_PRIOR_EDGE_MEV) -> np.ndarray:
    """Bins of the rise region (bool, shape (ne,)): centre above E_on and below ``top_meV`` − ``edge_meV``
    (``top_meV``: top of the covered energy range, default the top of the grid)."""
    e_edges = np.asarray(e_edges, np.float64)
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    top = float(e_edges[-1]) if top_meV is None else float(top_meV)
    rise = (ec > COUNT_PRIOR_ONSET_FRACTION * float(ei_meV)) & (ec < top - float(edge_meV))
    return rise if np.any(ec <= COUNT_PRIOR_ONSET_FRACTION * float(ei_meV)) else np.zeros_like(rise)


def count_prior_energy_bins(e_edges: np.ndarray, ei_meV: float, top_meV: float | None = None, *,
                            edge_meV: float = COUNT_PRIOR_EDGE_MEV) -> np.ndarray:
    """Index map j → j' of the energy bins (shape (ne,)): bins of the rise region (:func:`count_prior_rise`)
    map to the last bin at or below E_on (their per-energy profiles are tied to it), the others to themselves."""
    e_edges = np.asarray(e_edges, np.float64)
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    idx = np.arange(ec.size)
    rise = count_prior_rise(e_edges, ei_meV, top_meV, edge_meV=edge_meV)
    if not rise.any():
        return idx
    return np.where(rise, np.flatnonzero(ec <= COUNT_PRIOR_ONSET_FRACTION * float(ei_meV))[-1], idx)


def _accepts(fn, name: str) -> bool:
    return name in inspect.signature(fn).parameters


class AtExposure:
    """A translator evaluated for a run of relative exposure ``exposure`` (x = c_run / c_train).

    Translators whose ``predict``/``sample`` take ``exposure`` get it; for the others (the baselines, whose
    terms are all in intensity) ``predict`` is unchanged and ``sample`` draws Poisson counts with their
    count scale times x, i.e. the same noise information the structured model gets.
    """

    def __init__(self, inner, exposure: float, *, name: str | None = None):
        self.inner = inner
        self.exposure = check_exposure(exposure, name="AtExposure: exposure")
        self.name = name or getattr(inner, "name", type(inner).__name__)

    def _kw(self, fn, detectors):
        kw = {}
        if detectors is not None and _accepts(fn, "detectors"):
            kw["detectors"] = detectors
        if _accepts(fn, "exposure"):
            kw["exposure"] = self.exposure
        return kw

    def predict(self, sim, *, temperature_K, detectors=None):
        fn = self.inner.predict
        return fn(sim, temperature_K=temperature_K, **self._kw(fn, detectors))

    def sample(self, sim, *, temperature_K, rng, detectors=None):
        fn = self.inner.sample
        if _accepts(fn, "exposure"):
            return fn(sim, temperature_K=temperature_K, rng=rng, **self._kw(fn, detectors))
        c = getattr(self.inner, "count_scale", None)
        if c is None:
            return fn(sim, temperature_K=temperature_K, rng=rng, **self._kw(fn, detectors))
        pred = self.predict(sim, temperature_K=temperature_K, detectors=detectors)
        cx = float(c) * self.exposure
        counts = poisson_counts(pred.signal * cx, rng=rng)
        return pred.with_data(counts / cx, np.sqrt(counts) / cx)

    def parameters(self) -> dict:
        inner = self.inner.parameters() if hasattr(self.inner, "parameters") else None
        if not isinstance(inner, dict):  # torch modules' parameters() are their tensors
            inner = {"model": repr(self.inner)}
        return {**inner, "exposure_relative": self.exposure}
