"""Forward model of one dataset for fitting: powder LSWT + instrument + backgrounds.

    I(|Q|, E) = scale · B_Q[ S_res(|Q|, E) ] + bg_flat + bg_q2 · |Q|² + elastic_amp · G(E; elastic_fwhm)

* S_res: the powder-averaged LSWT S(|Q|, E) (per meV, per site) of a :class:`PowderPlan` built once on the
  dataset's grid; the modes (energies, weights) are cached per Hamiltonian parameter set, so changing only
  nuisance parameters re-does only the binning. Each mode is binned with a Gaussian of FWHM
  ``res_scale`` × resins FWHM(E) (the energy resolution at the dataset's Ei and chopper frequency).
* B_Q: Gaussian |Q| broadening with the instrument's angular σ_Q(|Q|, E) (fixed, precomputed kernels).
* G: a normalised Gaussian at E = 0 averaged over each energy bin (elastic incoherent line).
* Coverage: bins that the measured file did not record (NaN) or that its detector table does not reach
  are excluded by the dataset's mask; the model is evaluated everywhere.

With a learned translation (``translator``, e.g. a structured model of :mod:`insgan_core.translation`) the
instrument part is the translator's instead: the clean powder map (each mode binned with a Gaussian of one
energy-bin FWHM, no |Q| broadening) goes through the translator's public ``apply`` path, which is linear in
S plus additive terms, so

    I(|Q|, E) = scale · [T(S) − T(0)] + T(0) + bg_flat + bg_q2 · |Q|² + elastic_amp · G(E; elastic_fwhm)

(``res_scale`` then scales the clean binning width, not a resolution).

The powder integrator is pluggable (``plan_factory``): any object with the :class:`PowderPlan` interface
used here (``modes(model, workers=)`` → (E, S), ``rows``, ``weights``) can replace it, e.g. a faster one.

Nuisance parameters (per dataset): :data:`NUISANCES`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy.special import erf

from ..errors import InsganInputError
from ..instrument.broadening import gaussian_kernel
from ..instrument.energy_resolution import energy_fwhm_meV
from ..instrument.q_resolution import q_sigma_invA
from ..spinwave.bose import bose_factor

__all__ = ["ForwardModel", "NUISANCES", "LINEAR_NUISANCES"]

#: nuisance parameters of every dataset (name -> meaning, unit)
NUISANCES = {
    "scale": "intensity scale (measured units per spin-wave unit)",
    "bg_flat": "flat background (measured units per meV)",
    "bg_q2": "background ∝ |Q|² (measured units per meV per Å⁻²)",
    "elastic_amp": "elastic-line integrated amplitude (measured units)",
    "elastic_fwhm": "elastic-line FWHM (meV)",
    "res_scale": "energy-resolution width / resins width at the nominal chopper frequency",
}
#: nuisances that enter linearly (solved exactly in the global stage)
LINEAR_NUISANCES = ("scale", "bg_flat", "bg_q2", "elastic_amp")


class ForwardModel:
    """The model map of one dataset as a function of Hamiltonian and nuisance parameters.

    Parameters
    ----------
    model : SpinWaveModel
        Geometry and nominal parameters.
    dataset : FitDataset
    accuracy : float
        Quadrature target of the :class:`PowderPlan` (relative L1 per shell).
    q_resolution : bool
        Apply the |Q| broadening B_Q.
    cache_size : int
        Number of Hamiltonian parameter sets whose modes are kept.
    n_points : int, optional
        Full-sphere directions per shell instead of ``accuracy``.
    oversample : int
        Sub-grid points per narrowest energy bin of the smooth binning.
    plan_factory : callable, optional
        ``plan_factory(model, q_edges=, e_edges=, accuracy=, n_points=)`` → a powder plan (default
        :class:`PowderPlan`); the hook for a faster powder integrator.
    translator : object, optional
        A loaded translation model (``apply(INSMap, rebin=True, temperature_K=)``) replacing the built-in
        resolution (module docstring).
    """

    def __init__(self, model, dataset, *, accuracy: float = 0.05, q_resolution: bool = True, cache_size: int = 64,
                 n_points=None, oversample: int = 8, plan_factory=None, translator=None):
        from ..spinwave.powder_plan import PowderPlan

        self.model = model
        self.dataset = dataset
        m = dataset.measured
        self.q_edges = np.asarray(m.x_axis.edges, float)
        self.e_edges = np.asarray(m.e_axis.edges, float)
        self.q = m.x_axis.centres
        self.e = m.e_axis.centres
        self.accuracy = float(accuracy)
        self.plan_factory = plan_factory or PowderPlan
        self.plan = self.plan_factory(model, q_edges=self.q_edges, e_edges=self.e_edges, accuracy=accuracy,
                                      n_points=n_points)
        self.temperature_K = dataset.temperature_K
        s = dataset.settings
        # resins FWHM on a fine energy grid below Ei (clamped beyond); interpolated per mode energy
        lo, hi = float(self.e_edges[0]), float(self.e_edges[-1])
        top = min(hi, 0.98 * s.ei_meV)
        self._egrid = np.linspace(min(lo, -abs(top)), top, 257)
        self._fwhm = np.asarray(energy_fwhm_meV(s, self._egrid), float)
        self.translator = translator
        if translator is not None:
            # clean map for the translator: one energy-bin FWHM, no |Q| broadening (the translator has its own)
            self._fwhm = np.full_like(self._egrid, float(np.diff(self.e_edges).max()))
            q_resolution = False
            self._translated_zero = self._translate(np.zeros((self.q.size, self.e.size)))
        if q_resolution:
            sig = q_sigma_invA(s, q_invA=self.q[:, None], energy_transfer_meV=np.minimum(self.e, top)[None, :])
            sig = np.broadcast_to(sig, (self.q.size, self.e.size))
            # K[j] (nq_out, nq_in) per energy column j
            self._kq = np.stack([gaussian_kernel(self.q_edges, sig[:, j]) for j in range(self.e.size)])
        else:
            self._kq = None
        de = np.diff(self.e_edges)
        self._de = de
        # sub-grid for the smooth binning: oversample × finer than the narrowest bin, padded by 3 × the
        # widest resolution FWHM (up to res_scale 3) so modes just outside the range broaden into it
        pad = 3.0 * 3.0 * float(self._fwhm.max())
        self._sub_step = float(de.min()) / oversample
        self._sub = np.arange(lo - pad, hi + pad + self._sub_step, self._sub_step)
        self._kernels = {}
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = int(cache_size)
        self.n_diagonalisations = 0

    # --- pieces -----------------------------------------------------------------------------------
    def resolution_fwhm(self, energy_meV, res_scale: float = 1.0):
        """Energy-resolution FWHM (meV) at energy transfer(s) ``energy_meV``."""
        return res_scale * np.interp(energy_meV, self._egrid, self._fwhm)

    def modes(self, values: dict):
        """(E, S) of the plan for Hamiltonian ``values`` (cached; a new set costs one diagonalisation)."""
        key = tuple(sorted((k, float(v)) for k, v in values.items()))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        model = self.model.with_parameters(**values) if values else self.model
        E, S = self.plan.modes(model, workers=1)
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(S))):
            raise InsganInputError(f"model '{self.model.name}' at {values}: the spin-wave spectrum is not finite "
                                   "(unstable ordered structure for these parameters)")
        self.n_diagonalisations += 1
        self._cache[key] = (E, S)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return E, S

    def spin_wave(self, values: dict, res_scale: float = 1.0) -> np.ndarray:
        """Resolution-broadened powder S(|Q|, E) per meV (nq, ne) before scale and backgrounds (cached)."""
        key = (tuple(sorted((k, float(v)) for k, v in values.items())), float(res_scale))
        last = getattr(self, "_last_sw", None)
        if last is not None and last[0] == key:
            return last[1]
        out = self._spin_wave(values, res_scale)
        self._last_sw = (key, out)
        return out

    def _spin_wave(self, values: dict, res_scale: float) -> np.ndarray:
        E, S = self.modes(values)
        a = np.abs(E)
        energies = np.concatenate([a, -a], axis=1)
        w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=self.temperature_K)
        w = w * self.plan.weights[:, None]
        rs = float(res_scale)
        if not (np.isfinite(rs) and rs > 0):
            raise InsganInputError(f"res_scale = {res_scale}: must be > 0")
        out = self._bin(energies, w, rs)
        out[self.q <= 0] = 0.0
        if self._kq is not None:
            out = np.einsum("jab,bj->aj", self._kq, out)
        if self.translator is not None:
            out = self._translate(out) - self._translated_zero
        return out

    def _translate(self, clean: np.ndarray) -> np.ndarray:
        """The translator's noise-free expectation of a clean map (nq, ne) on this grid (NaN -> 0 off its
        coverage: those bins are masked by the data anyway)."""
        m = self.dataset.measured
        sim = m.with_data(np.asarray(clean, float), np.zeros_like(clean, dtype=float), temperature_K=self.temperature_K)
        out = self.translator.apply(sim, rebin=True, temperature_K=self.temperature_K)
        return np.nan_to_num(np.asarray(out.signal, float))

    def check_translator_linear(self, values: dict | None = None, *, rtol: float = 1e-6) -> float:
        """Relative deviation of T(2S) − T(0) from 2 [T(S) − T(0)] at ``values`` (the fit assumes 0);
        raises :class:`InsganInputError` when above ``rtol``."""
        if self.translator is None:
            return 0.0
        sw = self._bin_only(values or {})
        a = self._translate(sw) - self._translated_zero
        b = self._translate(2.0 * sw) - self._translated_zero
        dev = float(np.max(np.abs(b - 2.0 * a)) / max(np.max(np.abs(2.0 * a)), 1e-300))
        if dev > rtol:
            raise InsganInputError(f"translation model {getattr(self.translator, 'source', '')}: not linear in the "
                                   f"simulated map (relative deviation {dev:.2g}); the fit needs a translator that is "
                                   "linear in S plus additive terms (structured model without a residual network)")
        return dev

    def _bin_only(self, values: dict) -> np.ndarray:
        E, S = self.modes(values)
        a = np.abs(E)
        energies = np.concatenate([a, -a], axis=1)
        w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=self.temperature_K)
        out = self._bin(energies, w * self.plan.weights[:, None], 1.0)
        out[self.q <= 0] = 0.0
        return out

    def clean_map(self, values: dict) -> np.ndarray:
        """Clean powder S(|Q|, E) per meV (nq, ne) at Hamiltonian ``values``, as a translator's input: Bose
        factor at the dataset's temperature, each mode binned with a Gaussian of one energy-bin FWHM (the
        widest bin), no resolution and no |Q| broadening (what a structured translator is fitted and applied
        on; its own kernels add the resolution)."""
        E, S = self.modes(values)
        a = np.abs(E)
        energies = np.concatenate([a, -a], axis=1)
        w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=self.temperature_K)
        fwhm = float(np.diff(self.e_edges).max())
        out = self._bin(energies, w * self.plan.weights[:, None], 1.0, kernel=self._fixed_kernel(fwhm))
        out[self.q <= 0] = 0.0
        return out

    def _fixed_kernel(self, fwhm_meV: float) -> np.ndarray:
        key = ("fixed", float(fwhm_meV))
        hit = self._kernels.get(key)
        if hit is None:
            sig = float(fwhm_meV) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
            z = (self.e_edges[None, :] - self._sub[:, None]) / (np.sqrt(2.0) * sig)
            hit = np.diff(0.5 * erf(z), axis=1)
            self._kernels[key] = hit
        return hit

    def _kernel(self, res_scale: float) -> np.ndarray:
        """(n_sub, ne) content of each sub-grid node landing in each output bin, Gaussian of the resolution."""
        hit = self._kernels.get(res_scale)
        if hit is None:
            sig = self.resolution_fwhm(self._sub, res_scale) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
            z = (self.e_edges[None, :] - self._sub[:, None]) / (np.sqrt(2.0) * sig[:, None])
            hit = np.diff(0.5 * erf(z), axis=1)
            if len(self._kernels) > 8:
                self._kernels.pop(next(iter(self._kernels)))
            self._kernels[res_scale] = hit
        return hit

    def _bin(self, energies, weights, res_scale, *, kernel=None):
        """Modes -> (nq, ne) per meV: linear (cloud-in-cell) deposit on the sub-grid, then the Gaussian kernel.

        Unlike a histogram, the deposit moves continuously with the mode energies, so the map — and the
        fit objective — is a continuous, piecewise-smooth function of the parameters.
        """
        h = self._sub_step
        pos = (energies - self._sub[0]) / h
        i0 = np.floor(pos).astype(np.int64)
        f = pos - i0
        n = self._sub.size
        rows = np.broadcast_to(self.plan.rows[:, None], energies.shape)
        hist = np.zeros(self.q.size * n)
        for idx, ww in ((i0, weights * (1.0 - f)), (i0 + 1, weights * f)):
            ok = (idx >= 0) & (idx < n)
            hist += np.bincount((rows[ok] * n + idx[ok]), weights=ww[ok], minlength=hist.size)
        k = self._kernel(res_scale) if kernel is None else kernel
        return hist.reshape(self.q.size, n) @ k / self._de[None, :]

    def elastic(self, fwhm_meV: float) -> np.ndarray:
        """Normalised Gaussian at E = 0 averaged over each energy bin (ne,) per meV."""
        sig = max(float(fwhm_meV), 1e-6) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        cdf = 0.5 * erf(self.e_edges / (np.sqrt(2.0) * sig))
        return np.diff(cdf) / self._de

    def components(self, values: dict, nuisance: dict) -> dict:
        """The basis maps of the linear nuisances (each (nq, ne)) at fixed nonlinear parameters."""
        sw = self.spin_wave(values, nuisance.get("res_scale", 1.0))
        ones = np.ones_like(sw)
        out = {
            "scale": sw,
            "bg_flat": ones,
            "bg_q2": ones * (self.q ** 2)[:, None],
            "elastic_amp": ones * self.elastic(nuisance.get("elastic_fwhm", self.resolution_fwhm(0.0)))[None, :],
        }
        return out

    @property
    def offset(self):
        """The fixed additive part of the map (the translator's T(0); 0 without a translator)."""
        return 0.0 if self.translator is None else self._translated_zero

    def __call__(self, values: dict, nuisance: dict) -> np.ndarray:
        """Model map (nq, ne) in measured units per meV."""
        comp = self.components(values, nuisance)
        return self.offset + sum(float(nuisance.get(k, 0.0)) * comp[k] for k in LINEAR_NUISANCES)

    def default_nuisance(self) -> dict:
        """Starting nuisance values (linear ones are then solved for)."""
        return {"scale": 1.0, "bg_flat": 0.0, "bg_q2": 0.0, "elastic_amp": 0.0,
                "elastic_fwhm": float(self.resolution_fwhm(0.0)), "res_scale": 1.0}

    def solve_linear(self, values: dict, nuisance: dict, names=LINEAR_NUISANCES) -> tuple[dict, float]:
        """Best linear nuisances (weighted least squares, scale ≥ 0) at fixed others; returns (nuisance, χ²)."""
        ds = self.dataset
        comp = self.components(values, nuisance)
        m = ds.mask
        y = ds.measured.signal[m] / ds.measured.error[m]
        fixed = self.offset + sum(float(nuisance.get(k, 0.0)) * comp[k] for k in LINEAR_NUISANCES if k not in names)
        y = y - (fixed[m] / ds.measured.error[m] if np.ndim(fixed) else 0.0)
        A = np.stack([comp[k][m] / ds.measured.error[m] for k in names], axis=1)
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        if "scale" in names and coef[list(names).index("scale")] < 0:
            keep = [k for k in names if k != "scale"]
            coef2, *_ = np.linalg.lstsq(A[:, [list(names).index(k) for k in keep]], y, rcond=None)
            coef = np.array([0.0 if k == "scale" else coef2[keep.index(k)] for k in names])
        out = dict(nuisance)
        out.update({k: float(c) for k, c in zip(names, coef)})
        r = A @ coef - y
        return out, float(r @ r)
