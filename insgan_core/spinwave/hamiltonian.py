"""Q-independent pieces of the linear spin-wave Hamiltonian (local frames, bond coefficients).

Notation follows S. Toth and B. Lake, J. Phys.: Condens. Matter 27, 166002 (2015) (the SpinW paper).
Each site i has a local right-handed frame (e1, e2, e3) with e3 along its moment; u_i = e1 + i e2 and
v_i = e3. The Holstein–Primakoff expansion S_i ≈ sqrt(S_i/2)(u_i* b_i + u_i b_i†) + v_i (S_i − b_i† b_i)
turns H into the 2n×2n bosonic matrix h(Q) built in :mod:`insgan_core.spinwave.solver`.

Every bond (i → j, bond vector Δ, matrix J) is entered in both directions, (i, j, Δ, J) and
(j, i, −Δ, Jᵀ); single-ion anisotropy A_i enters the same way as a bond (i, i, 0, A_i). With that, for a
directed bond list ``d``:

    A_ij(Q) = Σ_d sqrt(S_i S_j)/2 · u_iᵀ J u_j* · exp(2πi Q·Δ)
    B_ij(Q) = Σ_d sqrt(S_i S_j)/2 · u_iᵀ J u_j  · exp(2πi Q·Δ)
    C_ii    = Σ_d S_j · v_iᵀ J v_j − μ_B g_i B·v_i
    h(Q)    = [[A(Q) − C, B(Q)], [B(Q)†, conj(A(−Q)) − C]]

so that the eigenvalues of g·h(Q), g = diag(1,…,1,−1,…,−1), are ±ω(Q) directly (FM chain check:
h = 2|J|S(1 − cos 2πh) on the diagonal). Δ is the full fractional bond vector (offset + r_j − r_i), so
the spin operator needs no extra site phase.

Single-k incommensurate structures (rotating frame, as SpinW ``spinwave.m``): the exchange of a bond
with vector Δ is replaced by (J K + K J)/2 with K the rotation about n by 2π k·Δ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpinWaveInstabilityError
from .model import SIGN_CONVENTION, ResolvedModel

__all__ = ["MU_B_MEV_PER_T", "PreparedHamiltonian", "local_frames", "rotation_matrices", "prepare"]

#: Bohr magneton in meV/T (CODATA 2018: 5.7883818060e-5 eV/T)
MU_B_MEV_PER_T = 5.7883818060e-2


def local_frames(directions: np.ndarray) -> np.ndarray:
    """Right-handed local frames (e1, e2, e3), e3 ∥ moment; SpinW's choice e2 ∝ e3 × x̂.

    Parameters
    ----------
    directions : ndarray (n, 3)
        Unit moment directions.

    Returns
    -------
    ndarray (n, 3, 3)
        ``frames[i, :, c]`` is axis e_{c+1} of site i (columns, as a rotation matrix).
    """
    e3 = np.asarray(directions, dtype=float)
    e2 = np.stack([np.zeros(len(e3)), e3[:, 2], -e3[:, 1]], axis=1)  # e3 × x̂
    small = np.linalg.norm(e2, axis=1) < 1e-10
    e2[small] = [0.0, 0.0, 1.0]
    e2 /= np.linalg.norm(e2, axis=1, keepdims=True)
    e1 = np.cross(e2, e3)
    return np.stack([e1, e2, e3], axis=2)


def rotation_matrices(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rodrigues rotation matrices about a unit axis, shape (len(angles), 3, 3) (angles in radians)."""
    n = np.asarray(axis, dtype=float)
    nx = np.array([[0.0, -n[2], n[1]], [n[2], 0.0, -n[0]], [-n[1], n[0], 0.0]])
    nn = np.outer(n, n)
    c = np.cos(angles)[:, None, None]
    s = np.sin(angles)[:, None, None]
    return c * np.eye(3) + s * nx + (1.0 - c) * nn


@dataclass(frozen=True)
class PreparedHamiltonian:
    """Arrays the Q-dependent solver needs (numpy, float64/complex128).

    Attributes
    ----------
    n : int                        number of sites
    src, dst : ndarray (m,)        site indices of each directed bond
    delta : ndarray (m, 3)         fractional bond vectors
    a, b : ndarray (m,) complex    coefficients of A and B (see module docstring)
    c_diag : ndarray (n,)          C_ii (meV)
    w : ndarray (3, 2n) complex    spin-operator weights: S^α = Σ_a w[α, a] x_a
    spins : ndarray (n,)
    incommensurate : bool
    k : ndarray (3,)               propagation vector (r.l.u.)
    n_axis : ndarray (3,)
    helical : bool                 True when 2k is not a reciprocal-lattice vector
    """

    n: int
    src: np.ndarray
    dst: np.ndarray
    delta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c_diag: np.ndarray
    w: np.ndarray
    spins: np.ndarray
    incommensurate: bool
    k: np.ndarray
    n_axis: np.ndarray
    helical: bool
    scale: float


def prepare(model: ResolvedModel, *, check_ground_state: bool = True, tol: float = 1e-4) -> PreparedHamiltonian:
    """Q-independent coefficients of h(Q) for a resolved model.

    ``tol`` is the largest transverse local field allowed, relative to the field scale (1e-4 accepts
    moments typed with four decimals, e.g. 120° structures; a wrong structure is off by O(1)).

    Raises
    ------
    SpinWaveInstabilityError
        When ``check_ground_state`` and some moment is not parallel to its local exchange field (the
        structure is not a classical stationary state, so linear spin-wave theory does not apply).
    """
    n = model.n_sites
    frames = local_frames(model.directions)
    u = frames[:, :, 0] + 1j * frames[:, :, 1]
    v = frames[:, :, 2]
    S = model.spins

    delta = model.bond_vectors
    Jm = model.bond_J.copy()
    if model.incommensurate and len(Jm):
        K = rotation_matrices(model.n_axis, 2.0 * np.pi * delta @ model.k)
        Jm = 0.5 * (Jm @ K + K @ Jm)
    # directed bonds: forward, reverse, and anisotropy as self-bonds in both directions
    aniso_sites = np.nonzero(np.any(model.anisotropy != 0.0, axis=(1, 2)))[0]
    A = model.anisotropy[aniso_sites]
    src = np.concatenate([model.bond_i, model.bond_j, aniso_sites, aniso_sites]).astype(int)
    dst = np.concatenate([model.bond_j, model.bond_i, aniso_sites, aniso_sites]).astype(int)
    dvec = np.concatenate([delta, -delta, np.zeros((2 * len(aniso_sites), 3))]).reshape(-1, 3)
    Jd = np.concatenate([Jm, np.transpose(Jm, (0, 2, 1)), A, np.transpose(A, (0, 2, 1))]).reshape(-1, 3, 3)

    ui, uj, vi, vj = u[src], u[dst], v[src], v[dst]
    pref = 0.5 * np.sqrt(S[src] * S[dst])
    a = pref * np.einsum("ma,mab,mb->m", ui, Jd, uj.conj())
    b = pref * np.einsum("ma,mab,mb->m", ui, Jd, uj)
    c_diag = np.zeros(n)
    np.add.at(c_diag, src, S[dst] * np.einsum("ma,mab,mb->m", vi, Jd, vj))
    c_diag -= MU_B_MEV_PER_T * model.g * (v @ model.field_T)

    if check_ground_state:
        # local field on site i: dE/dS_i = Σ_d J S_j v_j − μ_B g B (anisotropy counted twice via its
        # two directed entries, as 2 A S_i); a stationary state has it parallel to v_i
        hloc = np.zeros((n, 3))
        np.add.at(hloc, src, np.einsum("mab,mb->ma", Jd, S[dst, None] * vj))
        hloc -= MU_B_MEV_PER_T * model.g[:, None] * model.field_T[None, :]
        perp = hloc - np.sum(hloc * v, axis=1, keepdims=True) * v
        size = max(np.abs(hloc).max(), np.abs(Jd).max() * S.max() if len(Jd) else 0.0, 1e-12)
        bad = np.linalg.norm(perp, axis=1) > tol * size
        if np.any(bad):
            i = int(np.nonzero(bad)[0][0])
            raise SpinWaveInstabilityError(
                f"the magnetic structure is not a classical ground state: site {i} (moment {model.directions[i].round(4).tolist()}) "
                f"feels a transverse exchange field {perp[i].round(6).tolist()} meV (local field "
                f"{hloc[i].round(6).tolist()} meV). Check the moment directions, the k-vector and the signs of "
                f"the couplings ({SIGN_CONVENTION}); set 'relax: true' under 'structure' in the model file (or relax=True) "
                "to minimise the moments, or pass check_ground_state=False to compute anyway."
            )

    w = np.concatenate([np.sqrt(S / 2.0)[None, :] * u.T.conj(), np.sqrt(S / 2.0)[None, :] * u.T], axis=1)
    k = model.k
    two_k = 2.0 * k
    helical = bool(model.incommensurate and np.any(np.abs(two_k - np.round(two_k)) > 1e-8))
    scale = float(max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), np.abs(c_diag).max(initial=0.0), 1e-12))
    return PreparedHamiltonian(
        n=n,
        src=src,
        dst=dst,
        delta=dvec,
        a=a,
        b=b,
        c_diag=c_diag,
        w=w,
        spins=S.copy(),
        incommensurate=model.incommensurate,
        k=k.copy(),
        n_axis=model.n_axis.copy(),
        helical=helical,
        scale=scale,
    )
