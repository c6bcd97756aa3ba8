"""Mixed-precision single-crystal path (precision="float32") against the complex128 path."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from insgan_core.errors import InsganInputError, SpinWaveInstabilityError  # noqa: E402
from insgan_core.spinwave import SpinWaveCalculator, load_model, sqw_points  # noqa: E402
from insgan_core.spinwave.solver import build_hamiltonian, colpa  # noqa: E402
from insgan_core.spinwave.solver_mixed import colpa_mixed  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "reference" / "pyspinw" / "reference_models.py"


def _sixteen_site():
    spec = importlib.util.spec_from_file_location("pyspinw_reference_models_mixed", REFERENCE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_insgan(mod.benchmark_models()["sixteen_site"])


def _grouped(E, S, tol=1e-4):
    """S⊥ summed over (near-)degenerate modes at each Q: the physical quantity (degenerate eigenvectors are
    any basis of their subspace, so single-mode weights inside a degenerate group are not defined)."""
    scale = np.abs(E).max(axis=1, keepdims=True)
    same = np.abs(E[:, :, None] - E[:, None, :]) <= tol * scale[:, :, None]
    return np.einsum("nkj,nj->nk", same, S)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_sixteen_site_fast_path_equals_float64_within_1e3():
    model = _sixteen_site()
    q = np.random.default_rng(3).uniform(-1.0, 1.0, size=(300, 3))
    c64 = SpinWaveCalculator(model)
    c32 = SpinWaveCalculator(model, precision="float32")
    assert c32.prep.n == 16
    E64, S64 = c64.dispersion(q, form_factor=True)
    E32, S32 = c32.dispersion(q, form_factor=True)
    assert _rel(E32, E64) < 1e-3
    assert _rel(_grouped(E32, S32), _grouped(E64, S64)) < 1e-3
    # the binned spectrum users see
    kw = dict(e_edges=np.linspace(0.0, 25.0, 101), fwhm_meV=0.5, temperature_K=5.0)
    ref = sqw_points(model, q, calculator=c64, **kw)
    fast = sqw_points(model, q, calculator=c32, **kw)
    assert np.abs(fast - ref).sum() / np.abs(ref).sum() < 1e-3


def test_soft_modes_are_refined_in_float64():
    model = _sixteen_site()
    calc = SpinWaveCalculator(model)
    p = calc.prep
    # near and at magnetic zone centres (Goldstone modes) and generic Q
    q = np.array([[0.0, 0.0, 0.0], [1e-4, 0.0, 0.0], [1.0, 2.0, 0.3], [0.25, 0.25, 0.0], [0.013, 0.0, 0.2],
                  [0.37, 0.11, 0.3], [0.61, 0.93, 0.5]])
    h = build_hamiltonian(p, q)
    w = np.broadcast_to(p.w[None], (len(q),) + p.w.shape)
    lam_ref, Y_ref = colpa(h, q_rlu=q, w=w, scale=p.scale, omega_tol=calc.omega_tol)
    lam, Y, refined = colpa_mixed(h, q_rlu=q, w=w, scale=p.scale, omega_tol=calc.omega_tol, return_refined=True)
    soft = np.abs(lam_ref).min(axis=1) < 0.02 * np.abs(lam_ref).max(axis=1)
    assert soft[:3].all() and not soft[-1] and not soft.all()
    assert np.array_equal(refined, soft)
    # refined Q are the complex128 result exactly; the others agree to single precision
    np.testing.assert_array_equal(lam[refined], lam_ref[refined])
    np.testing.assert_array_equal(Y[refined], Y_ref[refined])
    assert _rel(lam[~refined], lam_ref[~refined]) < 1e-5


@pytest.mark.parametrize("name", ["bi2fe4o9", "triangular_afm", "kagome_q0"])
def test_library_models_fast_path(name):
    model = load_model(name)
    q = np.random.default_rng(7).uniform(-1.0, 1.0, size=(200, 3))
    E64, S64 = SpinWaveCalculator(model).dispersion(q)
    E32, S32 = SpinWaveCalculator(model, precision="float32").dispersion(q)
    assert _rel(E32, E64) < 1e-3
    assert _rel(_grouped(E32, S32), _grouped(E64, S64)) < 1e-3


def test_instability_still_raised_in_fast_path():
    from insgan_core.spinwave import Bond, Lattice, Site, SpinWaveModel

    # antiferromagnetic J on a ferromagnetic chain: stationary but unstable
    model = SpinWaveModel(name="fm", lattice=Lattice(3.0, 10.0, 10.0),
                          sites=[Site("A", (0, 0, 0), 2.5, moment=(0, 0, 1))], bonds=[Bond("A", "A", (1, 0, 0), 1.0)])
    q = np.array([[0.1, 0, 0], [0.3, 0, 0]])
    with pytest.raises(SpinWaveInstabilityError, match=r"First offending Q = \[0\.1, 0\.0, 0\.0\]"):
        SpinWaveCalculator(model, precision="float32").dispersion(q)


def test_precision_argument_checked():
    model = load_model("square_afm")
    with pytest.raises(InsganInputError, match="precision"):
        SpinWaveCalculator(model, precision="half")
    with pytest.raises(InsganInputError, match="precision"):
        SpinWaveCalculator(model, precision="float32", hermitian=False)


def test_path_map_precision_option():
    from insgan_core.spinwave import path_map

    model = load_model("kagome_q0")
    kw = dict(path=[("G", (0, 0, 0)), ("M", (0.5, 0, 0)), ("K", (1 / 3, 1 / 3, 0))], e_edges=np.linspace(0, 10, 81),
              points_per_segment=30, fwhm_meV=0.3)
    ref = path_map(model, **kw)
    fast = path_map(model, precision="float32", **kw)
    assert fast.metadata.provenance["spinwave"]["precision"] == "float32"
    assert np.abs(fast.signal - ref.signal).sum() / np.abs(ref.signal).sum() < 1e-3
