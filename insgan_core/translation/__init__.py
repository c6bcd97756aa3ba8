"""Translation of clean simulations into measured-like maps: the physics-structured model, baselines and
evaluation (layer above instrument and gan, below workflows and cli; gan does not import it).

Every translator — the learned physics-structured model and the baselines it must beat — implements one
small protocol (:class:`insgan_core.translation.baselines.Translator`): ``predict(sim, *, temperature_K)``
gives the noise-free expected measured map on the simulation's grid (NaN where there is no detector
coverage) and ``sample(sim, *, temperature_K, rng)`` one noisy realisation. Each is fitted on the same
training pairs (clean simulation, measured or artefact map with errors) by a ``fit`` entry point.

* :mod:`.structured` — the physics-structured translation model (:class:`StructuredTranslator`,
  :func:`fit_structured`), saved and loaded by :mod:`.model_io` (:func:`load_translator`).
* :mod:`.baselines` — clean input, Gaussian blur + mask, the analytic physics pipeline and the structured
  least-squares baseline (a·P_T + Σ_k (|Q|/q₀)^{2k} h_k(E)).
* :mod:`.exposure` — moving a model between runs of different exposure (counts per unit intensity read
  from the runs' errors, :mod:`insgan_core.data.exposure`): counting noise and the background fixed in
  counts, the prior that splits it from the intensity terms with one training run, :class:`AtExposure`.
* :mod:`.noise_model` — the structured model's noise: counts per unit intensity from the targets' errors,
  Poisson sampling, and the exposure-independent scatter of the bins at the edge of the detector coverage.
* :mod:`.evaluation` — :func:`evaluate_translators`: per-map metrics against a physics target or a
  measured map (relative L1, χ²/N, patch distance, peaks, integrals, noise, background).

The names are imported lazily (torch is loaded on first use), so that light submodules of this package
can be imported without it.
"""

__all__ = [
    "StructuredTranslator",
    "fit_structured",
    "FitReport",
    "load_translator",
    "Translator",
    "CleanInput",
    "BlurMask",
    "AnalyticPipeline",
    "StructuredLSQ",
    "BASELINES",
    "fit_baseline",
    "weighted_lsq_scale",
    "evaluate_translators",
]

_LAZY = {
    "StructuredTranslator": "structured",
    "fit_structured": "structured",
    "FitReport": "structured",
    "load_translator": "model_io",
    "Translator": "baselines",
    "CleanInput": "baselines",
    "BlurMask": "baselines",
    "AnalyticPipeline": "baselines",
    "StructuredLSQ": "baselines",
    "BASELINES": "baselines",
    "fit_baseline": "baselines",
    "weighted_lsq_scale": "baselines",
    "evaluate_translators": "evaluation",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
