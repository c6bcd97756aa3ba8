"""Zone-folded powder averaging: one diagonalisation at k serves every Q = k + G of the map.

A powder |Q| bin is the average of S(Q, E) over all Q with |Q| in the bin. The Q inside the sphere
|Q| < Q_max are covered exactly once by k + G, with k on a uniform grid of the model's Brillouin zone and
G on its reciprocal lattice. Because the bond vectors are full site-to-site vectors,

    h(k + G) = D h(k) D†,   D = diag(d, d),   d_i = exp(−2πi G·r_i)

(r_i fractional site positions), so the modes at k + G have the energies of those at k and amplitudes
V(k + G) = D V(k): one para-diagonalisation at k gives, with per-site phases, the intensities at all
~(4π/3) Q_max³ / V_BZ points k + G (about 1,300 for Bi2Fe4O9 on the MERLIN grid). For a single-k
structure in the rotating frame the blocks Q − k, Q, Q + k are (k_0 − k) + G, k_0 + G and
(k_0 − k) + (G + 2k) (2k a reciprocal-lattice vector) or (k_0 + k) + G (helical): two or three
diagonalisations per grid point, as in :class:`~insgan_core.spinwave.powder_plan.PowderPlan`.

Grid: a Monkhorst–Pack grid with an even number of points along each reciprocal axis, offset by half a
step, k_0 = ((i + ½)/N_a − ½, …) r.l.u.: it never contains Γ, ±k or a time-reversal-invariant point (so
no Goldstone mode sits on a grid point) and is closed under k_0 → −k_0. Only half of it is
diagonalised: the ±Q pairing S⊥(−Q, E) = S⊥(Q, −E) of :mod:`.powder_plan` counts every computed Q for
its antipode as well (half the weight of each mode at +|ω| and half at −|ω|, each with its Bose
factor).

Shell average: every sample Q = k_0 + G with |Q| in bin s gets the weight |Q|⁻² / Σ_{bin s} |Q'|⁻², i.e.
the bin value is the average over |Q| *uniform across the bin* of the sphere averages (sample density
grows like |Q|², the weight removes that skew). This is the binned quantity a measured |Q| histogram
holds; the direction methods instead evaluate the sphere at the bin centre — the two differ at second
order in the bin width (see the benchmark report). Bins with fewer than ``min_samples`` grid samples
(the lowest |Q|, where the sphere cuts few grid cells) are computed by a direction
:class:`~insgan_core.spinwave.powder_plan.PowderPlan` on their centre sphere instead (hybrid).

Convergence: the grid is a lattice rule in k, so for each shell the sample set is a regular
three-dimensional point set rather than independent random directions; the measured error falls
faster than N^(−1/2) per diagonalisation because each diagonalisation serves ~10³ Q (see
:func:`grid_for_accuracy` and benchmarks/bench_spinwave_speed.py).
"""

from __future__ import annotations

import numpy as np

from ..data.grid import check_edges
from ..errors import InsganInputError
from .bose import bose_factor
from .broadening import histogram_modes, resolve_width
from .calculator import SpinWaveCalculator
from .formfactor import form_factor as _form_factor
from .hamiltonian import prepare
from .intensity import GAMMA_R0_SQUARED_MBARN, check_units
from .model import SpinWaveModel
from .parallel import map_chunks, resolve_workers, single_blas_thread
from .solver import build_hamiltonian, colpa, helical_average_adjoint, lab_frame_kernels

__all__ = ["ZonePlan", "shifted_grid", "grid_for_accuracy", "DEFAULT_ZONE_ACCURACY"]

#: default target accuracy of the zone method (relative L1 at instrument-like broadening)
DEFAULT_ZONE_ACCURACY = 0.01

# Full-grid points per Å⁻³ of Brillouin-zone volume... calibrated as samples per |Q| bin: the grid is
# chosen so that a bin at the middle of the map holds ~ (_SAMPLES_AT_1PCT / accuracy)² · 1e-4 samples
# (see grid_for_accuracy; measured on Bi2Fe4O9, MERLIN grid, 2 meV FWHM: benchmarks/REPORT.md).
_SAMPLES_AT_1PCT = 6000.0
_MIN_SAMPLES = 400
_DEFAULT_SHIFT = (0.6180339887, 0.4142135624, 0.7320508076)


def shifted_grid(n_grid, shift=None) -> np.ndarray:
    """A uniform grid of the Brillouin zone with a generic offset, r.l.u., shape (N_a N_b N_c, 3).

    k = ((i + s_a)/N_a − ½, …), i = 0 … N_a − 1. The default offset s = (0.6180, 0.4142, 0.7321) (golden
    ratio, √2, √3 fractional parts) is far from 0 and ½, so no point sits at Γ, ±k or a zone-boundary
    special point, and no two points are images under a mirror or a rotation of the lattice: the
    energies ω(k), which often have more symmetry than S(Q, E), are sampled at N distinct values.
    """
    n = np.asarray(n_grid, dtype=int).reshape(-1)
    if n.size != 3 or np.any(n < 1):
        raise InsganInputError(f"zone grid = {np.asarray(n_grid).tolist()}; expected three integers ≥ 1 "
                               "(points along a*, b*, c*)")
    s = np.array(_DEFAULT_SHIFT if shift is None else shift, dtype=float).reshape(3)
    axes = [(np.arange(m) + s[a]) / m - 0.5 for a, m in enumerate(n)]
    g = np.meshgrid(*axes, indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


def grid_for_accuracy(lattice, q_edges, accuracy: float) -> np.ndarray:
    """Even Monkhorst–Pack divisions (3,) for a target relative L1 ``accuracy`` of the map.

    The grid is chosen so that the |Q| bin at 60 % of Q_max holds about
    (0.01/accuracy)² × 6000 samples (full grid, counting ±Q), with the divisions proportional to the
    reciprocal axis lengths; the error falls roughly like 1/sqrt(samples) (measured on Bi2Fe4O9 at
    2 meV FWHM: 1 % at about that count — benchmarks/REPORT.md).
    """
    if not (np.isfinite(accuracy) and accuracy > 0):
        raise InsganInputError(f"zone method: accuracy = {accuracy}; give a positive relative L1 target, e.g. 0.01")
    q_edges = np.asarray(q_edges, dtype=float)
    b = lattice.reciprocal
    v_bz = abs(float(np.linalg.det(b)))
    q = 0.6 * q_edges[-1]
    dq = float(np.median(np.diff(q_edges)))
    per_k = 4.0 * np.pi * q * q * dq / v_bz  # samples in that bin per full-grid point
    target = _SAMPLES_AT_1PCT * (0.01 / float(accuracy)) ** 2
    n_total = max(target / max(per_k, 1e-12), 8.0)
    lengths = np.linalg.norm(b, axis=1)
    scale = (n_total / np.prod(lengths)) ** (1.0 / 3.0)
    return np.maximum(2, 2 * np.ceil(scale * lengths / 2.0)).astype(int)


class ZonePlan:
    """Parameter-independent part of zone-folded powder maps of one model geometry on one (|Q|, E) grid.

    Parameters
    ----------
    model : SpinWaveModel
        Defines the geometry (lattice, sites, bonds, k).
    q_edges, e_edges : array_like
        |Q| (Å⁻¹) and energy (meV) bin edges.
    accuracy : float
        Target relative L1 error of the map at instrument-like broadening; sets the grid
        (:func:`grid_for_accuracy`) unless ``grid`` is given.
    grid : sequence of 3 even ints, optional
        Monkhorst–Pack divisions along a*, b*, c*.
    min_samples : int
        |Q| bins with fewer grid samples use a direction plan on their centre sphere.
    low_q_accuracy : float, optional
        ``accuracy`` of that direction plan (default: the same target).
    form_factor : bool
    units : {"spin", "mbarn"}
    chunk : int
        Grid points per batch (bounds memory: ~ chunk × n_G × 9n complex numbers).

    Attributes
    ----------
    grid : ndarray (3,)        divisions
    k_points : ndarray (Nk, 3) computed half grid, r.l.u.
    samples : ndarray (nq,)    grid samples per |Q| bin (full grid, ±Q counted)
    zone_shells : ndarray (nq,) bool, bins computed by folding
    low_plan : PowderPlan or None
    """

    def __init__(self, model: SpinWaveModel, *, q_edges, e_edges, accuracy: float = DEFAULT_ZONE_ACCURACY,
                 grid=None, min_samples: int = _MIN_SAMPLES, low_q_accuracy: float | None = None,
                 form_factor: bool = True, units: str = "spin", chunk: int = 16, per_segment: int | None = None,
                 dtype: str = "float32", device: str = "cpu"):
        import torch

        if not isinstance(model, SpinWaveModel):
            raise InsganInputError(f"ZonePlan: expected a SpinWaveModel, got {type(model).__name__}")
        self.q_axis = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
        self.e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
        self.units = check_units(units)
        self.form_factor = bool(form_factor)
        self.accuracy = float(accuracy)
        self.model = model
        calc = SpinWaveCalculator(model, workers=1)
        self.resolved, self.prep = calc.resolved, calc.prep
        lat = self.resolved.lattice
        edges = self.q_axis.edges
        self.grid = grid_for_accuracy(lat, edges, accuracy) if grid is None else np.asarray(grid, dtype=int)
        self.k_points = shifted_grid(self.grid)
        self.chunk = max(1, int(chunk))
        if dtype not in ("float32", "float64"):
            raise InsganInputError(f"ZonePlan: dtype = {dtype!r}; expected 'float32' or 'float64'")
        self._torch, self.dtype, self.device = torch, dtype, torch.device(device)
        self.per_segment = None if per_segment is None else max(1, int(per_segment))
        recip = lat.reciprocal  # rows a*, b*, c* (Å⁻¹, Cartesian)
        q_max = float(edges[-1])
        k_cart = self.k_points @ recip
        reach = q_max + float(np.linalg.norm(k_cart, axis=1).max())
        hmax = np.ceil(reach * np.linalg.norm(lat.basis, axis=1) / (2.0 * np.pi)).astype(int)
        hkl = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in hmax], indexing="ij"), axis=-1).reshape(-1, 3)
        keep = np.linalg.norm(hkl @ recip, axis=1) <= reach
        self.g_rlu = hkl[keep].astype(float)
        self._g_cart = self.g_rlu @ recip
        # per-site phase of every G: d_i(G) = exp(−2πi G·r_i) (the gauge of h(k + G) = D h(k) D†)
        self._d = np.exp(-2j * np.pi * (self.g_rlu @ self.resolved.positions.T))  # (nG, n)
        # site-factor groups: sites sharing an ion and g share a form factor, so each group is one GEMM
        keys = [(ion if self.form_factor else None, float(g)) for ion, g in zip(self.resolved.ions, self.resolved.g)]
        self._groups = [(key, np.array([i for i, kk in enumerate(keys) if kk == key])) for key in dict.fromkeys(keys)]
        self._setup_blocks()
        self._setup_samples(recip, edges)
        nq = self.q_axis.centres.size
        self.zone_shells = self.samples >= int(min_samples)
        self.low_plan = None
        if not np.all(self.zone_shells):
            from .powder_plan import PowderPlan, shell_point_counts

            lat_f2 = np.ones(nq)
            counts = shell_point_counts(self.q_axis.centres, _r_max(lat, self.prep), low_q_accuracy or accuracy,
                                        intensity=lat_f2)
            counts[self.zone_shells] = 0
            self.low_plan = PowderPlan(model, q_edges=edges, e_edges=self.e_axis.edges, n_points=counts,
                                       form_factor=form_factor, units=units)
        self._geometry = _signature(self.resolved, self.prep)

    # --- static geometry --------------------------------------------------------------------------
    def _setup_blocks(self):
        """Diagonalisation shifts and, per shift, the (gauge, kernel kind) row groups."""
        p = self.prep
        if not p.incommensurate:
            self.blocks = [(np.zeros(3), [(None, "perp")])]
        elif not p.helical:  # Q + k = (Q − k) + 2k shares the diagonalisation at k_0 − k
            G2 = np.round(2.0 * p.k)
            gauge = np.exp(-2j * np.pi * (self.resolved.positions @ G2))
            self.blocks = [(-p.k, [(None, "K1"), (gauge, "K1*")]), (np.zeros(3), [(None, "K2")])]
        else:
            self.blocks = [(-p.k, [(None, "K1")]), (np.zeros(3), [(None, "K2")]), (p.k, [(None, "K1*")])]

    def _setup_samples(self, recip, edges):
        """Valid (k, G) pairs per chunk with their shell, |Q|⁻² weight and segment order (cached)."""
        nq = edges.size - 1
        centres = 0.5 * (edges[1:] + edges[:-1])
        self._chunks = []
        counts = np.zeros(nq)
        wsum = np.zeros(nq)
        for start in range(0, len(self.k_points), self.chunk):
            kc = self.k_points[start:start + self.chunk] @ recip  # (c, 3)
            Q = self._g_cart[:, None, :] + kc[None, :, :]  # (nG, c, 3)
            qa = np.linalg.norm(Q, axis=2)
            valid = (qa >= edges[0]) & (qa < edges[-1]) & (qa > 0)
            gi, ki = np.nonzero(valid)
            qv = qa[gi, ki]
            shell = np.clip(np.searchsorted(edges, qv, side="right") - 1, 0, nq - 1)
            seg = ki * nq + shell
            order = np.lexsort((np.abs(qv - centres[shell]), seg))
            gi, ki, qv, shell, seg = gi[order], ki[order], qv[order], shell[order], seg[order]
            starts = np.concatenate([[0], np.nonzero(np.diff(seg))[0] + 1]) if seg.size else np.zeros(0, int)
            w = 1.0 / qv ** 2
            if self.per_segment:
                # keep the samples of each (k, bin) segment nearest the bin centre, with the segment's weight
                sizes = np.diff(np.append(starts, seg.size))
                rank = np.arange(seg.size) - np.repeat(starts, sizes)
                wseg = np.add.reduceat(w, starts) if seg.size else w
                kept = np.minimum(sizes, self.per_segment)
                keep = rank < self.per_segment
                w = (wseg / kept)[np.repeat(np.arange(starts.size), sizes)][keep]
                gi, ki, qv, shell, seg = gi[keep], ki[keep], qv[keep], shell[keep], seg[keep]
                starts = np.concatenate([[0], np.cumsum(kept)[:-1]]) if seg.size else starts
            np.add.at(counts, shell, 2.0)  # ±Q
            np.add.at(wsum, shell, w)
            self._chunks.append({"start": start, "stop": start + len(kc), "flat": gi * len(kc) + ki,
                                 "q_abs": qv, "q_hat": Q[gi, ki] / qv[:, None], "w": w, "starts": starts,
                                 "seg_k": start + ki[starts], "seg_shell": shell[starts], "n_pad": Q.shape[:2]})
        self.samples = counts
        self._wsum = wsum
        for c in self._chunks:
            c["w"] = c["w"] / wsum[np.clip(np.searchsorted(edges, c["q_abs"], side="right") - 1, 0, nq - 1)]
            f = np.ones((c["q_abs"].size, len(self._groups)))
            for j, ((ion, g), _) in enumerate(self._groups):
                if ion:
                    f[:, j] = _form_factor(ion, c["q_abs"], g=g)
                if self.units == "mbarn":
                    f[:, j] *= g / 2.0
            c["f"] = f

    def describe(self) -> dict:
        """Provenance: grid, computed points, hybrid shells."""
        zs = self.samples[self.zone_shells]
        return {
            "method": "zone-folded Monkhorst-Pack grid (k + G), |Q|^-2-weighted bin average",
            "accuracy_target": self.accuracy,
            "grid": [int(x) for x in self.grid],
            "k_points_computed": int(len(self.k_points)),
            "diagonalisations": int(len(self.k_points) * len(self.blocks)
                                    + (self.low_plan.n_points if self.low_plan is not None else 0)),
            "g_vectors": int(len(self.g_rlu)),
            "samples_per_bin": [int(zs.min()), int(zs.max())] if zs.size else [0, 0],
            "direction_plan_bins": int((~self.zone_shells).sum()),
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

    def _factors(self, kind, prep):
        """K = Σ_r λ_r u_r u_r† of a row group ("perp": K = 1); S⊥ = Σ_r λ_r Re[z_r* (z_r − (u_r†Q̂) Q̂·Y)]."""
        if kind == "perp":
            K = np.eye(3, dtype=complex)
        else:
            K1, K2 = lab_frame_kernels(prep.n_axis)
            K = {"K1": K1, "K1*": K1.conj(), "K2": K2}[kind]
        lam, U = np.linalg.eigh(K)
        keep = lam > 1e-12
        return lam[keep], U[:, keep]

    def _phase_matrices(self, gauge):
        """Per site-factor group: D (nG, n_grp) = d_i(G) × gauge_i."""
        return [((self._d[:, sites] if gauge is None else self._d[:, sites] * gauge[None, sites]),)
                for _, sites in self._groups]

    def _tensor(self, key, array):
        """Cached torch copy of a parameter-independent array."""
        cache = self.__dict__.setdefault("_tensors", {})
        if key not in cache:
            cdt = self._torch.complex64 if self.dtype == "float32" else self._torch.complex128
            cache[key] = self._torch.as_tensor(array, dtype=cdt, device=self.device)
        return cache[key]

    def _chunk_tensors(self, c):
        """Torch views of a chunk's sample geometry (cached): only the G rows the chunk uses."""
        if "t" not in c:
            torch, rdt = self._torch, (self._torch.float32 if self.dtype == "float32" else self._torch.float64)
            ck = c["stop"] - c["start"]
            gi, ki = np.divmod(c["flat"], ck)
            used, inv = np.unique(gi, return_inverse=True)
            sizes = np.diff(np.append(c["starts"], gi.size))
            c["t"] = {"g_used": torch.as_tensor(used, device=self.device),
                      "flat": torch.as_tensor(inv * ck + ki, device=self.device),
                      "q_hat": torch.as_tensor(c["q_hat"], dtype=rdt, device=self.device),
                      "f": torch.as_tensor(c["f"], dtype=rdt, device=self.device),
                      "w": torch.as_tensor(c["w"], dtype=rdt, device=self.device),
                      "lengths": torch.as_tensor(sizes, device=self.device)}
        return c["t"]

    def modes(self, model=None, *, workers: int | None = None):
        """Per (k, shell) segment: energies (S, M) meV, summed weighted S⊥ (S, M), shell rows (S,).

        S⊥ of the segment is Σ over its samples of (weight × S⊥), with the weight of each sample
        |Q|⁻² normalised per bin (so each bin's segments sum to the bin average); no Bose factor.

        Notes
        -----
        With A^α_{i,m}(k) = w^α_i V_im(k) + w^α_{n+i} V_{n+i,m}(k) and Y^α_m(Q) = Σ_i f_i d_i(G) A^α_{i,m},
        the kernel K of a row group (1 for a commensurate structure, K₁, K₁*, K₂ of the rotating frame) is
        split as K = Σ_r λ_r u_r u_r†; then S⊥_m = Y†K(1 − Q̂Q̂ᵀ)Y/n = Σ_r λ_r Re[z_r*(z_r − (u_r†Q̂) p)]/n
        with z_r = u_r†Y and p = Q̂·Y = [Σ_{a,i} G_a d_i(G) f_i A^a_i + Σ_i d_i(G) f_i (k·A_i)]/|Q|: every
        G-dependent step is a GEMM over all G and all k of a chunk. Helical structures (helix-averaged
        kernels) take a direct 3 × 3 contraction instead.
        """
        resolved, prep = self._prepare(model)
        n = prep.n
        # site-resolved weights: row α·n + i picks site i's two boson components of S^α
        w_sites = np.zeros((3 * n, 2 * n), dtype=complex)
        for a in range(3):
            w_sites[a * n + np.arange(n), np.arange(n)] = prep.w[a, :n]
            w_sites[a * n + np.arange(n), n + np.arange(n)] = prep.w[a, n:]
        workers = resolve_workers(workers)
        recip = resolved.lattice.reciprocal
        k_cart = self.k_points @ recip

        def solve(shift):
            q = self.k_points + shift[None, :]
            h = build_hamiltonian(prep, q)
            return colpa(h, q_rlu=q, w=w_sites[None], scale=prep.scale)

        with single_blas_thread():
            sols = [solve(shift) for shift, _ in self.blocks]
        if not hasattr(self, "_phase_cache"):
            self._phase_cache = {}
        plan_groups = []
        for shift, groups in self.blocks:
            rows = []
            for gauge, kind in groups:
                key = (None if gauge is None else gauge.tobytes(), kind)
                if key not in self._phase_cache:
                    self._phase_cache[key] = self._phase_matrices(gauge)
                rows.append((self._phase_cache[key], self._factors(kind, prep), kind))
            plan_groups.append(rows)

        torch = self._torch
        dev, cdt = self.device, (torch.complex64 if self.dtype == "float32" else torch.complex128)
        rdt = torch.float32 if self.dtype == "float32" else torch.float64
        tsols = [(lam, torch.as_tensor(Ys, dtype=cdt, device=dev)) for lam, Ys in sols]

        def work(c):
            E_out, S_out = [], []
            sl = slice(c["start"], c["stop"])
            ck = c["stop"] - c["start"]
            t = self._chunk_tensors(c)
            qh, f, flat = t["q_hat"], t["f"], t["flat"]
            for rows, (lam, Ys) in zip(plan_groups, tsols):
                M = lam.shape[1]
                Yk = Ys[sl].reshape(ck, 3, n, M)  # (c, α, i, m)
                S = torch.zeros((flat.numel(), M), dtype=rdt, device=dev)
                for mats, (lam_k, U), kind in rows:
                    Y = 0.0
                    for j, (_, sites) in enumerate(self._groups):
                        D = self._tensor(("D", id(mats), j), mats[j][0])
                        A = Yk[:, :, sites, :].permute(2, 0, 1, 3).reshape(len(sites), -1)
                        # one GEMM over all G and all k of the chunk, then the valid (G, k) pairs
                        Yg = (D[t["g_used"]] @ A).reshape(-1, 3, M)[flat]
                        Y = Y + f[:, j, None, None] * Yg
                    p = torch.einsum("pa,pam->pm", qh.to(cdt), Y)
                    if prep.helical:
                        B = self._tensor(("B", kind, c["start"]), self._helical_kernel(kind, c["q_hat"], prep))
                        s = torch.einsum("pam,pab,pbm->pm", Y.conj(), B, Y).real
                    elif kind == "perp":
                        s = ((Y.real ** 2 + Y.imag ** 2).sum(1) - (p.real ** 2 + p.imag ** 2)).clamp_min(0.0)
                    else:
                        s = 0.0
                        for r in range(len(lam_k)):
                            u = torch.as_tensor(U[:, r].conj(), dtype=cdt, device=dev)
                            z = torch.einsum("a,pam->pm", u, Y)
                            uq = (qh.to(cdt) @ u)[:, None]
                            s = s + float(lam_k[r]) * (z.conj() * (z - uq * p)).real
                    S += s
                S *= t["w"][:, None]
                E_out.append(lam[c["seg_k"]])
                S_out.append(torch.segment_reduce(S, "sum", lengths=t["lengths"], axis=0).to(torch.float64).cpu().numpy()
                             / n)
            return np.concatenate(E_out, axis=1), np.concatenate(S_out, axis=1), c["seg_shell"]

        res = [work(c) for c in self._chunks]
        E = np.concatenate([r[0] for r in res])
        S = np.concatenate([r[1] for r in res])
        rows = np.concatenate([r[2] for r in res])
        if self.units == "mbarn":
            S = S * GAMMA_R0_SQUARED_MBARN
        return E, S, rows

    @staticmethod
    def _helical_kernel(kind, q_hat, prep):
        """Helix-averaged kernel B (P, 3, 3) with S⊥ = Re Y†BY / n (single-k, 2k not a reciprocal vector)."""
        K1, K2 = lab_frame_kernels(prep.n_axis)
        K = {"K1": K1, "K1*": K1.conj(), "K2": K2}[kind]
        proj = np.eye(3)[None] - q_hat[:, :, None] * q_hat[:, None, :]
        return helical_average_adjoint(K[None] @ proj, prep.n_axis)

    def signal(self, model=None, *, temperature_K: float = 0.0, fwhm_meV=None, width_function=None,
               oversample: int = 4, workers: int | None = None) -> np.ndarray:
        """The powder map (nq, ne) per meV for ``model`` (default: the plan's), as :func:`powder_map`.

        Notes
        -----
        S(|Q|_s, E) = Σ_{k_0, G: |k_0+G| ∈ s} w_Q Σ_m ½ S⊥_m(Q) [n_B(±|ω_m|) + …] δ(E ∓ |ω_m|) with
        S⊥_m(Q) = |Y_m(Q)|² − |Q̂·Y_m(Q)|² (or Y†BY for the rotating-frame blocks) over n sites,
        Y^α_m(k_0 + G) = Σ_i f_i(|Q|) d_i(G) [w^α_i V_im(k_0) + w^α_{n+i} V_{n+i,m}(k_0)], and w_Q the
        per-bin-normalised |Q|⁻²; bins of the direction plan as :class:`PowderPlan`.
        """
        width = resolve_width(fwhm_meV, width_function)
        E, S, rows = self.modes(model, workers=workers)
        a = np.abs(E)
        energies = np.concatenate([a, -a], axis=1)
        w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=temperature_K)
        nq = self.q_axis.centres.size
        out = histogram_modes(energies, w, rows, nq, self.e_axis.edges, width=width, oversample=oversample)
        out[~self.zone_shells] = 0.0
        if self.low_plan is not None:
            low = self.low_plan.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV,
                                       width_function=width_function, oversample=oversample, workers=workers)
            out[~self.zone_shells] = low[~self.zone_shells]
        out[self.q_axis.centres <= 0] = 0.0
        return out


def _r_max(lattice, prep) -> float:
    if not len(prep.delta):
        return 0.0
    return float(np.linalg.norm(lattice.cartesian(prep.delta), axis=1).max())


def _signature(resolved, prep):
    return (resolved.lattice, resolved.positions.tobytes(), resolved.k.tobytes(), resolved.n_axis.tobytes(),
            tuple(resolved.ions), resolved.g.tobytes(), prep.helical)
