"""Amortised estimator: a small network mapping a measured map to a Gaussian posterior over parameters.

Trained on simulations through the fit's own forward model (:class:`ForwardModel`: spin waves, resolution,
backgrounds, elastic line, coverage) with counting noise (or the measured file's errors), the network
outputs, per parameter, a mean and a log-variance (in units standardised by the prior box), trained with
the Gaussian negative log-likelihood, and σ is then rescaled on a separate calibration split
(:meth:`AmortisedEstimator.calibrate`); check the intervals with :func:`coverage_68` on further held-out
simulations. Its estimate is a starting point for :func:`insgan_core.fitting.fit` (``start_points``) or a
quick look.

Input features: the map with unfitted bins set to 0, divided by its mean over fitted bins (the intensity
scale is a nuisance; its log is given as an extra feature).

Out of distribution: a map unlike the training maps (another model, parameters far outside the prior box,
an empty or background-only map) gets a confident-looking but meaningless network output. The estimator
therefore also scores each input by its distance from the training features — the squared residual
of the features' projection onto their leading principal components plus the Mahalanobis distance
inside them, both per feature — and flags inputs above the 99th percentile of that score on the
calibration simulations (:meth:`AmortisedEstimator.estimate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import InsganInputError
from .synthetic import noisy_map

__all__ = ["simulate_training_set", "AmortisedEstimator", "Estimate", "coverage_68", "features"]


def features(signal, mask):
    """Network input (F,) float32 of one map (nq, ne): the map / its mean over ``mask`` (0 off the mask),
    then log of that mean (log 1 when the mean is not positive)."""
    x = np.where(mask, np.nan_to_num(signal), 0.0)
    m = float(np.mean(x[mask])) if mask.any() else 1.0
    m = m if m > 0 else 1.0
    return np.concatenate([(x / m).ravel(), [np.log(m)]]).astype(np.float32)


_features = features  # former private name


def simulate_training_set(forward, bounds: dict, n: int, *, nuisance_ranges: dict | None = None,
                          count_scale: float = 50.0, seed: int = 0, noise: str = "poisson",
                          per_theta: int = 1, max_failures: float = 0.5, return_maps: bool = False,
                          extra_background: float = 0.0, error_scale: float = 1.0):
    """``n`` noisy maps with parameters uniform in ``bounds`` {name: (lo, hi)} (Hamiltonian parameters).

    Nuisances are uniform in ``nuisance_ranges`` {name: (lo, hi)} (default: scale 0.5–2, bg_flat 0–0.1,
    bg_q2 0–0.02, elastic_amp 0–2 with the resolution width). ``noise``: ``"poisson"`` (counts with
    ``count_scale`` counts per unit intensity) or ``"measured"`` (Gaussian with the forward dataset's
    measured errors). ``per_theta``: noise/nuisance realisations per Hamiltonian draw (one
    diagonalisation each draw). ``extra_background`` > 0 adds, per map, a random smooth surface
    a · Σ_{i,j≤2} c_ij P_i(q̂) P_j(ê) (Legendre polynomials of |Q| and E scaled to [−1, 1], c_ij ~ N(0, 1/9),
    rms ≈ a, in map units) standing for unmodelled intensity (phonons, multiple scattering), so the network
    learns to look past it. Parameter sets whose spin-wave spectrum is unstable are redrawn (the prior
    is the box restricted to stable structures); more than ``max_failures`` · n failures raise.
    ``error_scale``: with ``noise="measured"``, the Gaussian noise is the measured errors × this factor (e.g.
    √(χ²/N) of the best model on the measured map, so that maps with that much unmodelled structure look like
    training maps).
    Returns (features (n, F), theta (n, P)), and the noisy maps (n, nq, ne) with ``return_maps``.
    """
    from .fit import _MODEL_FAILURES

    if noise not in ("poisson", "measured"):
        raise InsganInputError(f"simulate_training_set: noise must be 'poisson' or 'measured', got {noise!r}")
    rng = np.random.default_rng(seed)
    names = list(bounds)
    lo = np.array([bounds[k][0] for k in names], float)
    hi = np.array([bounds[k][1] for k in names], float)
    nr = nuisance_ranges or {"scale": (0.5, 2.0), "bg_flat": (0.0, 0.1), "bg_q2": (0.0, 0.02), "elastic_amp": (0.0, 2.0)}
    ds = forward.dataset
    mask = np.isfinite(ds.measured.signal)
    if not (np.isfinite(error_scale) and error_scale > 0):
        raise InsganInputError(f"simulate_training_set: error_scale must be > 0, got {error_scale}")
    err = np.where(mask, np.nan_to_num(ds.measured.error), 0.0) * float(error_scale)
    X, T, maps = [], [], []
    failures = 0
    from numpy.polynomial import legendre

    def _legendre(x):
        u = 2.0 * (x - x.min()) / max(float(np.ptp(x)), 1e-30) - 1.0
        return np.stack([legendre.legval(u, np.eye(3)[i]) for i in range(3)])

    lq, le = _legendre(forward.q), _legendre(forward.e)
    while len(X) < int(n):
        theta = lo + rng.random(lo.size) * (hi - lo)
        values = dict(zip(names, theta))
        try:
            forward.modes(values)
        except _MODEL_FAILURES:
            failures += 1
            if failures > max_failures * n:
                raise InsganInputError(f"simulate_training_set: {failures} unstable parameter sets in the box "
                                       f"{bounds}; narrow the box") from None
            continue
        for _ in range(min(int(per_theta), int(n) - len(X))):
            nu = forward.default_nuisance()
            nu.update({k: a + rng.random() * (b - a) for k, (a, b) in nr.items()})
            extra = 0.0
            if extra_background > 0:
                c = rng.standard_normal((3, 3)) / 3.0
                extra = float(extra_background) * np.einsum("ij,iq,je->qe", c, lq, le)
            if noise == "poisson":
                sig = noisy_map(forward, values, nu, count_scale=count_scale, rng=rng).signal + extra
            else:
                sig = np.where(mask, forward(values, nu) + extra + err * rng.standard_normal(err.shape), np.nan)
            X.append(features(sig, mask))
            T.append(theta)
            if return_maps:
                maps.append(sig)
    if return_maps:
        return np.array(X), np.array(T), np.array(maps)
    return np.array(X), np.array(T)


@dataclass
class Estimate:
    """One amortised estimate: posterior mean and σ per parameter, and the out-of-distribution check."""

    mean: dict
    sigma: dict
    ood_score: float
    ood_threshold: float
    seconds: float = 0.0
    null: bool = False                 # empty map (no finite bin, mean ≤ 0 or constant)
    chi2_per_bin: float = float("nan")  # predictive check at the mean (nuisances solved)
    chi2_threshold: float = float("inf")
    significance: float = float("nan")  # fitted scale / its σ at the mean
    min_significance: float = 0.0
    bounds: dict = None                 # the prior box {name: (lo, hi)}

    @property
    def flags(self) -> list:
        """Why the estimate should not be trusted (empty list: no reason found)."""
        out = []
        if self.null:
            out.append("null input (no finite bin, mean <= 0, or a constant map)")
        if not (np.isfinite(self.ood_score) and self.ood_score <= self.ood_threshold):
            out.append(f"unlike the training maps (feature score {self.ood_score:.3g} > {self.ood_threshold:.3g})")
        if self.bounds and any(not (self.bounds[k][0] <= v <= self.bounds[k][1]) for k, v in self.mean.items()):
            out.append("the estimate lies outside the prior box")
        if not np.isnan(self.chi2_per_bin) and self.chi2_per_bin > self.chi2_threshold:
            out.append(f"the model at the estimate does not describe the map (chi2/N {self.chi2_per_bin:.3g} > "
                       f"{self.chi2_threshold:.3g})")
        if np.isfinite(self.significance) and self.significance < self.min_significance:
            out.append(f"no spin-wave signal (scale {self.significance:.2g} sigma)")
        return out

    def starts(self, n: int = 8, *, seed: int = 0) -> list:
        """Fit starts: the mean and ``n`` draws from the Gaussian posterior (clipped to the prior box)."""
        rng = np.random.default_rng(seed)
        out = [dict(self.mean)]
        for _ in range(int(n)):
            d = {k: float(v + self.sigma[k] * rng.standard_normal()) for k, v in self.mean.items()}
            if self.bounds:
                d = {k: float(np.clip(v, *self.bounds[k])) for k, v in d.items()}
            out.append(d)
        return out

    @property
    def in_distribution(self) -> bool:
        """False when any check flags the input (the mean and σ then mean nothing)."""
        return not self.flags

    def to_dict(self) -> dict:
        f = lambda v: None if not np.isfinite(v) else float(v)  # noqa: E731
        return {"mean": {k: float(v) for k, v in self.mean.items()},
                "sigma": {k: float(v) for k, v in self.sigma.items()},
                "ood_score": f(self.ood_score), "ood_threshold": f(self.ood_threshold),
                "chi2_per_bin": f(self.chi2_per_bin), "chi2_threshold": f(self.chi2_threshold),
                "scale_significance": f(self.significance), "null": self.null, "flags": self.flags,
                "in_distribution": self.in_distribution, "seconds": float(self.seconds)}


class AmortisedEstimator:
    """MLP features -> (mean, log-variance) per parameter, trained with the Gaussian NLL.

    Parameters
    ----------
    names : list of str
    bounds : dict name -> (lo, hi)   the prior box (for standardisation)
    n_features : int                 length of :func:`features` (bins + 1)
    hidden : int                     width of the two hidden layers
    info : dict, optional            JSON description kept in the model file (model name, grid, settings …)
    """

    def __init__(self, names, bounds, n_features: int, *, hidden: int = 128, seed: int = 0, info: dict | None = None):
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.names = list(names)
        self.bounds = {k: (float(bounds[k][0]), float(bounds[k][1])) for k in self.names}
        self.lo = np.array([self.bounds[k][0] for k in self.names], float)
        self.hi = np.array([self.bounds[k][1] for k in self.names], float)
        self.hidden = int(hidden)
        self.n_features = int(n_features)
        p = len(self.names)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, 2 * p))
        self.history = []
        self.sigma_factor = np.ones(len(self.names))
        self.info = dict(info or {})
        self.ood = None  # dict of the out-of-distribution score's arrays, set by fit_ood
        self.check = None  # thresholds of the predictive check, set by fit_check
        self.feature_mean = np.zeros(self.n_features)
        self.feature_std = np.ones(self.n_features)
        self._forward = None
        self._translator = None

    # --- translation model of the training maps ------------------------------------------------------
    @property
    def translation_digest(self) -> str | None:
        """Weights digest of the translator the training maps went through (None: plain instrument model)."""
        t = self.info.get("translation") or {}
        return t.get("sha256") if isinstance(t, dict) else None

    def attach_translator(self, translator) -> None:
        """Use ``translator`` (the one the training maps went through: same weights digest) in the predictive
        check; without it the check of such an estimator is skipped (its thresholds hold for translated maps)."""
        want = self.translation_digest
        got = getattr(translator, "weights_digest", lambda: None)()
        if want is None or got != want:
            name = getattr(translator, "source", "") or "(in memory)"
            raise InsganInputError(f"amortised estimator: translator {name} (weights {got}) is not the one its "
                                   f"training maps went through ({want})")
        self._translator = translator
        self._forward = None

    def _z(self, X):
        return (np.atleast_2d(np.asarray(X, float)) - self.feature_mean) / self.feature_std

    def _std(self, theta):
        return (theta - 0.5 * (self.lo + self.hi)) / (0.5 * (self.hi - self.lo))

    def train(self, X, theta, *, epochs: int = 300, lr: float = 2e-3, batch: int = 64, seed: int = 0):
        """Gaussian-NLL training (Adam) on standardised features (their training mean and std are kept);
        returns the final training loss."""
        torch = self.torch
        g = torch.Generator().manual_seed(seed)
        X = np.asarray(X, float)
        self.feature_mean = X.mean(axis=0)
        sd = X.std(axis=0)
        self.feature_std = np.where(sd > 1e-6 * max(float(sd.max()), 1e-30), sd, 1.0)
        x = torch.as_tensor(self._z(X), dtype=torch.float32)
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
            out = self.net(torch.as_tensor(self._z(X), dtype=torch.float32)).numpy().astype(float)
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

    # --- out of distribution -----------------------------------------------------------------------
    def fit_ood(self, X_train, X_calib, *, n_components: int = 16, quantile: float = 0.99) -> float:
        """Principal components of the training features; threshold = ``quantile`` of the calibration
        maps' scores (:meth:`ood_scores`). Returns the threshold."""
        X = self._z(X_train)
        mu = X.mean(axis=0)
        _, s, vt = np.linalg.svd(X - mu, full_matrices=False)
        k = int(min(n_components, vt.shape[0]))
        var = s[:k] ** 2 / max(len(X) - 1, 1)
        resid = (X - mu) - ((X - mu) @ vt[:k].T) @ vt[:k]
        self.ood = {"mean": mu, "components": vt[:k], "variance": var,
                    "residual_scale": float(np.mean(resid ** 2)), "threshold": np.inf}
        self.ood["threshold"] = float(np.quantile(self.ood_scores(X_calib), quantile))
        return self.ood["threshold"]

    def ood_scores(self, X) -> np.ndarray:
        """Out-of-distribution score per map (≈ 1 for training-like maps; large for unlike ones)."""
        if self.ood is None:
            raise InsganInputError("amortised estimator: no out-of-distribution statistics (call fit_ood)")
        o = self.ood
        d = self._z(X) - o["mean"]
        z = d @ o["components"].T
        resid = d - z @ o["components"]
        k = z.shape[1]
        maha = np.sum(z ** 2 / o["variance"], axis=1) / k
        res = np.mean(resid ** 2, axis=1) / o["residual_scale"]
        return 0.5 * (maha + res)

    # --- predictive check -------------------------------------------------------------------------------
    def forward(self):
        """The forward model of the training grid (built once from the file's record: library model,
        instrument settings, temperature, grid, accuracy), for :meth:`predictive_check`."""
        if self._forward is None:
            from ..data.grid import Axis
            from ..data.ins_map import INSMap, MapMetadata
            from ..instrument.settings import InstrumentSettings
            from ..spinwave import load_model
            from .data import load_dataset
            from .forward import ForwardModel

            i = self.info
            try:
                g = i["grid"]
                q, e = np.asarray(g["q_edges"], float), np.asarray(g["e_edges"], float)
                mask = np.asarray(g["mask"], bool).reshape(q.size - 1, e.size - 1)
                st = InstrumentSettings.from_dict(i["settings"]) if hasattr(InstrumentSettings, "from_dict") \
                    else InstrumentSettings(**i["settings"])
                T, model, acc = float(i["temperature_K"]), load_model(i["model"]), float(i.get("accuracy", 0.2))
            except (KeyError, TypeError, ValueError) as exc:
                raise InsganInputError(f"amortised estimator: its record lacks what the predictive check needs "
                                       f"({exc})") from None
            ones = np.where(mask, 1.0, np.nan)
            m = INSMap(ones, ones, Axis(q, "MomentumTransfer"), Axis(e, "DeltaE"),
                       MapMetadata(instrument=st.instrument, ei_meV=st.ei_meV, temperature_K=T), distribution=True)
            ds = load_dataset(m, chopper_frequency_hz=st.chopper_frequency_hz, chopper_package=st.chopper_package)
            self._forward = ForwardModel(model, ds, accuracy=acc, cache_size=4, translator=self._translator)
        return self._forward

    def predictive_check(self, signal, error, mean: dict) -> tuple[float, float]:
        """(χ²/N, scale significance) of the forward model at ``mean`` with the linear nuisances (scale,
        flat and |Q|² backgrounds) solved on the map (signal, error (nq, ne) on the training grid); a map
        the model family describes has χ²/N near the calibration maps'; a map without spin-wave signal has
        scale/σ(scale) near 0."""
        from .fit import _MODEL_FAILURES

        fw = self.forward()
        ok = np.isfinite(signal) & np.isfinite(error) & (error > 0) & fw.dataset.mask
        if not ok.any():
            return float("inf"), 0.0
        try:
            comp = fw.components({k: float(v) for k, v in mean.items()}, fw.default_nuisance())
        except _MODEL_FAILURES:
            return float("inf"), 0.0
        A = np.stack([comp[k][ok] / error[ok] for k in ("scale", "bg_flat", "bg_q2")], axis=1)
        off = fw.offset  # the translator's T(0) (elastic line, backgrounds, rise); 0 without one
        y = (signal[ok] - (off[ok] if np.ndim(off) else 0.0)) / error[ok]
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = A @ coef - y
        chi2n = float(r @ r) / max(ok.sum() - 3, 1)
        cov = np.linalg.pinv(A.T @ A) * max(chi2n, 1.0)
        return chi2n, float(coef[0] / np.sqrt(max(cov[0, 0], 1e-300)))

    def fit_check(self, maps, *, quantile: float = 0.99) -> float:
        """Thresholds of the predictive check from calibration ``maps`` (list of (signal, error) on the
        training grid, estimates from the network): χ²/N above its ``quantile``, or a scale significance
        below its 1 − ``quantile`` quantile, flag a map. Returns the χ²/N threshold."""
        vals, sigs = [], []
        for sig, err in maps:
            f = features(np.where(np.isfinite(sig), sig, 0.0), self._mask())
            mean, _ = self.predict_features(f)
            mean = np.clip(mean[0], self.lo, self.hi)
            c, z = self.predictive_check(sig, err, dict(zip(self.names, mean)))
            vals.append(c if np.isfinite(c) else 1e300)
            sigs.append(z)
        self.check = {"chi2_threshold": float(np.quantile(vals, quantile)),
                      "min_significance": float(np.quantile(sigs, 1.0 - quantile))}
        return self.check["chi2_threshold"]

    def _mask(self):
        g = self.info["grid"]
        return np.asarray(g["mask"], bool).reshape(len(g["q_edges"]) - 1, len(g["e_edges"]) - 1)

    # --- one map -----------------------------------------------------------------------------------
    def _map_features(self, measured):
        mask = self._mask() if self.info.get("grid") else np.isfinite(measured.signal)
        sig = np.asarray(measured.signal, float)
        if sig.size + 1 != self.n_features:
            raise InsganInputError(f"amortised estimator: map has {sig.size} bins, the network was trained on "
                                   f"{self.n_features - 1}; use the training grid")
        return features(np.where(np.isfinite(sig), sig, 0.0), mask)

    def estimate(self, dataset, *, check: bool = True) -> Estimate:
        """Posterior mean, σ and out-of-distribution checks of one :class:`FitDataset` or INSMap (rebinned
        to the training grid when the estimator records one). ``check``: also run the predictive check
        (one forward-model evaluation; needs :meth:`fit_check` to have been run, and, for an estimator trained
        through a translator, :meth:`attach_translator`; else it is skipped)."""
        t0 = time.perf_counter()
        measured = getattr(dataset, "measured", dataset)
        measured = self._on_grid(measured)
        f = self._map_features(measured)
        mean, sigma = self.predict_features(f)
        score = float(self.ood_scores(f)[0]) if self.ood is not None else float("nan")
        thr = float(self.ood["threshold"]) if self.ood is not None else float("nan")
        out = Estimate(dict(zip(self.names, mean[0])), dict(zip(self.names, sigma[0])), score, thr,
                       bounds=self.bounds)
        sig = np.asarray(measured.signal, float)
        fin = np.isfinite(sig) & self._mask() if self.info.get("grid") else np.isfinite(sig)
        out.null = bool(not fin.any() or not np.nanmean(np.where(fin, sig, np.nan)) > 0
                        or np.nanstd(np.where(fin, sig, np.nan)) == 0)
        check_ok = self.translation_digest is None or self._translator is not None
        if check and check_ok and self.check is not None and not out.null:
            inside = dict(zip(self.names, np.clip(mean[0], self.lo, self.hi)))
            out.chi2_per_bin, out.significance = self.predictive_check(sig, np.asarray(measured.error, float), inside)
            out.chi2_threshold = self.check["chi2_threshold"]
            out.min_significance = self.check["min_significance"]
        out.seconds = time.perf_counter() - t0
        return out

    def _on_grid(self, measured):
        grid = self.info.get("grid")
        if grid is None:
            return measured
        q, e = np.asarray(grid["q_edges"], float), np.asarray(grid["e_edges"], float)
        if measured.x_axis.edges.size == q.size and measured.e_axis.edges.size == e.size and \
                np.allclose(measured.x_axis.edges, q) and np.allclose(measured.e_axis.edges, e):
            return measured
        if measured.x_axis.edges[0] > q[0] + 1e-9 or measured.x_axis.edges[-1] < q[-1] - 1e-9 or \
                measured.e_axis.edges[0] > e[0] + 1e-9 or measured.e_axis.edges[-1] < e[-1] - 1e-9:
            raise InsganInputError(
                f"amortised estimator: the map covers |Q| {measured.x_axis.edges[0]:g}–{measured.x_axis.edges[-1]:g} "
                f"1/angstrom, E {measured.e_axis.edges[0]:g}–{measured.e_axis.edges[-1]:g} meV; the estimator needs "
                f"|Q| {q[0]:g}–{q[-1]:g}, E {e[0]:g}–{e[-1]:g}")
        return measured.rebin(x_edges=q, e_edges=e)

    def predict(self, dataset) -> tuple[dict, dict]:
        """Posterior mean and σ for one :class:`FitDataset` (same grid and coverage as the training maps)."""
        e = self.estimate(dataset)
        return e.mean, e.sigma

    # --- files ---------------------------------------------------------------------------------------
    def save(self, path):
        """Weights (safetensors) + JSON metadata in one file, atomically."""
        from .amortised_io import save_estimator

        return save_estimator(self, path)

    @classmethod
    def load(cls, path) -> "AmortisedEstimator":
        from .amortised_io import load_estimator

        return load_estimator(path)


def coverage_68(estimator, X, theta) -> np.ndarray:
    """Fraction of held-out simulations whose truth lies within mean ± σ, per parameter (ideal 0.683)."""
    mean, sigma = estimator.predict_features(X)
    return np.mean(np.abs(mean - theta) <= sigma, axis=0)
