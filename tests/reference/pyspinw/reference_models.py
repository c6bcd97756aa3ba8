# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference spin-wave models as plain data, and builders for pySpinW and insgan.

One definition serves three users: ``generate_pyspinw_reference.py`` (builds them in pySpinW and stores
the spectra), ``tests/test_spinwave_vs_pyspinw.py`` (builds the identical insgan models) and
``benchmarks/bench_spinwave.py`` (times both codes on the same jobs).  A model is a JSON-serialisable
dict; the conventions are stated in the generator's docstring and in ``README.md``:

* ``lattice``: a, b, c (Angstrom), alpha, beta, gamma (degrees); Cartesian x || a, y in the a-b plane.
* ``sites``: label, fractional ``position``, spin length ``spin``, Cartesian unit ``direction``.
* ``bonds``: ``site1`` in cell 0 to ``site2`` in cell ``offset``, full 3x3 ``matrix`` (meV) with
  ``H_bond = S_1^T M S_2``, every bond listed once, J > 0 antiferromagnetic.
* ``anisotropies``: ``site``, 3x3 ``matrix`` (meV), ``H = S^T A S``.
* ``propagation_vector`` (r.l.u.) and Cartesian ``rotation_axis`` n, or None: single-k structure
  ``S_i(R) = S_i cos(2 pi k.R) + (n x S_i) sin(2 pi k.R)``.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["lattice_vectors", "heisenberg", "dm_matrix", "shell_bonds", "define_models", "benchmark_models",
           "build_pyspinw", "pyspinw_spectrum", "SPERP_FROM_EQUIVALENT_MODEL", "sperp_from_equivalent_model",
           "build_insgan", "degenerate_groups", "group_sums"]

# --------------------------------------------------------------------------------------------------

def lattice_vectors(lattice: dict) -> np.ndarray:
    """Rows a, b, c in Cartesian Angstrom (x || a, y in the a-b plane), shape (3, 3)."""
    a, b, c = lattice["a"], lattice["b"], lattice["c"]
    al, be, ga = np.radians([lattice["alpha"], lattice["beta"], lattice["gamma"]])
    avec = np.array([a, 0.0, 0.0])
    bvec = np.array([b * np.cos(ga), b * np.sin(ga), 0.0])
    cx = c * np.cos(be)
    cy = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    cvec = np.array([cx, cy, np.sqrt(c**2 - cx**2 - cy**2)])
    return np.array([avec, bvec, cvec])


def heisenberg(j: float) -> list[list[float]]:
    """Exchange matrix J * identity (meV)."""
    return (j * np.eye(3)).tolist()


def dm_matrix(d) -> np.ndarray:
    """Matrix M with ``S_i^T M S_j = D . (S_i x S_j)``, shape (3, 3)."""
    dx, dy, dz = d
    return np.array([[0.0, dz, -dy], [-dz, 0.0, dx], [dy, -dx, 0.0]])


def shell_bonds(lattice: dict, sites: list[dict], *, d_min: float, d_max: float, matrix, label: str,
                max_offset: int = 2) -> list[dict]:
    """All bonds with length in [d_min, d_max] Angstrom, each listed once.

    A bond (i, j, R) is the same as (j, i, -R); we keep i < j (any R) or i == j with R > 0
    (lexicographically).  Only use for symmetric matrices (the reversed bond carries M^T).
    """
    xyz = lattice_vectors(lattice)
    pos = np.array([s["position"] for s in sites], dtype=float)
    bonds = []
    rng = range(-max_offset, max_offset + 1)
    for i, j in itertools.product(range(len(sites)), repeat=2):
        if j < i:
            continue
        for off in itertools.product(rng, rng, rng):
            if i == j and not off > (0, 0, 0):  # tuple order: keeps R > 0, drops R = 0 and R < 0
                continue
            d = np.linalg.norm((pos[j] + np.array(off) - pos[i]) @ xyz)
            if d_min - 1e-6 <= d <= d_max + 1e-6:
                bonds.append({"site1": sites[i]["label"], "site2": sites[j]["label"], "offset": list(off),
                              "matrix": np.asarray(matrix, dtype=float).tolist(), "label": label,
                              "length_A": float(d)})
    return bonds


def _site(label, position, spin, direction):
    d = np.asarray(direction, dtype=float)
    return {"label": label, "position": [float(x) for x in position], "spin": float(spin),
            "direction": (d / np.linalg.norm(d)).tolist()}


def _lat(a, b, c, alpha=90.0, beta=90.0, gamma=90.0):
    return {"a": a, "b": b, "c": c, "alpha": alpha, "beta": beta, "gamma": gamma}


def define_models() -> dict[str, dict]:
    """The reference models, as plain JSON-serialisable dictionaries (units: Angstrom, degrees, meV)."""
    models = {}

    # 1. Ferromagnetic chain along a, S = 3/2, J = -1.2 meV: omega = 2|J|S(1 - cos 2 pi h).
    lat = _lat(3.0, 8.0, 8.0)
    sites = [_site("Fe", [0, 0, 0], 1.5, [0, 0, 1])]
    models["fm_chain"] = dict(
        description="FM Heisenberg chain along a, J=-1.2 meV, S=3/2, moments along z",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(-1.2), label="J1"),
        anisotropies=[], propagation_vector=None, rotation_axis=None)

    # 2. Antiferromagnetic chain, 2-site cell (a = 6, NN distance 3), S = 1, J = 1.7 meV.
    lat = _lat(6.0, 8.0, 8.0)
    sites = [_site("Cu1", [0, 0, 0], 1.0, [0, 0, 1]), _site("Cu2", [0.5, 0, 0], 1.0, [0, 0, -1])]
    models["afm_chain"] = dict(
        description="AFM Heisenberg chain along a in a 2-site cell, J=1.7 meV, S=1, moments +-z",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(1.7), label="J1"),
        anisotropies=[], propagation_vector=None, rotation_axis=None)

    # 3. Square-lattice Neel AFM in the sqrt2 x sqrt2 cell, a = b = 4 (NN distance 2*sqrt2), S = 5/2.
    lat = _lat(4.0, 4.0, 10.0)
    sites = [_site("Mn1", [0, 0, 0], 2.5, [0, 0, 1]), _site("Mn2", [0.5, 0.5, 0], 2.5, [0, 0, -1])]
    models["square_afm"] = dict(
        description="Square-lattice Neel AFM, sqrt2 x sqrt2 cell, J1=2.0 meV, S=5/2, moments +-z",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.8, d_max=2.9, matrix=heisenberg(2.0), label="J1"),
        anisotropies=[], propagation_vector=None, rotation_axis=None)

    # 4. Triangular 120 deg AFM in the rotating frame, k = (1/3, 1/3, 0), n = z, S = 3/2, J = 1.
    lat = _lat(3.0, 3.0, 6.0, gamma=120.0)
    sites = [_site("Cr", [0, 0, 0], 1.5, [1, 0, 0])]
    models["triangular_afm_rotating"] = dict(
        description="Triangular 120 deg Heisenberg AFM, rotating frame k=(1/3,1/3,0) about z, J=1 meV, S=3/2",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(1.0), label="J1"),
        anisotropies=[], propagation_vector=[1 / 3, 1 / 3, 0.0], rotation_axis=[0.0, 0.0, 1.0])

    # 5. Kagome q = 0 coplanar 120 deg AFM, 3-site cell, commensurate (explicit non-collinear moments),
    #    J = 1 meV, S = 1, easy-plane single-ion anisotropy D Sz^2 (D = 0.15 meV) lifting the flat band.
    lat = _lat(6.0, 6.0, 10.0, gamma=120.0)
    ang = np.radians([90.0, 210.0, 330.0])
    sites = [_site(f"V{i + 1}", p, 1.0, [np.cos(t), np.sin(t), 0.0])
             for i, (p, t) in enumerate(zip([[0.5, 0, 0], [0, 0.5, 0], [0.5, 0.5, 0]], ang))]
    easy_plane = np.diag([0.0, 0.0, 0.15]).tolist()
    models["kagome_q0_easy_plane"] = dict(
        description="Kagome q=0 coplanar AFM (3-site cell, non-collinear), J1=1 meV, S=1, "
                    "easy-plane anisotropy 0.15 meV Sz^2",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(1.0), label="J1"),
        anisotropies=[{"site": s["label"], "matrix": easy_plane, "label": "D"} for s in sites],
        propagation_vector=None, rotation_axis=None)

    # 6. FM chain with DM vector parallel to the moments (non-reciprocal magnons) and easy-axis
    #    anisotropy -0.2 Sz^2: omega(h) != omega(-h).
    lat = _lat(3.0, 8.0, 8.0)
    sites = [_site("Fe", [0, 0, 0], 1.0, [0, 0, 1])]
    m = heisenberg(-1.0) + dm_matrix([0.0, 0.0, 0.1])
    models["fm_chain_dm_easy_axis"] = dict(
        description="FM chain J=-1 meV, S=1, DM D=(0,0,0.1) meV on the bond Fe(0)->Fe(+a), "
                    "easy-axis anisotropy -0.2 meV Sz^2 (non-reciprocal dispersion)",
        lattice=lat, sites=sites,
        bonds=[{"site1": "Fe", "site2": "Fe", "offset": [1, 0, 0], "matrix": m.tolist(), "label": "J1+DM",
                "length_A": 3.0}],
        anisotropies=[{"site": "Fe", "matrix": np.diag([0.0, 0.0, -0.2]).tolist(), "label": "Dz"}],
        propagation_vector=None, rotation_axis=None)

    # 7. Incommensurate J1-J2 helix (J1 = 1, J2 = 0.4 meV): cos(2 pi k) = -J1/(4 J2), k = 0.35766...
    lat = _lat(3.0, 8.0, 8.0)
    sites = [_site("Mn", [0, 0, 0], 2.0, [1, 0, 0])]
    j1, j2 = 1.0, 0.4
    k_helix = float(np.arccos(-j1 / (4 * j2)) / (2 * np.pi))
    bonds = (shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(j1), label="J1")
             + shell_bonds(lat, sites, d_min=5.9, d_max=6.1, matrix=heisenberg(j2), label="J2"))
    models["j1j2_chain_helix"] = dict(
        description=f"Incommensurate J1-J2 Heisenberg helix, J1={j1}, J2={j2} meV, S=2, "
                    f"k=({k_helix:.12f},0,0) = arccos(-J1/4J2)/2pi, moments rotate in the xy plane about z",
        lattice=lat, sites=sites, bonds=bonds, anisotropies=[],
        propagation_vector=[k_helix, 0.0, 0.0], rotation_axis=[0.0, 0.0, 1.0])

    # 8. Same helix with easy-plane anisotropy 0.3 Sz^2 (uniaxial about the rotation axis, so the
    #    rotating frame stays exact): gaps the out-of-plane branch.
    models["j1j2_chain_helix_easy_plane"] = dict(
        description="J1-J2 helix as j1j2_chain_helix plus easy-plane anisotropy 0.3 meV Sz^2",
        lattice=lat, sites=sites, bonds=bonds,
        anisotropies=[{"site": "Mn", "matrix": np.diag([0.0, 0.0, 0.3]).tolist(), "label": "Dz"}],
        propagation_vector=[k_helix, 0.0, 0.0], rotation_axis=[0.0, 0.0, 1.0])

    # 9. The same physical helix (no anisotropy) written in a doubled cell with two sites, so the
    #    rotating frame is exercised with an intra-cell site phase: k' = 2k in the new r.l.u., site B at
    #    x = 1/2 points along the helix angle of chemical site 1, 2 pi k (cell-translation phase convention).
    lat2 = _lat(6.0, 8.0, 8.0)
    sites2 = [_site("Mn1", [0, 0, 0], 2.0, [1, 0, 0]),
              _site("Mn2", [0.5, 0, 0], 2.0, [np.cos(2 * np.pi * k_helix), np.sin(2 * np.pi * k_helix), 0])]
    models["j1j2_chain_helix_two_site"] = dict(
        description="J1-J2 helix of j1j2_chain_helix in a doubled 2-site cell, k'=2k (rotating frame with "
                    "an intra-cell phase)",
        lattice=lat2, sites=sites2,
        bonds=(shell_bonds(lat2, sites2, d_min=2.9, d_max=3.1, matrix=heisenberg(j1), label="J1")
               + shell_bonds(lat2, sites2, d_min=5.9, d_max=6.1, matrix=heisenberg(j2), label="J2")),
        anisotropies=[], propagation_vector=[2 * k_helix, 0.0, 0.0], rotation_axis=[0.0, 0.0, 1.0])
    return models


def benchmark_models() -> dict[str, dict]:
    """The benchmark cells: a 2-site and a 16-site collinear Neel antiferromagnet.

    ``two_site`` is the square-lattice AFM of :func:`define_models` (sqrt2 x sqrt2 cell); ``sixteen_site``
    is the same square-lattice Heisenberg AFM (NN distance 3 A, J = 2 meV, S = 5/2) written in a 4 x 4
    supercell of the primitive square cell, 16 sites with checkerboard moments +-z.
    """
    lat = _lat(12.0, 12.0, 10.0)
    sites = [_site(f"Mn{4 * i + j + 1}", [i / 4, j / 4, 0.0], 2.5, [0, 0, 1 if (i + j) % 2 == 0 else -1])
             for i in range(4) for j in range(4)]
    sixteen = dict(
        description="Square-lattice Neel AFM in a 4x4 supercell (16 sites), J1=2.0 meV, S=5/2",
        lattice=lat, sites=sites,
        bonds=shell_bonds(lat, sites, d_min=2.9, d_max=3.1, matrix=heisenberg(2.0), label="J1"),
        anisotropies=[], propagation_vector=None, rotation_axis=None)
    return {"two_site": define_models()["square_afm"], "sixteen_site": sixteen}


# --------------------------------------------------------------------------------------------------
# pySpinW
# --------------------------------------------------------------------------------------------------

def build_pyspinw(model: dict):
    """The pySpinW Hamiltonian of a model dictionary."""
    from pyspinw import Anisotropy, Hamiltonian, Site, Structure, UnitCell
    from pyspinw.exchange import Exchange
    from pyspinw.symmetry.supercell import RotationSupercell

    lat = model["lattice"]
    cell = UnitCell(lat["a"], lat["b"], lat["c"], lat["alpha"], lat["beta"], lat["gamma"])
    sites = {}
    for s in model["sites"]:
        spin = s["spin"] * np.asarray(s["direction"])
        sites[s["label"]] = Site(*s["position"], *spin, name=s["label"])
    exchanges = [Exchange(sites[b["site1"]], sites[b["site2"]], tuple(b["offset"]),
                          np.asarray(b["matrix"], dtype=float), name=b["label"]) for b in model["bonds"]]
    anisotropies = [Anisotropy(sites[a["site"]], np.asarray(a["matrix"], dtype=float), name=a["label"])
                    for a in model["anisotropies"]]
    supercell = None
    if model["propagation_vector"] is not None:
        supercell = RotationSupercell(perpendicular=model["rotation_axis"],
                                      propagation_vector=model["propagation_vector"])
    structure = Structure(list(sites.values()), cell, supercell=supercell, show_unit_cell_warning=False)
    return Hamiltonian(structure, exchanges, anisotropies)


def pyspinw_spectrum(model: dict, q_rlu: np.ndarray, *, use_rust: bool = True):
    """Sorted energies (N, M) meV and S_perp per magnetic site (N, M) from pySpinW."""
    ham = build_pyspinw(model)
    # the public energies_and_intensities() takes a pyspinw.Path (it interpolates between corners); this
    # method, which it calls, takes the explicit Q list
    energies, intensities = ham._energies_and_intensities(q_rlu, use_rust=use_rust, intensity_unit="spin")
    energies = np.asarray(energies)
    if np.iscomplexobj(energies):
        if np.max(np.abs(energies.imag)) > 1e-9:
            raise RuntimeError(f"complex energies from pySpinW: {np.max(np.abs(energies.imag))}")
        energies = energies.real
    intensities = np.asarray(intensities, dtype=float)
    order = np.argsort(energies, axis=1, kind="stable")
    return np.take_along_axis(energies, order, 1), np.take_along_axis(intensities, order, 1)



#: models whose S_perp is taken from a physically identical model (see sperp_from_equivalent_model)
SPERP_FROM_EQUIVALENT_MODEL = {
    # two-site helix -> the one-site helix at chemical Q = (h'/2, k', l') (the cell is doubled along a)
    "j1j2_chain_helix_two_site": ("j1j2_chain_helix", (0.5, 1.0, 1.0)),
}

PYSPINW_MULTISITE_ROTATING_FRAME_NOTE = (
    "pySpinW 1.1.0b2's rotating frame mis-weights the Q-k and Q+k branches when a site sits off the cell "
    "origin: it takes the rotation phase from the cell translation R only (S_i(R) = R_n(2 pi k.R) d_i) but "
    "evaluates the rotating-frame structure factor at Q+-k with the full site phase exp(i(Q+-k).r_i), "
    "missing exp(-+i k.r_i). Its energies are right, and its one-site rotating frame and its commensurate "
    "supercells agree with each other (checked with k=1/3 for this helix), so S_perp here comes from the "
    "physically identical one-site helix at the same physical Q; pySpinW's own two-site values are kept "
    "as 'sperp_pyspinw_raw' (degenerate-group sums) for the record.")


def sperp_from_equivalent_model(name: str, q: np.ndarray, energies: np.ndarray):
    """S_perp (N, M) aligned with ``energies`` (of model ``name`` at ``q``) from a physically identical model.

    Needs pySpinW.  Returns the array and a dict of metadata (source, reason).

    Every group of degenerate modes gets the summed weight of the equivalent model's modes at the same
    energy (to 1e-7 meV) on its first mode and zero on the others (tests compare group sums); modes
    with no counterpart (zone-folded copies) get zero.
    """
    source_name, q_scale = SPERP_FROM_EQUIVALENT_MODEL[name]
    q_scale = np.asarray(q_scale, dtype=float)
    e_src, i_src = pyspinw_spectrum(define_models()[source_name], q * q_scale)
    groups = degenerate_groups(energies)
    out = np.zeros_like(energies)
    for row in range(energies.shape[0]):
        used = np.zeros(e_src.shape[1], dtype=bool)
        for g in np.unique(groups[row]):
            members = np.nonzero(groups[row] == g)[0]
            match = np.abs(e_src[row] - energies[row, members[0]]) <= 1e-7
            out[row, members[0]] = i_src[row, match].sum()
            used |= match
        if not used.all():
            raise RuntimeError(f"{name}: modes of {source_name} at Q={q[row] * q_scale} have no counterpart")
    return out, {"sperp_source": f"pySpinW {source_name} at Q*{q_scale.tolist()} (componentwise)",
                 "note": PYSPINW_MULTISITE_ROTATING_FRAME_NOTE}


# --------------------------------------------------------------------------------------------------
# insgan
# --------------------------------------------------------------------------------------------------

def _rotation_about(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Right-handed rotation matrix by angle_rad about the unit vector axis (Rodrigues), shape (3, 3)."""
    n = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    nx = np.array([[0.0, -n[2], n[1]], [n[2], 0.0, -n[0]], [-n[1], n[0], 0.0]])
    return np.cos(angle_rad) * np.eye(3) + np.sin(angle_rad) * nx + (1 - np.cos(angle_rad)) * np.outer(n, n)


def build_insgan(model: dict, *, name: str = "reference"):
    """The insgan :class:`~insgan_core.spinwave.model.SpinWaveModel` of a model dictionary.

    Everything maps one to one (same sign convention, Cartesian frame, bond direction and full 3x3
    matrices) except the phase of a single-k structure: here (pySpinW/SpinW) site i in cell R points
    along ``R_n(2 pi k.R) d_i``, while insgan rotates the moment given for site i by ``2 pi k.(r_i + R)``.
    The same physical structure therefore needs insgan moment ``R_n(-2 pi k.r_i) d_i``; for a site at
    the origin the two coincide.
    """
    from insgan_core.spinwave import Anisotropy, Bond, Lattice, Site, SpinWaveModel

    k = model["propagation_vector"]
    sites = []
    for s in model["sites"]:
        moment = np.asarray(s["direction"], dtype=float)
        if k is not None:
            phase = 2 * np.pi * float(np.dot(k, s["position"]))
            moment = _rotation_about(np.asarray(model["rotation_axis"]), -phase) @ moment
        sites.append(Site(s["label"], tuple(s["position"]), float(s["spin"]), moment=tuple(moment.tolist())))
    bonds = [Bond(b["site1"], b["site2"], tuple(b["offset"]), exchange=b["matrix"], label=b["label"])
             for b in model["bonds"]]
    anisotropies = [Anisotropy(a["site"], a["matrix"], label=a["label"]) for a in model["anisotropies"]]
    extra = {} if k is None else {"k": tuple(k), "n": tuple(model["rotation_axis"])}
    return SpinWaveModel(name=name, lattice=Lattice(**model["lattice"]), sites=sites, bonds=bonds,
                         anisotropies=anisotropies, description=model.get("description", ""), **extra)


def degenerate_groups(energies: np.ndarray, *, tol_meV: float = 1e-5) -> np.ndarray:
    """Group labels (N, M) of modes whose sorted energies differ by <= tol_meV from the previous one.

    Individual intensities within a degenerate group depend on the arbitrary eigenbasis; only their sum
    is defined, so comparisons sum S_perp over each group.
    """
    step = np.diff(energies, axis=1) > tol_meV
    return np.concatenate([np.zeros((energies.shape[0], 1), dtype=int), np.cumsum(step, axis=1)], axis=1)


def group_sums(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sum values over each degenerate group, broadcast back to every mode of the group, shape (N, M)."""
    out = np.zeros_like(values)
    for row in range(values.shape[0]):
        sums = np.bincount(groups[row], weights=values[row])
        out[row] = sums[groups[row]]
    return out


