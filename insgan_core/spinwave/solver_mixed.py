"""Mixed-precision Colpa solve: complex64 Cholesky + eigh, complex128 refinement where it matters.

The algebra is that of :func:`insgan_core.spinwave.solver.colpa` (h = K†K, eigh of K g K†, Y = w g K† U
sign(Λ)/sqrt|Λ|), run in single precision with torch (batched LAPACK; ~1.5–2× faster than the complex128
solve for 2n ≈ 32 on a CPU). Single precision has ~1e-7 relative round-off on h's scale, so a mode much
softer than the largest one at the same Q gets a large *relative* error; the following Q are therefore
redone in complex128 by :func:`~insgan_core.spinwave.solver.colpa` (which regularises Goldstone modes with
``omega_tol`` or raises :class:`~insgan_core.errors.SpinWaveInstabilityError`):

* Q whose single-precision Cholesky fails (h not numerically positive definite: Goldstone modes,
  instabilities);
* Q with min |ω| < ``refine`` × max |ω| (soft modes; default ``refine`` = 0.02, as the powder plan);
* Q with any non-finite result.

Everything else agrees with the float64 solve to ~1e-6 relative in energies and weights (tested against
the complex128 path on a 16-site cell: ≤ 1e-3 relative). Inputs and outputs are numpy arrays.
"""

from __future__ import annotations

import numpy as np

from .solver import colpa

__all__ = ["colpa_mixed", "DEFAULT_REFINE"]

DEFAULT_REFINE = 0.02


def colpa_mixed(h: np.ndarray, *, q_rlu: np.ndarray, w: np.ndarray, scale: float = 1.0, omega_tol: float = 1e-5,
                refine: float = DEFAULT_REFINE, return_refined: bool = False):
    """Colpa para-diagonalisation in complex64 with complex128 refinement (see the module docstring).

    Parameters
    ----------
    h : ndarray (N, 2n, 2n) complex128
        Hermitian bosonic matrices (float64 assembly; kept for the refinement).
    q_rlu : ndarray (N, 3)
        Wavevectors (r.l.u.), for error messages.
    w : ndarray (N or 1, 3, 2n) complex
        Spin-operator weights.
    scale, omega_tol : float
        As :func:`insgan_core.spinwave.solver.colpa`.
    refine : float
        Q with a mode softer than ``refine`` × the hardest mode at that Q are solved in complex128.
    return_refined : bool
        Also return the boolean mask (N,) of refined Q.

    Returns
    -------
    omega : ndarray (N, 2n) float64
        Signed energies (meV), descending.
    Y : ndarray (N, 3, 2n) complex128
        Mode amplitudes, as :func:`~insgan_core.spinwave.solver.colpa`.
    refined : ndarray (N,) bool, only with ``return_refined``
    """
    import torch

    N, dim = h.shape[0], h.shape[1]
    n = dim // 2
    w = np.broadcast_to(w, (N,) + w.shape[1:])
    with torch.no_grad():
        h32 = torch.from_numpy(np.ascontiguousarray(h, dtype=np.complex64))
        L, info = torch.linalg.cholesky_ex(h32)
        g = torch.cat([torch.ones(n), -torch.ones(n)]).to(torch.complex64)
        M = L.mH @ (g[:, None] * L)
        lam, U = torch.linalg.eigh(M)
        W = torch.from_numpy(np.ascontiguousarray(w, dtype=np.complex64))
        Y = (((W * g) @ L) @ U).flip(2)
        lam = lam.flip(1)
        alam = lam.abs()
        Y = Y * (torch.sign(lam) / torch.sqrt(alam.clamp_min(1e-30))).to(Y.dtype)[:, None, :]
        bad = (info != 0) | (alam.amin(dim=1) < refine * alam.amax(dim=1)) | ~torch.isfinite(lam).all(dim=1)
        bad = bad | ~torch.isfinite(torch.view_as_real(Y)).flatten(1).all(dim=1)
        lam64 = lam.numpy().astype(np.float64)
        Y128 = Y.numpy().astype(np.complex128)
        bad = bad.numpy()
    if np.any(bad):
        idx = np.nonzero(bad)[0]
        lam_b, Y_b = colpa(h[idx], q_rlu=np.asarray(q_rlu)[idx], w=np.ascontiguousarray(w[idx]), scale=scale,
                           omega_tol=omega_tol)
        lam64[idx] = lam_b
        Y128[idx] = Y_b
    if return_refined:
        return lam64, Y128, bad
    return lam64, Y128
