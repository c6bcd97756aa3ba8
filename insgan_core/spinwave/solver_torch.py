"""The linear spin-wave solver in torch (float64/complex128): same algebra as :mod:`.solver`.

Used for GPUs and large batches; ``SpinWaveCalculator(model, backend="torch", device=...)`` selects it.
Results agree with the numpy path to ~1e-10 relative (tested).
"""

from __future__ import annotations

import numpy as np

from .hamiltonian import PreparedHamiltonian
from .solver import _instability, assembly_matrix

__all__ = ["TorchSolver"]


class TorchSolver:
    """Batched h(Q) assembly and Colpa/White diagonalisation with torch tensors."""

    def __init__(self, prep: PreparedHamiltonian, *, device: str = "cpu"):
        import torch

        self.torch = torch
        self.prep = prep
        self.device = torch.device(device)
        t = lambda x, dt: torch.as_tensor(np.ascontiguousarray(x), dtype=dt, device=self.device)  # noqa: E731
        self.delta = t(prep.delta, torch.float64)
        self.a = t(prep.a, torch.complex128)
        self.b = t(prep.b, torch.complex128)
        self.c = t(prep.c_diag, torch.float64)
        R, h0, (rows, vals, _, _) = assembly_matrix(prep)
        self.R = t(R, torch.float64)
        self.h0 = t(h0, torch.complex128)
        cols = np.nonzero(R)[1][np.argsort(np.nonzero(R)[1], kind="stable")]
        self.sp_rows = t(rows, torch.long)
        self.sp_vals = t(vals, torch.float64)
        self.sp_cols = t(cols, torch.long)
        n = prep.n
        self.g = torch.cat([torch.ones(n, dtype=torch.float64), -torch.ones(n, dtype=torch.float64)]).to(self.device)

    def hamiltonian(self, q: np.ndarray):
        torch = self.torch
        d = 2 * self.prep.n
        qt = torch.as_tensor(q, dtype=torch.float64, device=self.device)
        N = qt.shape[0]
        if self.delta.shape[0] == 0:
            return self.h0.expand(N, d, d).clone()
        arg = (2.0 * np.pi) * (qt @ self.delta.T)
        trig = torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)
        if self.R.shape[1] <= 512:
            flat = trig @ self.R
        else:
            flat = torch.zeros((N, self.R.shape[1]), dtype=torch.float64, device=self.device)
            flat.index_add_(1, self.sp_cols, trig[:, self.sp_rows] * self.sp_vals)
        h = torch.view_as_complex(flat.reshape(N, d, d, 2).contiguous())
        return h + self.h0

    def solve(self, q: np.ndarray, w: np.ndarray, *, hermitian: bool, omega_tol: float):
        """Signed energies (N, 2n) and amplitudes Y = w V (N, R, 2n) for w (N or 1, R, 2n), as numpy arrays."""
        torch = self.torch
        h = self.hamiltonian(q)
        dim = h.shape[1]
        wt = torch.as_tensor(np.ascontiguousarray(w), dtype=torch.complex128, device=self.device)
        wt = wt.expand(h.shape[0], wt.shape[1], dim)  # 3 rows, or 6 for two gauge-related blocks
        if not hermitian:
            lam, V = torch.linalg.eig(self.g[None, :, None] * h)
            order = torch.argsort(-lam.real, dim=1)
            lam = torch.gather(lam.real, 1, order)
            V = torch.gather(V, 2, order[:, None, :].expand_as(V))
            norm = torch.einsum("nam,a,nam->nm", V.conj(), self.g.to(V.dtype), V).abs()
            V = V / torch.sqrt(torch.where(norm > 1e-300, norm, torch.ones_like(norm)))[:, None, :]
            return lam.cpu().numpy(), (wt @ V).cpu().numpy()
        L, info = torch.linalg.cholesky_ex(h)
        if bool((info != 0).any()):
            emin = torch.linalg.eigvalsh(h)[:, 0]
            if bool((emin < -omega_tol).any()):
                raise _instability(q, emin.cpu().numpy(), where=np.arange(len(q)), omega_tol=omega_tol)
            soft = emin < 1e-10 * self.prep.scale
            eye = torch.eye(dim, dtype=h.dtype, device=self.device)
            h = h + omega_tol * soft[:, None, None].to(h.dtype) * eye
            L, info = torch.linalg.cholesky_ex(h)
            if bool((info != 0).any()):
                emin = torch.linalg.eigvalsh(h)[:, 0].cpu().numpy()
                raise _instability(q, np.minimum(emin, -2 * omega_tol), where=np.arange(len(q)), omega_tol=omega_tol)
        gc = self.g.to(L.dtype)
        M = L.transpose(1, 2).conj() @ (gc[:, None] * L)
        lam, U = torch.linalg.eigh(M)
        lam = torch.flip(lam, dims=[1])
        U = torch.flip(U, dims=[2])
        scale = (torch.sign(lam) / torch.sqrt(lam.abs())).to(U.dtype)
        Y = ((wt * gc) @ L @ U) * scale[:, None, :]
        return lam.cpu().numpy(), Y.cpu().numpy()
