"""Crystal lattice: cell parameters, Cartesian basis and reciprocal basis.

Cartesian frame (used for moment directions, exchange matrices, DM vectors and fields everywhere in the
spinwave layer): **a** along x, **b** in the xy plane, **c** completing a right-handed set (the
convention of SpinW and most crystallography codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InsganInputError

__all__ = ["Lattice"]


@dataclass(frozen=True)
class Lattice:
    """Unit cell given by lengths (Å) and angles (degrees).

    Parameters
    ----------
    a, b, c : float
        Cell lengths in Å, > 0.
    alpha, beta, gamma : float
        Cell angles in degrees (alpha between b and c, beta between a and c, gamma between a and b).

    Notes
    -----
    ``basis`` rows are the real-space vectors **a**, **b**, **c** in Cartesian Å; ``reciprocal`` rows are
    **a***, **b***, **c*** with the 2π factor (Å⁻¹), so a wavevector in reciprocal-lattice units (r.l.u.)
    ``hkl`` is ``hkl @ reciprocal`` in Cartesian Å⁻¹ and ``|Q| = |hkl @ reciprocal|``.
    """

    a: float
    b: float
    c: float
    alpha: float = 90.0
    beta: float = 90.0
    gamma: float = 90.0

    def __post_init__(self):
        for name in ("a", "b", "c", "alpha", "beta", "gamma"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InsganInputError(f"lattice: '{name}' must be a number, got {value!r}") from None
            if not np.isfinite(value):
                raise InsganInputError(f"lattice: '{name}' is {value}; give a finite number")
            object.__setattr__(self, name, value)
        for name in ("a", "b", "c"):
            if getattr(self, name) <= 0:
                raise InsganInputError(
                    f"lattice: cell length '{name}' = {getattr(self, name)} Å; cell lengths must be > 0 Å"
                )
        for name in ("alpha", "beta", "gamma"):
            if not 0.0 < getattr(self, name) < 180.0:
                raise InsganInputError(
                    f"lattice: cell angle '{name}' = {getattr(self, name)} deg; angles must lie in (0, 180) degrees"
                )
        basis = self._basis()
        volume = float(np.linalg.det(basis))
        if not np.isfinite(volume) or volume <= 1e-6 * self.a * self.b * self.c:
            raise InsganInputError(
                f"lattice: the angles alpha={self.alpha}, beta={self.beta}, gamma={self.gamma} deg give a "
                "degenerate (zero-volume) cell; check the cell angles"
            )

    def _basis(self) -> np.ndarray:
        al, be, ga = np.radians([self.alpha, self.beta, self.gamma])
        ax = np.array([self.a, 0.0, 0.0])
        bx = np.array([self.b * np.cos(ga), self.b * np.sin(ga), 0.0])
        cx = self.c * np.cos(be)
        cy = self.c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
        cz2 = self.c**2 - cx**2 - cy**2
        cz = np.sqrt(cz2) if cz2 > 0 else 0.0
        return np.array([ax, bx, [cx, cy, cz]])

    @property
    def basis(self) -> np.ndarray:
        """Real-space basis, shape (3, 3), rows **a**, **b**, **c** in Cartesian Å."""
        return self._basis()

    @property
    def reciprocal(self) -> np.ndarray:
        """Reciprocal basis with 2π, shape (3, 3), rows **a***, **b***, **c*** in Cartesian Å⁻¹."""
        return 2.0 * np.pi * np.linalg.inv(self._basis()).T

    @property
    def volume(self) -> float:
        """Cell volume in Å³."""
        return float(np.linalg.det(self._basis()))

    def cartesian(self, frac: np.ndarray) -> np.ndarray:
        """Fractional coordinates (..., 3) -> Cartesian Å (..., 3)."""
        return np.asarray(frac, dtype=float) @ self._basis()

    def q_cartesian(self, q_rlu: np.ndarray) -> np.ndarray:
        """Wavevectors in r.l.u. (..., 3) -> Cartesian Å⁻¹ (..., 3)."""
        return np.asarray(q_rlu, dtype=float) @ self.reciprocal

    def q_rlu(self, q_cart: np.ndarray) -> np.ndarray:
        """Cartesian wavevectors in Å⁻¹ (..., 3) -> r.l.u. (..., 3)."""
        return np.asarray(q_cart, dtype=float) @ np.linalg.inv(self.reciprocal)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("a", "b", "c", "alpha", "beta", "gamma")}
