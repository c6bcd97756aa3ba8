# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the pySpinW 1.1.0b2 reference spectra used by ``tests/test_spinwave_vs_pyspinw.py``.

pySpinW is an independent linear spin-wave code (Rust core, GPL-3.0).  Its install pulls a GUI stack of
about 0.7 GB, so the project does not depend on it: this script is run by hand, in a separate virtual
environment, and its output (one small ``.npz`` file per model) is committed as test data.  See
``README.md`` in this folder for the command line.

This script deliberately does not import insgan: the model definitions (``reference_models.py``) are
written out explicitly (lattice, sites, spin lengths, moment directions, bonds with their 3x3 exchange
matrices, single-ion anisotropies, propagation vector) and stored as JSON next to the spectra, so the
test can build the identical model with insgan's programmatic API.

Conventions stored with every model (pySpinW's; see also ``reference_models.py``):

* Hamiltonian ``H = sum_bonds S_i^T M_ij S_j + sum_i S_i^T A_i S_i``, every bond listed once, J > 0
  antiferromagnetic.  A bond ``(site1, site2, offset)`` couples ``site1`` in cell 0 with ``site2`` in
  cell ``offset`` (lattice units).  A DM vector D enters as ``M = [[0, Dz, -Dy], [-Dz, 0, Dx],
  [Dy, -Dx, 0]]`` so that ``S_i^T M S_j = D . (S_i x S_j)``; the stored ``matrix`` is always the full 3x3.
* Cartesian frame: x || a, y in the a-b plane, z perpendicular to a and b (SpinW's frame).  Moment
  directions and the rotation axis are Cartesian unit vectors.
* Incommensurate / single-k structures (rotating frame, SpinW style): the moment of site i in the cell
  at lattice vector R is ``S_i(R) = S_i cos(2 pi k.R) + (n x S_i) sin(2 pi k.R)`` (rotation by
  ``+2 pi k.R`` about the unit axis n), with the phase taken from the cell vector R only.  pySpinW
  returns three branches per mode, at Q - k, Q and Q + k.
* Spectra: for every Q (r.l.u. of the given cell) all 2n (commensurate) or 6n (rotating frame)
  eigen-energies in meV, positive and negative, sorted ascending, and for each the unpolarised
  neutron cross-section ``S_perp = sum_ab (delta_ab - Qhat_a Qhat_b) S^ab`` without form factor,
  Bose factor or g, normalised per magnetic site (pySpinW ``intensity_unit='spin'``; its default
  'cell' is this times the number of sites in the cell).  pySpinW reports the negative-energy branch
  of every mode with the same weight as the positive one (no detailed balance applied).  In this
  normalisation a ferromagnet has ``S_perp = S/2`` per transverse component, i.e. the FM chain at
  Q || a has ``S_perp = S/2``.

Two pySpinW 1.1.0b2 problems found while building these references are described in ``README.md``
(the sign of Q for non-reciprocal spectra, and S_perp in the rotating frame for a site off the cell
origin); the second is why ``j1j2_chain_helix_two_site`` takes S_perp from the equivalent one-site helix.

The script checks every model against closed-form dispersions where they exist (FM chain, AFM chain,
square-lattice AFM, triangular 120 deg AFM, Heisenberg J1-J2 helix) and checks pySpinW's Rust core
against its Python core, so a reference file cannot silently encode a mistyped model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import (  # noqa: E402  (sibling module: the model definitions)
    SPERP_FROM_EQUIVALENT_MODEL, define_models, degenerate_groups, group_sums, pyspinw_spectrum,
    sperp_from_equivalent_model)

FORMAT_VERSION = 1
OUTPUT_DIR = Path(__file__).resolve().parent

#: tolerance on |E_rust - E_python| (meV) and on S_perp (relative) when cross-checking pySpinW's cores
CORE_AGREEMENT_TOL = 1e-8
#: tolerance on pySpinW vs closed-form dispersions (meV)
ORACLE_TOL = 1e-8


# --------------------------------------------------------------------------------------------------
# Q lists
# --------------------------------------------------------------------------------------------------

def q_points(name: str, model: dict, *, seed: int) -> np.ndarray:
    """Q list in r.l.u., shape (N, 3): a line along a principal direction plus random general points."""
    rng = np.random.default_rng(seed)
    line = np.linspace(0.03, 0.97, 12)
    if name.startswith(("fm_chain", "afm_chain", "j1j2")):
        # 1D models: points along h (and -h, which matters for non-reciprocal magnons), plus general Q
        along = np.column_stack([line, np.zeros_like(line), np.zeros_like(line)])
        minus = -along[::3]
    else:
        along = np.column_stack([line, 0.37 * line, np.zeros_like(line)])
        minus = -along[::3]
    general = rng.uniform(-1.5, 1.5, size=(12, 3))
    return np.vstack([along, minus, general])


# --------------------------------------------------------------------------------------------------
# Closed-form oracles (sanity checks of the model definitions)
# --------------------------------------------------------------------------------------------------

def _helix_omega(q, k_helix, *, j1=1.0, j2=0.4, spin=2.0):
    """Rotating-frame magnon energy (meV) of the Heisenberg J1-J2 helix at chemical wavevector q (r.l.u.).

    omega(q) = S sqrt((J(q) - J(k)) ((J(q+k) + J(q-k))/2 - J(k))), J(q) = 2 J1 cos 2 pi q + 2 J2 cos 4 pi q
    (sum over both neighbours at each distance): the standard rotating-frame LSWT result for a Heisenberg
    helix with its classical k, which pySpinW reproduces to rounding.
    """
    def jq(x):
        return 2 * j1 * np.cos(2 * np.pi * x) + 2 * j2 * np.cos(4 * np.pi * x)
    return spin * np.sqrt(np.clip((jq(q) - jq(k_helix)) * ((jq(q + k_helix) + jq(q - k_helix)) / 2 - jq(k_helix)),
                                  0, None))


def oracle_positive_energies(name: str, model: dict, q: np.ndarray) -> np.ndarray | None:
    """Positive-energy modes (N, M) in meV, sorted, from closed forms, or None if no closed form."""
    h, k = q[:, 0], q[:, 1]
    if name == "fm_chain":
        j, s = -1.2, 1.5
        return (2 * abs(j) * s * (1 - np.cos(2 * np.pi * h)))[:, None]
    if name == "afm_chain":
        j, s = 1.7, 1.0
        # NN distance a/2: omega = 2JS|sin(q d)| with q d = 2 pi h / 2 = pi h
        w = 2 * j * s * np.abs(np.sin(np.pi * h))
        return np.column_stack([w, w])
    if name == "square_afm":
        j, s = 2.0, 2.5
        g = np.cos(np.pi * h) * np.cos(np.pi * k)  # NN vectors (+-1/2, +-1/2) of the sqrt2 x sqrt2 cell
        w = 4 * j * s * np.sqrt(np.clip(1 - g**2, 0, None))
        return np.column_stack([w, w])
    if name == "triangular_afm_rotating":
        j, s = 1.0, 1.5

        def om(hh, kk):
            g = (np.cos(2 * np.pi * hh) + np.cos(2 * np.pi * kk) + np.cos(2 * np.pi * (hh + kk))) / 3
            return 3 * j * s * np.sqrt(np.clip((1 - g) * (1 + 2 * g), 0, None))
        kv = 1 / 3
        return np.sort(np.column_stack([om(h - kv, k - kv), om(h, k), om(h + kv, k + kv)]), axis=1)
    if name == "j1j2_chain_helix":
        kh = model["propagation_vector"][0]
        return np.sort(np.column_stack([_helix_omega(h - kh, kh), _helix_omega(h, kh), _helix_omega(h + kh, kh)]),
                       axis=1)
    if name == "j1j2_chain_helix_two_site":
        # zone folding of the one-site helix: chemical q = (Q' + s k')/2 + m/2, s in {-1, 0, 1}, m in {0, 1}
        kh = model["propagation_vector"][0] / 2
        parts = [_helix_omega(h / 2 + m / 2 + s_ * kh, kh) for s_ in (-1, 0, 1) for m in (0, 1)]
        return np.sort(np.column_stack(parts), axis=1)
    if name == "fm_chain_dm_easy_axis":
        # pySpinW's (= SpinW's) momentum convention gives -2DS sin(2 pi h) on the +E branch at +h;
        # the same physics written with the opposite Fourier sign would read +2DS sin(2 pi h).
        j, s, a_zz, d = -1.0, 1.0, -0.2, 0.1
        return (2 * abs(j) * s * (1 - np.cos(2 * np.pi * h)) + 2 * abs(a_zz) * s
                - 2 * d * s * np.sin(2 * np.pi * h))[:, None]
    return None


# --------------------------------------------------------------------------------------------------

def _atomic_savez(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def generate(output_dir: Path = OUTPUT_DIR, *, only: list[str] | None = None, seed: int = 20261125) -> dict:
    """Compute and write ``<model>.npz`` for every model; returns a summary dict per model."""
    from pyspinw.versions import get_version

    version = get_version()
    summary = {}
    for index, (name, model) in enumerate(define_models().items()):
        if only and name not in only:
            continue
        q = q_points(name, model, seed=seed + index)
        e_rs, i_rs = pyspinw_spectrum(model, q, use_rust=True)
        e_py, i_py = pyspinw_spectrum(model, q, use_rust=False)
        core_de = float(np.max(np.abs(e_rs - e_py)))
        groups = degenerate_groups(e_rs)
        g_rs, g_py = group_sums(i_rs, groups), group_sums(i_py, groups)
        scale = np.maximum(np.abs(g_rs), 1e-6 * np.max(np.abs(g_rs)))
        core_di = float(np.max(np.abs(g_rs - g_py) / scale))
        if core_de > CORE_AGREEMENT_TOL:
            raise RuntimeError(f"{name}: pySpinW Rust and Python cores disagree on energies by {core_de} meV")
        if core_di > 1e-6:
            raise RuntimeError(f"{name}: pySpinW Rust and Python cores disagree on S_perp by {core_di} (rel)")
        n_modes = e_rs.shape[1]
        positive = e_rs[:, n_modes // 2:]
        if not np.allclose(e_rs[:, :n_modes // 2], -positive[:, ::-1], atol=1e-6) and "dm" not in name:
            raise RuntimeError(f"{name}: spectrum is not symmetric in +-E")
        oracle = oracle_positive_energies(name, model, q)
        oracle_err = None
        if oracle is not None:
            oracle_err = float(np.max(np.abs(positive - oracle)))
            if oracle_err > ORACLE_TOL:
                raise RuntimeError(f"{name}: pySpinW differs from the closed form by {oracle_err} meV")
        extra_arrays, extra_meta = {}, {}
        if name in SPERP_FROM_EQUIVALENT_MODEL:  # pySpinW's own S_perp is wrong there (README.md)
            extra_arrays["sperp_pyspinw_raw"] = g_rs
            i_rs, extra_meta = sperp_from_equivalent_model(name, q, e_rs)
        meta = {
            "format_version": FORMAT_VERSION,
            "pyspinw_version": version,
            "pyspinw_core": "rust",
            "intensity_unit": "S_perp per magnetic site (pySpinW intensity_unit='spin'), no form factor, "
                              "no Bose factor; both +E and -E branches with equal weight",
            "n_sites_in_cell": len(model["sites"]),
            "rotating_frame": model["propagation_vector"] is not None,
            "max_rust_vs_python_energy_meV": core_de,
            "max_rust_vs_python_sperp_rel": core_di,
            "max_vs_closed_form_meV": oracle_err,
            "generator": "tests/reference/pyspinw/generate_pyspinw_reference.py",
            "seed": seed + index,
            **extra_meta,
        }
        _atomic_savez(output_dir / f"{name}.npz",
                      model_json=np.array(json.dumps(model, indent=1)),
                      meta_json=np.array(json.dumps(meta)),
                      q_rlu=q, energies_meV=e_rs, sperp=i_rs, **extra_arrays)
        summary[name] = meta
        print(f"{name:32s} modes={n_modes:2d} nq={len(q):3d} rust-vs-python dE={core_de:.1e} "
              f"dS={core_di:.1e} vs-closed-form={oracle_err}")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR)
    parser.add_argument("--only", nargs="*", help="model names to regenerate (default: all)")
    args = parser.parse_args(argv)
    generate(args.output_dir, only=args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
