"""Deterministic spherical quadrature for powder averages, and its reduction by symmetry.

Rules are (directions (N, 3) unit vectors, weights (N,) summing to 1):

* :func:`lebedev` — Lebedev–Laikov rules (``scipy.integrate.lebedev_rule``, scipy ≥ 1.15): exact for
  spherical harmonics up to degree ``order`` (3 … 131, 6 … 5810 points), invariant under the 48
  operations of the cube (O_h).
* :func:`symmetric_fibonacci` — the default of powder plans: a Fibonacci lattice of any size on the
  fundamental domain (a box in the equal-area coordinates z, φ) of the symmetry group, equal weights;
  expanded by the group (:func:`expand_rule`) it is a symmetric rule whose reduced sum equals the full sum
  exactly. Its points avoid the symmetry axes and mirror planes, where a spectrum can be singular
  (Goldstone modes of a chain for every Q ⟂ the chain): symmetric rules such as Lebedev's put finite
  weight on those planes.
* :func:`octant_grid` — equal-area midpoint rule on the octahedron mapped to the sphere (any size,
  8·m² points, equal weights), invariant under the 8 sign changes of (x, y, z) (the group mmm with axes
  along x, y, z) and the exchange x ↔ y; used beyond Lebedev's largest order.

:func:`reduce_rule` folds a rule onto the orbits of a group of orthogonal 3 × 3 operations: one
representative direction per orbit with the summed weight. For an integrand with that symmetry the reduced
sum equals the full sum exactly (to round-off), so a powder average needs only the irreducible part of
the sphere.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from ..errors import InsganInputError

__all__ = [
    "LEBEDEV_ORDERS",
    "fibonacci_rule",
    "symmetric_fibonacci",
    "expand_rule",
    "CUBIC_OPERATIONS",
    "lebedev",
    "octant_grid",
    "sphere_rule",
    "reduce_rule",
    "is_group",
]

#: algebraic orders of the Lebedev–Laikov rules provided by scipy
LEBEDEV_ORDERS = (3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 35, 41, 47, 53, 59, 65, 71, 77, 83,
                  89, 95, 101, 107, 113, 119, 125, 131)


def _cubic_operations() -> np.ndarray:
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            ops.append(m)
    ops.sort(key=lambda m: (not np.allclose(m, np.eye(3)), tuple(m.ravel())))  # identity first
    return np.array(ops)


#: the 48 operations of the cube (signed permutation matrices, identity first), shape (48, 3, 3)
CUBIC_OPERATIONS = _cubic_operations()


@lru_cache(maxsize=None)
def _lebedev_cached(order: int):
    try:
        from scipy.integrate import lebedev_rule
    except ImportError:  # pragma: no cover - scipy < 1.15
        return None
    x, w = lebedev_rule(order)
    d = np.ascontiguousarray(x.T)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d, w / w.sum()


def lebedev(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Lebedev–Laikov rule of algebraic ``order`` (one of :data:`LEBEDEV_ORDERS`): (N, 3) directions, weights.

    Falls back to :func:`octant_grid` of similar size when scipy has no ``lebedev_rule`` (scipy < 1.15).
    """
    if int(order) not in LEBEDEV_ORDERS:
        raise InsganInputError(f"Lebedev order {order}: available orders are {LEBEDEV_ORDERS}")
    rule = _lebedev_cached(int(order))
    if rule is None:  # pragma: no cover
        return octant_grid(max(1, int(np.ceil((order + 1) / 2.0 / np.sqrt(2.0)))))
    d, w = rule
    return d.copy(), w.copy()


@lru_cache(maxsize=64)
def _octant_cached(m: int):
    # midpoints of the m² equal triangles of the face u + v + w = 1 (u, v, w ≥ 0) of the octahedron,
    # mapped to the sphere by the equal-area octahedral map (Holhoş & Roşca 2014): every small triangle
    # has the same area on the sphere, so the weights are equal
    pts = []
    for i in range(m):
        for j in range(m - i):
            pts.append(((i + 1 / 3) / m, (j + 1 / 3) / m))  # upward triangle centroid
            if i + j < m - 1:
                pts.append(((i + 2 / 3) / m, (j + 2 / 3) / m))  # downward triangle centroid
    uv = np.array(pts)
    face = _octahedral_equal_area(uv[:, 0], uv[:, 1])
    dirs = []
    for signs in itertools.product((1.0, -1.0), repeat=3):
        dirs.append(face * np.array(signs))
    d = np.concatenate(dirs)
    return d, np.full(len(d), 1.0 / len(d))


def _octahedral_equal_area(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Area-preserving map of the triangle x, y ≥ 0, x + y ≤ 1 onto the octant x, y, z ≥ 0 of the sphere.

    Lambert-type construction: the polar angle from z fixes the area of the cap, 1 − cos θ = (x + y)²,
    and the azimuth splits it in the ratio of the triangle's coordinates, φ = (π/2)·y/(x + y); both are
    area-preserving up to the constant factor π/2 (octant area / triangle area), so equal triangle areas
    map to equal sphere areas.
    """
    s = x + y
    cos_t = 1.0 - s * s
    sin_t = np.sqrt(np.clip(1.0 - cos_t * cos_t, 0.0, None))
    phi = np.where(s > 0, 0.5 * np.pi * y / np.where(s > 0, s, 1.0), 0.0)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def octant_grid(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-area rule of 8·m² directions (m² per octant), equal weights; invariant under mmm (axes x, y, z)."""
    m = int(m)
    if m < 1:
        raise InsganInputError(f"octant grid: m = {m}; give m ≥ 1 (8·m² directions)")
    d, w = _octant_cached(m)
    return d.copy(), w.copy()


def sphere_rule(n_points: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The smallest deterministic rule with at least ``n_points`` directions: (dirs, weights, name).

    Lebedev up to 5810 points, the octant grid beyond.
    """
    n = max(int(n_points), 1)
    sizes = _lebedev_sizes()
    if sizes is not None and n <= sizes[-1]:
        order = LEBEDEV_ORDERS[int(np.searchsorted(sizes, n))]
        d, w = lebedev(order)
        return d, w, f"lebedev{order}"
    m = int(np.ceil(np.sqrt(n / 8.0)))
    d, w = octant_grid(m)
    return d, w, f"octant{m}"


@lru_cache(maxsize=1)
def _lebedev_sizes():
    if _lebedev_cached(3) is None:  # pragma: no cover
        return None
    return np.array([len(_lebedev_cached(o)[1]) for o in LEBEDEV_ORDERS])


_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


def fibonacci_rule(n: int, rotation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spherical Fibonacci lattice of ``n`` directions (equal-area rings), optionally rotated; equal weights."""
    n = int(n)
    if n < 1:
        raise InsganInputError(f"Fibonacci rule: n = {n}; give at least 1 direction")
    i = np.arange(n)
    z = 1.0 - (2.0 * i + 1.0) / n
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = _GOLDEN_ANGLE * i
    d = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    if rotation is not None:
        d = d @ np.asarray(rotation, dtype=float).T
    return d, np.full(n, 1.0 / n)


_PHI_CONJ = (np.sqrt(5.0) - 1.0) / 2.0


def _box_groups() -> list[tuple[str, np.ndarray, float]]:
    """Groups whose fundamental domain is z ≥ 0, 0 ≤ φ < φ_max: (name, operations, φ_max), largest first."""
    diag = lambda *v: np.diag(np.array(v, dtype=float))  # noqa: E731
    inv = [np.eye(3), -np.eye(3)]
    two_m = inv + [diag(-1, -1, 1), diag(1, 1, -1)]
    mmm = [diag(*s) for s in itertools.product((1, -1), repeat=3)]
    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    four = mmm + [swap @ g for g in mmm]
    return [("4/mmm", np.array(four), np.pi / 4), ("mmm", np.array(mmm), np.pi / 2),
            ("2/m", np.array(two_m), np.pi), ("-1", np.array(inv), 2 * np.pi)]


def _contains(ops: np.ndarray, sub: np.ndarray) -> bool:
    dist = np.abs(np.asarray(sub)[:, None] - np.asarray(ops)[None]).max(axis=(2, 3))
    return bool(np.all(dist.min(axis=1) < 1e-9))


def symmetric_fibonacci(n_full: int, ops: np.ndarray, rotation: np.ndarray | None = None):
    """Reduced equal-area rule for an integrand invariant under ``ops`` (which must contain −1).

    Uses the largest of the groups 4/mmm, mmm, 2/m (axes along x, y, z; 4-fold and 2-fold axis z) and −1
    contained in ``ops``: its fundamental domain is the box z ≥ 0, 0 ≤ φ < φ_max, on which (z, φ) are
    equal-area coordinates, so a Fibonacci lattice of the unit square, z_i = 1 − (i + ½)/K,
    φ_i = φ_max·frac((i + ½)·(√5 − 1)/2), gives K directions of equal weight; expanded by the group
    (:func:`expand_rule`) it is a symmetric full-sphere rule of about ``n_full`` directions. A rotation is
    applied only for the group −1 (it commutes with −1 alone).

    Returns
    -------
    dirs : ndarray (K, 3)
    weights : ndarray (K,)   equal, summing to 1
    group : ndarray (G, 3, 3) the group actually used (a subgroup of ``ops``)
    """
    for _name, group, phi_max in _box_groups():
        if _contains(ops, group):
            break
    else:
        raise InsganInputError("symmetric_fibonacci: the symmetry group must contain the inversion −1")
    k = max(1, int(np.ceil(int(n_full) / len(group))))
    i = np.arange(k)
    z = 1.0 - (i + 0.5) / k
    phi = phi_max * np.mod((i + 0.5) * _PHI_CONJ, 1.0)
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    d = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    if rotation is not None and len(group) == 2:
        d = d @ np.asarray(rotation, dtype=float).T
    return d, np.full(k, 1.0 / k), group


def expand_rule(dirs: np.ndarray, weights: np.ndarray, ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full-sphere rule of a reduced one: every image g·p with weight w_p / |orbit of p|."""
    images = np.einsum("gij,nj->ngi", ops, dirs)
    out_d, out_w = [], []
    for p, w, img in zip(dirs, weights, images):
        uniq = np.unique(np.round(img, 12) + 0.0, axis=0)
        out_d.append(uniq)
        out_w.append(np.full(len(uniq), w / len(uniq)))
    return np.concatenate(out_d), np.concatenate(out_w)


def is_group(ops: np.ndarray, *, tol: float = 1e-9) -> bool:
    """Whether the set of 3 × 3 matrices ``ops`` (G, 3, 3) is closed under multiplication."""
    flat = ops.reshape(len(ops), 9)
    for a in ops:
        prod = np.einsum("ij,gjk->gik", a, ops).reshape(len(ops), 9)
        dist = np.abs(prod[:, None, :] - flat[None, :, :]).max(axis=2)
        if not np.all(dist.min(axis=1) < tol):
            return False
    return True


def reduce_rule(dirs: np.ndarray, weights: np.ndarray, ops: np.ndarray, *, decimals: int = 9):
    """Fold a rule onto the orbits of the group ``ops`` (G, 3, 3).

    Parameters
    ----------
    dirs : ndarray (N, 3)
        Unit directions of a rule invariant under ``ops`` (every image of a point is a point of the
        rule with the same weight).
    weights : ndarray (N,)
    ops : ndarray (G, 3, 3)
        Orthogonal matrices forming a group (identity included).

    Returns
    -------
    rep_dirs : ndarray (K, 3)
        One direction per orbit (the first one of the rule in that orbit).
    rep_weights : ndarray (K,)
        Summed weights of each orbit (so Σ rep_weights = Σ weights).

    Raises
    ------
    InsganInputError
        When the rule is not invariant under ``ops`` (a reduced sum would then be wrong).
    """
    dirs = np.asarray(dirs, dtype=float)
    weights = np.asarray(weights, dtype=float)
    images = np.einsum("gij,nj->ngi", ops, dirs)  # (N, G, 3)
    key_img = np.round(images, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    # canonical key of an orbit: the lexicographically largest image
    order = np.lexsort(key_img.transpose(2, 0, 1)[::-1], axis=-1)  # (N, G), ascending
    canon = np.take_along_axis(key_img, order[:, -1:, None], axis=1)[:, 0, :]
    _, first, inverse = np.unique(canon, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # invariance check: the rule's own points must be closed under the operations
    own = {tuple(r) for r in (np.round(dirs, decimals) + 0.0)}
    if not all(tuple(r) in own for r in key_img.reshape(-1, 3)):
        raise InsganInputError("reduce_rule: the quadrature rule is not invariant under the given symmetry operations")
    rep_w = np.bincount(inverse, weights=weights, minlength=len(first))
    # equal weights within an orbit (a symmetric rule): check
    if not np.allclose(weights, rep_w[inverse] / np.bincount(inverse)[inverse], rtol=1e-9, atol=1e-15):
        raise InsganInputError("reduce_rule: the quadrature weights are not constant on symmetry orbits")
    return dirs[first].copy(), rep_w
