"""Classical ground state by iterative alignment of each spin against its local field.

Used by models that ask for ``relax: true`` (their moment directions then follow parameter
overrides), and to prepare the stored moments of library models. The iteration S_i ← −S_i h_i/|h_i|
with h_i = ∂E/∂S_i (local exchange field, rotating frame for single-k structures) is the
steepest-descent scheme of SpinW's ``optmagsteep``; it converges to a local minimum.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpinWaveInstabilityError
from .hamiltonian import MU_B_MEV_PER_T, rotation_matrices
from .model import ResolvedModel

__all__ = ["relax_directions", "classical_energy"]


def _couplings(model: ResolvedModel):
    delta = model.bond_vectors
    Jm = model.bond_J.copy()
    if model.incommensurate and len(Jm):
        K = rotation_matrices(model.n_axis, 2.0 * np.pi * delta @ model.k)
        Jm = 0.5 * (Jm @ K + K @ Jm)
    return Jm


def _local_fields(model: ResolvedModel, spins_vec: np.ndarray, Jm: np.ndarray) -> np.ndarray:
    h = np.zeros_like(spins_vec)
    np.add.at(h, model.bond_i, np.einsum("mab,mb->ma", Jm, spins_vec[model.bond_j]))
    np.add.at(h, model.bond_j, np.einsum("mba,mb->ma", Jm, spins_vec[model.bond_i]))
    h += np.einsum("iab,ib->ia", model.anisotropy + np.transpose(model.anisotropy, (0, 2, 1)), spins_vec)
    h -= MU_B_MEV_PER_T * model.g[:, None] * model.field_T[None, :]
    return h


def classical_energy(model: ResolvedModel, directions: np.ndarray | None = None) -> float:
    """Classical energy per magnetic cell (meV) of the (rotating-frame) structure."""
    d = model.directions if directions is None else np.asarray(directions, dtype=float)
    s = model.spins[:, None] * d
    Jm = _couplings(model)
    e = np.einsum("ma,mab,mb->", s[model.bond_i], Jm, s[model.bond_j])
    e += np.einsum("ia,iab,ib->", s, model.anisotropy, s)
    e -= MU_B_MEV_PER_T * np.sum(model.g * (s @ model.field_T))
    return float(e)


def relax_directions(
    model: ResolvedModel, *, max_iter: int = 20000, tol: float = 1e-12, planar_axis: np.ndarray | None = None
) -> np.ndarray:
    """Unit moment directions (n, 3) of a local classical minimum reached from ``model.directions``.

    Parameters
    ----------
    model : ResolvedModel
    max_iter : int
        Sweeps of the alignment iteration.
    tol : float
        Convergence threshold on the largest change of a unit vector per sweep.
    planar_axis : ndarray (3,), optional
        Keep moments perpendicular to this axis (required for single-k rotating-frame structures,
        whose moments must lie in the plane perpendicular to the rotation axis n).
    """
    d = model.directions.copy()
    axis = model.n_axis if (planar_axis is None and model.incommensurate) else planar_axis
    Jm = _couplings(model)
    for _ in range(int(max_iter)):
        h = _local_fields(model, model.spins[:, None] * d, Jm)
        new = -h
        if axis is not None:
            new = new - np.sum(new * axis, axis=1, keepdims=True) * axis
        norm = np.linalg.norm(new, axis=1, keepdims=True)
        if np.any(norm < 1e-14):
            raise SpinWaveInstabilityError("ground-state relaxation: a site has zero local field; give a better starting structure")
        new = new / norm
        change = np.max(np.linalg.norm(new - d, axis=1))
        d = new
        if change < tol:
            break
    return d
