"""Magnetic model for linear spin-wave theory: sites, structure, bonds, exchange, anisotropy, field.

Conventions (the SpinW / pySpinW ones)
--------------------------------------
Hamiltonian, each bond counted once::

    H = Σ_bonds S_i · J_ij · S_j  +  Σ_i S_i · A_i · S_i  −  μ_B Σ_i g_i B · S_i

J > 0 is antiferromagnetic, J < 0 ferromagnetic; energies in meV; field B in tesla; g scalar per site.
With this Zeeman sign a spin lowers its energy by pointing along B (a ferromagnet polarised along B has
a gap g μ_B |B|).
A Dzyaloshinskii–Moriya vector D adds D · (S_i × S_j), i.e. the antisymmetric matrix
[[0, Dz, -Dy], [-Dz, 0, Dx], [Dy, -Dx, 0]] to J_ij.

Vectors (moment directions, DM vectors, fields, anisotropy axes, exchange matrices) are Cartesian in
the frame of :class:`~insgan_core.spinwave.lattice.Lattice` (a ∥ x, b in the xy plane). Site positions
are fractional; bond offsets are whole cells added to the position of the second site.

Magnetic structure: the lattice is the *magnetic* cell and every site carries its moment direction. A
single-k incommensurate (helical) structure adds a propagation vector ``k`` (r.l.u.) and a rotation axis
``n`` (Cartesian): the spin at fractional position r (site position + cell translation) is the site's
``moment`` rotated about n by the angle 2π k·r — so site i in the first cell points along ``moment``
rotated by 2π k·r_i (the same as ``moment`` for a site at the origin); spin waves are then computed in
the rotating frame (see :mod:`insgan_core.spinwave.solver`). Moments of a single-k structure are
normally perpendicular to n (a planar helix; ``relax`` keeps them so).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InsganInputError
from .expressions import evaluate, names_in
from .lattice import Lattice

__all__ = ["Site", "Exchange", "Bond", "Anisotropy", "SpinWaveModel", "ResolvedModel", "SIGN_CONVENTION"]

SIGN_CONVENTION = "H = Σ_bonds S_i·J_ij·S_j, each bond once, J > 0 antiferromagnetic (SpinW convention)"


@dataclass(frozen=True)
class Site:
    """A magnetic site of the (magnetic) cell.

    Parameters
    ----------
    name : str
        Unique label used by bonds (e.g. ``"Fe1"``).
    position : sequence of 3 floats
        Fractional coordinates.
    spin : float or str
        Spin length S (> 0); a number or a parameter expression.
    moment : sequence of 3 floats
        Ordered-moment direction (Cartesian, any length > 0).
    ion : str or None
        Magnetic ion for the form factor, e.g. ``"Fe3+"``; None for no form factor.
    g : float
        Landé g factor (scalar), used for the Zeeman term and the <j2> form-factor correction.
    """

    name: str
    position: Sequence[float]
    spin: Any
    moment: Sequence[float] = (0.0, 0.0, 1.0)
    ion: str | None = None
    g: float = 2.0


@dataclass(frozen=True)
class Exchange:
    """Exchange matrix J_ij of a bond: ``J·I + matrix + [D]×`` (meV).

    Parameters
    ----------
    J : float or str
        Heisenberg part (J > 0 antiferromagnetic).
    dm : sequence of 3 (float or str) or None
        Dzyaloshinskii–Moriya vector D (Cartesian, meV), term D·(S_i × S_j).
    matrix : 3×3 nested sequence of (float or str) or None
        Any further (e.g. anisotropic) part, added as is.
    """

    J: Any = 0.0
    dm: Sequence[Any] | None = None
    matrix: Sequence[Sequence[Any]] | None = None

    def resolve(self, params: dict, *, where: str) -> np.ndarray:
        """The numeric 3×3 matrix in meV."""
        out = evaluate(self.J, params, where=f"{where} J") * np.eye(3)
        if self.dm is not None:
            d = _vector(self.dm, params, where=f"{where} dm")
            out += np.array([[0.0, d[2], -d[1]], [-d[2], 0.0, d[0]], [d[1], -d[0], 0.0]])
        if self.matrix is not None:
            out += _matrix(self.matrix, params, where=f"{where} matrix")
        return out

    def names(self) -> set[str]:
        used = names_in(self.J)
        for v in self.dm or ():
            used |= names_in(v)
        for row in self.matrix or ():
            for v in row:
                used |= names_in(v)
        return used


@dataclass(frozen=True)
class Bond:
    """One bond, counted once in H: site1 in cell 0 to site2 in cell ``offset``.

    Parameters
    ----------
    site1, site2 : str or int
        Site names (or indices).
    offset : sequence of 3 ints
        Cell translation of site2.
    exchange : Exchange, float, str or 3×3 nested sequence
        A number or expression is a Heisenberg J; a 3×3 is the full matrix.
    label : str
        Name for messages and tables (e.g. ``"J1"``).
    """

    site1: Any
    site2: Any
    offset: Sequence[int] = (0, 0, 0)
    exchange: Any = 0.0
    label: str = ""

    def exchange_object(self) -> Exchange:
        ex = self.exchange
        if isinstance(ex, Exchange):
            return ex
        if isinstance(ex, (str, int, float, np.floating, np.integer)):
            return Exchange(J=ex)
        arr = np.asarray(ex, dtype=object)
        if arr.shape == (3, 3):
            return Exchange(J=0.0, matrix=ex)
        raise InsganInputError(
            f"bond {self.label or (self.site1, self.site2)}: exchange must be a number, an expression, "
            f"a 3x3 matrix or an Exchange, got {ex!r}"
        )


@dataclass(frozen=True)
class Anisotropy:
    """Single-ion anisotropy S_i · A · S_i on one site (meV).

    Use :meth:`axial` for the common D (n·S)² form (D < 0 easy axis, D > 0 hard axis / easy plane).
    """

    site: Any
    matrix: Sequence[Sequence[Any]]
    label: str = ""

    @classmethod
    def axial(cls, site, D, axis=(0.0, 0.0, 1.0), *, label: str = "") -> "Anisotropy":
        """D (n·S)² with unit axis n (Cartesian); D may be a parameter expression."""
        n = np.asarray(axis, dtype=float)
        norm = np.linalg.norm(n)
        if not np.isfinite(norm) or norm == 0:
            raise InsganInputError(f"anisotropy on site {site}: axis {axis} must be a non-zero finite vector")
        n = n / norm
        mat = [[_scaled(D, n[a] * n[b]) for b in range(3)] for a in range(3)]
        return cls(site=site, matrix=mat, label=label or f"D on {site}")


def _scaled(value, factor: float):
    if factor == 0.0:
        return 0.0
    if isinstance(value, str):
        return f"({value})*{float(factor)!r}"
    return float(value) * factor


def _vector(values, params, *, where) -> np.ndarray:
    vals = list(values) if not isinstance(values, str) else None
    if vals is None or len(vals) != 3:
        raise InsganInputError(f"{where}: expected 3 components, got {values!r}")
    return np.array([evaluate(v, params, where=f"{where}[{i}]") for i, v in enumerate(vals)])


def _matrix(values, params, *, where) -> np.ndarray:
    rows = list(values)
    if len(rows) != 3 or any(isinstance(r, str) or len(list(r)) != 3 for r in rows):
        raise InsganInputError(f"{where}: expected a 3x3 matrix (three rows of three values), got {values!r}")
    return np.array(
        [[evaluate(v, params, where=f"{where}[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(rows)]
    )


@dataclass(frozen=True)
class ResolvedModel:
    """Numeric arrays of a model with all parameters substituted (what the solver consumes).

    Attributes
    ----------
    positions : ndarray (n, 3)      fractional site positions
    spins : ndarray (n,)            spin lengths S
    directions : ndarray (n, 3)     unit moment directions (Cartesian)
    g : ndarray (n,)                g factors
    ions : tuple of str or None     ion per site
    bond_i, bond_j : ndarray (nb,)  site indices of each bond (each bond once)
    bond_offset : ndarray (nb, 3)   cell offset of site j
    bond_J : ndarray (nb, 3, 3)     exchange matrices, meV
    anisotropy : ndarray (n, 3, 3)  single-ion matrices, meV
    field_T : ndarray (3,)          field, tesla (Cartesian)
    k : ndarray (3,)                propagation vector, r.l.u. (zeros for commensurate)
    n_axis : ndarray (3,)           unit rotation axis (Cartesian)
    """

    lattice: Lattice
    positions: np.ndarray
    spins: np.ndarray
    directions: np.ndarray
    g: np.ndarray
    ions: tuple
    bond_i: np.ndarray
    bond_j: np.ndarray
    bond_offset: np.ndarray
    bond_J: np.ndarray
    bond_labels: tuple
    anisotropy: np.ndarray
    field_T: np.ndarray
    k: np.ndarray
    n_axis: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.positions.shape[0]

    @property
    def incommensurate(self) -> bool:
        return bool(np.any(np.abs(self.k) > 1e-12))

    @property
    def bond_vectors(self) -> np.ndarray:
        """Bond vectors from site i to site j in fractional coordinates, shape (nb, 3)."""
        return self.bond_offset + self.positions[self.bond_j] - self.positions[self.bond_i]


class SpinWaveModel:
    """A magnetic model: lattice, sites with ordered moments, bonds, anisotropy, field, parameters.

    Build it from a file or the library with :func:`insgan_core.spinwave.load_model`, or directly::

        model = SpinWaveModel(
            name="afm_chain", lattice=Lattice(6.0, 10.0, 10.0),
            sites=[Site("A", (0, 0, 0), "S", moment=(0, 0, 1)), Site("B", (0.5, 0, 0), "S", moment=(0, 0, -1))],
            bonds=[Bond("A", "B", (0, 0, 0), "J", label="J"), Bond("B", "A", (1, 0, 0), "J", label="J")],
            parameters={"J": 1.0, "S": 2.5})

    Parameters
    ----------
    name : str
    lattice : Lattice
        The magnetic cell.
    sites : sequence of Site
    bonds : sequence of Bond
        Each bond once (see the sign convention in this module's docstring).
    anisotropies : sequence of Anisotropy
    field_T : sequence of 3 (float or str)
        Applied field in tesla (Cartesian).
    k : sequence of 3 floats
        Single-k propagation vector in r.l.u. of ``lattice``; zeros (default) for a commensurate structure.
    n : sequence of 3 floats
        Rotation axis of the single-k structure (Cartesian).
    parameters : dict of str -> float
        Named values that the other elements may use and users may override.
    formula_units : float
        Formula units per cell (only used to report per-formula-unit normalisation).
    description, reference : str
        Free text; ``reference`` should cite where published parameters come from.
    relax : bool
        Re-minimise the classical energy (from the given moments) whenever parameters change, so the
        structure stays a ground state under overrides (see :mod:`insgan_core.spinwave.ground_state`).
    """

    def __init__(
        self,
        *,
        name: str,
        lattice: Lattice,
        sites: Sequence[Site],
        bonds: Sequence[Bond] = (),
        anisotropies: Sequence[Anisotropy] = (),
        field_T: Sequence[Any] = (0.0, 0.0, 0.0),
        k: Sequence[float] = (0.0, 0.0, 0.0),
        n: Sequence[float] = (0.0, 0.0, 1.0),
        parameters: dict | None = None,
        formula_units: float = 1.0,
        description: str = "",
        reference: str = "",
        relax: bool = False,
    ):
        if not isinstance(lattice, Lattice):
            raise InsganInputError(f"model '{name}': lattice must be a Lattice, got {type(lattice).__name__}")
        self.name = str(name)
        self.lattice = lattice
        self.sites = tuple(sites)
        self.bonds = tuple(bonds)
        self.anisotropies = tuple(anisotropies)
        self.field_T = tuple(field_T)
        self.k = tuple(float(v) for v in k)
        self.n = tuple(float(v) for v in n)
        self._parameters = {}
        for key, value in (parameters or {}).items():
            self._parameters[str(key)] = evaluate(value, {}, where=f"model '{self.name}': parameter '{key}'")
        self.formula_units = float(formula_units)
        self.description = description
        self.reference = reference
        self.relax = bool(relax)
        self._resolved = None
        self.resolve()  # validate now: bad models fail at construction, naming the element

    # --- parameters -------------------------------------------------------------------------------
    @property
    def parameters(self) -> dict[str, float]:
        """Copy of the named parameters (name -> value)."""
        return dict(self._parameters)

    def with_parameters(self, **values) -> "SpinWaveModel":
        """A new model with some parameters changed; unknown names raise :class:`InsganInputError`."""
        unknown = sorted(set(values) - set(self._parameters))
        if unknown:
            known = ", ".join(sorted(self._parameters)) or "none"
            raise InsganInputError(
                f"model '{self.name}': unknown parameter(s) {', '.join(unknown)}; this model's parameters are: {known}"
            )
        new = copy.copy(self)
        new._parameters = dict(self._parameters)
        for key, value in values.items():
            new._parameters[key] = evaluate(value, {}, where=f"model '{self.name}': parameter '{key}'")
        new._resolved = None
        new.resolve()
        return new

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    # --- numeric form -----------------------------------------------------------------------------
    def _site_index(self, ref, where: str) -> int:
        names = [s.name for s in self.sites]
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            if 0 <= int(ref) < len(names):
                return int(ref)
        elif ref in names:
            return names.index(ref)
        raise InsganInputError(
            f"model '{self.name}': {where} refers to site {ref!r}, which does not exist; "
            f"sites are: {', '.join(names)} (or indices 0..{len(names) - 1})"
        )

    def resolve(self) -> ResolvedModel:
        """Substitute parameters and validate; returns (and caches) the :class:`ResolvedModel`."""
        if self._resolved is not None:
            return self._resolved
        from .formfactor import check_ion  # local import: formfactor needs no model

        p = self._parameters
        m = f"model '{self.name}'"
        if not self.sites:
            raise InsganInputError(f"{m}: no magnetic sites; give at least one site")
        names = [s.name for s in self.sites]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise InsganInputError(f"{m}: site names must be unique, repeated: {', '.join(map(str, dup))}")
        pos, spins, dirs, gs, ions = [], [], [], [], []
        for s in self.sites:
            w = f"{m}: site '{s.name}'"
            pos.append(_vector(s.position, p, where=f"{w} position"))
            spin = evaluate(s.spin, p, where=f"{w} spin")
            if spin <= 0:
                raise InsganInputError(f"{w}: spin length S = {spin}; S must be > 0 (e.g. 2.5 for Fe3+)")
            spins.append(spin)
            d = _vector(s.moment, p, where=f"{w} moment")
            norm = np.linalg.norm(d)
            if norm < 1e-12:
                raise InsganInputError(f"{w}: moment direction {list(d)} has zero length; give a non-zero vector")
            dirs.append(d / norm)
            g = evaluate(s.g, p, where=f"{w} g")
            if g <= 0:
                raise InsganInputError(f"{w}: g = {g}; the g factor must be > 0")
            gs.append(g)
            if s.ion not in (None, ""):
                check_ion(s.ion, where=w)
            ions.append(s.ion or None)
        bi, bj, boff, bJ, blab = [], [], [], [], []
        for idx, b in enumerate(self.bonds):
            w = f"bond {idx} ({b.label or 'unlabelled'})"
            i = self._site_index(b.site1, w)
            j = self._site_index(b.site2, w)
            off = np.asarray(b.offset, dtype=float)
            if off.shape != (3,) or not np.all(np.isfinite(off)) or np.any(np.abs(off - np.round(off)) > 1e-9):
                raise InsganInputError(f"{m}: {w}: offset {b.offset!r} must be 3 whole numbers of cells")
            if i == j and not np.any(off):
                raise InsganInputError(
                    f"{m}: {w} joins site {names[i]!r} to itself in the same cell; use an Anisotropy for "
                    "single-ion terms"
                )
            bi.append(i)
            bj.append(j)
            boff.append(np.round(off))
            bJ.append(b.exchange_object().resolve(p, where=f"{m}: {w}"))
            blab.append(b.label)
        aniso = np.zeros((len(self.sites), 3, 3))
        for idx, a in enumerate(self.anisotropies):
            w = f"anisotropy {idx} ({a.label or 'unlabelled'})"
            i = self._site_index(a.site, w)
            aniso[i] += _matrix(a.matrix, p, where=f"{m}: {w}")
        field_T = _vector(self.field_T, p, where=f"{m}: field_T")
        k = _vector(self.k, p, where=f"{m}: k")
        n_axis = _vector(self.n, p, where=f"{m}: rotation axis n")
        if np.linalg.norm(n_axis) < 1e-12:
            raise InsganInputError(f"{m}: rotation axis n has zero length; give a non-zero Cartesian vector")
        n_axis = n_axis / np.linalg.norm(n_axis)
        self._resolved = ResolvedModel(
            lattice=self.lattice,
            positions=np.array(pos),
            spins=np.array(spins),
            directions=np.array(dirs),
            g=np.array(gs),
            ions=tuple(ions),
            bond_i=np.array(bi, dtype=int),
            bond_j=np.array(bj, dtype=int),
            bond_offset=np.array(boff, dtype=float).reshape(-1, 3),
            bond_J=np.array(bJ, dtype=float).reshape(-1, 3, 3),
            bond_labels=tuple(blab),
            anisotropy=aniso,
            field_T=field_T,
            k=k,
            n_axis=n_axis,
        )
        if self.relax:
            from dataclasses import replace

            from .ground_state import relax_directions

            self._resolved = replace(self._resolved, directions=relax_directions(self._resolved))
        return self._resolved

    def to_dict(self) -> dict:
        """JSON/YAML-friendly description (the model-file layout)."""
        from .model_file import model_to_dict

        return model_to_dict(self)

    def __repr__(self) -> str:
        return (
            f"SpinWaveModel(name={self.name!r}, sites={self.n_sites}, bonds={len(self.bonds)}, "
            f"parameters={self._parameters})"
        )
