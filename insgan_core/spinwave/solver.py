"""Linear spin-wave solver (numpy, batched over Q): Colpa's Cholesky route, White's fallback.

For each Q the 2n×2n bosonic matrix h(Q) (see :mod:`insgan_core.spinwave.hamiltonian`) is
para-diagonalised:

* **Colpa** (J. H. P. Colpa, Physica A 93, 327 (1978)), used when h is positive definite, i.e. the
  structure is a stable classical ground state: h = K†K (Cholesky), eigen-decompose the Hermitian
  K g K† = U Λ U† (g = diag(1,…,1,−1,…,−1)), sort Λ descending (n positive ω(Q), then n negative
  −ω(−Q)), and V = K⁻¹ U sqrt(gΛ) maps normal modes to bosons (V† h V = |Λ|, V g V† = g).
* **White** (R. M. White et al., Phys. Rev. 139, A450 (1965)), when asked: eigenvectors of g·h,
  normalised so that diag(V† g V) = ±1; meant for approximate results on unstable structures.

Goldstone modes and degeneracies: where h is only positive *semi*-definite (a Goldstone mode exactly
at a magnetic zone centre, within round-off), Cholesky fails; like SpinW's ``omega_tol`` we add
``omega_tol`` (meV, default 1e-5) to the diagonal of h at those Q (those with smallest eigenvalue of h
below 1e-10 of its scale), which makes the mode energy ~sqrt(2 A omega_tol) and its intensity large but
finite — never NaN or inf. Where the smallest eigenvalue is below −omega_tol the structure is unstable
and :class:`~insgan_core.errors.SpinWaveInstabilityError` names the first such Q.

Correlation function (per magnetic site, no form factor, no Bose factor), for mode m with signed
energy Λ_m:

    Y^α_m = Σ_i sqrt(S_i/2) [u_i*^α V_{i,m} + u_i^α V_{n+i,m}],   S^{αβ}_m = Y^α_m conj(Y^β_m) / n
    S⊥_m = Σ_αβ (δ_αβ − Q̂_α Q̂_β) S^{αβ}_m = (|Y_m|² − |Q̂·Y_m|²) / n

Positive-energy columns are neutron energy loss at Q (weight × (n_B + 1) at temperature T), negative
columns energy gain (× n_B). Normalisation: per magnetic site of the cell; a ferromagnet has
Σ_modes (S^{xx} + S^{yy}) = S at every Q (multiply by ``model.n_sites / model.formula_units`` for per
formula unit). For single-k incommensurate structures the rotating-frame correlations S' at Q−k, Q, Q+k
are combined as S = S'(Q−k)·K₁ + S'(Q)·K₂ + S'(Q+k)·K₁* with K₁ = (1 − nnᵀ − i[n]×)/2, K₂ = nnᵀ
(Toth & Lake 2015, eq. 39–40; SpinW ``spinwave.m``), after averaging S' over the helix phase when 2k is
not a reciprocal-lattice vector. When 2k is a reciprocal-lattice vector (e.g. k = ½), the Q−k and Q+k
blocks hold the same modes and only their summed S⊥ is physical (an individual entry may be slightly
negative); histograms sum them.
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError, SpinWaveInstabilityError
from .hamiltonian import PreparedHamiltonian
from .model import SIGN_CONVENTION

__all__ = [
    "assembly_matrix",
    "build_hamiltonian",
    "colpa",
    "white",
    "site_weights",
    "helical_average",
    "helical_average_adjoint",
    "lab_frame_kernels",
]


def assembly_matrix(prep: PreparedHamiltonian) -> tuple[np.ndarray, np.ndarray]:
    """Real matrices that turn bond phases into h(Q) with one matrix product.

    With φ_d = 2π Q·Δ_d, every element of h is Σ_d (c_d cos φ_d + s_d sin φ_d) + const. Returns
    ``R`` (2m, 2·(2n)²) acting on [cos φ, sin φ] and giving interleaved (real, imaginary) parts, and the
    constant part ``h0`` (2n, 2n) complex (the −C diagonal).
    """
    n, m = prep.n, len(prep.src)
    d = 2 * n
    Rc = np.zeros((m, d * d), dtype=complex)  # coefficient of cos φ
    Rs = np.zeros((m, d * d), dtype=complex)  # coefficient of sin φ
    rows = np.arange(m)
    i, j = prep.src, prep.dst

    def put(r, c, coeff, sign):
        # coeff · exp(sign·iφ) = coeff cos φ + sign·i coeff sin φ
        np.add.at(Rc, (rows, r * d + c), coeff)
        np.add.at(Rs, (rows, r * d + c), sign * 1j * coeff)

    put(i, j, prep.a, +1)  # A(Q)
    put(i, n + j, prep.b, +1)  # B(Q)
    put(n + j, i, prep.b.conj(), -1)  # B(Q)†
    put(n + i, n + j, prep.a.conj(), +1)  # conj(A(−Q))
    R = np.zeros((2 * m, d * d, 2))
    R[:m, :, 0], R[:m, :, 1] = Rc.real, Rc.imag
    R[m:, :, 0], R[m:, :, 1] = Rs.real, Rs.imag
    h0 = np.zeros((d, d), dtype=complex)
    h0[np.arange(n), np.arange(n)] = -prep.c_diag
    h0[np.arange(n) + n, np.arange(n) + n] = -prep.c_diag
    R = R.reshape(2 * m, 2 * d * d)
    # sparse form (rows, values, segment starts, output columns), used when R is large and mostly zero
    r_idx, c_idx = np.nonzero(R)
    order = np.argsort(c_idx, kind="stable")
    r_idx, c_idx = r_idx[order], c_idx[order]
    starts = np.concatenate([[0], np.nonzero(np.diff(c_idx))[0] + 1]) if c_idx.size else np.zeros(0, dtype=int)
    sparse = (r_idx, R[r_idx, c_idx], starts, c_idx[starts] if c_idx.size else c_idx)
    return R, h0, sparse


def build_hamiltonian(prep: PreparedHamiltonian, q_rlu: np.ndarray, *, assembly=None) -> np.ndarray:
    """h(Q) for a batch of wavevectors.

    Parameters
    ----------
    prep : PreparedHamiltonian
    q_rlu : ndarray (N, 3)
        Wavevectors in r.l.u. of the model's (magnetic) cell.
    assembly : tuple, optional
        Cached :func:`assembly_matrix` output.

    Returns
    -------
    ndarray (N, 2n, 2n) complex128, Hermitian (every bond enters in both directions).
    """
    d = 2 * prep.n
    q = np.asarray(q_rlu, dtype=float).reshape(-1, 3)
    R, h0, sparse = assembly_matrix(prep) if assembly is None else assembly
    if len(prep.src) == 0:
        return np.broadcast_to(h0, (len(q), d, d)).copy()
    arg = (2.0 * np.pi) * (q @ prep.delta.T)  # (N, m)
    trig = np.concatenate([np.cos(arg), np.sin(arg)], axis=1)
    if R.shape[1] <= 512:  # small cells: one dense BLAS product
        flat = trig @ R
    else:  # large cells: O(bonds) gather and segment sums instead of O(bonds × (2n)²)
        rows, vals, starts, cols = sparse
        flat = np.zeros((len(q), R.shape[1]))
        flat[:, cols] = np.add.reduceat(trig[:, rows] * vals, starts, axis=1)
    h = np.ascontiguousarray(flat).view(np.complex128).reshape(len(q), d, d)
    h += h0
    return h


def _instability(q_rlu, emin, *, where, omega_tol):
    worst = int(np.argmin(emin))
    first = int(np.nonzero(emin < -omega_tol)[0][0])
    return SpinWaveInstabilityError(
        f"the spin-wave Hamiltonian is not positive definite: the magnetic structure is not a stable "
        f"classical ground state. First offending Q = {np.round(q_rlu[where[first]], 6).tolist()} r.l.u.; most "
        f"negative eigenvalue of h(Q) = {emin[worst]:.6g} meV at Q = {np.round(q_rlu[where[worst]], 6).tolist()} r.l.u. "
        f"Check moment directions, k-vector and coupling signs ({SIGN_CONVENTION}), or pass "
        "hermitian=False to continue with White's non-Hermitian route."
    )


def _regularise(h: np.ndarray, q_rlu: np.ndarray, *, scale: float, omega_tol: float) -> np.ndarray:
    """Shift near-singular h by omega_tol; raise for negative eigenvalues (used only on Cholesky failure)."""
    emin = np.linalg.eigvalsh(h)[:, 0]
    if np.any(emin < -omega_tol):
        raise _instability(q_rlu, emin, where=np.arange(len(h)), omega_tol=omega_tol)
    soft = emin < 1e-10 * scale
    h = h.copy()
    dim = h.shape[1]
    h[np.ix_(soft, np.arange(dim), np.arange(dim))] += omega_tol * np.eye(dim)
    return h


def colpa(h: np.ndarray, *, q_rlu: np.ndarray, w: np.ndarray, scale: float = 1.0, omega_tol: float = 1e-5):
    """Colpa para-diagonalisation of a batch of Hermitian h, returning energies and mode amplitudes.

    Parameters
    ----------
    h : ndarray (N, 2n, 2n) complex
    q_rlu : ndarray (N, 3)
        The wavevectors (for error messages).
    w : ndarray (N or 1, 3, 2n) complex
        Spin-operator weights (optionally times form factor per site).

    Returns
    -------
    omega : ndarray (N, 2n)
        Signed energies (meV), descending: n positive, then n negative.
    Y : ndarray (N, 3, 2n) complex
        Mode amplitudes Y = w V with V = K⁻¹ U sqrt(gΛ) = g K† U sign(Λ)/sqrt|Λ|.
    """
    dim = h.shape[1]
    n = dim // 2
    g = np.concatenate([np.ones(n), -np.ones(n)])
    try:
        L = np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        h = _regularise(h, q_rlu, scale=scale, omega_tol=omega_tol)
        try:
            L = np.linalg.cholesky(h)
        except np.linalg.LinAlgError:
            emin = np.linalg.eigvalsh(h)[:, 0]
            raise _instability(q_rlu, np.minimum(emin, -2 * omega_tol), where=np.arange(len(h)), omega_tol=omega_tol) from None
    # h = K†K with K = L† upper triangular; M = K g K† = L† g L
    M = np.conj(np.swapaxes(L, 1, 2)) @ (g[:, None] * L)
    lam, U = np.linalg.eigh(M)
    # V = K⁻¹ U sqrt|Λ| = g K† U Λ⁻¹ sqrt|Λ| (since K g K† U = U Λ): no triangular solve needed;
    # reorder to descending energies on the small (N, 3, 2n) result rather than on U
    Y = (((w * g) @ L) @ U)[:, :, ::-1]
    lam = np.ascontiguousarray(lam[:, ::-1])
    Y = Y * (np.sign(lam) / np.sqrt(np.abs(lam)))[:, None, :]
    return lam, Y


def white(h: np.ndarray, *, w: np.ndarray):
    """White's route: eigen-decomposition of g·h (non-Hermitian); energies are the real parts.

    Returns ``(omega (N, 2n) signed descending, Y (N, 3, 2n))`` like :func:`colpa`; eigenvectors are
    normalised so that |diag(V† g V)| = 1. Complex (unstable) frequencies are reported by their real part.
    """
    dim = h.shape[1]
    n = dim // 2
    g = np.concatenate([np.ones(n), -np.ones(n)])
    lam, V = np.linalg.eig(g[None, :, None] * h)
    order = np.argsort(-lam.real, axis=1)
    lam = np.take_along_axis(lam, order, axis=1).real
    V = np.take_along_axis(V, order[:, None, :], axis=2)
    norm = np.abs(np.einsum("nam,a,nam->nm", V.conj(), g, V))
    V = V / np.sqrt(np.where(norm > 1e-300, norm, 1.0))[:, None, :]
    return lam, np.broadcast_to(w, (len(h),) + w.shape[1:]) @ V


def site_weights(w: np.ndarray, site_factors: np.ndarray | None) -> np.ndarray:
    """w (3, 2n) scaled per site by ``site_factors`` (N, n) -> (N, 3, 2n); unscaled -> (1, 3, 2n)."""
    if site_factors is None:
        return w[None]
    f = np.concatenate([site_factors, site_factors], axis=1)
    return w[None] * f[:, None, :]


def helical_average(S: np.ndarray, n_axis: np.ndarray) -> np.ndarray:
    """Average a correlation tensor (..., 3, 3) over the free phase of a helix about ``n_axis``.

    Notes
    -----
    S → ½S − ½[n]×S[n]× + ½(nnᵀ − 1)S nnᵀ + ½ nnᵀ S(2nnᵀ − 1) (SpinW ``spinwave.m``, helical case).
    """
    nx = np.array([[0.0, -n_axis[2], n_axis[1]], [n_axis[2], 0.0, -n_axis[0]], [-n_axis[1], n_axis[0], 0.0]])
    nn = np.outer(n_axis, n_axis)
    one = np.eye(3)
    return 0.5 * S - 0.5 * nx @ S @ nx + 0.5 * (nn - one) @ S @ nn + 0.5 * nn @ S @ (2 * nn - one)


def helical_average_adjoint(X: np.ndarray, n_axis: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`helical_average` under tr(X·S): tr(X avg(S)) = tr(avg*(X) S); X (..., 3, 3)."""
    nx = np.array([[0.0, -n_axis[2], n_axis[1]], [n_axis[2], 0.0, -n_axis[0]], [-n_axis[1], n_axis[0], 0.0]])
    nn = np.outer(n_axis, n_axis)
    one = np.eye(3)
    return 0.5 * X - 0.5 * nx @ X @ nx + 0.5 * nn @ X @ (nn - one) + 0.5 * (2 * nn - one) @ X @ nn


def lab_frame_kernels(n_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K₁ = (1 − nnᵀ − i[n]×)/2 and K₂ = nnᵀ of the rotating-frame transformation."""
    nx = np.array([[0.0, -n_axis[2], n_axis[1]], [n_axis[2], 0.0, -n_axis[0]], [-n_axis[1], n_axis[0], 0.0]])
    nn = np.outer(n_axis, n_axis)
    return 0.5 * (np.eye(3) - nn - 1j * nx), nn


def check_q(q_rlu, *, name: str = "q_rlu") -> np.ndarray:
    q = np.asarray(q_rlu, dtype=float)
    if q.ndim == 1 and q.size == 3:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != 3:
        raise InsganInputError(f"{name}: expected wavevectors of shape (N, 3) in r.l.u., got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise InsganInputError(f"{name}: wavevectors contain NaN or inf")
    return q
