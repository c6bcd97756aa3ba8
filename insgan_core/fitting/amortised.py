"""Amortised estimator: a small network mapping a measured map to a Gaussian posterior over parameters.

Trained on simulations through the fit's own forward model (:class:`ForwardModel`: spin waves, resolution,
backgrounds, elastic line, coverage) with counting noise, the network outputs, per parameter, a mean and a
log-variance (in units standardised by the prior box), trained with the Gaussian negative log-likelihood,
and σ is then rescaled on a separate calibration split (:meth:`AmortisedEstimator.calibrate`); check the
intervals with :func:`coverage_68` on further held-out simulations.
Its estimate is a starting point for :func:`insgan_core.fitting.fit` (``start_points``) or a quick look.

Input features: the map with unfitted bins set to 0, divided by its mean over fitted bins (the intensity
scale is a nuisance; its log is given as an extra feature).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InsganInputError
from .synthetic import noisy_map

__all__ = ["simulate_training_set", "AmortisedEstimator", "coverage_68"]


def _features(signal, mask):
    x = np.where(mask, np.nan_to_num(signal), 0.0)
    m = float(np.mean(x[mask])) if mask.any() else 1.0
    m = m if m > 0 else 1.0
    return np.concatenate([(x / m).ravel(), [np.log(m)]]).astype(np.float32)


def simulate_training_set(forward, bounds: dict, n: int, *, nuisance_ranges: dict | None = None,
                          count_scale: float = 50.0, seed: int = 0):
    """``n`` noisy maps with parameters uniform in ``bounds`` {name: (lo, hi)} (Hamiltonian parameters).

    Nuisances are uniform in ``nuisance_ranges`` {name: (lo, hi)} (default: scale 0.5–2, bg_flat 0–0.1,
    bg_q2 0–0.02, elastic_amp 0–2 with the resolution width). Returns (features (n, F), theta (n, P)).
    """
    rng = np.random.default_rng(seed)
    names = list(bounds)
    lo = np.array([bounds[k][0] for k in names], float)
    hi = np.array([bounds[k][1] for k in names], float)
    nr = nuisance_ranges or {"scale": (0.5, 2.0), "bg_flat": (0.0, 0.1), "bg_q2": (0.0, 0.02), "elastic_amp": (0.0, 2.0)}
    mask = np.isfinite(forward.dataset.measured.signal)
    X, T = [], []
    for _ in range(int(n)):
        theta = lo + rng.random(lo.size) * (hi - lo)
        nu = forward.default_nuisance()
        nu.update({k: a + rng.random() * (b - a) for k, (a, b) in nr.items()})
        m = noisy_map(forward, dict(zip(names, theta)), nu, count_scale=count_scale, rng=rng)
        X.append(_features(m.signal, mask))
        T.append(theta)
    return np.array(X), np.array(T)


class AmortisedEstimator:
    """MLP features -> (mean, log-variance) per parameter, trained with the Gaussian NLL.

    Parameters
    ----------
    names : list of str
    bounds : dict name -> (lo, hi)   the prior box (for standardisation)
    hidden : int                     width of the two hidden layers
    """

    def __init__(self, names, bounds, n_features: int, *, hidden: int = 128, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.names = list(names)
        self.lo = np.array([bounds[k][0] for k in self.names], float)
        self.hi = np.array([bounds[k][1] for k in self.names], float)
        p = len(self.names)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, 2 * p))
        self.history = []
        self.sigma_factor = np.ones(len(self.names))

    def _std(self, theta):
        return (theta - 0.5 * (self.lo + self.hi)) / (0.5 * (self.hi - self.lo))

    def train(self, X, theta, *, epochs: int = 300, lr: float = 2e-3, batch: int = 64, seed: int = 0):
        """Gaussian-NLL training (Adam); returns the final training loss."""
        torch = self.torch
        g = torch.Generator().manual_seed(seed)
        x = torch.as_tensor(X, dtype=torch.float32)
        y = torch.as_tensor(self._std(theta), dtype=torch.float32)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=1e-4)
        loss_fn = torch.nn.GaussianNLLLoss()
        t0 = time.perf_counter()
        for _ in range(int(epochs)):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), batch):
                idx = perm[i: i + batch]
                out = self.net(x[idx])
                p = len(self.names)
                loss = loss_fn(out[:, :p], y[idx], torch.exp(out[:, p:].clamp(-12, 6)))
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.history.append(float(loss.detach()))
        self.train_seconds = time.perf_counter() - t0
        return self.history[-1]

    def predict_features(self, X):
        """(mean (n, P), sigma (n, P)) in parameter units."""
        torch = self.torch
        with torch.no_grad():
            out = self.net(torch.as_tensor(np.atleast_2d(X), dtype=torch.float32)).numpy().astype(float)
        p = len(self.names)
        half = 0.5 * (self.hi - self.lo)
        mean = out[:, :p] * half + 0.5 * (self.lo + self.hi)
        sigma = np.exp(0.5 * np.clip(out[:, p:], -12, 6)) * half * self.sigma_factor
        return mean, sigma

    def calibrate(self, X, theta) -> np.ndarray:
        """Scale σ per parameter so that 68.3 % of a calibration set (not used in training) lies within ±σ
        (the quantile of |error|/σ; a network trained with the Gaussian NLL tends to be overconfident).
        Returns the factors."""
        self.sigma_factor = np.ones(len(self.names))
        mean, sigma = self.predict_features(X)
        self.sigma_factor = np.quantile(np.abs(mean - theta) / sigma, 0.6827, axis=0)
        return self.sigma_factor

    def predict(self, dataset) -> tuple[dict, dict]:
        """Posterior mean and σ for one :class:`FitDataset` (same grid and coverage as the training maps)."""
        f = _features(dataset.measured.signal, np.isfinite(dataset.measured.signal))
        if f.size != self.net[0].in_features:
            raise InsganInputError(f"amortised estimator: map has {f.size - 1} bins, the network was trained on "
                                   f"{self.net[0].in_features - 1}; use the training grid")
        mean, sigma = self.predict_features(f)
        return dict(zip(self.names, mean[0])), dict(zip(self.names, sigma[0]))


def coverage_68(estimator, X, theta) -> np.ndarray:
    """Fraction of held-out simulations whose truth lies within mean ± σ, per parameter (ideal 0.683)."""
    mean, sigma = estimator.predict_features(X)
    return np.mean(np.abs(mean - theta) <= sigma, axis=0)
