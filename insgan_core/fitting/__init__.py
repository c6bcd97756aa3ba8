"""Fitting spin-wave Hamiltonian parameters to measured powder maps S(|Q|, E).

* :mod:`.data` — a measured dataset: its map on a |Q| grid, errors, detector coverage and masks;
* :mod:`.forward` — the forward model of one dataset: powder LSWT (a reusable :class:`PowderPlan`) ×
  intensity scale, energy resolution (resins, scaled), |Q| resolution, backgrounds and an elastic line;
* :mod:`.fit` — the objective (error-weighted χ²), multi-start global stage, local least squares,
  coarse-to-fine schedule, covariance, profile check, several datasets jointly;
* :mod:`.amortised`, :mod:`.amortised_io` — the amortised estimator (network posterior, calibrated σ,
  out-of-distribution checks) and its safetensors + JSON files;
* :mod:`.compare` — model comparison (Δχ², AIC, BIC, likelihood ratio);
* :mod:`.result` — the result: JSON parameter table, fitted maps, residual figure.
"""

from .compare import compare_models
from .data import FitDataset, load_dataset
from .fit import FitProblem, fit
from .forward import NUISANCES, ForwardModel
from .result import FitResult

__all__ = ["FitDataset", "load_dataset", "ForwardModel", "NUISANCES", "FitProblem", "fit", "FitResult",
           "compare_models"]
