"""Differentiable powder map: torch S(|Q|, E) of a :class:`~.powder_plan.PowderPlan` as a function of parameters.

For fitting: ``DifferentiablePowder(plan, ["J1", "J2"], fwhm_meV=1.5)(torch.tensor([1.0, 0.3]))`` returns
the (nq, ne) map per meV with autograd through the Hamiltonian coefficients, the Cholesky and eigen-
decompositions, the intensities, the Bose factor and smooth Gaussian energy binning: each mode's weight
goes into bin j as Φ((e_{j+1} − E)/σ) − Φ((e_j − E)/σ) (the exact bin integral of a Gaussian centred at
the mode energy E, σ = FWHM(E)/√(8 ln 2), FWHM(E) linearly interpolated from the width function), so the
map is a smooth function of the parameters (histogram binning is not).

Scope and assumptions (checked, with a clear error otherwise):

* float64/complex128 throughout; the plan's quadrature points, weights and symmetry are reused.
* The differentiated parameters enter the exchange and anisotropy matrices linearly (true for every
  library model, where couplings are parameter names); the moment directions and spin lengths are held at
  the plan's values (derivatives at fixed ground state: exact when the structure does not move with the
  parameters; a ``relax`` model's re-minimised directions are not differentiated).
* Eigenvector derivatives use the degenerate-safe form: pairs of eigenvalues closer than ``degenerate_tol``
  (relative) get no 1/(λᵢ − λⱼ) term. The map depends on a degenerate pair only through its common energy
  and the summed intensity, which that rotation leaves unchanged, so gradients stay finite and correct
  there (plain ``torch.linalg.eigh`` gives inf/NaN at exact degeneracies, e.g. the two modes of a Néel AFM).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import InsganInputError
from .bose import KB_MEV_PER_K
from .broadening import FWHM_TO_SIGMA, resolve_width
from .hamiltonian import MU_B_MEV_PER_T, local_frames, rotation_matrices
from .intensity import GAMMA_R0_SQUARED_MBARN

__all__ = ["DifferentiablePowder", "safe_eigh"]


def _safe_eigh_class():
    import torch

    class SafeEigh(torch.autograd.Function):
        """Hermitian eigen-decomposition whose backward drops the terms of (near-)degenerate pairs."""

        @staticmethod
        def forward(ctx, M, tol):
            lam, U = torch.linalg.eigh(M)
            ctx.save_for_backward(lam, U)
            ctx.tol = tol
            return lam, U

        @staticmethod
        def backward(ctx, g_lam, g_U):
            lam, U = ctx.saved_tensors
            Uh = U.mH
            inner = torch.zeros_like(U) if g_U is None else Uh @ g_U
            diff = lam.unsqueeze(-2) - lam.unsqueeze(-1)  # [i, j] = λ_j − λ_i
            scale = lam.abs().amax(dim=-1, keepdim=True).unsqueeze(-1).clamp_min(1e-300)
            F = torch.where(diff.abs() > ctx.tol * scale, 1.0 / torch.where(diff == 0, torch.ones_like(diff), diff),
                            torch.zeros_like(diff))
            G = inner * F.to(inner.dtype)
            if g_lam is not None:
                G = G + torch.diag_embed(g_lam.to(G.dtype))
            gM = U @ G @ Uh
            return 0.5 * (gM + gM.mH), None

    return SafeEigh


_SAFE = None


def safe_eigh(M, tol: float = 1e-9):
    """``torch.linalg.eigh`` with the degenerate-safe backward (see the module notes)."""
    global _SAFE
    if _SAFE is None:
        _SAFE = _safe_eigh_class()
    return _SAFE.apply(M, tol)


class DifferentiablePowder:
    """The powder map of a plan as a differentiable torch function of named model parameters.

    Parameters
    ----------
    plan : PowderPlan
        Quadrature, grid, form factor and units (its dtype does not matter: this path is float64).
    parameters : sequence of str
        Model parameters to differentiate (they must enter exchange/anisotropy matrices linearly).
    temperature_K : float
    fwhm_meV : float, optional
        Constant Gaussian FWHM (meV); or give ``width_function`` (E meV -> FWHM meV). One is required.
    degenerate_tol : float
        Relative eigenvalue gap below which a pair counts as degenerate in the backward pass.
    fixed_directions : bool
        Allow parameters that move the relaxed moments and differentiate at the plan's moment directions
        (otherwise such a parameter raises :class:`InsganInputError`).

    Call with a 1-D float64 tensor of parameter values (same order); returns the (nq, ne) map per meV.
    """

    def __init__(self, plan, parameters: Sequence[str], *, temperature_K: float = 0.0, fwhm_meV=None,
                 width_function: Callable | None = None, degenerate_tol: float = 1e-9,
                 fixed_directions: bool = False):
        import torch

        self.fixed_directions = bool(fixed_directions)
        self.torch = torch
        self.plan = plan
        self.names = list(parameters)
        model = plan.model
        unknown = sorted(set(self.names) - set(model.parameters))
        if unknown:
            raise InsganInputError(f"DifferentiablePowder: unknown parameter(s) {', '.join(unknown)}; model "
                                   f"'{model.name}' has: {', '.join(sorted(model.parameters))}")
        width = resolve_width(fwhm_meV, width_function)
        if width is None:
            raise InsganInputError("DifferentiablePowder: give fwhm_meV or width_function (> 0): the smooth "
                                   "Gaussian binning is what makes the map differentiable")
        self.temperature_K = float(temperature_K)
        self.tol = float(degenerate_tol)
        self.p0 = np.array([model.parameters[k] for k in self.names], dtype=float)
        r = plan.resolved
        self._jd0, self._djd = self._exchange_jacobian(model)
        frames = local_frames(r.directions)
        self._u = frames[:, :, 0] + 1j * frames[:, :, 1]
        self._v = frames[:, :, 2]
        dt, ct = torch.float64, torch.complex128
        p = plan.prep
        n = p.n
        self.n = n
        self._src, self._dst = self._bond_sites
        S = r.spins
        self._pref = torch.as_tensor(0.5 * np.sqrt(S[self._src] * S[self._dst]), dtype=dt)
        self._ui = torch.as_tensor(self._u[self._src], dtype=ct)
        self._uj = torch.as_tensor(self._u[self._dst], dtype=ct)
        self._vi = torch.as_tensor(self._v[self._src], dtype=dt)
        self._vj = torch.as_tensor(self._v[self._dst], dtype=dt)
        self._S_dst = torch.as_tensor(S[self._dst], dtype=dt)
        self._zeeman = torch.as_tensor(MU_B_MEV_PER_T * r.g * (self._v @ r.field_T), dtype=dt)
        d = 2 * n
        i, j = self._src, self._dst
        self._idx = [torch.as_tensor(x) for x in (i * d + j, i * d + n + j, (n + j) * d + i, (n + i) * d + n + j)]
        self._src_t = torch.as_tensor(self._src)
        w = np.concatenate([np.sqrt(S / 2.0)[None, :] * self._u.T.conj(), np.sqrt(S / 2.0)[None, :] * self._u.T], axis=1)
        wf = np.concatenate([plan._site_f, plan._site_f], axis=1)
        self._blocks = []
        for blk in plan.blocks:
            phases = torch.as_tensor(np.exp(2j * np.pi * (blk.q_rlu @ self._delta.T)), dtype=ct)
            rows = []
            for gauge in blk.gauges:
                ww = w[None] * wf[:, None, :]
                rows.append(ww if gauge is None else ww * gauge[None, None, :])
            W = torch.as_tensor(np.concatenate(rows, axis=1), dtype=ct)
            kernels = [None if k is None else torch.as_tensor(k, dtype=ct) for k in blk.shifts]
            self._blocks.append((phases, W, kernels))
        self._q_hat = torch.as_tensor(plan._q_hat, dtype=ct)
        self._g = torch.cat([torch.ones(n, dtype=dt), -torch.ones(n, dtype=dt)])
        self._weights = torch.as_tensor(plan.weights, dtype=dt)
        self._rows = torch.as_tensor(plan.rows)
        self._nq = plan.q_axis.centres.size
        edges = plan.e_axis.edges
        self._edges = torch.as_tensor(np.array(edges), dtype=dt)
        self._de = torch.as_tensor(np.diff(edges), dtype=dt)
        lo, hi = float(edges[0]), float(edges[-1])
        span = hi - lo
        self._wgrid = np.linspace(lo - span, hi + span, 4097)
        self._wtab = torch.as_tensor(np.asarray(width(np.clip(self._wgrid, lo, hi)), dtype=float) * FWHM_TO_SIGMA, dtype=dt)
        if not torch.all(self._wtab > 0):
            raise InsganInputError("DifferentiablePowder: the width function must give FWHM > 0 meV on the energy range")
        self._mbarn = plan.units == "mbarn"

    # --- parameters -> exchange matrices ----------------------------------------------------------
    def _directed(self, resolved):
        """Directed bond list (both directions + every site's anisotropy) and the matrices Jd (m, 3, 3)."""
        r = resolved
        Jm = r.bond_J
        delta = r.bond_vectors
        if r.incommensurate and len(Jm):
            K = rotation_matrices(r.n_axis, 2.0 * np.pi * delta @ r.k)
            Jm = 0.5 * (Jm @ K + K @ Jm)
        sites = np.arange(r.n_sites)
        A = r.anisotropy
        Jd = np.concatenate([Jm, np.transpose(Jm, (0, 2, 1)), A, np.transpose(A, (0, 2, 1))]).reshape(-1, 3, 3)
        src = np.concatenate([r.bond_i, r.bond_j, sites, sites]).astype(int)
        dst = np.concatenate([r.bond_j, r.bond_i, sites, sites]).astype(int)
        dvec = np.concatenate([delta, -delta, np.zeros((2 * r.n_sites, 3))]).reshape(-1, 3)
        return src, dst, dvec, Jd

    def _exchange_jacobian(self, model):
        base = self.plan.resolved
        src, dst, dvec, jd0 = self._directed(base)
        self._bond_sites = (src, dst)
        self._delta = dvec
        grads = []
        for k, name in enumerate(self.names):
            h = 1e-3 * max(1.0, abs(self.p0[k]))
            rp = model.with_parameters(**{name: self.p0[k] + h}).resolve()
            self._check_structure(base, rp, name)
            jp = self._directed(rp)[3]
            jm = self._directed(model.with_parameters(**{name: self.p0[k] - h}).resolve())[3]
            j2 = self._directed(model.with_parameters(**{name: self.p0[k] + 2 * h}).resolve())[3]
            dj = (jp - jm) / (2 * h)
            if not np.allclose(j2 - jd0, 2 * h * dj, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(jd0).max())):
                raise InsganInputError(
                    f"DifferentiablePowder: parameter '{name}' does not enter the exchange/anisotropy matrices "
                    "linearly (or changes the structure); the differentiable path supports linear couplings"
                )
            grads.append(dj)
        return jd0, np.array(grads).reshape(len(self.names), -1, 3, 3)

    def _check_structure(self, base, other, name):
        fixed = {"spin lengths": (base.spins, other.spins), "site positions": (base.positions, other.positions),
                 "g factors": (base.g, other.g), "field": (base.field_T, other.field_T), "k": (base.k, other.k),
                 "rotation axis": (base.n_axis, other.n_axis)}
        for what, (x, y) in fixed.items():
            if x.shape != y.shape or not np.allclose(x, y, rtol=0, atol=1e-12):
                raise InsganInputError(f"DifferentiablePowder: parameter '{name}' changes the {what}; only parameters "
                                       "of the exchange and anisotropy matrices can be differentiated")
        if not self.fixed_directions and not np.allclose(base.directions, other.directions, rtol=0, atol=1e-9):
            raise InsganInputError(
                f"DifferentiablePowder: parameter '{name}' moves the ordered moments (a 'relax' model); pass "
                "fixed_directions=True to differentiate at fixed moment directions"
            )

    # --- forward ----------------------------------------------------------------------------------
    def _coefficients(self, values):
        torch = self.torch
        jd0 = torch.as_tensor(self._jd0, dtype=torch.float64)
        djd = torch.as_tensor(self._djd, dtype=torch.float64)
        Jd = jd0 + torch.einsum("k,kmab->mab", values - torch.as_tensor(self.p0, dtype=torch.float64), djd)
        Jc = Jd.to(torch.complex128)
        a = self._pref * torch.einsum("ma,mab,mb->m", self._ui, Jc, self._uj.conj())
        b = self._pref * torch.einsum("ma,mab,mb->m", self._ui, Jc, self._uj)
        cv = self._S_dst * torch.einsum("ma,mab,mb->m", self._vi, Jd, self._vj)
        c = torch.zeros(self.n, dtype=torch.float64).index_add(0, self._src_t, cv) - self._zeeman
        return a, b, c

    def _sigma(self, E):
        torch = self.torch
        grid = torch.as_tensor(self._wgrid, dtype=torch.float64)
        x = E.clamp(float(grid[0]), float(grid[-1]))
        step = float(grid[1] - grid[0])
        pos = (x - float(grid[0])) / step
        i0 = pos.detach().floor().long().clamp(0, grid.numel() - 2)
        f = pos - i0.to(pos.dtype)
        return self._wtab[i0] * (1 - f) + self._wtab[i0 + 1] * f

    def __call__(self, values):
        """The (nq, ne) powder map per meV (float64 tensor) at parameter ``values`` (P,)."""
        torch = self.torch
        values = torch.as_tensor(values, dtype=torch.float64)
        if values.shape != (len(self.names),):
            raise InsganInputError(f"DifferentiablePowder: expected {len(self.names)} values ({', '.join(self.names)}), "
                                   f"got shape {tuple(values.shape)}")
        a, b, c = self._coefficients(values)
        n, d = self.n, 2 * self.n
        h0 = torch.cat([-c, -c]).to(torch.complex128)
        energies, weights = [], []
        for phases, W, kernels in self._blocks:
            N = phases.shape[0]
            flat = torch.zeros((N, d * d), dtype=torch.complex128)
            flat = flat.index_add(1, self._idx[0], phases * a)
            flat = flat.index_add(1, self._idx[1], phases * b)
            flat = flat.index_add(1, self._idx[2], (phases * b).conj())
            flat = flat.index_add(1, self._idx[3], phases * a.conj())
            h = flat.reshape(N, d, d) + torch.diag_embed(h0)
            L, info = torch.linalg.cholesky_ex(h)
            if bool((info != 0).any()):
                raise InsganInputError("DifferentiablePowder: h(Q) is not positive definite at some quadrature point "
                                       "(unstable structure or a Goldstone mode exactly on a point)")
            gc = self._g.to(torch.complex128)
            M = L.mH @ (gc[:, None] * L)
            lam, U = safe_eigh(M, self.tol)
            Y = ((W * gc) @ L) @ U
            Y = Y * (torch.sign(lam) / torch.sqrt(lam.abs())).to(Y.dtype)[:, None, :]
            S = torch.zeros(lam.shape, dtype=torch.float64)
            for r, kern in enumerate(kernels):
                Yr = Y[:, 3 * r: 3 * r + 3]
                if kern is None:
                    par = torch.einsum("na,nam->nm", self._q_hat, Yr).abs() ** 2
                    S = S + ((Yr.abs() ** 2).sum(1) - par) / n
                else:
                    S = S + torch.einsum("nam,nab,nbm->nm", Yr.conj(), kern, Yr).real / n
            energies.append(lam)
            weights.append(S)
        E = torch.cat(energies, dim=1).abs()
        S = torch.cat(weights, dim=1)
        if self._mbarn:
            S = S * GAMMA_R0_SQUARED_MBARN
        if self.temperature_K > 0:
            nb = 1.0 / torch.expm1(E / (KB_MEV_PER_K * self.temperature_K))
            loss_w, gain_w = nb + 1.0, nb
        else:
            loss_w, gain_w = torch.ones_like(E), torch.zeros_like(E)
        Es = torch.cat([E, -E], dim=1)
        Ws = 0.5 * torch.cat([S * loss_w, S * gain_w], dim=1) * self._weights[:, None]
        sigma = self._sigma(Es)
        z = (self._edges[None, None, :] - Es[:, :, None]) / (np.sqrt(2.0) * sigma[:, :, None])
        cdf = 0.5 * torch.special.erf(z)
        per_point = torch.einsum("nm,nmj->nj", Ws, cdf[:, :, 1:] - cdf[:, :, :-1])
        out = torch.zeros((self._nq, per_point.shape[1]), dtype=torch.float64).index_add(0, self._rows, per_point)
        return out / self._de[None, :]
