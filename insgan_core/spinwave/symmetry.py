"""Point symmetry of a model's spin-wave spectrum S⊥(Q, E), found numerically, for powder averaging.

A powder average needs only the part of each |Q| sphere that is irreducible under the operations g with
S⊥(gQ, E) = S⊥(Q, E). Which operations hold is a property of the *magnetic* structure and couplings, not
only of the crystal's Laue class: an ordered magnet may break inversion (measured here: the library
Bi2Fe4O9 model has S⊥(−Q, E) ≠ S⊥(Q, E) by up to 14 %), so the Laue group of the crystal is only the list
of candidates. This module

* keeps the candidates among the 48 cube operations (x, y, z the model's Cartesian frame, a ∥ x) that
  map the model's reciprocal lattice onto itself (the lattice's holohedry ∩ O_h, i.e. its Laue class
  restricted to operations with axes along x, y, z), and
* verifies each one on the spectrum at generic test wavevectors: Gaussian-smoothed spectra
  Σ_m S⊥_m exp(−(E − ω_m)²/2σ²) at Q and gQ must agree to ``rtol`` (1e-7 by default) — an exact
  symmetry agrees to round-off (~1e-13), a broken one differs at O(1e-2 … 1).

The time-reversal partner of every Q needs no check: linear spin-wave theory gives
S⊥(−Q, E) = S⊥(Q, −E) (without Bose factor) exactly, since the energy-gain columns of the
diagonalisation at Q are the energy-loss modes at −Q. :mod:`insgan_core.spinwave.powder_plan` uses it
by folding every direction's modes onto ±|ω|, which halves the sphere for every model.
"""

from __future__ import annotations

import numpy as np

from .quadrature import CUBIC_OPERATIONS, is_group

__all__ = ["lattice_operations", "spectrum_symmetry", "group_with_inversion"]


def lattice_operations(reciprocal: np.ndarray, *, tol: float = 1e-6) -> np.ndarray:
    """Cube operations (G, 3, 3) that map the reciprocal lattice (rows a*, b*, c*, Cartesian) onto itself."""
    inv = np.linalg.inv(reciprocal)
    keep = []
    for g in CUBIC_OPERATIONS:
        # g maps b_i* to a lattice vector iff (b_i* gᵀ) expressed in r.l.u. is integer
        m = reciprocal @ g.T @ inv
        if np.all(np.abs(m - np.round(m)) < tol):
            keep.append(g)
    return np.array(keep)


def _smoothed(energies, weights, probes, sigma):
    d = (probes[None, None, :] - energies[:, :, None]) / sigma
    return np.einsum("nm,nmp->np", weights, np.exp(-0.5 * d * d))


def spectrum_symmetry(calc, *, n_test: int = 12, rtol: float = 1e-7, seed: int = 12345) -> np.ndarray:
    """Operations g (G, 3, 3), Cartesian, with S⊥(gQ, E) = S⊥(Q, E) for the calculator's model.

    Parameters
    ----------
    calc : SpinWaveCalculator
    n_test : int
        Generic test wavevectors per |Q| (three |Q| values, scaled to the reciprocal cell).
    rtol : float
        Largest allowed difference of the smoothed spectra, relative to their maximum.

    Returns
    -------
    ndarray (G, 3, 3)
        A group (identity first) of verified operations; the identity alone when nothing else holds or
        the verified set is not closed.
    """
    lat = calc.resolved.lattice
    rec = lat.reciprocal
    cands = lattice_operations(rec)
    rng = np.random.default_rng(seed)
    qmax = float(np.linalg.norm(rec, axis=1).max())
    dirs = rng.normal(size=(3 * n_test, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    q_cart = dirs * np.repeat([0.37 * qmax, 1.13 * qmax, 2.71 * qmax], n_test)[:, None]
    images = np.einsum("gij,nj->gni", cands, q_cart).reshape(-1, 3)
    ms = calc.modes(lat.q_rlu(images), form_factor=False)
    n = len(q_cart)
    E = ms.energies.reshape(len(cands), n, -1)
    W = ms.sperp.reshape(len(cands), n, -1)
    scale = max(float(np.abs(E).max()), 1e-9)
    sigma = 0.02 * scale
    probes = np.linspace(-1.1 * scale, 1.1 * scale, 111)
    ref = _smoothed(E[0], W[0], probes, sigma)
    norm = max(float(np.abs(ref).max()), 1e-300)
    keep = [0] + [g for g in range(1, len(cands))
                  if np.abs(_smoothed(E[g], W[g], probes, sigma) - ref).max() <= rtol * norm]
    ops = cands[keep]
    if not is_group(ops):
        return np.eye(3)[None]
    return ops


def group_with_inversion(ops: np.ndarray) -> np.ndarray:
    """⟨ops, −1⟩: the group extended by inversion (the folded ±Q pairing), identity first."""
    out = list(ops)
    for g in ops:
        if not any(np.allclose(-g, h) for h in out):
            out.append(-g)
    return np.array(out)
