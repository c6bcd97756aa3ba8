"""Translation layer: from a clean simulation S(|Q|,E) to what a spectrometer would measure.

Every translator — the learned physics-structured model and the baselines it must beat — implements one
small protocol (:class:`insgan_core.translation.baselines.Translator`): ``predict(sim, *, temperature_K)``
gives the noise-free expected measured map on the simulation's grid (NaN where there is no detector
coverage) and ``sample(sim, *, temperature_K, rng)`` one noisy realisation. Each is fitted on the same
training pairs (clean simulation, measured or artefact map with errors) by a ``fit`` entry point.

Layer: above ``instrument`` and ``gan`` (it may import data, instrument and gan), below workflows and the
command line; ``gan`` never imports ``translation``.

* :mod:`.structured` — the physics-structured translation model (:class:`StructuredTranslator`,
  :func:`fit_structured`), saved and loaded by :mod:`.model_io` (:func:`load_translator`).
* :mod:`.baselines` — clean input, Gaussian blur + mask, the analytic physics pipeline and the structured
  least-squares baseline (a·P_T + Σ_k (|Q|/q₀)^{2k} h_k(E)).
* :mod:`.evaluation` — :func:`evaluate_translators`: per-map metrics against a physics target or a
  measured map (relative L1, χ²/N, patch distance, peaks, integrals, noise, background).
"""

from .baselines import (
    AnalyticPipeline,
    BlurMask,
    CleanInput,
    StructuredLSQ,
    Translator,
    fit_baseline,
    weighted_lsq_scale,
    BASELINES,
)
from .evaluation import evaluate_translators
from .model_io import load_translator
from .structured import FitReport, StructuredTranslator, fit_structured

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
