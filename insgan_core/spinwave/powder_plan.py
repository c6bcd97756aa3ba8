"""Powder plans: everything of a powder S(|Q|, E) calculation that does not depend on the parameters.

A :class:`PowderPlan` is built once for a model's geometry and a (|Q|, E) grid; each new parameter set then
re-does only the Hamiltonian coefficients (O(bonds)), the assembly of h(Q) from cached phase factors, the
batched Cholesky/eigen-decomposition, and the binning. Cached:

* the quadrature: per |Q| shell a deterministic equal-weight rule (:func:`.quadrature.symmetric_fibonacci`)
  on the part of the sphere that is irreducible under the spectrum's verified point symmetry
  (:mod:`.symmetry`) extended by the ±Q pairing, with a number of directions per shell chosen for a
  target map accuracy from |Q|·r_max (r_max the longest bond, Å) and the form factor
  (:func:`shell_point_counts`); :meth:`PowderPlan.error_estimate` measures the error actually reached;
* the bond phase factors exp(2πi q·Δ_d) for every quadrature point and every rotating-frame block
  (Q − k, Q, Q + k of a single-k structure; one diagonalisation serves Q ± k when 2k is a reciprocal
  lattice vector);
* the polarisation projectors, rotating-frame kernels (K₁, K₂ of Toth & Lake) and form factors.

Folding (±Q): linear spin-wave theory gives S⊥(−Q, E) = S⊥(Q, −E) before the Bose factor (the
energy-gain columns of the diagonalisation at Q are the energy-loss modes at −Q; tested for every library
model). So the average over a direction and its opposite equals, for every mode m of the diagonalisation at
Q, half its weight at +|ω_m| and half at −|ω_m| (each times its Bose factor). Every direction therefore
stands for its antipode too, for every model, with or without inversion symmetry.

Precision: ``dtype="float32"`` (complex64 solve; default of the fast path) agrees with float64 to ~1e-5
relative in the binned map (tested); Q where the single-precision Cholesky fails (near Goldstone modes)
are redone in float64 with the regularisation of :func:`insgan_core.spinwave.solver.colpa`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from .parallel import map_chunks, resolve_workers
from .quadrature import symmetric_fibonacci
from .solver import colpa, helical_average_adjoint, lab_frame_kernels
from .symmetry import group_with_inversion, spectrum_symmetry

__all__ = ["PowderPlan", "shell_point_counts", "DEFAULT_ACCURACY"]

log = logging.getLogger("insgan")

#: default target relative L1 error of the automatic direction count (see :func:`shell_point_counts`)
DEFAULT_ACCURACY = 0.03

# Calibration of the direction count against the relative L1 error of a whole map (see
# shell_point_counts), measured on the library Bi2Fe4O9 model on the MERLIN grid at 5 K with 2 meV FWHM
# Gaussian broadening (benchmarks/bench_spinwave_speed.py): 1597 random directions per shell gave a
# relative L1 of 0.024, i.e. C = 0.024·sqrt(1597)/<1 + x> over the map's intensity.
_ERROR_CONSTANT = 0.65
_MIN_POINTS = 26
_MAX_POINTS = 200_000


def shell_point_counts(q_abs: np.ndarray, r_max_A: float, accuracy: float, intensity=None) -> np.ndarray:
    """Full-sphere directions per |Q| shell for a target relative L1 error ``accuracy`` of the whole map.

    Model: the quadrature error of shell s is e_s ≈ C (1 + x_s)/sqrt(N_s), x_s = |Q_s| r_max / 2π (the
    number of Brillouin zones the sphere cuts grows with x), relative to the shell's intensity I_s (the
    mean squared form factor when given). The map's relative L1 error Σ I_s e_s / Σ I_s is smallest for a
    given total when N_s ∝ (I_s (1 + x_s))^(2/3), and equals ``accuracy`` for
    N_s = (C/accuracy)² (Σ_t w_t / Σ_t I_t)² w_s with w_s = (I_s (1 + x_s))^(2/3). C = 0.65 is calibrated
    on Bi2Fe4O9 with 2 meV FWHM broadening; sharp histograms and low-dimensional magnets converge more
    slowly (their reported error estimate says so).
    """
    if not (np.isfinite(accuracy) and accuracy > 0):
        raise InsganInputError(f"powder accuracy = {accuracy}; give a positive relative error, e.g. 0.05")
    q_abs = np.asarray(q_abs, dtype=float)
    x = q_abs * float(r_max_A) / (2.0 * np.pi)
    inten = np.ones_like(q_abs) if intensity is None else np.maximum(np.asarray(intensity, dtype=float), 1e-3)
    w = (inten * (1.0 + x)) ** (2.0 / 3.0)
    n = (_ERROR_CONSTANT / float(accuracy)) ** 2 * (w.sum() / inten.sum()) ** 2 * w
    return np.clip(np.ceil(n), _MIN_POINTS, _MAX_POINTS).astype(int)


def _random_rotation(seed: int) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.random(1, random_state=np.random.default_rng(seed)).as_matrix()[0]


@dataclass
class _Block:
    """One diagonalisation per quadrature point: phases (N, m), weight rows and their S⊥ kernels."""

    q_rlu: np.ndarray  # (N, 3) wavevector of the block
    shifts: list  # per row group (3 rows each): None (commensurate) or kernel B (N, 3, 3) complex
    gauges: list  # per row group: None or d (2n,) complex (gauge factor of a shared side block)
    phases: object = None  # torch (N, m) complex, filled lazily


class PowderPlan:
    """Parameter-independent part of powder maps of one model geometry on one (|Q|, E) grid.

    Parameters
    ----------
    model : SpinWaveModel
        Defines the geometry (lattice, sites, bonds, k); its parameters are the nominal ones used to find
        the spectrum's symmetry.
    q_edges, e_edges : array_like
        |Q| (Å⁻¹) and energy (meV) bin edges; one shell at each |Q| bin centre.
    accuracy : float
        Target relative L1 quadrature error of the whole map, used to choose the directions per shell
        (:func:`shell_point_counts`); ignored when ``n_points`` is given.
    n_points : int or array_like, optional
        Full-sphere directions per shell (one number or one per shell) instead of the automatic choice.
    symmetry : bool
        Reduce each rule by the verified point symmetry of the spectrum (and always by the ±Q pairing).
    seed : int
        Seeds the fixed random orientation of the Fibonacci lattice (one rotation for all shells, so the
        map is deterministic and its residual quadrature error varies smoothly with |Q|).
    form_factor : bool
    units : {"spin", "mbarn"}
    dtype : {"float32", "float64"}
        Precision of the Hamiltonian and eigen-decompositions (binning is always float64).
    device : str
        torch device (``"cpu"``, ``"cuda"``).
    rotate : bool or None
        Turn the Fibonacci lattice by the seeded random rotation (default; False: the plain lattice, whose
        poles lie on the z axis).

    Attributes
    ----------
    q_cart : ndarray (N, 3)   all quadrature points (Å⁻¹, Cartesian)
    rows : ndarray (N,)       shell of each point
    weights : ndarray (N,)    quadrature weight (sums to 1 per shell)
    n_full : ndarray (nq,)    full-sphere directions of each shell's rule
    n_reduced : ndarray (nq,) directions actually computed per shell
    operations : ndarray (G, 3, 3) symmetry group used (including −1 from the ±Q pairing)
    """

    def __init__(self, model: SpinWaveModel, *, q_edges, e_edges, accuracy: float = DEFAULT_ACCURACY,
                 n_points=None, symmetry: bool = True, seed: int = 0, form_factor: bool = True,
                 units: str = "spin", dtype: str = "float32", device: str = "cpu", rotate: bool | None = None):
        import torch

        if not isinstance(model, SpinWaveModel):
            raise InsganInputError(f"PowderPlan: expected a SpinWaveModel, got {type(model).__name__}")
        if dtype not in ("float32", "float64"):
            raise InsganInputError(f"PowderPlan: dtype = {dtype!r}; expected 'float32' or 'float64'")
        self.torch = torch
        self.q_axis = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
        self.e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
        self.units = check_units(units)
        self.form_factor = bool(form_factor)
        self.dtype = dtype
        self.device = torch.device(device)
        self.seed = int(seed)
        self.accuracy = float(accuracy)
        self.symmetry = bool(symmetry)
        self.model = model
        calc = SpinWaveCalculator(model, workers=1)
        self.resolved = calc.resolved
        self.prep = calc.prep
        lat = self.resolved.lattice
        q_abs = self.q_axis.centres
        nq = q_abs.size
        bond_cart = lat.cartesian(self.prep.delta) if len(self.prep.delta) else np.zeros((0, 3))
        self.r_max = float(np.linalg.norm(bond_cart, axis=1).max()) if len(bond_cart) else 0.0
        if n_points is None:
            r = self.resolved
            f2 = np.ones_like(q_abs)
            if form_factor and any(r.ions):
                f2 = np.mean([_form_factor(ion, q_abs, g=float(r.g[i])) ** 2 if ion else np.ones_like(q_abs)
                              for i, ion in enumerate(r.ions)], axis=0)
            counts = shell_point_counts(q_abs, self.r_max, accuracy, intensity=f2)
        else:
            counts = np.broadcast_to(np.asarray(n_points, dtype=int), (nq,)).copy()
            if np.any(counts < 0) or not np.any(counts > 0):
                raise InsganInputError(f"PowderPlan: n_points = {n_points}; give at least 1 direction per shell "
                                       "(0 skips a shell)")
        ops = spectrum_symmetry(calc) if symmetry else np.eye(3)[None]
        self.spectrum_operations = ops
        self.operations = group_with_inversion(ops)
        if n_points is None:
            # the counts are calibrated per computed direction with the ±Q pairing (2 operations); for these
            # rough integrands a computed direction of a larger group's reduced rule is not more accurate
            # (measured: benchmarks/REPORT.md, convergence figure), so the rule grows with the group: as many
            # directions are computed as with the pairing alone, on a |G|/2 times finer full-sphere rule
            from .quadrature import symmetric_fibonacci as _sf

            group_size = len(_sf(8, self.operations)[2])
            counts = counts * max(group_size // 2, 1)
        rot = _random_rotation(self.seed) if (rotate is None or rotate) else None
        dirs_all, w_all, rows_all, n_full, n_red = [], [], [], [], []
        cache = {}
        for s in range(nq):
            n = int(counts[s])
            if n == 0:
                n_full.append(0)
                n_red.append(0)
                continue
            if n not in cache:
                cache[n] = symmetric_fibonacci(n, self.operations, rot)
            rd, rw, self.rule_operations = cache[n]
            dirs_all.append(rd)
            w_all.append(rw)
            rows_all.append(np.full(len(rd), s))
            n_full.append(n)
            n_red.append(len(rd))
        dirs = np.concatenate(dirs_all)
        self.rows = np.concatenate(rows_all)
        self.weights = np.concatenate(w_all)
        self.q_cart = dirs * q_abs[self.rows][:, None]
        self.n_full = np.array(n_full)
        self.n_reduced = np.array(n_red)
        self._setup_blocks()

    # --- static geometry --------------------------------------------------------------------------
    def _setup_blocks(self):
        p, lat = self.prep, self.resolved.lattice
        q_rlu = lat.q_rlu(self.q_cart)
        q_abs = np.linalg.norm(self.q_cart, axis=1)
        q_hat = self.q_cart / np.where(q_abs > 0, q_abs, 1.0)[:, None]
        self._q_hat = q_hat
        self._site_f = self._site_factors(q_abs)
        if not p.incommensurate:
            self.blocks = [_Block(q_rlu, [None], [None])]
        else:
            K1, K2 = lab_frame_kernels(p.n_axis)
            proj = np.eye(3)[None] - q_hat[:, :, None] * q_hat[:, None, :]

            def kernel(K):
                B = K[None] @ proj
                return helical_average_adjoint(B, p.n_axis) if p.helical else B

            if not p.helical:  # 2k = G: Q + k = (Q − k) + G shares the diagonalisation of Q − k
                G = np.round(2.0 * p.k)
                d = np.exp(-2j * np.pi * (self.resolved.positions @ G))
                d = np.concatenate([d, d])
                self.blocks = [_Block(q_rlu - p.k, [kernel(K1), kernel(K1.conj())], [None, d]),
                               _Block(q_rlu, [kernel(K2)], [None])]
            else:
                self.blocks = [_Block(q_rlu - p.k, [kernel(K1)], [None]), _Block(q_rlu, [kernel(K2)], [None]),
                               _Block(q_rlu + p.k, [kernel(K1.conj())], [None])]
        self._geometry = self._signature(self.resolved, p)
        self._phases_for(p)

    @staticmethod
    def _signature(resolved, prep):
        return (resolved.lattice, resolved.positions.tobytes(), prep.src.tobytes(), prep.dst.tobytes(),
                prep.delta.tobytes(), resolved.k.tobytes(), resolved.n_axis.tobytes(), tuple(resolved.ions),
                resolved.g.tobytes(), prep.helical)

    def _phases_for(self, prep):
        torch = self.torch
        cdt = torch.complex64 if self.dtype == "float32" else torch.complex128
        key = (prep.src.tobytes(), prep.dst.tobytes(), prep.delta.tobytes())
        if getattr(self, "_phase_key", None) == key:
            return
        for b in self.blocks:
            arg = (2.0 * np.pi) * (b.q_rlu @ prep.delta.T)
            b.phases = torch.as_tensor(np.exp(1j * arg), dtype=cdt, device=self.device)
        n, d = prep.n, 2 * prep.n
        # flat target index of each directed bond's four entries of h (A, B, B†, conj A(−Q))
        i, j = prep.src, prep.dst
        self._idx = [torch.as_tensor(x, device=self.device) for x in
                     (i * d + j, i * d + n + j, (n + j) * d + i, (n + i) * d + n + j)]
        self._phase_key = key

    def _site_factors(self, q_abs):
        r = self.resolved
        f = np.ones((q_abs.size, r.n_sites))
        for i, ion in enumerate(r.ions):
            if self.form_factor and ion:
                f[:, i] = _form_factor(ion, q_abs, g=float(r.g[i]))
            if self.units == "mbarn":
                f[:, i] *= r.g[i] / 2.0
        return f

    @property
    def n_points(self) -> int:
        """Diagonalisations per map: reduced directions × blocks."""
        return len(self.q_cart) * len(self.blocks)

    def describe(self) -> dict:
        """Provenance: the rules, symmetry and point counts."""
        return {
            "quadrature": "spherical Fibonacci lattice (seeded fixed rotation) restricted to the irreducible domain",
            "accuracy_target": self.accuracy,
            "r_max_A": self.r_max,
            "directions_full_sphere": [int(self.n_full.min()), int(self.n_full.max())],
            "directions_computed": int(self.n_reduced.sum()),
            "symmetry_operations": int(len(self.rule_operations)),
            "spectrum_symmetry_operations": int(len(self.spectrum_operations)),
            "pairing": "S(Q,E) = S(-Q,-E) before the Bose factor (energy-gain columns); always used",
            "dtype": self.dtype,
        }

    def error_estimate(self, model=None, *, temperature_K: float = 0.0, fwhm_meV=None, width_function=None,
                       signal: np.ndarray | None = None, every: int = 8) -> dict:
        """Quadrature error of the map, estimated from a half-size rule on every ``every``-th shell.

        Returns ``{"difference_to_half_rule": d, "estimated_relative_L1": d / sqrt(2), "shells": [...]}``, with
        d = Σ|S_N − S_N/2| / Σ|S_N| over those shells. The half-size rule's error is about √2 times the
        full rule's when the error decays like N^(-1/2) (a rough integrand: sharp modes, narrow
        broadening); it decays faster for smooth ones, so the estimate is then conservative.
        """
        nq = self.q_axis.centres.size
        shells = np.arange(min(every // 2, nq - 1), nq, every)
        counts = np.zeros(nq, dtype=int)
        counts[shells] = np.maximum(self.n_full[shells] // 2, 1)
        key = (tuple(shells), every)
        if getattr(self, "_half", (None, None))[0] != key:
            half = PowderPlan(self.model, q_edges=self.q_axis.edges, e_edges=self.e_axis.edges, n_points=counts,
                              symmetry=self.symmetry, seed=self.seed + 1, form_factor=self.form_factor, units=self.units,
                              dtype=self.dtype, device=str(self.device))
            self._half = (key, half)
        half = self._half[1]
        if signal is None:
            signal = self.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV, width_function=width_function)
        other = half.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV, width_function=width_function)
        a, b = signal[shells], other[shells]
        d = float(np.abs(a - b).sum() / max(np.abs(a).sum(), 1e-300))
        return {"difference_to_half_rule": d, "estimated_relative_L1": d / np.sqrt(2.0),
                "shells": [float(x) for x in self.q_axis.centres[shells]]}

    # --- per parameter set ------------------------------------------------------------------------
    def _prepare(self, model):
        if model is None:
            return self.resolved, self.prep
        calc_resolved = model.resolve()
        prep = prepare(calc_resolved)
        if self._signature(calc_resolved, prep)[:2] != self._geometry[:2] or \
                self._signature(calc_resolved, prep)[5:] != self._geometry[5:]:
            raise InsganInputError(
                f"PowderPlan: model '{model.name}' has a different geometry (lattice, sites, k, ions or g) than "
                "the plan; build a new PowderPlan for it"
            )
        self._phases_for(prep)  # bonds switched on or off (e.g. an anisotropy set to 0): new phases
        return calc_resolved, prep

    def modes(self, model=None, *, workers: int | None = None, chunk: int = 4096):
        """Energies (N, M) meV and S⊥ weights (N, M) per quadrature point (float64 numpy, no Bose factor).

        ``model`` must share the plan's geometry (only parameter values may differ); None: the plan's model.
        Columns of shared side blocks are already summed (they have equal energies). Points are processed
        in chunks of ``chunk`` on ``workers`` threads (None: automatic, one per usable core on a CPU device).
        """
        torch = self.torch
        resolved, prep = self._prepare(model)
        rdt = torch.float32 if self.dtype == "float32" else torch.float64
        cdt = torch.complex64 if self.dtype == "float32" else torch.complex128
        dev = self.device
        n, d = prep.n, 2 * prep.n
        a = torch.as_tensor(prep.a, dtype=cdt, device=dev)
        b = torch.as_tensor(prep.b, dtype=cdt, device=dev)
        h0 = torch.as_tensor(np.concatenate([-prep.c_diag, -prep.c_diag]), dtype=cdt, device=dev)
        g = torch.cat([torch.ones(n, dtype=rdt, device=dev), -torch.ones(n, dtype=rdt, device=dev)])
        wf = np.concatenate([self._site_f, self._site_f], axis=1)  # (N, 2n)

        def work(sl):
            E_parts, S_parts = [], []
            with torch.no_grad():
                for blk in self.blocks:
                    h = _assemble(torch, blk.phases[sl], a, b, self._idx, h0, d)
                    rows_w = []
                    for gauge in blk.gauges:
                        w = prep.w[None] * wf[sl, None, :]
                        if gauge is not None:
                            w = w * gauge[None, None, :]
                        rows_w.append(w)
                    W = torch.as_tensor(np.concatenate(rows_w, axis=1), dtype=cdt, device=dev)
                    q_blk = blk.q_rlu[sl]
                    lam, Y = _colpa_torch(torch, h, W, g, q_blk, prep,
                                          rebuild=lambda idx, q_blk=q_blk: _h64(q_blk[idx], prep))
                    S = torch.zeros(lam.shape, dtype=torch.float64, device=dev)
                    for r, kern in enumerate(blk.shifts):
                        Yr = Y[:, 3 * r: 3 * r + 3].to(torch.complex128)
                        if kern is None:
                            qh = torch.as_tensor(self._q_hat[sl], dtype=torch.complex128, device=dev)
                            par = torch.einsum("na,nam->nm", qh, Yr).abs() ** 2
                            S = S + torch.clamp((Yr.abs() ** 2).sum(1) - par, min=0.0) / n
                        else:
                            B = torch.as_tensor(kern[sl], dtype=torch.complex128, device=dev)
                            S = S + torch.einsum("nam,nab,nbm->nm", Yr.conj(), B, Yr).real / n
                    E_parts.append(lam.to(torch.float64).cpu().numpy())
                    S_parts.append(S.cpu().numpy())
            return np.concatenate(E_parts, axis=1), np.concatenate(S_parts, axis=1)

        N = len(self.q_cart)
        if workers is None:
            workers = resolve_workers(None) if dev.type == "cpu" else 1
        size = max(64, min(int(chunk), -(-N // max(1, 2 * workers)))) if workers > 1 else int(chunk)
        parts = [slice(i, min(i + size, N)) for i in range(0, N, size)] or [slice(0, 0)]
        results = map_chunks(work, parts, workers=workers)
        E_parts = [r[0] for r in results]
        S_parts = [r[1] for r in results]
        E = np.concatenate(E_parts, axis=0)
        S = np.concatenate(S_parts, axis=0)
        if self.units == "mbarn":
            S = S * GAMMA_R0_SQUARED_MBARN
        return E, S

    def signal(self, model=None, *, temperature_K: float = 0.0, fwhm_meV=None, width_function=None,
               oversample: int = 4, workers: int | None = None) -> np.ndarray:
        """The powder map (nq, ne) per meV for ``model`` (default: the plan's), as :func:`powder_map`."""
        width = resolve_width(fwhm_meV, width_function)
        E, S = self.modes(model, workers=workers)
        a = np.abs(E)
        energies = np.concatenate([a, -a], axis=1)
        w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=temperature_K)
        w = w * self.weights[:, None]
        nq = self.q_axis.centres.size
        out = histogram_modes(energies, w, self.rows, nq, self.e_axis.edges, width=width, oversample=oversample)
        out[self.q_axis.centres <= 0] = 0.0
        return out


def _h64(q_rlu, prep):
    """h(Q) in float64 (numpy) for a few wavevectors (the refinement of soft or failed single-precision Q)."""
    from .solver import build_hamiltonian

    return build_hamiltonian(prep, q_rlu)


def _assemble(torch, phases, a, b, idx, h0, d):
    """h(Q) (N, d, d) from phases (N, m) and bond coefficients: O(N·m) scatter-adds."""
    N = phases.shape[0]
    flat = torch.zeros((N, d * d), dtype=phases.dtype, device=phases.device)
    if phases.shape[1]:
        flat = flat.index_add(1, idx[0], phases * a)
        flat = flat.index_add(1, idx[1], phases * b)
        flat = flat.index_add(1, idx[2], (phases * b).conj())
        flat = flat.index_add(1, idx[3], phases * a.conj())
    h = flat.reshape(N, d, d)
    return h + torch.diag_embed(h0).unsqueeze(0)


def _colpa_torch(torch, h, W, g, q_rlu, prep, *, refine: float = 0.02, rebuild=None):
    """Colpa's route in torch (the algebra of :func:`insgan_core.spinwave.solver.colpa`).

    Q where the Cholesky fails (Goldstone modes), and — in single precision — Q with a mode softer than
    ``refine`` × the largest energy there (where complex64 round-off is a large relative error), are redone
    in float64 by the numpy solver, which regularises or raises :class:`SpinWaveInstabilityError`.
    """
    L, info = torch.linalg.cholesky_ex(h)
    gc = g.to(L.dtype)
    M = L.mH @ (gc[:, None] * L)
    lam, U = torch.linalg.eigh(M)
    lam = torch.flip(lam, dims=[1])
    U = torch.flip(U, dims=[2])
    Y = ((W * gc) @ L) @ U
    Y = Y * (torch.sign(lam) / torch.sqrt(lam.abs().clamp_min(1e-30))).to(Y.dtype)[:, None, :]
    bad = info != 0
    if h.dtype == torch.complex64:
        soft = lam.abs().amin(dim=1) < refine * lam.abs().amax(dim=1)
        bad = bad | soft | ~torch.isfinite(lam).all(dim=1)
    bad = bad.cpu().numpy()
    if np.any(bad):
        idx = np.nonzero(bad)[0]
        hb = rebuild(idx) if rebuild is not None else h[idx].to(torch.complex128).cpu().numpy()
        lam_b, Y_b = colpa(hb, q_rlu=q_rlu[idx], w=W[idx].to(torch.complex128).cpu().numpy(), scale=prep.scale)
        it = torch.as_tensor(idx, device=h.device)
        lam = lam.clone()
        Y = Y.clone()
        lam[it] = torch.as_tensor(lam_b, dtype=lam.dtype, device=h.device)
        Y[it] = torch.as_tensor(Y_b, dtype=Y.dtype, device=h.device)
    return lam, Y
