"""Powder averaging, histogramming and broadening, single-crystal paths."""

import numpy as np
import pytest

from insgan_core.data.grid import parse_binning
from insgan_core.errors import InsganInputError
from insgan_core.spinwave import (
    Anisotropy,
    Lattice,
    Site,
    SpinWaveModel,
    fibonacci_sphere,
    load_model,
    path_map,
    powder_map,
)
from insgan_core.spinwave.broadening import FWHM_TO_SIGMA


def _flat_band(D=-1.5, S=2.0):
    """Isolated spins with easy-axis anisotropy D (S·z)², D < 0: one flat mode at ω = 2|D|S."""
    return SpinWaveModel(
        name="flat", lattice=Lattice(4.0, 4.0, 4.0), sites=[Site("A", (0, 0, 0), S, moment=(0, 0, 1))],
        anisotropies=[Anisotropy.axial("A", D, (0, 0, 1))],
    )


def test_fibonacci_sphere_is_uniform():
    d = fibonacci_sphere(1597)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    np.testing.assert_allclose(d.mean(axis=0), 0.0, atol=2e-3)
    np.testing.assert_allclose(np.mean(d**2, axis=0), 1 / 3, rtol=5e-3)


def test_fm_chain_powder_sum_rule():
    """Energy-integrated S_perp over E > 0 is 2S/3 per spin at every |Q| (no form factor)."""
    S = 2.5
    model = load_model("fm_chain", {"J": -2.0, "S": S})
    q_edges = parse_binning("0.1,0.1,3.1")
    e_edges = parse_binning("0,0.1,21")  # the band ends at 4|J|S = 20 meV
    smap = powder_map(model, q_edges=q_edges, e_edges=e_edges, form_factor=False, n_directions=1597)
    assert smap.x_axis.unit == "MomentumTransfer" and smap.e_axis.unit == "DeltaE"
    np.testing.assert_array_equal(smap.x_axis.edges, q_edges)
    np.testing.assert_array_equal(smap.e_axis.edges, e_edges)
    integral = np.sum(smap.signal * smap.e_axis.widths, axis=1)
    # the lowest shells hold modes below ~0.05 meV... all inside [0, 21] except exactly zero energy
    np.testing.assert_allclose(integral, 2 * S / 3, rtol=5e-3)
    assert not np.isnan(smap.signal).any()


def test_broadening_conserves_weight_and_has_the_requested_width():
    D, S, fwhm = -1.5, 2.0, 0.8
    omega = 2 * abs(D) * S
    model = _flat_band(D, S)
    e_edges = parse_binning("0,0.05,12")
    kw = dict(q_edges=parse_binning("0.5,0.5,3"), e_edges=e_edges, form_factor=False, n_directions=200)
    sharp = powder_map(model, **kw)
    broad = powder_map(model, fwhm_meV=fwhm, **kw)
    de = e_edges[1] - e_edges[0]
    total_sharp = sharp.signal.sum(axis=1) * de
    total_broad = broad.signal.sum(axis=1) * de
    np.testing.assert_allclose(total_sharp, 2 * S / 3, rtol=2e-3)  # powder average of S(1 + Qz²)/2
    np.testing.assert_allclose(total_broad, total_sharp, rtol=1e-6)
    centres = broad.e_axis.centres
    p = broad.signal[0] / broad.signal[0].sum()
    mean = np.sum(p * centres)
    var = np.sum(p * (centres - mean) ** 2)
    assert abs(mean - omega) < de / 2
    # variance of a binned Gaussian: σ² + Δ²/12 for output bins, plus the internal sub-bin grid
    np.testing.assert_allclose(var, (fwhm * FWHM_TO_SIGMA) ** 2 + de**2 / 12, rtol=0.03)


def test_width_function_of_energy():
    model = _flat_band(-1.5, 2.0)
    kw = dict(q_edges=parse_binning("0.5,0.5,1.5"), e_edges=parse_binning("0,0.05,12"), form_factor=False, n_directions=100)
    narrow = powder_map(model, width_function=lambda e: 0.2 + 0.0 * e, **kw)
    wide = powder_map(model, width_function=lambda e: 0.1 * np.asarray(e) + 0.5, **kw)  # 1.1 meV at 6 meV
    assert wide.signal.max() < narrow.signal.max()
    np.testing.assert_allclose(wide.signal.sum(1), narrow.signal.sum(1), rtol=1e-6)
    with pytest.raises(InsganInputError, match="width function"):
        powder_map(model, width_function=lambda e: -np.ones_like(e), **kw)
    with pytest.raises(InsganInputError, match="either fwhm_meV"):
        powder_map(model, fwhm_meV=1.0, width_function=lambda e: e, **kw)


def test_temperature_adds_energy_gain_side():
    model = load_model("afm_chain")
    kw = dict(q_edges=parse_binning("0.2,0.2,2"), e_edges=parse_binning("-25,0.5,25"), n_directions=100, form_factor=False)
    cold = powder_map(model, temperature_K=0.0, **kw)
    warm = powder_map(model, temperature_K=100.0, **kw)
    neg = cold.e_axis.centres < 0
    assert np.all(cold.signal[:, neg] == 0)
    assert warm.signal[:, neg].sum() > 0
    assert warm.signal[:, ~neg].sum() > cold.signal[:, ~neg].sum()  # n + 1 > 1


def test_seeded_directions_are_reproducible_and_backends_agree():
    model = load_model("triangular_afm")
    kw = dict(q_edges=parse_binning("0.3,0.1,2.3"), e_edges=parse_binning("0,0.5,25"), n_directions=150, fwhm_meV=1.0)
    a = powder_map(model, seed=3, **kw)
    b = powder_map(model, seed=3, **kw)
    c = powder_map(model, seed=4, **kw)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert not np.array_equal(a.signal, c.signal)
    pytest.importorskip("torch")
    t = powder_map(model, seed=3, backend="torch", **kw)
    np.testing.assert_allclose(t.signal, a.signal, rtol=1e-9, atol=1e-12)


def test_mbarn_units_scale():
    model = load_model("afm_chain")
    kw = dict(q_edges=parse_binning("0.2,0.2,2"), e_edges=parse_binning("0,0.5,25"), n_directions=50)
    spin = powder_map(model, **kw)
    mb = powder_map(model, units="mbarn", **kw)
    np.testing.assert_allclose(mb.signal, spin.signal * 290.6, rtol=1e-12)  # (γ r0)² (g/2)², g = 2


@pytest.mark.parametrize(
    "q_edges,e_edges,match",
    [
        ([], parse_binning("0,1,10"), "q_edges: need at least 2"),
        ([1.0, 0.5, 0.2], parse_binning("0,1,10"), "q_edges: bin edges must be strictly increasing"),
        ([-1.0, 0.5, 1.0], parse_binning("0,1,10"), "q_edges: first edge -1.0"),
        (parse_binning("0,0.1,1"), [5.0, 4.0], "e_edges: bin edges must be strictly increasing"),
        (parse_binning("0,0.1,1"), [0.0, np.nan, 1.0], "e_edges: bin edges contain NaN"),
    ],
)
def test_bad_grids(q_edges, e_edges, match):
    with pytest.raises(InsganInputError, match=match):
        powder_map(load_model("fm_chain"), q_edges=q_edges, e_edges=e_edges, n_directions=10)


def test_path_map_along_chain_follows_dispersion():
    J, S = -2.0, 2.5
    model = load_model("fm_chain", {"J": J, "S": S})
    e_edges = parse_binning("0,0.1,21")
    smap = path_map(model, path=[("Γ", (0, 0, 0)), ("X", (0.5, 0, 0)), ("Γ'", (1, 0, 0))], e_edges=e_edges,
                    points_per_segment=21, form_factor=False)
    assert smap.x_axis.unit == "rlu_path"
    assert [lab for _, lab in smap.x_axis.tick_labels] == ["Γ", "X", "Γ'"]
    np.testing.assert_allclose([x for x, _ in smap.x_axis.tick_labels], [0.0, 0.5, 1.0])
    h = smap.x_axis.centres
    peak = smap.e_axis.centres[np.argmax(smap.signal, axis=1)]
    exact = 2 * abs(J) * S * (1 - np.cos(2 * np.pi * h))
    inside = (exact > 0.2) & (exact < 20.9)
    np.testing.assert_allclose(peak[inside], exact[inside], atol=0.051)
    with pytest.raises(InsganInputError, match="consecutive corners are equal"):
        path_map(model, path=[(0, 0, 0), (0, 0, 0)], e_edges=e_edges)
