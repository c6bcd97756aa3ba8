"""Zone-folded powder averaging: one diagonalisation at k serves one Q = k + G in every |Q| bin.

A powder |Q| bin is the average of S(Q, E) over the Q with |Q| in the bin. The points k + G, with k from a
uniform point set of the model's Brillouin zone and G on its reciprocal lattice, fill reciprocal space
uniformly. Because the bond vectors are full site-to-site vectors,

    h(k + G) = D h(k) D†,   D = diag(d, d),   d_i = exp(−2πi G·r_i)

(r_i fractional site positions), the modes at k + G have the energies of those at k and the
para-unitary matrix V(k + G) = D V(k): one para-diagonalisation at k gives the intensities at every
k + G from per-site phases (a small matrix product), without another diagonalisation. For a single-k
structure in the rotating frame the blocks Q − k, Q, Q + k are (k₀ − k) + G, k₀ + G and
(k₀ − k) + (G + 2k) when 2k is a reciprocal-lattice vector (two diagonalisations per grid point), or
(k₀ + k) + G for a helix (three), as in :class:`~insgan_core.spinwave.powder_plan.PowderPlan`.

What limits the accuracy is the number of *distinct* energy sets, i.e. of grid points: the ~10³ points
k + G of one k share its energies, so using all of them in a bin barely helps (measured on Bi2Fe4O9 with
2,304 points, 2 meV FWHM: 4.1 % relative L1 with all 2.9 M samples, 5.0 % with one per (k, bin), 0.27 M).
So each point contributes one sample to each |Q| bin it reaches: the k + G
nearest to the bin centre, weighted by the bin's share of that k (Σ |Q|⁻² over the k + G in the bin,
normalised per bin — the |Q|⁻² makes the bin average uniform in |Q| across the bin, the quantity a
measured |Q| histogram holds). The direction methods instead evaluate the sphere at the bin centre;
the nearest-to-centre choice keeps the two within second order of the bin width.

Points: by default the R₃ Kronecker sequence (:func:`kronecker_points`), a low-discrepancy set whose
projections on each reciprocal axis are all distinct (a chain or layer magnet still gets N distinct
energies; a product grid N_a × N_b × N_c gives a chain only N_a) and whose points are neither Γ, ±k nor
symmetry images of each other (which share energies); measured on Bi2Fe4O9 it reaches a given error with
~2× fewer points than a product grid with a generic offset (:func:`shifted_grid`, still available).
Every sample stands for its antipode too (the ±Q pairing of :mod:`.powder_plan`: half the weight of each
mode at +|ω| and half at −|ω|, each with its Bose factor). Bins reached by fewer than ``min_k`` points
(the lowest |Q|) use a direction :class:`PowderPlan` on the bin centre.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data.grid import check_edges
from ..errors import InsganInputError
from .bose import bose_factor
from .broadening import broaden_fine, fine_edges, fine_index, resolve_width
from .calculator import SpinWaveCalculator
from .formfactor import form_factor as _form_factor
from .hamiltonian import prepare
from .intensity import GAMMA_R0_SQUARED_MBARN, check_units
from .model import SpinWaveModel
from .parallel import map_chunks, resolve_workers, single_blas_thread, single_torch_thread
from .solver import build_hamiltonian, colpa, helical_average_adjoint, lab_frame_kernels

__all__ = ["ZonePlan", "kronecker_points", "points_for_accuracy", "shifted_grid", "grid_for_accuracy",
           "predicted_error"]

# Error model of the zone method, relative L1 of a whole map ≈ _C · N_k^(−_ALPHA) with N_k Kronecker points,
# measured on the library Bi2Fe4O9 model on the MERLIN grid (140 × 120) at 5 K with 2 meV FWHM against the mean
# of two 20,000-direction references (benchmarks/bench_spinwave_speed.py): N_k = 1,000 → 0.049, 2,304 → 0.029,
# 5,000 → 0.021, 10,400 → 0.014, 23,000 → 0.0104; the model is fitted through the last point (conservative
# for the others).
_C = 1.58
_ALPHA = 0.5
_MIN_K = 400
_DEFAULT_SHIFT = (0.6180339887, 0.4142135624, 0.7320508076)


def shifted_grid(n_grid, shift=None) -> np.ndarray:
    """A uniform grid of the Brillouin zone with a generic offset, r.l.u., shape (N_a N_b N_c, 3).

    k = ((i + s_a)/N_a − ½, …), i = 0 … N_a − 1. The default offset s = (0.6180, 0.4142, 0.7321) (golden
    ratio, √2, √3 fractional parts) is far from 0 and ½, so no point sits at Γ, ±k or a zone-boundary
    special point, and no two points are images under a mirror or a rotation of the lattice.
    """
    n = np.asarray(n_grid).reshape(-1)
    if n.size != 3 or not np.all(n == np.round(n)) or np.any(n < 1):
        raise InsganInputError(f"zone grid = {np.asarray(n_grid).tolist()}; expected three integers ≥ 1 "
                               "(points along a*, b*, c*)")
    n = n.astype(int)
    s = np.array(_DEFAULT_SHIFT if shift is None else shift, dtype=float).reshape(3)
    axes = [(np.arange(m) + s[a]) / m - 0.5 for a, m in enumerate(n)]
    g = np.meshgrid(*axes, indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


def kronecker_points(n: int, shift=None) -> np.ndarray:
    """``n`` points of the R₃ Kronecker sequence in the Brillouin zone, r.l.u., shape (n, 3).

    k_j = frac(s + j·(1/φ, 1/φ², 1/φ³)) − ½ with φ = 1.22074… the real root of x⁴ = x + 1 (M. Roberts' generalised
    golden ratio): a low-discrepancy point set for any n whose projections on every axis are n distinct
    values — so a model that disperses along one or two axes only (chains, layers) still sees n distinct
    energies, which a product grid N_a × N_b × N_c does not (N_a along a chain).
    """
    n = int(n)
    if n < 1:
        raise InsganInputError(f"zone points = {n}; expected at least 1 Brillouin-zone point")
    phi = 1.2207440845557132
    alpha = np.array([1.0 / phi, 1.0 / phi ** 2, 1.0 / phi ** 3])
    s = np.array(_DEFAULT_SHIFT if shift is None else shift, dtype=float).reshape(3)
    return np.mod(s[None, :] + np.arange(n)[:, None] * alpha[None, :], 1.0) - 0.5


def points_for_accuracy(accuracy: float) -> int:
    """Brillouin-zone points for a target relative L1 ``accuracy`` of the map at ~2 meV FWHM: (1.58/accuracy)²
    (accuracy 0.03 → 2,774; 0.02 → 6,241; 0.01 → 24,964), from the error model measured on Bi2Fe4O9 (module
    constants). Unbroadened histograms converge more slowly (0.5 meV bins: 3–4 × the error)."""
    if not (np.isfinite(accuracy) and accuracy > 0):
        raise InsganInputError(f"zone method: accuracy = {accuracy}; give a positive relative L1 target, e.g. 0.03")
    return int(np.ceil((_C / float(accuracy)) ** (1.0 / _ALPHA)))


def grid_for_accuracy(lattice, accuracy: float) -> np.ndarray:
    """Grid divisions (3,) for a target relative L1 ``accuracy`` of the map (2 meV-like broadening).

    :func:`points_for_accuracy` points divided along a*, b*, c* in proportion to their lengths (for the
    ``grid`` option; the default Kronecker set converges faster and suits low-dimensional models).
    """
    n_total = points_for_accuracy(accuracy)
    lengths = np.linalg.norm(lattice.reciprocal, axis=1)
    scale = (n_total / np.prod(lengths)) ** (1.0 / 3.0)
    return np.maximum(1, np.round(scale * lengths)).astype(int)


def predicted_error(n_k: int) -> float:
    """Relative L1 error of a map (2 meV FWHM) from ``n_k`` zone points by the calibrated model 1.58 / sqrt(n_k)."""
    return float(_C * max(int(n_k), 1) ** (-_ALPHA))


class ZonePlan:
    """Parameter-independent part of zone-folded powder maps of one model geometry on one (|Q|, E) grid.

    Parameters
    ----------
    model : SpinWaveModel
        Defines the geometry (lattice, sites, bonds, k); only parameter values may change later.
    q_edges, e_edges : array_like
        |Q| (Å⁻¹) and energy (meV) bin edges.
    accuracy : float
        Target relative L1 error of the map at instrument-like broadening (~2 meV FWHM); sets the number of
        zone points (:func:`points_for_accuracy`) unless ``n_points`` or ``grid`` is given.
    n_points : int, optional
        Number of points of the (default) Kronecker point set (:func:`kronecker_points`).
    grid : sequence of 3 ints, optional
        A product grid with these divisions along a*, b*, c* instead (:func:`shifted_grid`).
    shift : sequence of 3 floats, optional
        Grid offset in units of a grid step (default: the generic offset of :func:`shifted_grid`).
    min_k : int
        |Q| bins reached by fewer zone points are computed by a direction plan with min_k directions
        (full sphere; min_k/2 computed with the ±Q pairing).
    form_factor : bool
    units : {"spin", "mbarn"}
    dtype : {"float32", "float64"}
        Precision of the phase/intensity stage (the diagonalisations are always float64).
    device : str
        torch device of the phase/intensity stage (``"cpu"``, ``"cuda"``).
    chunk : int
        Grid points per batch of the intensity stage.

    Attributes
    ----------
    grid : ndarray (3,) or None   divisions of a product grid (None: Kronecker points)
    k_points : ndarray (Nk, 3)    zone points, r.l.u.
    k_per_bin : ndarray (nq,)     grid points reaching each |Q| bin
    zone_bins : ndarray (nq,)     bool, bins computed by folding
    low_plan : PowderPlan or None direction plan of the other bins
    """

    def __init__(self, model: SpinWaveModel, *, q_edges, e_edges, accuracy: float = 0.03, grid=None, shift=None,
                 min_k: int = _MIN_K, form_factor: bool = True, units: str = "spin", dtype: str = "float32",
                 device: str = "cpu", chunk: int = 256, band: float = 1.0, n_points: int | None = None):
        import torch

        if not isinstance(model, SpinWaveModel):
            raise InsganInputError(f"ZonePlan: expected a SpinWaveModel, got {type(model).__name__}")
        if dtype not in ("float32", "float64"):
            raise InsganInputError(f"ZonePlan: dtype = {dtype!r}; expected 'float32' or 'float64'")
        self.q_axis = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
        self.e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
        self.units = check_units(units)
        self.form_factor = bool(form_factor)
        self.accuracy = float(accuracy)
        self.model = model
        self.torch, self.dtype, self.device = torch, dtype, torch.device(device)
        self.chunk = max(1, int(chunk))
        if not (0.0 < float(band) <= 1.0):
            raise InsganInputError(f"ZonePlan: band = {band}; expected a fraction of the |Q| bin in (0, 1]")
        self.band = float(band)
        calc = SpinWaveCalculator(model, workers=1)
        self.resolved, self.prep = calc.resolved, calc.prep
        lat = self.resolved.lattice
        if grid is None:  # default: a Kronecker point set sized for the accuracy
            self.grid = None
            self.k_points = kronecker_points(points_for_accuracy(accuracy) if n_points is None else n_points, shift)
        else:
            self.grid = np.asarray(grid, dtype=int)
            self.k_points = shifted_grid(self.grid, shift)
        self._setup_blocks()
        self._setup_samples()
        self.k_per_bin = (self._gidx >= 0).sum(axis=0)
        self.zone_bins = self.k_per_bin >= int(min_k)
        self.low_plan = None
        if not np.all(self.zone_bins):
            from .powder_plan import PowderPlan

            counts = np.where(self.zone_bins, 0, int(min_k))
            self.low_plan = PowderPlan(model, q_edges=self.q_axis.edges, e_edges=self.e_axis.edges, n_points=counts,
                                       form_factor=form_factor, units=units, device=device)
        self._geometry = _signature(self.resolved, self.prep)

    # --- static geometry --------------------------------------------------------------------------
    def _setup_blocks(self):
        """Diagonalisation shifts and, per shift, its row groups (gauge vector or None, kernel name)."""
        p = self.prep
        if not p.incommensurate:
            self.blocks = [(np.zeros(3), [(None, "perp")])]
        elif not p.helical:  # Q + k = (Q − k) + 2k shares the diagonalisation at k₀ − k
            gauge = np.exp(-2j * np.pi * (self.resolved.positions @ np.round(2.0 * p.k)))
            self.blocks = [(-p.k, [(None, "K1"), (gauge, "K1*")]), (np.zeros(3), [(None, "K2")])]
        else:
            self.blocks = [(-p.k, [(None, "K1")]), (np.zeros(3), [(None, "K2")]), (p.k, [(None, "K1*")])]

    def _setup_samples(self):
        """Per (grid point, bin): the G of the k + G nearest the bin centre, |Q|, Q̂ and the weight."""
        lat, edges = self.resolved.lattice, self.q_axis.edges
        recip = lat.reciprocal
        nq, nk = edges.size - 1, len(self.k_points)
        centres = self.q_axis.centres
        half = 0.5 * np.diff(edges)
        k_cart = self.k_points @ recip
        reach = float(edges[-1]) + float(np.linalg.norm(k_cart, axis=1).max())
        hmax = np.ceil(reach * np.linalg.norm(lat.basis, axis=1) / (2.0 * np.pi)).astype(int)
        hkl = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in hmax], indexing="ij"), axis=-1).reshape(-1, 3)
        keep = np.linalg.norm(hkl @ recip, axis=1) <= reach
        self.g_rlu = hkl[keep].astype(float)
        g_cart = self.g_rlu @ recip
        # d_i(G) = exp(−2πi G·r_i): the gauge of h(k + G) = D h(k) D†
        self._d = np.exp(-2j * np.pi * (self.g_rlu @ self.resolved.positions.T))
        self._gidx = np.full((nk, nq), -1, dtype=np.int64)
        self._w = np.zeros((nk, nq))
        self._q_cart = np.zeros((nk, nq, 3))
        g2 = np.sum(g_cart ** 2, axis=1)
        step = float(edges[1] - edges[0])
        uniform = bool(np.allclose(np.diff(edges), step, rtol=1e-9, atol=0))
        lo2, hi2 = float(edges[0]) ** 2, float(edges[-1]) ** 2
        for start in range(0, nk, 128):
            kc = k_cart[start:start + 128]
            q2 = g2[None, :] + 2.0 * (kc @ g_cart.T) + np.sum(kc ** 2, axis=1)[:, None]  # |k + G|², (c, nG)
            ki, gi = np.nonzero((q2 >= lo2) & (q2 < hi2) & (q2 > 0))
            qv = np.sqrt(q2[ki, gi])
            if uniform:
                shell = np.clip(((qv - edges[0]) / step).astype(np.int64), 0, nq - 1)
                shell += (qv >= edges[np.minimum(shell + 1, nq)]).astype(np.int64)  # round-off at the edges
                shell -= (qv < edges[shell]).astype(np.int64)
                shell = np.clip(shell, 0, nq - 1)
            else:
                shell = np.clip(np.searchsorted(edges, qv, side="right") - 1, 0, nq - 1)
            if self.band < 1.0:  # only the central part of each bin: closer to the sphere at the centre
                inner = np.abs(qv - centres[shell]) <= self.band * half[shell]
                ki, gi, qv, shell = ki[inner], gi[inner], qv[inner], shell[inner]
            seg = ki * nq + shell
            wseg = np.bincount(seg, weights=qv ** -2.0, minlength=len(kc) * nq)
            # nearest sample to the bin centre per (k, bin) segment without a sort: the minimum over the
            # segment of (quantised distance, G index) packed into one integer
            dist = np.minimum(np.abs(qv - centres[shell]) / half[shell], 1.0)
            key = (dist * 2.0 ** 40).astype(np.int64) * len(g_cart) + gi
            best = np.full(len(kc) * nq, np.iinfo(np.int64).max)
            np.minimum.at(best, seg, key)
            hit = best < np.iinfo(np.int64).max
            seg_hit = np.nonzero(hit)[0]
            gsel = best[hit] % len(g_cart)
            rows, cols = start + seg_hit // nq, seg_hit % nq
            self._gidx[rows, cols] = gsel
            self._w[rows, cols] = wseg[seg_hit]
            self._q_cart[rows, cols] = g_cart[gsel] + k_cart[rows]
        total = self._w.sum(axis=0)
        self._w /= np.where(total > 0, total, 1.0)[None, :]
        q_abs = np.linalg.norm(self._q_cart, axis=2)
        self._q_hat = self._q_cart / np.where(q_abs > 0, q_abs, 1.0)[:, :, None]
        # site-factor groups: sites with one ion and g share a form factor, so each group is one product
        r = self.resolved
        keys = [(ion if self.form_factor else None, float(g)) for ion, g in zip(r.ions, r.g)]
        self._groups = [np.array([i for i, kk in enumerate(keys) if kk == key]) for key in dict.fromkeys(keys)]
        self._f = np.ones((nk, nq, len(self._groups)))
        for j, key in enumerate(dict.fromkeys(keys)):
            ion, g = key
            if ion:
                self._f[:, :, j] = _form_factor(ion, q_abs.ravel(), g=g).reshape(nk, nq)
            if self.units == "mbarn":
                self._f[:, :, j] *= g / 2.0

    def describe(self) -> dict:
        """Provenance: grid, diagonalisations, bins done by the direction plan."""
        kz = self.k_per_bin[self.zone_bins]
        return {
            "method": "zone-folded k + G on a shifted uniform grid; one sample per (k, |Q| bin)",
            "accuracy_target": self.accuracy,
            "grid": "R3 Kronecker sequence" if self.grid is None else [int(x) for x in self.grid],
            "k_points": int(len(self.k_points)),
            "diagonalisations": int(len(self.k_points) * len(self.blocks)
                                    + (self.low_plan.n_points if self.low_plan is not None else 0)),
            "k_points_per_bin": [int(kz.min()), int(kz.max())] if kz.size else [0, 0],
            "direction_plan_bins": int((~self.zone_bins).sum()),
            "dtype": self.dtype,
        }

    # --- per parameter set ------------------------------------------------------------------------
    def _prepare(self, model):
        if model is None:
            return self.resolved, self.prep
        resolved = model.resolve()
        prep = prepare(resolved)
        if _signature(resolved, prep) != self._geometry:
            raise InsganInputError(f"ZonePlan: model '{model.name}' has a different geometry (lattice, sites, k, "
                                   "ions or g) than the plan; build a new ZonePlan for it")
        return resolved, prep

    def _phases(self, gauge, sites, gidx):
        """d_i(G) (× gauge_i) of sites ``sites`` at the grid's sample G indices ``gidx`` (c, nq)."""
        d = self._d[:, sites] if gauge is None else self._d[:, sites] * gauge[None, sites]
        return d[gidx]

    def _tensor(self, key, make, dtype):
        cache = self.__dict__.setdefault("_tensors", {})
        if key not in cache:
            cache[key] = self.torch.as_tensor(make(), dtype=dtype, device=self.device)
        return cache[key]

    def modes(self, model=None, *, workers: int | None = None):
        """Energies and weighted S⊥ of every (grid point, bin) sample, per diagonalisation block.

        Returns
        -------
        list of (energies (Nk, M) meV signed, weights (Nk, nq, M))
            One entry per block; weights are S⊥ per site × the sample's bin weight (each bin's weights
            sum to the bin average over the grid), no Bose factor; zero where k reaches no bin.

        Notes
        -----
        With A^α_{i,m}(k) = w^α_i V_{im}(k) + w^α_{n+i} V_{n+i,m}(k), the amplitude at Q = k + G is
        Y^α_m(Q) = Σ_i f_i(|Q|) d_i(G) A^α_{i,m}(k) (a batched (nq × n) @ (n × 3M) product per k), and
        S⊥_m = Re Y†K(1 − Q̂Q̂ᵀ)Y / n with K = 1 (commensurate) or the rotating-frame kernels K₁, K₁*, K₂
        (helix-averaged for a helix), as :class:`SpinWaveCalculator`.
        """
        torch = self.torch
        _, prep = self._prepare(model)
        workers = resolve_workers(workers) if self.device.type == "cpu" else 1
        n = prep.n
        cdt = torch.complex64 if self.dtype == "float32" else torch.complex128
        rdt = torch.float32 if self.dtype == "float32" else torch.float64
        dev = self.device
        # site-resolved spin weights: row α·n + i holds site i's two boson components of S^α
        w_sites = np.zeros((3 * n, 2 * n), dtype=complex)
        for a in range(3):
            w_sites[a * n + np.arange(n), np.arange(n)] = prep.w[a, :n]
            w_sites[a * n + np.arange(n), n + np.arange(n)] = prep.w[a, n:]
        out = []
        nk, nq = self._gidx.shape
        K1, K2 = lab_frame_kernels(prep.n_axis)
        kernels = {"perp": np.eye(3, dtype=complex), "K1": K1, "K1*": K1.conj(), "K2": K2}
        for b, (shift, groups) in enumerate(self.blocks):
            q = self.k_points + shift[None, :]
            parts = [q[i:i + self.chunk] for i in range(0, nk, self.chunk)]
            with single_blas_thread():
                sol = map_chunks(lambda qq: colpa(build_hamiltonian(prep, qq), q_rlu=qq, w=w_sites[None],
                                                  scale=prep.scale), parts, workers=workers)
            lam = np.concatenate([x[0] for x in sol])
            Ys = np.concatenate([x[1] for x in sol])
            M = lam.shape[1]
            S_all = np.zeros((nk, nq, M))

            def work(start, groups=groups, Ys=Ys, M=M, b=b):
                sl = slice(start, min(nk, start + self.chunk))
                c = sl.stop - sl.start
                A = torch.as_tensor(Ys[sl], dtype=cdt, device=dev).reshape(c, 3, n, M)
                gidx = np.maximum(self._gidx[sl], 0)
                qh = self._tensor(("qh", start), lambda: self._q_hat[sl], rdt).to(cdt)
                f = self._tensor(("f", start), lambda: self._f[sl], rdt)
                S = torch.zeros((c, nq, M), dtype=rdt, device=dev)
                for r, (gauge, kind) in enumerate(groups):
                    if prep.helical:
                        Y = 0.0
                        for j, sites in enumerate(self._groups):
                            D = torch.as_tensor(self._phases(gauge, sites, gidx), dtype=cdt, device=dev)
                            Aj = A[:, :, sites, :].permute(0, 2, 1, 3).reshape(c, len(sites), 3 * M)
                            Y = Y + f[:, :, j, None, None] * (D @ Aj).reshape(c, nq, 3, M)
                        B = self._tensor(("B", b, r, start), lambda kind=kind: helical_average_adjoint(
                            kernels[kind][None, None] @ (np.eye(3) - self._q_hat[sl, :, :, None]
                                                         * self._q_hat[sl, :, None, :]), prep.n_axis), cdt)
                        S = S + torch.einsum("cqam,cqab,cqbm->cqm", Y.conj(), B, Y).real
                        continue
                    # K = Σ_r λ_r u_r u_r†: S⊥ = Σ_r λ_r Re[z_r* (z_r − (u_r†Q̂) p)], z_r = u_r†Y, p = Q̂·Y; the
                    # rows [conj(u_r)_α d_i(G) f_i] and [Q̂_α d_i(G) f_i] make z_r and p one batched product
                    lam_k, U = np.linalg.eigh(kernels[kind])
                    use = lam_k > 1e-12
                    lam_k, U = lam_k[use], U[:, use]
                    Ut = torch.as_tensor(U.conj().T, dtype=cdt, device=dev)  # (R, 3)
                    zp = 0.0
                    for j, sites in enumerate(self._groups):
                        D = torch.as_tensor(self._phases(gauge, sites, gidx), dtype=cdt, device=dev)
                        D = D * f[:, :, j, None].to(cdt)  # (c, nq, n_j)
                        coef = torch.cat([Ut[None, None].expand(c, nq, -1, -1), qh[:, :, None, :]], dim=2)
                        rows = (coef[..., None] * D[:, :, None, None, :]).reshape(
                            c, nq * (len(lam_k) + 1), 3 * len(sites))
                        Aj = A[:, :, sites, :].reshape(c, 3 * len(sites), M)
                        zp = zp + rows @ Aj
                    zp = zp.reshape(c, nq, len(lam_k) + 1, M)
                    z, pq = zp[:, :, :-1], zp[:, :, -1:]
                    uq = torch.einsum("ra,cqa->cqr", Ut, qh)[..., None]  # u_r†Q̂
                    lam_t = torch.as_tensor(lam_k, dtype=rdt, device=dev)[None, None, :, None]
                    s = (lam_t * (z.conj() * (z - uq * pq)).real).sum(2)
                    S = S + (s.clamp_min(0.0) if kind == "perp" else s)
                w = self._tensor(("w", start), lambda: self._w[sl], rdt)
                S_all[sl] = (S * w[:, :, None]).to(torch.float64).cpu().numpy() / n

            with single_torch_thread():
                map_chunks(work, list(range(0, nk, self.chunk)), workers=workers)
            if self.units == "mbarn":
                S_all *= GAMMA_R0_SQUARED_MBARN
            out.append((lam, S_all))
        return out

    def signal(self, model=None, *, temperature_K: float = 0.0, fwhm_meV=None, width_function=None,
               oversample: int = 4, workers: int | None = None) -> np.ndarray:
        """The powder map (nq, ne) per meV for ``model`` (default: the plan's), as :func:`powder_map`.

        Notes
        -----
        S(|Q|_s, E) = Σ_k w_ks Σ_m ½ S⊥_m(k + G_ks) {[n_B(|ω_m|) + 1] δ(E − |ω_m|) + n_B(|ω_m|) δ(E + |ω_m|)}
        (the ±Q pairing; n_B at ``temperature_K``), histogrammed and broadened exactly as
        :func:`~insgan_core.spinwave.broadening.histogram_modes`: the weights of all bins are summed on the
        fine energy grid with one sparse product per block (an energy index per (k, mode), shared by the
        bins).
        """
        width = resolve_width(fwhm_meV, width_function)
        fine = fine_edges(self.e_axis.edges, width=width, oversample=oversample)
        nfine = fine.size - 1
        nk, nq = self._gidx.shape
        hist = np.zeros((nfine, nq))
        for lam, S in self.modes(model, workers=workers):
            M = lam.shape[1]
            a = np.abs(lam)
            rows, cols, vals = [], [], []
            for sign in (1.0, -1.0):
                idx = fine_index(sign * a, fine)
                ok = (idx >= 0) & (idx < nfine)
                rows.append(np.nonzero(ok.ravel())[0])
                cols.append(idx[ok])
                vals.append(0.5 * bose_factor(sign * a, temperature_K=temperature_K)[ok])
            E = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(cols), np.concatenate(rows))),
                                  shape=(nfine, nk * M))
            hist += E @ np.ascontiguousarray(S.transpose(0, 2, 1)).reshape(nk * M, nq)
        out = broaden_fine(hist.T, fine, self.e_axis.edges, width=width)
        if self.low_plan is not None:
            low = self.low_plan.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV,
                                       width_function=width_function, oversample=oversample, workers=workers)
            out[~self.zone_bins] = low[~self.zone_bins]
        out[self.q_axis.centres <= 0] = 0.0
        return out


def _signature(resolved, prep):
    return (resolved.lattice, resolved.positions.tobytes(), resolved.k.tobytes(), resolved.n_axis.tobytes(),
            tuple(resolved.ions), resolved.g.tobytes(), prep.helical)
