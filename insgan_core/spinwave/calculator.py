"""SpinWaveCalculator: energies, S⊥ and neutron intensities of a model at a batch of wavevectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InsganInputError
from .bose import bose_factor
from .formfactor import form_factor as _form_factor
from .hamiltonian import prepare
from .intensity import GAMMA_R0_SQUARED_MBARN, check_units, perpendicular_weight
from .model import SpinWaveModel
from .parallel import map_chunks, resolve_workers, single_torch_thread
from .solver_mixed import colpa_mixed
from .solver import (
    assembly_matrix,
    build_hamiltonian,
    check_q,
    colpa,
    helical_average,
    helical_average_adjoint,
    lab_frame_kernels,
    site_weights,
    white,
)

__all__ = ["SpinWaveCalculator", "ModeSet", "BACKENDS"]

BACKENDS = ("numpy", "torch")
_CHUNKS_PER_WORKER = 2
_MIN_PARALLEL_CHUNK = 64


@dataclass
class ModeSet:
    """All modes at a batch of Q.

    Attributes
    ----------
    q_rlu : ndarray (N, 3)
    energies : ndarray (N, M)
        Signed mode energies in meV (M = 2n commensurate, 6n single-k incommensurate): for each
        (shifted) Q, n energy-loss modes (> 0, descending) then n energy-gain modes (< 0); single-k
        blocks in the order Q−k, Q, Q+k.
    sperp : ndarray (N, M)
        S⊥ per magnetic site for each mode (no Bose factor), with the form factor and g/2 factors when
        requested.
    sab : ndarray (N, M, 3, 3) complex or None
        Full correlation tensors S^{αβ} per site (only when asked for).
    """

    q_rlu: np.ndarray
    energies: np.ndarray
    sperp: np.ndarray
    sab: np.ndarray | None = None


class SpinWaveCalculator:
    """Linear spin-wave calculation for one model (see :mod:`insgan_core.spinwave.solver` for the method).

    Parameters
    ----------
    model : SpinWaveModel
    backend : {"numpy", "torch"}
        torch runs the same float64/complex128 algebra (batched, optionally on a GPU via ``device``).
    device : str
        torch device, e.g. ``"cpu"`` or ``"cuda"``.
    hermitian : bool
        True (default): Colpa's route, raising :class:`~insgan_core.errors.SpinWaveInstabilityError` on an
        unstable structure. False: White's non-Hermitian route (continues on unstable structures).
    omega_tol : float
        Diagonal shift (meV) used only at Q where h(Q) is singular (Goldstone modes).
    check_ground_state : bool
        Verify that every moment is parallel to its local exchange field before computing.
    chunk_size : int, optional
        Wavevectors per batch (bounds memory); default keeps each batch of h(Q) near 64 MB.
    precision : {"float64", "float32"}
        "float64" (default): complex128 throughout. "float32": numpy backend, Colpa's route only — h(Q) is
        assembled in float64, Cholesky and eigh run in complex64 (torch), and Q with a soft mode (below
        2 % of the hardest at that Q), a failed Cholesky or a non-finite result are redone in complex128
        (:mod:`insgan_core.spinwave.solver_mixed`); ~1.5× faster for 2n ≈ 32, ≤ 1e-3 relative (tested).
    workers : int or None
        Threads that diagonalise batches of Q concurrently (numpy's LAPACK calls release the GIL). None
        (default): automatic, :func:`insgan_core.spinwave.parallel.default_workers` for the numpy backend
        (``OMP_NUM_THREADS`` if set, else the usable CPUs, at most 8) and 1 for torch (which threads
        internally).

    Notes
    -----
    During a numpy solve BLAS is limited to one thread (process-wide, restored afterwards; see
    :mod:`insgan_core.spinwave.parallel`): multi-threaded BLAS on the small 2n × 2n matrices is many times
    slower than one thread, and the cores are used by splitting Q over ``workers`` threads instead.
    """

    def __init__(
        self,
        model: SpinWaveModel,
        *,
        backend: str = "numpy",
        device: str = "cpu",
        hermitian: bool = True,
        omega_tol: float = 1e-5,
        check_ground_state: bool = True,
        chunk_size: int | None = None,
        workers: int | None = None,
        precision: str = "float64",
    ):
        if not isinstance(model, SpinWaveModel):
            raise InsganInputError(f"SpinWaveCalculator: expected a SpinWaveModel, got {type(model).__name__}")
        if backend not in BACKENDS:
            raise InsganInputError(f"SpinWaveCalculator: backend = {backend!r}; expected one of {BACKENDS}")
        if not (np.isfinite(omega_tol) and omega_tol > 0):
            raise InsganInputError(f"SpinWaveCalculator: omega_tol = {omega_tol}; give a small positive energy in meV")
        if precision not in ("float64", "float32"):
            raise InsganInputError(f"SpinWaveCalculator: precision = {precision!r}; expected 'float64' or 'float32'")
        if precision == "float32" and (backend != "numpy" or not hermitian):
            raise InsganInputError(
                "SpinWaveCalculator: precision = 'float32' needs backend='numpy' and hermitian=True "
                f"(got backend={backend!r}, hermitian={hermitian})"
            )
        if precision == "float32":
            import importlib.util

            if importlib.util.find_spec("torch") is None:
                raise InsganInputError("SpinWaveCalculator: precision = 'float32' needs torch; install torch or use 'float64'")
        self.precision = precision
        self.model = model
        self.resolved = model.resolve()
        self.prep = prepare(self.resolved, check_ground_state=check_ground_state)
        self.backend = backend
        self.device = device
        self.hermitian = bool(hermitian)
        self.omega_tol = float(omega_tol)
        dim = 2 * self.prep.n
        self.chunk_size = int(chunk_size) if chunk_size else max(256, int(4_000_000 // (dim * dim)))
        if workers is None and backend == "torch":
            workers = 1
        self.workers = resolve_workers(workers, name="SpinWaveCalculator: workers")
        self._assembly = assembly_matrix(self.prep)
        self._torch = None
        if backend == "torch":
            from .solver_torch import TorchSolver

            self._torch = TorchSolver(self.prep, device=device)

    @property
    def n_modes(self) -> int:
        """Number of energy-loss modes per Q (n, or 3n for a single-k incommensurate structure)."""
        return self.prep.n * (3 if self.prep.incommensurate else 1)

    # --- core -------------------------------------------------------------------------------------
    def _solve(self, q: np.ndarray, w: np.ndarray):
        """Signed energies (N, 2n) and mode amplitudes (N, 3, 2n) at q (numpy arrays)."""
        if self._torch is not None:
            return self._torch.solve(q, w, hermitian=self.hermitian, omega_tol=self.omega_tol)
        h = build_hamiltonian(self.prep, q, assembly=self._assembly)
        if self.precision == "float32":
            return colpa_mixed(h, q_rlu=q, w=w, scale=self.prep.scale, omega_tol=self.omega_tol)
        if self.hermitian:
            return colpa(h, q_rlu=q, w=w, scale=self.prep.scale, omega_tol=self.omega_tol)
        return white(h, w=w)

    def _shared_side_blocks(self, q: np.ndarray, w: np.ndarray):
        """Q−k and Q+k blocks from one diagonalisation when 2k is a reciprocal-lattice vector G, else None.

        h(Q+G) = D h(Q) D† with D = diag(d, d), d_i = exp(−2πi G·r_i) (bond vectors are full site-to-site
        vectors), so the Q+k = (Q−k) + G block has the energies of the Q−k block and amplitudes
        Y = (w D) V(Q−k): one Cholesky/eigen-decomposition serves both (a third of the work saved).
        """
        p = self.prep
        if not p.incommensurate or p.helical:
            return None
        G = np.round(2.0 * p.k)
        d = np.exp(-2j * np.pi * (self.resolved.positions @ G))
        d = np.concatenate([d, d])
        rows = w.shape[1]
        lam, Y = self._solve(q - p.k, np.concatenate([w, w * d], axis=1))
        return (lam, Y[:, :rows]), (lam, Y[:, rows:])

    def _site_factors(self, q_abs: np.ndarray, *, form_factor: bool, units: str) -> np.ndarray | None:
        r = self.resolved
        if not form_factor and units == "spin":
            return None
        f = np.ones((q_abs.size, r.n_sites))
        for i, ion in enumerate(r.ions):
            if form_factor and ion:
                f[:, i] = _form_factor(ion, q_abs, g=float(r.g[i]))
            if units == "mbarn":
                f[:, i] *= r.g[i] / 2.0
        return f

    def _modes_chunk(self, q: np.ndarray, *, form_factor: bool, units: str, want_sab: bool) -> ModeSet:
        p = self.prep
        q_cart = self.resolved.lattice.q_cartesian(q)
        q_abs = np.linalg.norm(q_cart, axis=1)
        q_hat = q_cart / np.where(q_abs > 0, q_abs, 1.0)[:, None]
        w = site_weights(p.w, self._site_factors(q_abs, form_factor=form_factor, units=units))
        if not p.incommensurate:
            lam, Y = self._solve(q, w)
            sperp = perpendicular_weight(Y, q_hat, p.n)
            sab = np.einsum("nam,nbm->nmab", Y, Y.conj()) / p.n if want_sab else None
            energies = lam
        else:
            K1, K2 = lab_frame_kernels(p.n_axis)
            proj = np.eye(3)[None] - q_hat[:, :, None] * q_hat[:, None, :]  # (N, 3, 3) polarisation factor
            parts_e, parts_s, parts_t = [], [], []
            shared = self._shared_side_blocks(q, w)
            if shared is None:
                solutions = [self._solve(q - p.k, w), self._solve(q, w), self._solve(q + p.k, w)]
            else:
                solutions = [shared[0], self._solve(q, w), shared[1]]
            for (lam, Y), K in zip(solutions, (K1, K2, K1.conj())):
                parts_e.append(lam)
                if want_sab:
                    s = np.einsum("nam,nbm->nmab", Y, Y.conj()) / p.n
                    if p.helical:
                        s = helical_average(s, p.n_axis)
                    parts_t.append(s @ K)
                # S⊥_m = tr(P avg(S'_m) K) = tr(avg*(K P) S'_m) = Y_m† B Y_m / n with B = avg*(K P),
                # since S'_m = Y_m Y_m† / n: no per-mode 3×3 tensors are formed
                B = K[None] @ proj
                if p.helical:
                    B = helical_average_adjoint(B, p.n_axis)
                parts_s.append(np.einsum("nam,nab,nbm->nm", Y.conj(), B, Y).real / p.n)
            energies = np.concatenate(parts_e, axis=1)
            sperp = np.concatenate(parts_s, axis=1)
            sab = np.concatenate(parts_t, axis=1) if want_sab else None
        if units == "mbarn":
            sperp = sperp * GAMMA_R0_SQUARED_MBARN
            if sab is not None:
                sab = sab * GAMMA_R0_SQUARED_MBARN
        return ModeSet(q_rlu=q, energies=energies, sperp=sperp, sab=sab)

    def modes(self, q_rlu, *, form_factor: bool = False, units: str = "spin", correlation: bool = False) -> ModeSet:
        """All modes (energy loss and gain) at wavevectors ``q_rlu`` (N, 3) r.l.u.; see :class:`ModeSet`."""
        q = check_q(q_rlu)
        check_units(units)
        size = self.chunk_size
        if self.workers > 1:
            # a few chunks per thread balance the load on a busy machine; below ~64 Q per chunk the
            # per-call Python overhead outweighs the parallel gain
            size = max(1, min(size, max(_MIN_PARALLEL_CHUNK, -(-len(q) // (_CHUNKS_PER_WORKER * self.workers)))))
        parts = [q[s : s + size] for s in range(0, len(q), size)] or [q]

        def work(part):
            return self._modes_chunk(part, form_factor=form_factor, units=units, want_sab=correlation)

        if self.precision == "float32":
            with single_torch_thread():
                chunks = map_chunks(work, parts, workers=self.workers)
        else:
            chunks = map_chunks(work, parts, workers=self.workers)
        if len(chunks) == 1:
            return chunks[0]
        return ModeSet(
            q_rlu=q,
            energies=np.concatenate([c.energies for c in chunks]),
            sperp=np.concatenate([c.sperp for c in chunks]),
            sab=None if not correlation else np.concatenate([c.sab for c in chunks]),
        )

    def _loss_columns(self) -> np.ndarray:
        n = self.prep.n
        blocks = 3 if self.prep.incommensurate else 1
        return np.concatenate([np.arange(n) + 2 * n * b for b in range(blocks)])

    def dispersion(self, q_rlu, *, form_factor: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Energy-loss modes: energies (N, n_modes) in meV and S⊥ (N, n_modes) per site.

        S⊥ includes the polarisation factor, not the form factor (unless ``form_factor``) nor the Bose
        factor (T = 0). Modes are in descending energy for each (shifted) Q.
        """
        ms = self.modes(q_rlu, form_factor=form_factor)
        cols = self._loss_columns()
        return ms.energies[:, cols], ms.sperp[:, cols]

    def spectrum(
        self, q_rlu, *, temperature_K: float = 0.0, form_factor: bool = True, units: str = "spin"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Signed energies (N, M) and intensities (N, M) = S⊥ · F² · Bose factor at ``temperature_K``."""
        ms = self.modes(q_rlu, form_factor=form_factor, units=units)
        return ms.energies, ms.sperp * bose_factor(ms.energies, temperature_K=temperature_K)
