"""Model files (YAML) and the built-in library of named models.

Layout of a model file (every number may be a parameter expression such as ``-0.5*J2``)::

    name: afm_chain
    description: Heisenberg antiferromagnetic chain, two-site magnetic cell
    reference: textbook
    convention: "H = sum_bonds S_i.J.S_j, each bond once, J > 0 antiferromagnetic"   # informative
    parameters: {J: 4.0, S: 2.5}                 # names users may override ("J=2.5, S=1")
    lattice: {a: 6.0, b: 10.0, c: 10.0, alpha: 90, beta: 90, gamma: 90}   # Å, degrees
    sites:                                       # the magnetic cell
      - {name: A, position: [0, 0, 0], spin: S, moment: [0, 0, 1], ion: Fe3+, g: 2.0}
      - {name: B, position: [0.5, 0, 0], spin: S, moment: [0, 0, -1], ion: Fe3+}
    structure: {k: [0, 0, 0], n: [0, 0, 1], relax: false}   # optional single-k; relax: re-minimise moments
    bonds:
      - {label: J, sites: [A, B], offset: [0, 0, 0], exchange: J}        # one explicit bond
      - {label: J, shell: 1, exchange: J}                                # every bond of the 1st distance shell
      - {label: J2, distance: 6.0, sites: [A, A], exchange: {J: J2, dm: [0, 0, D]}}
      - {label: K, sites: [A, B], offset: [1, 0, 0], exchange: [[1, 0, 0], [0, 1, 0], [0, 0, 0.9]]}
    anisotropy:
      - {site: A, axis: [0, 0, 1], D: D}         # D (n·S)^2
      - {site: B, matrix: [[0, 0, 0], [0, 0, 0], [0, 0, Dz]]}
    field_T: [0, 0, 0]
    formula_units: 1
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..data.io.yaml_file import load_yaml
from ..errors import InsganFileError, InsganInputError
from .bonds import bonds_in_shell
from .expressions import evaluate
from .lattice import Lattice
from .model import SIGN_CONVENTION, Anisotropy, Bond, Exchange, Site, SpinWaveModel

__all__ = ["LIBRARY_DIR", "list_models", "load_model", "model_from_dict", "model_to_dict", "parse_overrides"]

LIBRARY_DIR = Path(__file__).resolve().parent / "library"

_TOP_KEYS = {
    "name", "description", "reference", "convention", "parameters", "lattice", "sites", "structure",
    "bonds", "anisotropy", "field_T", "formula_units", "notes",
}


def list_models() -> list[str]:
    """Names of the built-in library models."""
    return sorted(p.stem for p in LIBRARY_DIR.glob("*.yaml"))


def parse_overrides(overrides) -> dict[str, float]:
    """``"J1=2.5, D=0.1"`` (or a dict) -> ``{"J1": 2.5, "D": 0.1}``; values may be expressions of numbers."""
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return {str(k): evaluate(v, {}, where=f"override '{k}'") for k, v in overrides.items()}
    if not isinstance(overrides, str):
        raise InsganInputError(f"parameter overrides: expected 'NAME=VALUE, ...' or a dict, got {overrides!r}")
    out = {}
    for part in [p.strip() for p in re.split(r"[,;]", overrides) if p.strip()]:
        if "=" not in part:
            raise InsganInputError(f"parameter overrides: '{part}' is not NAME=VALUE (e.g. 'J1=2.5, D=0.1')")
        key, value = (s.strip() for s in part.split("=", 1))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InsganInputError(f"parameter overrides: '{key}' is not a valid parameter name (in '{part}')")
        out[key] = evaluate(value, {}, where=f"override '{key}'")
    return out


def _require(d: dict, key: str, where: str):
    if key not in d:
        raise InsganInputError(f"{where}: missing required field '{key}'")
    return d[key]


def _check_keys(d: dict, allowed: set, where: str):
    if not isinstance(d, dict):
        raise InsganInputError(f"{where}: expected a mapping (key: value), got {type(d).__name__}")
    extra = sorted(set(d) - allowed)
    if extra:
        raise InsganInputError(f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")


def _exchange(value, where: str):
    if isinstance(value, dict):
        _check_keys(value, {"J", "dm", "matrix"}, f"{where} exchange")
        return Exchange(J=value.get("J", 0.0), dm=value.get("dm"), matrix=value.get("matrix"))
    return value


def model_from_dict(d: dict, *, source: str = "model") -> SpinWaveModel:
    """Build a :class:`SpinWaveModel` from the model-file layout (see module docstring)."""
    _check_keys(d, _TOP_KEYS, source)
    name = str(d.get("name", Path(source).stem))
    where = f"{source} (model '{name}')"
    params = d.get("parameters") or {}
    _check_keys(params, set(params), f"{where}: parameters")
    lat = _require(d, "lattice", where)
    _check_keys(lat, {"a", "b", "c", "alpha", "beta", "gamma"}, f"{where}: lattice")
    lattice = Lattice(**{k: evaluate(v, params, where=f"{where}: lattice {k}") for k, v in lat.items()})
    raw_sites = _require(d, "sites", where)
    if not isinstance(raw_sites, list) or not raw_sites:
        raise InsganInputError(f"{where}: 'sites' must be a non-empty list")
    sites = []
    for i, s in enumerate(raw_sites):
        _check_keys(s, {"name", "position", "spin", "moment", "ion", "g"}, f"{where}: sites[{i}]")
        sites.append(
            Site(
                name=str(s.get("name", f"site{i}")),
                position=tuple(_require(s, "position", f"{where}: sites[{i}]")),
                spin=_require(s, "spin", f"{where}: sites[{i}]"),
                moment=tuple(s.get("moment", (0.0, 0.0, 1.0))),
                ion=s.get("ion"),
                g=s.get("g", 2.0),
            )
        )
    names = [s.name for s in sites]
    structure = d.get("structure") or {}
    _check_keys(structure, {"k", "n", "relax"}, f"{where}: structure")
    bonds = []
    # positions are needed for shell generation; evaluate them with the parameters
    positions = np.array([[evaluate(v, params, where=f"{where}: site {s.name} position") for v in s.position] for s in sites])
    for i, b in enumerate(d.get("bonds") or []):
        w = f"{where}: bonds[{i}]"
        _check_keys(b, {"label", "sites", "offset", "exchange", "shell", "distance", "tol"}, w)
        label = str(b.get("label", f"bond{i}"))
        exchange = _exchange(_require(b, "exchange", w), w)
        if "shell" in b or "distance" in b:
            pairs = None
            if "sites" in b:
                pair = b["sites"]
                if not isinstance(pair, list) or len(pair) != 2:
                    raise InsganInputError(f"{w}: 'sites' must be two site names, got {pair!r}")
                for ref in pair:
                    if ref not in names:
                        raise InsganInputError(f"{w} ({label}): site {ref!r} does not exist; sites are: {', '.join(names)}")
                pairs = [tuple(pair)]
            generated = bonds_in_shell(
                lattice, positions, distance_A=b.get("distance"), shell=b.get("shell"), site_names=names,
                pairs=pairs, tol_A=float(b.get("tol", 1e-3)),
            )
            bonds += [Bond(names[p], names[q], off, exchange, label) for p, q, off in generated]
        else:
            pair = _require(b, "sites", w)
            if not isinstance(pair, list) or len(pair) != 2:
                raise InsganInputError(f"{w}: 'sites' must be two site names, got {pair!r}")
            bonds.append(Bond(pair[0], pair[1], tuple(b.get("offset", (0, 0, 0))), exchange, label))
    anis = []
    for i, a in enumerate(d.get("anisotropy") or []):
        w = f"{where}: anisotropy[{i}]"
        _check_keys(a, {"site", "axis", "D", "matrix", "label"}, w)
        site = _require(a, "site", w)
        if "matrix" in a:
            anis.append(Anisotropy(site=site, matrix=a["matrix"], label=a.get("label", f"A on {site}")))
        else:
            anis.append(Anisotropy.axial(site, _require(a, "D", w), a.get("axis", (0, 0, 1)), label=a.get("label", "")))
    model = SpinWaveModel(
        name=name,
        lattice=lattice,
        sites=sites,
        bonds=bonds,
        anisotropies=anis,
        field_T=tuple(d.get("field_T", (0.0, 0.0, 0.0))),
        k=tuple(structure.get("k", (0.0, 0.0, 0.0))),
        n=tuple(structure.get("n", (0.0, 0.0, 1.0))),
        parameters=params,
        formula_units=float(d.get("formula_units", 1.0)),
        description=str(d.get("description", "")),
        reference=str(d.get("reference", "")),
        relax=bool(structure.get("relax", False)),
    )
    return model


def model_to_dict(model: SpinWaveModel) -> dict:
    """The model-file layout of a model (bonds written explicitly; values resolved to numbers)."""
    r = model.resolve()
    return {
        "name": model.name,
        "description": model.description,
        "reference": model.reference,
        "convention": SIGN_CONVENTION,
        "parameters": model.parameters,
        "lattice": model.lattice.to_dict(),
        "sites": [
            {"name": s.name, "position": r.positions[i].tolist(), "spin": float(r.spins[i]),
             "moment": r.directions[i].tolist(), "ion": s.ion, "g": float(r.g[i])}
            for i, s in enumerate(model.sites)
        ],
        "structure": {"k": r.k.tolist(), "n": r.n_axis.tolist(), "relax": model.relax},
        "bonds": [
            {"label": r.bond_labels[m], "sites": [model.sites[r.bond_i[m]].name, model.sites[r.bond_j[m]].name],
             "offset": [int(v) for v in r.bond_offset[m]], "exchange": r.bond_J[m].tolist()}
            for m in range(len(r.bond_i))
        ],
        "anisotropy": [
            {"site": model.sites[i].name, "matrix": r.anisotropy[i].tolist()}
            for i in range(r.n_sites) if np.any(r.anisotropy[i])
        ],
        "field_T": r.field_T.tolist(),
        "formula_units": model.formula_units,
    }


def _read_yaml(path: Path) -> dict:
    # size, nesting and alias expansion bounded; Python tags refused (never executed)
    data = load_yaml(path, what="model file")
    if not isinstance(data, dict):
        raise InsganFileError(f"model file {path}: expected a YAML mapping with 'lattice', 'sites', 'bonds', ...")
    return data


def load_model(name_or_path, overrides=None) -> SpinWaveModel:
    """A model from the built-in library (by name) or from a YAML file (by path), with overrides.

    Parameters
    ----------
    name_or_path : str or Path
        Library name (see :func:`list_models`) or path to a ``.yaml``/``.yml`` model file.
    overrides : str or dict, optional
        ``"J1=2.5, D=0.1"`` or ``{"J1": 2.5}``; every name must be one of the model's parameters.
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise InsganFileError(f"model file {path} does not exist; give an existing .yaml file or a library name ({', '.join(list_models())})")
        model = model_from_dict(_read_yaml(path), source=str(path))
    else:
        lib = LIBRARY_DIR / f"{text}.yaml"
        if not lib.is_file():
            raise InsganInputError(
                f"unknown model '{text}': not a file and not a library model; library models are: {', '.join(list_models())}"
            )
        model = model_from_dict(_read_yaml(lib), source=f"library model '{text}'")
    values = parse_overrides(overrides)
    return model.with_parameters(**values) if values else model
