"""Generate bonds by distance: every site pair in a distance shell, each bond once."""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from ..errors import InsganInputError
from .lattice import Lattice

__all__ = ["bond_distances", "bonds_in_shell", "shell_distances"]


def _candidates(lattice: Lattice, positions: np.ndarray, max_offset: int):
    """All (i, j, offset, distance Å) with each bond once (canonical direction)."""
    rng = range(-max_offset, max_offset + 1)
    offsets = np.array(list(itertools.product(rng, rng, rng)), dtype=float)
    basis = lattice.basis
    n = positions.shape[0]
    for i in range(n):
        for j in range(i, n):
            vec = offsets + positions[j] - positions[i]
            dist = np.linalg.norm(vec @ basis, axis=1)
            for off, d in zip(offsets, dist):
                if d < 1e-8:
                    continue
                if i == j:
                    # (i, i, d) and (i, i, -d) are the same bond: keep the one whose first non-zero
                    # offset component is positive
                    nz = off[np.nonzero(off)[0][0]]
                    if nz < 0:
                        continue
                yield i, j, tuple(int(v) for v in off), float(d)


def bond_distances(lattice: Lattice, positions, *, max_offset: int = 2) -> np.ndarray:
    """Sorted distinct inter-site distances (Å, merged within 1e-4 Å) up to ``max_offset`` cells."""
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    d = np.array(sorted(c[3] for c in _candidates(lattice, positions, max_offset)))
    if d.size == 0:
        return d
    keep = np.concatenate([[True], np.diff(d) > 1e-4])
    return d[keep]


def shell_distances(lattice: Lattice, positions, n_shells: int, *, max_offset: int = 2) -> np.ndarray:
    """The first ``n_shells`` neighbour distances in Å (shell 1 = nearest neighbours)."""
    d = bond_distances(lattice, positions, max_offset=max_offset)
    if d.size < n_shells:
        raise InsganInputError(
            f"only {d.size} distance shells found within {max_offset} cells; increase max_offset or ask for fewer"
        )
    return d[:n_shells]


def bonds_in_shell(
    lattice: Lattice,
    positions,
    *,
    distance_A: float | None = None,
    shell: int | None = None,
    site_names: Sequence[str] | None = None,
    pairs: Sequence[tuple[Any, Any]] | None = None,
    tol_A: float = 1e-3,
    max_offset: int = 2,
) -> list[tuple[int, int, tuple[int, int, int]]]:
    """All bonds of one length, each bond once.

    Parameters
    ----------
    lattice : Lattice
    positions : array_like, shape (n, 3)
        Fractional site positions.
    distance_A : float, optional
        Bond length in Å (give this or ``shell``).
    shell : int, optional
        1-based neighbour shell (1 = shortest distance between any two sites).
    site_names : sequence of str, optional
        Names of the sites (for ``pairs`` given by name and for messages).
    pairs : sequence of (site, site), optional
        Restrict to these unordered site pairs (names or indices).
    tol_A : float
        Distance tolerance in Å.
    max_offset : int
        Cells searched in each direction.

    Returns
    -------
    list of (i, j, offset)
        Site indices and the cell offset of site j; a bond and its reverse appear once.
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    n = positions.shape[0]
    names = list(site_names) if site_names is not None else [str(i) for i in range(n)]
    if (distance_A is None) == (shell is None):
        raise InsganInputError("bond shell: give exactly one of 'distance' (Å) or 'shell' (1, 2, ...)")
    if shell is not None:
        if int(shell) < 1:
            raise InsganInputError(f"bond shell: shell = {shell}; shells are numbered from 1 (nearest neighbours)")
        distance_A = float(shell_distances(lattice, positions, int(shell), max_offset=max_offset)[-1])
    distance_A = float(distance_A)
    if not np.isfinite(distance_A) or distance_A <= 0:
        raise InsganInputError(f"bond shell: distance = {distance_A} Å; give a positive bond length in Å")

    def index(ref):
        if isinstance(ref, (int, np.integer)) and 0 <= int(ref) < n:
            return int(ref)
        if ref in names:
            return names.index(ref)
        raise InsganInputError(f"bond shell: site {ref!r} does not exist; sites are: {', '.join(names)}")

    allowed = None if pairs is None else {frozenset((index(a), index(b))) for a, b in pairs}
    out = [
        (i, j, off)
        for i, j, off, d in _candidates(lattice, positions, max_offset)
        if abs(d - distance_A) <= tol_A and (allowed is None or frozenset((i, j)) in allowed)
    ]
    if not out:
        raise InsganInputError(
            f"bond shell: no bonds of length {distance_A:.4f} ± {tol_A} Å found; nearest distances are "
            f"{np.round(bond_distances(lattice, positions, max_offset=max_offset)[:5], 4).tolist()} Å"
        )
    return out
