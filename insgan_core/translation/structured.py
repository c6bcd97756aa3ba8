"""Physics-structured translation model: clean S(|Q|,E) → expected measured map, and its counting noise.

Model (on a fixed |Q| × E grid, |Q| in Å⁻¹, E in meV, intensities per Å⁻¹ per meV)::

    μ(Q,E) = coverage(Q,E) · [ a·K(S)(Q,E) + A(Q)·L(E) + Σ_k (|Q|/Qs)^{2k} h_k(E)
                               + |Q|² E(n(E,T)+1) g(E) + r(Q)·exp(−(Ei−E)/λ)
                               + r_c(Q)·exp(−(Ei−E)/λ_c) / x ] · (1 + f·tanh ρ(Q,E))

* **Signal path** ``a·K(S)``: linear in the input S. K is a Gaussian along E (σ_E per input energy bin)
  followed by a Gaussian along |Q| (σ_Q per input bin), each kernel column normalised to one
  (:mod:`insgan_core.translation.kernels`); widths start at the analytic pipeline's (resins energy
  resolution, detector-geometry |Q| resolution) and may change by a smooth, bounded factor (0.25–4).
  One positive scale ``a``: no per-map rescaling, so the path is exactly linear and keeps absolute units.
* **Elastic line** ``A(Q)·L(E)``: A(Q) ≥ 0 free per |Q| bin (Bragg/powder lines, incoherent
  Debye–Waller fall-off), L a unit-area mixture of a Gaussian core (σ from the resolution at E = 0),
  a Lorentzian and exponential tails on both sides (:mod:`insgan_core.translation.lineshapes`).
* **Background**: temperature-independent Σ_k (|Q|/Qs)^{2k} h_k(E), k = 0…3, h_k free per energy bin
  (the structured least-squares baseline of the issue is this plus a·P_T); a phonon-like term
  |Q|² E(n(E,T)+1) g(E) with its Bose factor, used only when the training maps span two or more
  temperatures (with one temperature it is not identifiable from h_1); the rise towards Ei,
  r(Q) ≥ 0 free per |Q| bin times exp(−(Ei−E)/λ).
* **Background fixed in counts** (optional, ``count_background``): r_c(Q)·exp(−(Ei−E)/λ_c) / x, a
  broader near-Ei rise (λ_c > λ) whose *counts* do not change with the run's exposure x (counts per unit
  intensity relative to the training run, :mod:`insgan_core.data.exposure`), so its intensity scales as
  1/x; see :mod:`insgan_core.translation.exposure` for why, and for the prior that splits it from the
  intensity-domain terms when one run is all there is.
* **Bounded residual** (optional, ``residual_fraction`` f > 0): a small convolutional net ρ whose output
  multiplies the expectation by 1 + f·tanh ρ, zero at initialisation; it can change the expectation by
  at most the fraction f, so it cannot invent or delete physics. Trained adversarially
  (:func:`insgan_core.translation.adversarial.train_residual`).
* **Coverage**: NaN outside the measured coverage (from the targets' NaN pattern or a detector table).
* **Counting noise**: c(Q,E) counts per unit intensity learnt from the targets' errors
  (:mod:`insgan_core.translation.noise_model`), at the training exposure; a run of relative exposure x
  has x·c (variance μ / (x c)). :meth:`StructuredTranslator.sample` draws Poisson counts; in the bins next
  to the edge of the coverage it first multiplies μ by exposure-independent relative scatter 1 ± ε_k (mean 1,
  variance ε_k²; k = 1, 2 bins from the edge, learnt from the training maps; the expectation is unchanged).

Training (:func:`fit_structured`) minimises χ² = Σ ((y − μ)/σ)² with the targets' errors σ. Every
term except the widths, the line shape and λ is linear in its parameters, so those are solved exactly
by weighted least squares (non-negativity of a, A and r by an active set) in alternation with Adam steps
on the few nonlinear parameters (variable projection). The starting point holds every term of issue 16's
structured least-squares baseline (a·P_T + Σ_k (|Q|/6)^{2k} h_k(E), with P_T through the analytic kernels
rather than the pipeline's pixel resampling) plus the elastic and near-Ei terms, and the best state is
kept, so the training χ² cannot end above that start.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from torch import nn

from .._version import __version__
from ..data.grid import Axis
from ..data.ins_map import INSMap, MapStack
from ..errors import InsganInputError
from ..spinwave.bose import KB_MEV_PER_K
from .fit_weights import REWEIGHT_PASSES, check_weighting, model_variance, per_map_error_scale
from .kernels import (
    WIDTH_BOUND,
    analytic_widths,
    band_half_width,
    banded_fractions,
    banded_gaussian_apply,
    gaussian_kernel_torch,
    width_factor,
)
from .lineshapes import bose_energy, exp_tail_bins, gaussian_bins, lorentzian_bins, near_ei_bins
from ..data.exposure import check_exposure, run_exposure
from .exposure import COUNT_PRIOR_EDGE_MEV, COUNT_PRIOR_SHARP_LAMBDA_MEV, count_prior_energy_bins, count_prior_rise
from .noise_model import EDGE_RINGS, coverage_edge_classes, estimate_count_scale_map, estimate_edge_scatter, sample_counts

__all__ = ["StructuredTranslator", "fit_structured", "FitReport", "KIND"]

#: value of the model file's metadata "kind" for this model
KIND = "structured"
_DT = torch.float64


class _Residual(nn.Module):
    """ρ(features): two 3×3 convolutions; the last is zero at initialisation (ρ = 0)."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.c1 = nn.Conv2d(2, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x):
        return self.c2(torch.tanh(self.c1(x)))[:, 0]


class StructuredTranslator(nn.Module):
    """The structured translation model on one grid (see the module docstring).

    Parameters
    ----------
    q_edges, e_edges : ndarray
        |Q| (Å⁻¹) and energy-transfer (meV) bin edges of the model grid, nq + 1 and ne + 1 values.
    sigma_e0 : ndarray, shape (ne,)
        Analytic energy-resolution σ (meV) per energy bin (0: none).
    sigma_q0 : ndarray, shape (nq, ne)
        Analytic |Q|-resolution σ (Å⁻¹) per bin.
    ei_meV : float
        Incident energy (meV).
    q_powers : tuple of int
        The k of the |Q|-polynomial background terms (|Q|/Qs)^{2k} (default 0…3).
    q_scale : float
        Qs in Å⁻¹.
    use_phonon : bool
        Include the phonon-like |Q|² E(n+1) g(E) term.
    residual_fraction : float
        f, bound of the residual's relative change (0: no residual).
    settings : dict
        Instrument settings record (JSON), kept in the model file.
    width_bound : float
        |log| of the largest learned change of a resolution width (default :data:`kernels.WIDTH_BOUND`).

    Notes
    -----
    Implements the translator protocol: :meth:`predict`, :meth:`sample`; plus :meth:`apply` (the API of
    :class:`insgan_core.gan.inference.TranslationModel`), :meth:`components`, :meth:`save`, :meth:`load`.
    """

    name = "structured"

    def __init__(self, q_edges, e_edges, sigma_e0, sigma_q0, *, ei_meV: float, q_powers=(0, 1, 2, 3), q_scale: float = 6.0,
                 use_phonon: bool = False, residual_fraction: float = 0.0, count_background: bool = False,
                 count_edge_meV: float = COUNT_PRIOR_EDGE_MEV, settings: dict | None = None,
                 width_bound: float = WIDTH_BOUND):
        super().__init__()
        q_edges = np.asarray(q_edges, np.float64)
        e_edges = np.asarray(e_edges, np.float64)
        nq, ne = q_edges.size - 1, e_edges.size - 1
        self.ei_meV = float(ei_meV)
        self.q_powers = tuple(int(k) for k in q_powers)
        self.n_poly = len(self.q_powers)
        self.q_scale = float(q_scale)
        self.use_phonon = bool(use_phonon)
        self.residual_fraction = float(residual_fraction)
        self.count_background = bool(count_background)
        self.count_edge_meV = float(count_edge_meV)
        #: counts per unit intensity (median, on the model grid) of the training run(s); None: not known
        self.training_exposure: float | None = None
        self.width_bound = float(width_bound)
        self.settings = dict(settings or {})
        def t(a):
            return torch.as_tensor(np.array(a, dtype=np.float64), dtype=_DT)

        self.register_buffer("q_edges", t(q_edges))
        self.register_buffer("e_edges", t(e_edges))
        self.register_buffer("sigma_e0", t(sigma_e0).reshape(ne))
        self.register_buffer("sigma_q0", t(sigma_q0).reshape(nq, ne))
        self.register_buffer("coverage", torch.ones(nq, ne, dtype=_DT))
        self.register_buffer("count_scale", torch.zeros(nq, ne, dtype=_DT))
        # per-bin counts per unit intensity S/σ² of the training run(s) at the reference exposure (0: unknown)
        self.register_buffer("exposure_map", torch.zeros(nq, ne, dtype=_DT))
        # exposure-independent relative scatter ε_k² of the coverage-edge classes k = 1, 2 (noise_model; 0: none)
        self.register_buffer("edge_scatter", torch.zeros(EDGE_RINGS, dtype=_DT))
        # nonlinear parameters (Adam)
        self.e_width = nn.Parameter(torch.zeros(3, dtype=_DT))
        self.q_width = nn.Parameter(torch.zeros(2, dtype=_DT))
        self.el_log_sigma = nn.Parameter(torch.zeros(1, dtype=_DT))
        self.el_log_gamma = nn.Parameter(torch.full((1,), math.log(2.0), dtype=_DT))
        self.el_log_tau = nn.Parameter(torch.full((2,), math.log(2.0), dtype=_DT))
        self.el_logits = nn.Parameter(torch.tensor([4.0, 0.0, 0.0, 0.0], dtype=_DT))
        self.nei_log_lambda = nn.Parameter(torch.zeros(1, dtype=_DT))
        self.cnt_log_dlambda = nn.Parameter(torch.zeros(1, dtype=_DT))
        # linear parameters (weighted least squares)
        self.a = nn.Parameter(torch.ones(1, dtype=_DT))
        self.h = nn.Parameter(torch.zeros(self.n_poly, ne, dtype=_DT))
        self.g = nn.Parameter(torch.zeros(ne, dtype=_DT))
        self.el_amp = nn.Parameter(torch.zeros(nq, dtype=_DT))
        self.nei_amp = nn.Parameter(torch.zeros(nq, dtype=_DT))
        self.cnt_amp = nn.Parameter(torch.zeros(nq, dtype=_DT))
        self.residual = _Residual() if self.residual_fraction > 0 else None
        if self.residual is not None:
            self.residual.double()
        self.source = ""
        self.training_record: dict = {}
        self._cache = None

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings, q_edges, e_edges, **kwargs) -> "StructuredTranslator":
        """A model with the analytic resolution of ``settings`` (InstrumentSettings) on the grid."""
        sigma_e0, sigma_q0 = analytic_widths(settings, np.asarray(q_edges, float), np.asarray(e_edges, float))
        record = settings.to_dict() if hasattr(settings, "to_dict") else dict(settings)
        return cls(q_edges, e_edges, sigma_e0, sigma_q0, ei_meV=settings.ei_meV, settings=record, **kwargs)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.q_edges.numel() - 1, self.e_edges.numel() - 1)

    @property
    def grid(self):
        from ..gan.inference import ModelGrid

        return ModelGrid(Axis(self.q_edges.numpy(), "MomentumTransfer"), Axis(self.e_edges.numpy(), "DeltaE"))

    def config(self) -> dict:
        return {"ei_meV": self.ei_meV, "q_powers": list(self.q_powers), "q_scale": self.q_scale, "use_phonon": self.use_phonon,
                "residual_fraction": self.residual_fraction, "count_background": self.count_background,
                "count_edge_meV": self.count_edge_meV, "width_bound": self.width_bound}

    def invalidate(self) -> None:
        """Forget cached inference matrices (call after changing parameters)."""
        self._cache = None

    # --- the pieces of the model -----------------------------------------------------------------
    def _centres(self):
        qc = 0.5 * (self.q_edges[1:] + self.q_edges[:-1])
        ec = 0.5 * (self.e_edges[1:] + self.e_edges[:-1])
        return qc, ec

    def _learned_widths(self) -> tuple[torch.Tensor, torch.Tensor]:
        """σ_E (meV) and σ_Q (Å⁻¹) of the signal path at each energy-bin centre: the analytic widths times
        their learned, bounded factors."""
        _, ec = self._centres()
        x = ec / self.ei_meV
        return (self.sigma_e0 * width_factor(self.e_width, x, self.width_bound),
                self.sigma_q0 * width_factor(self.q_width, x, self.width_bound)[None, :])

    def _q_band(self) -> int:
        """Half width in |Q| bins of the banded |Q| kernel (8σ of the widest width the bound allows)."""
        return band_half_width(self.q_edges.numpy(), float(self.sigma_q0.max()) * math.exp(self.width_bound))

    def kernels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(K_E (ne, ne), K_Q (ne, nq, nq)): column-normalised redistribution matrices of the signal path."""
        sig_e, sig_q = self._learned_widths()
        return gaussian_kernel_torch(self.e_edges, sig_e), gaussian_kernel_torch(self.q_edges, sig_q.T)

    def signal_path(self, s: torch.Tensor, kernels=None) -> torch.Tensor:
        """K(S) without the scale a: (B, nq, ne) → (B, nq, ne); NaN inputs count as 0.

        Without ``kernels`` the |Q| step uses the banded form (:func:`kernels.banded_gaussian_apply`,
        Gaussian tails beyond 8σ of the widest allowed width dropped), which training differentiates.
        """
        s = torch.nan_to_num(s, nan=0.0)
        we = self.e_edges[1:] - self.e_edges[:-1]
        wq = self.q_edges[1:] - self.q_edges[:-1]
        if kernels is not None:
            ke, kq = kernels
            s1 = ((s * we) @ ke.T) / we
            x = (s1 * wq[:, None]).permute(2, 1, 0)  # (ne, nq, B)
            return torch.bmm(kq, x).permute(2, 1, 0) / wq[:, None]
        sig_e, sig_q = self._learned_widths()
        ke = gaussian_kernel_torch(self.e_edges, sig_e)
        s1 = ((s * we) @ ke.T) / we
        b = self._q_band()
        if 2 * b + 1 >= self.shape[0]:
            kq = gaussian_kernel_torch(self.q_edges, sig_q.T)
            return torch.bmm(kq, (s1 * wq[:, None]).permute(2, 1, 0)).permute(2, 1, 0) / wq[:, None]
        return banded_gaussian_apply(self.q_edges, sig_q, s1 * wq[:, None], b) / wq[:, None]

    def elastic_shape(self) -> torch.Tensor:
        """L(E) per meV, shape (ne,): unit-area elastic line shape, bin-averaged."""
        sig0 = self.sigma_e0[self._zero_bin()].clamp_min(1e-3)
        sig = sig0 * torch.exp(self.el_log_sigma[0])
        gamma = sig * torch.exp(self.el_log_gamma[0])
        tau_p, tau_m = sig * torch.exp(self.el_log_tau[0]), sig * torch.exp(self.el_log_tau[1])
        w = torch.softmax(self.el_logits, 0)
        e = self.e_edges
        return (w[0] * gaussian_bins(e, sig) + w[1] * lorentzian_bins(e, gamma)
                + w[2] * exp_tail_bins(e, sig, tau_p, side=1.0) + w[3] * exp_tail_bins(e, sig, tau_m, side=-1.0))

    def _zero_bin(self) -> int:
        _, ec = self._centres()
        return int(torch.argmin(ec.abs()))

    def _near_ei_anchor(self) -> float:
        """Energy (meV) where the near-Ei exponentials are 1: Ei, or with the count-domain background the top of
        the covered energy range when it lies below Ei (the same family of functions, another amplitude unit;
        keeps the amplitudes of sharp rises at the end of the data representable)."""
        if not self.count_background:
            return self.ei_meV
        covered = torch.nonzero(self.coverage.amax(dim=0) > 0.5).flatten()
        top = float(self.e_edges[int(covered[-1]) + 1]) if covered.numel() else float(self.e_edges[-1])
        return min(self.ei_meV, top)

    def _rise(self) -> torch.Tensor:
        """Bins of the rise region of the count-domain prior (bool, (ne,)); all True without that option."""
        if not self.count_background:
            return torch.ones(self.shape[1], dtype=torch.bool)
        return torch.from_numpy(count_prior_rise(self.e_edges.numpy(), self.ei_meV, self._near_ei_anchor(),
                                                 edge_meV=self.count_edge_meV))

    def prior_energy_bins(self) -> np.ndarray:
        """Index map of the per-energy profiles (tied in the rise region with the count-domain prior)."""
        if not self.count_background:
            return np.arange(self.shape[1])
        return count_prior_energy_bins(self.e_edges.numpy(), self.ei_meV, self._near_ei_anchor(), edge_meV=self.count_edge_meV)

    def near_ei_shape(self) -> torch.Tensor:
        """exp(−(Ei − E)/λ) averaged over each energy bin, shape (ne,) (with the count-domain prior: anchored
        at the top of the covered range and zero outside the rise region)."""
        shape = near_ei_bins(self.e_edges, self._near_ei_anchor(), torch.exp(self.nei_log_lambda[0]))
        return torch.where(self._rise(), shape, torch.zeros((), dtype=_DT)) if self.count_background else shape

    def count_shape(self) -> torch.Tensor:
        """exp(−(Ei − E)/λ_c), λ_c = λ + exp(p) > λ, averaged over each energy bin, anchored at the top of
        the covered range and zero outside the rise region (:func:`insgan_core.translation.exposure.count_prior_rise`),
        shape (ne,)."""
        lam = torch.exp(self.nei_log_lambda[0]) + torch.exp(self.cnt_log_dlambda[0])
        return torch.where(self._rise(), near_ei_bins(self.e_edges, self._near_ei_anchor(), lam), torch.zeros((), dtype=_DT))

    def q_basis(self) -> torch.Tensor:
        """(|Q|/Qs)^{2k} for k in ``q_powers``, shape (n_poly, nq)."""
        qc, _ = self._centres()
        return torch.stack([(qc / self.q_scale) ** (2 * k) for k in self.q_powers])

    def phonon_shape(self, temperatures_K: torch.Tensor) -> torch.Tensor:
        """|Q|² E(n(E,T)+1), shape (B, nq, ne)."""
        qc, ec = self._centres()
        return qc[None, :, None] ** 2 * bose_energy(ec, temperatures_K, KB_MEV_PER_K)[:, None, :]

    def components(self, s: torch.Tensor, temperatures_K: torch.Tensor, kernels=None, exposure=None) -> dict:
        """Every term of the expectation before coverage and residual, each (B, nq, ne) or broadcastable;
        ``exposure`` (B,): run exposure relative to training (default 1)."""
        out = {"signal": self.a[0] * self.signal_path(s, kernels)}
        out["elastic"] = (self.el_amp[:, None] * self.elastic_shape()[None, :])[None]
        out["background"] = torch.einsum("kq,ke->qe", self.q_basis(), self.h)[None]
        out["near_ei"] = (self.nei_amp[:, None] * self.near_ei_shape()[None, :])[None]
        if self.use_phonon:
            out["phonon"] = self.phonon_shape(temperatures_K) * self.g[None, None, :]
        if self.count_background:
            x = torch.ones(1, dtype=_DT) if exposure is None else torch.as_tensor(exposure, dtype=_DT).reshape(-1)
            out["count_background"] = (self.cnt_amp[:, None] * self.count_shape()[None, :])[None] / x[:, None, None]
        return out

    def expectation(self, s: torch.Tensor, temperatures_K: torch.Tensor, kernels=None, exposure=None) -> torch.Tensor:
        """μ before coverage blanking, (B, nq, ne); ``exposure`` (B,) relative to training (default 1)."""
        comp = self.components(s, temperatures_K, kernels, exposure)
        total = sum(comp.values())
        total = total.expand(s.shape[0], *self.shape) if total.shape[0] != s.shape[0] else total
        if self.residual is not None:
            total = total * (1.0 + self.residual_fraction * torch.tanh(self.residual(self._residual_features(comp, total))))
        return total

    def _residual_features(self, comp, total):
        sig = comp["signal"].expand_as(total)
        scale = total.detach().abs().flatten(1).median(dim=1).values.clamp_min(1e-300)[:, None, None]
        return torch.stack([torch.asinh(sig / scale), torch.asinh(total / scale)], dim=1)

    # --- fast numpy inference ------------------------------------------------------------------------
    def _inference_cache(self):
        if self._cache is None:
            with torch.no_grad(), _one_thread():
                sig_e, sig_q = self._learned_widths()
                ke = gaussian_kernel_torch(self.e_edges, sig_e)
                zero = torch.zeros(1, *self.shape, dtype=_DT)
                comp = self.components(zero, torch.zeros(1, dtype=_DT))
                static = (comp["elastic"] + comp["background"] + comp["near_ei"])[0]
                counts = comp["count_background"][0] if self.count_background else torch.zeros(self.shape, dtype=_DT)
                we = (self.e_edges[1:] - self.e_edges[:-1]).numpy()
                wq = (self.q_edges[1:] - self.q_edges[:-1]).numpy()
                # K_E acting on densities: D_w^-1 K_E D_w, transposed for right multiplication
                ke_d = (ke.numpy() * we[None, :] / we[:, None]).T.copy()
                self._cache = {"ke": ke_d, "static": static.numpy().copy(), "static_counts": counts.numpy().copy(),
                               "a": float(self.a.detach()[0]),
                               "has_c": self.has_count_scale, "coverage": self.coverage.numpy() > 0.5,
                               "c": self.count_scale.numpy().copy()}
                nq = self.shape[0]
                b = self._q_band()
                if 2 * b + 1 < max(nq // 4, 1):
                    frac = banded_fractions(self.q_edges, sig_q, b).numpy()  # (2b+1, nq_in, ne)
                    bands = np.zeros_like(frac)
                    i = np.arange(nq)
                    for k in range(2 * b + 1):
                        j = i + (k - b)
                        ok = (j >= 0) & (j < nq)
                        bands[k, j[ok]] = frac[k, i[ok]] * wq[i[ok], None] / wq[j[ok], None]
                    self._cache.update({"bands": bands, "half_width": b})
                else:
                    kq = gaussian_kernel_torch(self.q_edges, sig_q.T).numpy()
                    self._cache["kq"] = np.ascontiguousarray(kq * wq[None, None, :] / wq[None, :, None])
        return self._cache

    def predict_array(self, signal: np.ndarray, temperatures_K, exposure=1.0) -> np.ndarray:
        """Expected measured intensities for inputs on the model grid, before coverage blanking.

        Parameters
        ----------
        signal : ndarray, shape (B, nq, ne) or (nq, ne)
        temperatures_K : float or sequence of float (one per map)
        exposure : float or sequence of float
            Exposure of the run to predict relative to the training run (counts per unit intensity ratio).
        """
        single = signal.ndim == 2
        s = np.nan_to_num(np.asarray(signal, np.float64)[None] if single else np.asarray(signal, np.float64))
        temps = np.broadcast_to(np.asarray(temperatures_K, np.float64), (s.shape[0],))
        xs = np.broadcast_to(np.asarray(exposure, np.float64), (s.shape[0],))
        if self.residual is not None:
            with torch.no_grad():
                out = self.expectation(torch.from_numpy(s), torch.from_numpy(temps.copy()),
                                       exposure=torch.from_numpy(xs.copy())).numpy()
            return out[0] if single else out
        c = self._inference_cache()
        s1 = s @ c["ke"]  # (B, nq, ne)
        if "bands" in c:  # |Q| kernels as diagonals: out_j = Σ_d K[j, j-d] x_{j-d}
            b = c["half_width"]
            nq = s1.shape[1]
            xp = np.zeros((s1.shape[0], nq + 2 * b, s1.shape[2]))
            xp[:, b:b + nq] = s1
            s2 = np.zeros_like(s1)
            for k, band in enumerate(c["bands"]):
                s2 += band[None] * xp[:, 2 * b - k:2 * b - k + nq]
        else:
            s2 = np.matmul(c["kq"], s1.transpose(2, 1, 0)).transpose(2, 1, 0)  # (ne, nq, nq) @ (ne, nq, B)
        out = c["a"] * s2 + c["static"][None]
        if self.count_background:
            out = out + c["static_counts"][None] / xs[:, None, None]
        if self.use_phonon:
            with torch.no_grad():
                ph = (self.phonon_shape(torch.from_numpy(temps.copy())) * self.g[None, None, :]).numpy()
            out = out + ph
        return out[0] if single else out

    # --- translator protocol -----------------------------------------------------------------------
    def _input(self, sim: INSMap, rebin: bool) -> tuple[INSMap, bool]:
        if not isinstance(sim, INSMap):
            raise InsganInputError(f"{self.name} translator: expected an INSMap, got {type(sim).__name__}")
        needs, problem = self.grid.mismatch(sim.x_axis, sim.e_axis, rebin=rebin)
        if problem:
            raise InsganInputError(f"input {problem}")
        if needs:
            return sim.rebin(x_edges=self.q_edges.numpy(), e_edges=self.e_edges.numpy()), True
        return sim, False

    def _blank(self, out: np.ndarray, inp: np.ndarray) -> np.ndarray:
        return np.where(self._inference_cache()["coverage"], out, np.nan)

    def _temperature(self, sim: INSMap, temperature_K) -> float:
        t = temperature_K if temperature_K is not None else sim.metadata.temperature_K
        if self.use_phonon and t is None:
            raise InsganInputError(
                f"{self.name} translator: this model has a temperature-dependent (phonon) term; give temperature_K "
                "or a map whose metadata holds temperature_K"
            )
        return float(t) if t is not None else 0.0

    def predict(self, sim: INSMap, *, temperature_K: float | None = None, rebin: bool = False,
                exposure: float = 1.0) -> INSMap:
        """Noise-free expected measured map on ``sim``'s grid; NaN outside the model's coverage.

        ``exposure``: the run to imitate, as counts per unit intensity relative to the training run (e.g. a
        proton-charge ratio, or :func:`insgan_core.data.exposure.relative_exposure` of a measured run); it
        scales the background fixed in counts (1/x) and the errors √(μ / (x c)).
        """
        x = check_exposure(exposure)
        work, rebinned = self._input(sim, rebin)
        t = self._temperature(sim, temperature_K)
        mu = self._blank(self.predict_array(work.signal, t, x), work.signal)
        err = self._error_estimate(mu, x)
        out = work.with_data(mu, err, temperature_K=t if temperature_K is not None else work.metadata.temperature_K)
        out.metadata.provenance = dict(out.metadata.provenance)
        out.metadata.provenance["translation"] = self._record("none", rebinned, x)
        return self._back(out, sim, rebinned)

    def sample(self, sim: INSMap, *, temperature_K: float | None = None, rng: np.random.Generator | None = None,
               rebin: bool = False, exposure: float = 1.0) -> INSMap:
        """One Poisson realisation of :meth:`predict` with the learnt count scale times ``exposure``
        (relative to training); errors √N / (x c)."""
        if not self.has_count_scale:
            raise InsganInputError(
                f"{self.name} translator {self.source or '(in memory)'}: no counting-noise model (its targets had no "
                "errors); use predict()"
            )
        x = check_exposure(exposure)
        rng = np.random.default_rng(0) if rng is None else rng
        work, rebinned = self._input(sim, rebin)
        t = self._temperature(sim, temperature_K)
        mu = self._blank(self.predict_array(work.signal, t, x), work.signal)
        signal, error = sample_counts(mu, x * self.count_scale.numpy(), rng=rng, relative_scatter=self.relative_scatter_map())
        out = work.with_data(signal, error)
        out.metadata.provenance = dict(out.metadata.provenance)
        out.metadata.provenance["translation"] = self._record("poisson", rebinned, x)
        return self._back(out, sim, rebinned)

    def relative_scatter_map(self) -> np.ndarray | None:
        """ε² per bin (shape (nq, ne)) of the exposure-independent coverage-edge scatter that :meth:`sample` adds
        (:mod:`insgan_core.translation.noise_model`); None when the model has none (files from before it)."""
        eps2 = self.edge_scatter.numpy()
        if not np.any(eps2 > 0):
            return None
        classes = coverage_edge_classes(self.coverage.numpy() > 0.5, rings=eps2.size)
        return np.where(classes > 0, np.concatenate([[0.0], eps2])[classes], 0.0)

    def exposure_of(self, run) -> float:
        """Exposure of a measured run relative to training (x = c_run / c_train), read from its errors.

        ``run``: a measured map on the model grid (INSMap or (signal, error)). Median of the per-bin ratio to
        the training run's S/σ² where both have counts; the ratio of medians when the model has no
        per-bin map (files from before it existed).
        """
        from ..data.exposure import relative_exposure

        ref = self.exposure_map.numpy()
        if (ref > 0).sum() >= 10:
            return relative_exposure(run, reference=ref, where="exposure_of")
        if self.training_exposure is None:
            raise InsganInputError("exposure_of: this model has no training exposure (its targets had no errors)")
        return relative_exposure(run, reference=self.training_exposure, where="exposure_of")

    @property
    def has_count_scale(self) -> bool:
        return bool(np.all(self.count_scale.detach().numpy() > 0))

    def _error_estimate(self, mu, exposure: float = 1.0):
        c = self._inference_cache()
        if not c["has_c"]:
            return np.where(np.isnan(mu), np.nan, 0.0)
        return np.sqrt(np.abs(mu) / (exposure * c["c"]))

    def _back(self, out: INSMap, sim: INSMap, rebinned: bool) -> INSMap:
        if not rebinned:
            return out
        m = out.rebin(x_edges=sim.x_axis.edges, e_edges=sim.e_axis.edges)
        return INSMap(m.signal, m.error, sim.x_axis, sim.e_axis, m.metadata, m.distribution)

    def _record(self, noise: str, rebinned: bool, exposure: float = 1.0) -> dict:
        return {
            "kind": KIND, "model_file": self.source, "model_sha256": self.weights_digest(), "noise": noise,
            "exposure_relative": float(exposure), "training_exposure": self.training_exposure,
            "rebinned": bool(rebinned), "scale_a": float(self.a.detach()[0]), "insgan_version": __version__,
            "edge_scatter": [float(v) for v in self.edge_scatter.numpy()],
            "error_model": ("Poisson counting noise with the learnt count scale c(Q,E), plus exposure-independent relative "
                            "scatter of the coverage-edge bins when edge_scatter > 0; sigma = sqrt(N)/c" if noise == "poisson"
                            else "sqrt(mu / c(Q,E)) with the learnt count scale" if self.has_count_scale else "none (0)"),
        }

    def apply(self, maps, *, rebin: bool = False, batch_size: int = 16, keep_input_nan: bool = False,
              noise: str = "none", seed: int = 0, temperature_K: float | None = None, exposure: float = 1.0):
        """Same call as :meth:`insgan_core.gan.inference.TranslationModel.apply`: INSMap → INSMap,
        MapStack/list → MapStack. The temperature comes from ``temperature_K`` or each map's metadata;
        ``exposure`` is the run's exposure relative to training (see :meth:`predict`)."""
        exposure = check_exposure(exposure)
        if noise not in ("none", "poisson"):
            raise InsganInputError(f"noise must be 'none' or 'poisson', got {noise!r}")
        single = isinstance(maps, INSMap)
        if isinstance(maps, MapStack):
            items = list(maps)
        elif single:
            items = [maps]
        elif isinstance(maps, (list, tuple)) and maps and all(isinstance(m, INSMap) for m in maps):
            items = list(maps)
        else:
            raise InsganInputError(f"apply: expected an INSMap, a MapStack or a list of INSMaps, got {type(maps).__name__}")
        rng = np.random.default_rng(int(seed))
        out = []
        for i, m in enumerate(items):
            if np.all(np.isnan(m.signal)):
                raise InsganInputError(f"input map {i} is NaN everywhere; nothing to translate")
            r = self.sample(m, temperature_K=temperature_K, rng=rng, rebin=rebin, exposure=exposure) if noise == "poisson" else \
                self.predict(m, temperature_K=temperature_K, rebin=rebin, exposure=exposure)
            if keep_input_nan:
                r = r.with_data(np.where(np.isnan(m.signal), np.nan, r.signal), np.where(np.isnan(m.signal), np.nan, r.error))
            r.metadata.provenance["gan"] = r.metadata.provenance["translation"]  # where the CLI/plugins look
            out.append(r)
        return out[0] if single else MapStack.from_maps(out)

    def weights_digest(self) -> str:
        """SHA-256 of the state dict (hex, first 16 characters); cached with the inference matrices."""
        cache = self._inference_cache()
        if "digest" not in cache:
            cache["digest"] = self._digest()
        return cache["digest"]

    def _digest(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    @property
    def metadata(self) -> dict:
        from .model_io import structured_metadata

        return structured_metadata(self)

    @property
    def count_scale_median(self) -> float | None:
        return float(self.count_scale.median()) if self.has_count_scale else None

    def save(self, path):
        """Write the model to one ``.safetensors`` file (weights + JSON metadata, atomically)."""
        from .model_io import save_structured

        return save_structured(self, path)

    @classmethod
    def load(cls, path) -> "StructuredTranslator":
        from .model_io import load_structured

        return load_structured(path)

    def __repr__(self):
        nq, ne = self.shape
        return (f"StructuredTranslator(grid {nq} |Q| x {ne} E bins, Ei={self.ei_meV:g} meV, a={float(self.a.detach()[0]):.4g}, "
                f"phonon={self.use_phonon}, residual={self.residual_fraction:g})")


# ================================================================================================
# fitting
# ================================================================================================
@dataclass
class FitReport:
    """What :func:`fit_structured` did: χ²/N after each stage, timings (s)."""

    chi2_initial: float
    chi2_final: float
    history: list
    seconds: float

    def to_dict(self) -> dict:
        return {"chi2_initial": self.chi2_initial, "chi2_final": self.chi2_final, "history": self.history,
                "seconds": self.seconds}


def _sigma2(target: INSMap, count_scale) -> np.ndarray:
    """Variance per bin for the χ²: measured σ², floored at one count (1/c²); Poisson-like without errors."""
    y, e = target.signal, target.error
    has = np.isfinite(e) & (e > 0)
    if count_scale is not None:
        floor = 1.0 / count_scale**2
        return np.where(has, np.maximum(e**2, floor), np.maximum(np.abs(np.nan_to_num(y)) / count_scale, floor))
    pos = np.abs(y[np.isfinite(y)])
    ref = float(np.median(pos[pos > 0])) if np.any(pos > 0) else 1.0
    return np.abs(np.nan_to_num(y)) + 1e-2 * ref


class _Problem:
    """The training data in the flattened form the least-squares solve and the χ² need."""

    def __init__(self, model: StructuredTranslator, sims, targets, temperatures, exposures=None):
        self.model = model
        self.s = torch.from_numpy(np.stack([np.nan_to_num(m.signal) for m in sims]))
        self.t = torch.tensor(temperatures, dtype=_DT)
        self.x = torch.tensor([1.0] * len(targets) if exposures is None else list(exposures), dtype=_DT)
        y = np.stack([m.signal for m in targets])
        cs = model.count_scale.numpy() if model.has_count_scale else None
        var = np.stack([_sigma2(m, None if cs is None else cs * float(x)) for m, x in zip(targets, self.x)])
        valid = np.isfinite(y) & (model.coverage.numpy()[None] > 0.5) & np.isfinite(var) & (var > 0)
        if valid.sum() < 10:
            raise InsganInputError("fit_structured: fewer than 10 covered target bins with finite values and errors")
        self.valid = torch.from_numpy(valid)
        self.y = torch.from_numpy(np.where(valid, y, 0.0))
        self.w = torch.from_numpy(np.where(valid, 1.0 / np.where(valid, var, 1.0), 0.0))
        self.n = int(valid.sum())
        self.idx = np.nonzero(valid)  # (b, i, j)

    def reweight(self) -> None:
        """``weighting="model"`` weights from the current expectation (:mod:`insgan_core.translation.fit_weights`)."""
        m = self.model
        if not m.has_count_scale:
            return  # no count scale: the Poisson variance of the model is not defined; keep the errors
        with torch.no_grad():
            mu = m.expectation(self.s, self.t, exposure=self.x).numpy()
        valid = self.valid.numpy()
        # each map's counts per unit intensity: the model's count scale times its relative exposure
        var = model_variance(mu, m.count_scale.numpy()[None] * self.x.numpy()[:, None, None])
        w = np.where(valid, 1.0 / np.where(valid, var, 1.0), 0.0)
        w = w / per_map_error_scale(self.y.numpy(), mu, w, valid)[:, None, None]
        self.w = torch.from_numpy(w)

    def chi2(self) -> torch.Tensor:
        mu = self.model.expectation(self.s, self.t, exposure=self.x)
        return ((self.y - mu) ** 2 * self.w).sum() / self.n

    def solve_linear(self, *, ridge: float = 1e-9) -> None:
        """Set a, h, g, A(Q), r(Q) to the weighted least-squares optimum for the current nonlinear parameters."""
        m = self.model
        nq, ne = m.shape
        b, i, j = self.idx
        nr = b.size
        with torch.no_grad():
            ks = m.signal_path(self.s).numpy()[b, i, j]
            qb = m.q_basis().numpy()  # (K, nq)
            lshape = m.elastic_shape().numpy()
            rshape = m.near_ei_shape().numpy()
            cshape = m.count_shape().numpy() if m.count_background else None
            xinv = 1.0 / self.x.numpy()[b]
            ph = m.phonon_shape(self.t).numpy()[b, i, j] if m.use_phonon else None
            resid = 1.0
            if m.residual is not None:
                full = m.expectation(self.s, self.t, exposure=self.x)
                base = sum(m.components(self.s, self.t, exposure=self.x).values())
                resid = (full / torch.where(base == 0, torch.ones_like(base), base)).numpy()[b, i, j]
        rows, cols, vals = [np.arange(nr)], [np.zeros(nr, int)], [ks]
        off = 1
        # with the count-domain background, the per-energy profiles h_k and g are held constant above the
        # onset of the rise towards Ei (the prior of translation.exposure): the rise belongs to the near-Ei terms
        jt = m.prior_energy_bins()
        jj = jt[j]
        for k in range(m.n_poly):
            rows.append(np.arange(nr)); cols.append(off + k * ne + jj); vals.append(qb[k, i])
        off_h = off
        off += m.n_poly * ne
        off_g = off
        if m.use_phonon:
            rows.append(np.arange(nr)); cols.append(off + jj); vals.append(ph)
            off += ne
        off_el = off
        rows.append(np.arange(nr)); cols.append(off + i); vals.append(lshape[j])
        off += nq
        off_r = off
        rows.append(np.arange(nr)); cols.append(off + i); vals.append(rshape[j])
        off += nq
        off_c = off
        if m.count_background:
            rows.append(np.arange(nr)); cols.append(off + i); vals.append(cshape[j] * xinv)
            off += nq
        sw = np.sqrt(self.w.numpy()[b, i, j]) * resid
        x = sp.csr_matrix((np.concatenate(vals) * np.concatenate([sw] * len(vals)),
                           (np.concatenate(rows), np.concatenate(cols))), shape=(nr, off))
        yw = self.y.numpy()[b, i, j] * np.sqrt(self.w.numpy()[b, i, j])
        nonneg = [0] + list(range(off_el, off))
        if m.count_background:
            # the prior of translation.exposure, in two stages: everything but the near-Ei terms from the bins
            # at or below the onset, then the near-Ei terms alone on what that leaves above it
            above = jt[j] != j
            p = _nonneg_lsq(x[~above], yw[~above], nonneg, ridge)
            near = np.zeros(off, bool)
            near[off_r:off] = True
            rest = yw[above] - x[above][:, ~near] @ p[~near]
            p[near] = _nonneg_lsq(x[above][:, near], rest, list(range(int(near.sum()))), ridge)
        else:
            p = _nonneg_lsq(x, yw, nonneg, ridge)
        if p[0] <= 0:
            p[0] = 1e-12  # a must stay positive (the input carries no information otherwise)
        with torch.no_grad():
            m.a.copy_(torch.tensor([p[0]]))
            m.h.copy_(torch.from_numpy(p[off_h:off_h + m.n_poly * ne].reshape(m.n_poly, ne)[:, jt]))
            if m.use_phonon:
                m.g.copy_(torch.from_numpy(p[off_g:off_g + ne][jt]))
            m.el_amp.copy_(torch.from_numpy(p[off_el:off_el + nq]))
            m.nei_amp.copy_(torch.from_numpy(p[off_r:off_r + nq]))
            if m.count_background:
                m.cnt_amp.copy_(torch.from_numpy(p[off_c:off_c + nq]))
        m.invalidate()


def _nonneg_lsq(x, yw, nonneg, ridge: float) -> np.ndarray:
    """argmin ‖x p − yw‖² (x sparse, whitened) with p[c] ≥ 0 for c in ``nonneg``, by an active set; tiny ridge."""
    n = x.shape[1]
    ata = (x.T @ x).toarray()
    atb = x.T @ yw
    active = np.ones(n, bool)
    diag = np.diag(ata).copy()
    scale = float(diag.max()) if diag.size and diag.max() > 0 else 1.0
    p = np.zeros(n)
    for _ in range(8):
        idx = np.flatnonzero(active)
        sub = ata[np.ix_(idx, idx)] + np.diag(ridge * np.maximum(diag[idx], 1e-12 * scale) + 1e-14 * scale)
        try:
            sol = cho_solve(cho_factor(sub), atb[idx])
        except (LinAlgError, ValueError):
            sol = np.linalg.lstsq(sub, atb[idx], rcond=None)[0]
        p = np.zeros(n)
        p[idx] = sol
        neg = [c for c in nonneg if active[c] and p[c] < 0]
        if not neg:
            break
        active[neg] = False
    p[~active] = 0.0
    return p


#: energy window of the noise calibration: from 3 meV to 0.8 Ei (the elastic line and the rise towards Ei
#: are sharp structures that the smoothing in noise_variance_to_mean cannot tell from noise)
NOISE_WINDOW_MEV = (3.0, 0.8)


def _noise_window(model: StructuredTranslator, e_centres: np.ndarray) -> np.ndarray:
    """Energy bins (bool, (ne,)) outside :data:`NOISE_WINDOW_MEV`."""
    return (e_centres < NOISE_WINDOW_MEV[0]) | (e_centres > NOISE_WINDOW_MEV[1] * model.ei_meV)


def _fit_edge_scatter(model: StructuredTranslator, sims, targets, temps, exposures=None) -> list[dict]:
    """Set ``model.edge_scatter`` from the training maps (:func:`noise_model.estimate_edge_scatter`, inside the
    noise-calibration window) and return the per-class estimates for the training record."""
    outside = _noise_window(model, targets[0].e_axis.centres)
    classes = coverage_edge_classes(model.coverage.numpy() > 0.5, rings=model.edge_scatter.numel())
    ys, es, mus = [], [], []
    for s, t, temp, x in zip(sims, targets, temps, exposures or [1.0] * len(sims)):
        ys.append(np.where(outside[None, :], np.nan, t.signal))
        es.append(np.where(outside[None, :], np.nan, t.error))
        mus.append(model.predict_array(s.signal, temp, x))
    est = estimate_edge_scatter(ys, es, mus, classes, rings=model.edge_scatter.numel())
    with torch.no_grad():
        model.edge_scatter.copy_(torch.tensor([e["eps2"] for e in est], dtype=_DT))
    model.invalidate()
    return est


def _calibrate_noise(model: StructuredTranslator, sims, targets, temps, seed: int, exposures=None) -> float:
    """Scale c(Q,E) so that samples have the small-scale variance/mean of the targets.

    Runs after the coverage-edge scatter is set (:func:`_fit_edge_scatter`), so the samples it compares carry it.
    The measured maps' bin-to-bin scatter exceeds their Poisson error bars (unresolved structure,
    detector-efficiency scatter, correlated reduction); matching what
    :func:`insgan_core.gan.metrics.noise_variance_to_mean` sees in the targets makes the samples look like
    them. Returns the factor applied to the variance (1/c); samples' errors use the calibrated c.
    """
    from ..gan.metrics import noise_variance_to_mean

    rng = np.random.default_rng(seed + 7919)
    outside = _noise_window(model, targets[0].e_axis.centres)

    def inelastic(m):
        return np.where(outside[None, :], np.nan, m.signal)

    total = 1.0
    for _ in range(3):
        ratios = []
        for s, t, temp, x in zip(sims, targets, temps, exposures or [1.0] * len(sims)):
            smp = model.sample(s, temperature_K=temp, rng=rng, exposure=x)
            vs, vt = noise_variance_to_mean(inelastic(smp)), noise_variance_to_mean(inelastic(t))
            if np.isfinite(vs) and np.isfinite(vt) and vs > 0 and vt > 0:
                ratios.append(vt / vs)
        if not ratios:
            break
        f = float(np.clip(np.exp(np.mean(np.log(ratios))), 0.1, 10.0))
        total *= f
        with torch.no_grad():
            model.count_scale.div_(f)
        if abs(f - 1.0) < 0.02:
            break
    return total


#: Gaussian prior (standard deviation) of the width-polynomial coefficients, in units of total χ²: the
#: energy resolution from resins is trusted (Gaussian tails of intense
#: low-energy signal are very sensitive to it: a 2 % change needs strong evidence), the |Q| width is cruder (pixel sampling, binning)
_PRIOR_SD = {"e_width": 0.02, "q_width": 1.0}
_NONLINEAR = ("e_width", "q_width", "el_log_sigma", "el_log_gamma", "el_log_tau", "el_logits", "nei_log_lambda",
              "cnt_log_dlambda")
#: line-shape starting points tried before refinement: (logits of Gaussian/Lorentzian/tail+/tail−, log γ/σ, log τ/σ)
_SHAPE_STARTS = (
    ([6.0, -2.0, -2.0, -2.0], math.log(2.0), math.log(2.0)),
    ([2.0, 0.0, 0.5, 0.5], math.log(2.0), math.log(3.0)),
    ([1.0, 0.5, 1.0, 0.0], math.log(4.0), math.log(6.0)),
)


def _coverage_from_detectors(q_edges, e_edges, detectors) -> np.ndarray:
    from ..data.ins_map import INSMap as _M
    from ..instrument.coverage import detector_path

    ones = _M(np.ones((q_edges.size - 1, e_edges.size - 1)), None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))
    return np.isfinite(detector_path(ones, detectors).signal)


def _settings_for(targets, settings):
    from ..instrument.settings import InstrumentSettings

    if settings is not None:
        if isinstance(settings, dict):
            return InstrumentSettings(**{k: v for k, v in settings.items() if k in ("instrument", "ei_meV", "chopper_package", "chopper_frequency_hz")})
        return settings
    md = targets[0].metadata
    if not md.instrument or not md.ei_meV:
        raise InsganInputError(
            "fit_structured: the targets' metadata lack instrument and ei_meV; pass settings=InstrumentSettings(...)"
        )
    return InstrumentSettings(instrument=md.instrument.upper(), ei_meV=float(md.ei_meV))


@contextlib.contextmanager
def _one_thread():
    """Small dense algebra: one BLAS / torch thread (multi-threaded BLAS spin-waits on busy machines)."""
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(n)


def _training_exposures(targets) -> tuple[list[float], float | None, np.ndarray | None]:
    """Relative exposures x_i of the targets (geometric mean 1; each measured against target 0 bin by bin),
    the reference counts per unit intensity (median) and the per-bin S/σ² map at the reference exposure
    (geometric mean of the targets' maps over x_i, 0 where none has counts); ([1, …], None, None) when a
    target carries no counting errors."""
    from ..data.exposure import exposure_map, relative_exposure

    try:
        c0 = run_exposure(targets[0], where="fit_structured: target 0")
        rel = [1.0] + [relative_exposure(t, reference=targets[0], where=f"fit_structured: target {k}")
                       for k, t in enumerate(targets[1:], start=1)]
    except InsganInputError:
        return [1.0] * len(targets), None, None
    g = float(np.exp(np.mean(np.log(rel))))
    xs = [r / g for r in rel]
    maps = [exposure_map(t) for t in targets]
    logs = np.array([np.where(c > 0, np.log(np.maximum(c, 1e-300) / x), np.nan) for c, x in zip(maps, xs)])
    with np.errstate(invalid="ignore"):
        n = np.isfinite(logs).sum(0)
        cmap = np.where(n > 0, np.exp(np.nansum(logs, 0) / np.maximum(n, 1)), 0.0)
    return xs, c0 / xs[0], cmap


def fit_structured(*args, **kwargs) -> StructuredTranslator:
    """See :func:`_fit_structured` (same arguments); runs single-threaded."""
    with _one_thread():
        return _fit_structured(*args, **kwargs)


def _fit_structured(
    sims,
    targets,
    *,
    temperatures_K,
    settings=None,
    detectors=None,
    phonon: str | bool = "auto",
    q_powers=(0, 1, 2, 3),
    residual_fraction: float = 0.0,
    adversarial_steps: int = 0,
    adversarial_mode: str = "paired",
    rounds: int = 3,
    adam_steps: int = 40,
    lr: float = 0.03,
    q_scale: float = 6.0,
    seed: int = 0,
    progress: bool = False,
    count_background: bool = False,
    weighting: str = "errors",
) -> StructuredTranslator:
    """Fit the structured model to (clean simulation, measured or artefact map) pairs.

    Parameters
    ----------
    sims : list of INSMap
        Clean S(|Q|,E) (no resolution), each on its target's grid; all on one grid.
    targets : list of INSMap
        Measured maps (or artefact simulations) with errors where available; NaN = no coverage.
    temperatures_K : list of float
        Sample temperature of each pair (K).
    settings : InstrumentSettings, dict or None
        Instrument, Ei, chopper package and frequency for the analytic starting resolution; None: from
        the targets' metadata (instrument, ei_meV) with the instrument's default chopper.
    detectors : DetectorData or None
        Detector table of the measurement; its coverage is used (else the targets' NaN pattern).
    phonon : "auto", True, False or "q2"
        Phonon-like term |Q|² E(n+1) g(E); "auto": only when the pairs span at least two temperatures.
        "q2": with one temperature, take the whole |Q|² background term as phonon-like (its Bose factor
        then carries it to other temperatures; the k = 1 polynomial term is dropped so that g is
        identifiable) -- an assumption, not something one temperature can show; on the MERLIN
        Bi2Fe4O9 maps it is wrong (trained at 5 K it over-predicts the 300 K background many times).
    q_powers : tuple of int
        The k of the background polynomials (|Q|/Qs)^{2k}.
    residual_fraction : float
        Bound f of the residual (0: none).
    adversarial_steps : int
        Steps of adversarial training of the residual after the likelihood fit (needs f > 0).
    adversarial_mode : {"paired", "unpaired"}
        Residual loss: χ² likelihood + adversarial (paired), or adversarial only (unpaired).
    rounds, adam_steps, lr
        Alternations of (least-squares solve, Adam on the nonlinear parameters).
    count_background : bool
        Add the near-Ei background fixed in counts (intensity ∝ 1/exposure) with the prior of
        :mod:`insgan_core.translation.exposure`. Each target's exposure is read from its errors
        (:func:`insgan_core.data.exposure.run_exposure`); with targets of different exposures the split
        between count- and intensity-domain terms is fitted (and the edge at the top of the covered range is
        not set apart: ``count_edge_meV`` = 0), with one exposure it rests on the prior.
    weighting : {"errors", "model"}
        Fit weights: 1/σ² of the targets' errors, or (``"model"``, for training maps spanning a large
        dynamic range, e.g. several families) the Poisson variance of the model's own expectation with
        each map's variances scaled by its Birge ratio, iterated from the errors' solution
        (:mod:`insgan_core.translation.fit_weights`). Needs targets with errors (else as "errors").

    Returns
    -------
    StructuredTranslator
        With ``training_record`` (χ²/N per stage, timings).
    """
    t0 = time.perf_counter()
    sims, targets = list(sims), list(targets)
    temps = [float(t) for t in temperatures_K]
    if not sims or len(sims) != len(targets) or len(temps) != len(sims):
        raise InsganInputError(
            f"fit_structured: need equal numbers of sims, targets and temperatures_K, got {len(sims)}, {len(targets)}, {len(temps)}"
        )
    ref = targets[0]
    if ref.x_axis.unit != "MomentumTransfer":
        raise InsganInputError(f"fit_structured: targets must be powder maps S(|Q|,E), got x unit '{ref.x_axis.unit}'")
    for k, (s, t) in enumerate(zip(sims, targets)):
        if not (s.same_grid(ref) and t.same_grid(ref)):
            raise InsganInputError(f"fit_structured: pair {k} is not on the grid of target 0; rebin first")
    inst = _settings_for(targets, settings)
    q_powers = tuple(q_powers)
    if phonon == "q2":
        use_phonon = True
        q_powers = tuple(k for k in q_powers if k != 1)
    elif phonon == "auto":
        use_phonon = len(set(temps)) >= 2
    else:
        use_phonon = bool(phonon)
    torch.manual_seed(seed)
    model = StructuredTranslator.from_settings(inst, ref.x_axis.edges, ref.e_axis.edges, q_powers=q_powers, q_scale=q_scale,
                                               use_phonon=use_phonon, residual_fraction=0.0,
                                               count_background=count_background)
    cov = (_coverage_from_detectors(ref.x_axis.edges, ref.e_axis.edges, detectors) if detectors is not None
           else np.any([np.isfinite(t.signal) for t in targets], axis=0))
    # exposure of each target from its errors, relative to their geometric mean (the model's reference)
    exposures, c_ref, cmap = _training_exposures(targets)
    model.training_exposure = c_ref
    if max(exposures) > 1.5 * min(exposures):  # two exposures identify the split at the edge too
        model.count_edge_meV = 0.0
    if cmap is not None:
        with torch.no_grad():
            model.exposure_map.copy_(torch.from_numpy(cmap))
    if count_background:
        with torch.no_grad():
            model.nei_log_lambda.fill_(math.log(COUNT_PRIOR_SHARP_LAMBDA_MEV))
            model.cnt_log_dlambda.fill_(math.log(1.0))
    cscale = estimate_count_scale_map([t.signal for t in targets], [t.error * math.sqrt(x) for t, x in zip(targets, exposures)])
    with torch.no_grad():
        model.coverage.copy_(torch.from_numpy(cov.astype(np.float64)))
        if cscale is not None:
            model.count_scale.copy_(torch.from_numpy(cscale))
    weighting = check_weighting(weighting, "fit_structured")
    prob = _Problem(model, sims, targets, temps, exposures)

    history = []
    # the structured least-squares baseline: analytic kernels, background polynomials, a (elastic and
    # near-Ei terms off) -- the model's own starting point
    with torch.no_grad():
        model.el_logits.copy_(torch.tensor(_SHAPE_STARTS[0][0]))
    prob.solve_linear()
    for _ in range(REWEIGHT_PASSES if weighting == "model" else 0):
        prob.reweight()
        prob.solve_linear()
    with torch.no_grad():
        chi2_lsq = float(prob.chi2())
    history.append({"stage": "least_squares_start", "chi2_per_bin": chi2_lsq})
    best = (chi2_lsq, copy.deepcopy(model.state_dict()))
    for logits, lg, lt in _SHAPE_STARTS[1:]:
        with torch.no_grad():
            model.el_logits.copy_(torch.tensor(logits))
            model.el_log_gamma.fill_(lg)
            model.el_log_tau.fill_(lt)
        prob.solve_linear()
        with torch.no_grad():
            c = float(prob.chi2())
        if c < best[0]:
            best = (c, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[1])
    history.append({"stage": "line_shape_start", "chi2_per_bin": best[0]})

    params = [getattr(model, n) for n in _NONLINEAR]
    for r in range(int(rounds)):
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(int(adam_steps)):
            opt.zero_grad()
            loss = prob.chi2() + sum((getattr(model, k) ** 2).sum() / sd**2 for k, sd in _PRIOR_SD.items()) / prob.n
            loss.backward()
            for p in model.parameters():
                if all(p is not q for q in params):
                    p.grad = None
            opt.step()
        prob.solve_linear()
        with torch.no_grad():
            c = float(prob.chi2())
        history.append({"stage": f"round_{r + 1}", "chi2_per_bin": c})
        if c < best[0]:
            best = (c, copy.deepcopy(model.state_dict()))
        else:
            model.load_state_dict(best[1])
            break
        if progress:
            print(f"fit_structured: round {r + 1}: chi2/N = {c:.4g}")
    model.load_state_dict(best[1])
    model.invalidate()

    if model.has_count_scale:
        history.append({"stage": "edge_scatter", "classes": _fit_edge_scatter(model, sims, targets, temps, exposures)})
        history.append({"stage": "noise_calibration", "variance_factor": _calibrate_noise(model, sims, targets, temps, seed, exposures)})
    if residual_fraction > 0:
        from .adversarial import train_residual

        if adversarial_mode not in ("paired", "unpaired"):
            raise InsganInputError(f"fit_structured: adversarial_mode must be 'paired' or 'unpaired', got {adversarial_mode!r}")
        model = train_residual(model, prob, fraction=residual_fraction, steps=adversarial_steps, seed=seed,
                               targets=targets, history=history, paired=adversarial_mode == "paired")
    model.training_record = {
        "temperatures_K": temps, "n_pairs": len(sims), "history": history, "chi2_per_bin_baseline_start": chi2_lsq,
        "chi2_per_bin_final": float(min(h["chi2_per_bin"] for h in history if "chi2_per_bin" in h)), "seconds": time.perf_counter() - t0,
        "n_bins": prob.n, "exposures_relative": exposures, "exposure_reference": c_ref, "weighting": weighting,
    }
    model.invalidate()
    return model
