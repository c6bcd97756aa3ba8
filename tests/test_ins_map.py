"""INSMap operations: conserving rebin, cuts, arithmetic with error propagation, stacks."""

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap, MapMetadata, MapStack
from insgan_core.errors import InsganInputError


def make_map(nx=20, ne=30, *, seed=0, x_edges=None, e_edges=None, nan_fraction=0.0):
    rng = np.random.default_rng(seed)
    x = Axis(np.linspace(0.0, 4.0, nx + 1) if x_edges is None else x_edges, "MomentumTransfer")
    e = Axis(np.linspace(-5.0, 25.0, ne + 1) if e_edges is None else e_edges, "DeltaE")
    signal = rng.uniform(0.5, 2.0, (x.size, e.size))
    error = rng.uniform(0.05, 0.2, (x.size, e.size))
    if nan_fraction:
        signal[rng.random(signal.shape) < nan_fraction] = np.nan
        error[np.isnan(signal)] = np.nan
    md = MapMetadata(instrument="MERLIN", ei_meV=62.0, temperature_K=5.0, sample="test", provenance={"seed": seed})
    return INSMap(signal, error, x, e, md)


# --- integrated intensity and rebinning -----------------------------------------------------------
def test_integrated_intensity_is_sum_of_signal_times_area():
    m = make_map(nan_fraction=0.1)
    valid = ~np.isnan(m.signal)
    area = np.outer(m.x_axis.widths, m.e_axis.widths)
    value, error = m.integrated_intensity()
    assert value == pytest.approx(np.sum(m.signal[valid] * area[valid]), rel=1e-14)
    assert error == pytest.approx(np.sqrt(np.sum((m.error[valid] * area[valid]) ** 2)), rel=1e-14)


def test_rebin_to_same_edges_is_identity():
    m = make_map(nan_fraction=0.1)
    r = m.rebin(x_edges=m.x_axis.edges, e_edges=m.e_axis.edges)
    np.testing.assert_allclose(r.signal, m.signal, rtol=1e-13)
    np.testing.assert_allclose(r.error, m.error, rtol=1e-13)


def test_rebin_conserves_integrated_intensity_on_unaligned_grids():
    rng = np.random.default_rng(3)
    x_old = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 0.3, 25))])
    e_old = np.concatenate([[-5.0], -5.0 + np.cumsum(rng.uniform(0.2, 1.0, 40))])
    m = make_map(x_edges=x_old, e_edges=e_old)
    # new grid spans the old one exactly at both ends, interior edges unaligned
    x_new = np.concatenate([[x_old[0]], np.sort(rng.uniform(x_old[0], x_old[-1], 9)), [x_old[-1]]])
    e_new = np.concatenate([[e_old[0]], np.sort(rng.uniform(e_old[0], e_old[-1], 13)), [e_old[-1]]])
    r = m.rebin(x_edges=x_new, e_edges=e_new)
    assert r.signal.shape == (10, 14)
    assert r.integrated_intensity()[0] == pytest.approx(m.integrated_intensity()[0], rel=1e-10)


def test_rebin_merging_whole_bins_gives_mean_and_error_of_mean():
    m = make_map(nx=4, ne=6)
    r = m.rebin(x_edges=m.x_axis.edges[::2], e_edges=m.e_axis.edges[::3])
    # equal-width bins: new value = mean of the 2x3 block; error = sqrt(sum σ²)/6
    block = m.signal.reshape(2, 2, 2, 3).transpose(0, 2, 1, 3).reshape(2, 2, 6)
    eblock = m.error.reshape(2, 2, 2, 3).transpose(0, 2, 1, 3).reshape(2, 2, 6)
    np.testing.assert_allclose(r.signal, block.mean(axis=2), rtol=1e-13)
    np.testing.assert_allclose(r.error, np.sqrt((eblock**2).sum(axis=2)) / 6, rtol=1e-13)


def test_rebin_is_nan_aware():
    m = make_map(nx=4, ne=4)
    m.signal[0:2, 0:2] = np.nan  # one whole new bin masked
    m.signal[2, 2] = np.nan  # one old bin of a new bin masked
    r = m.rebin(x_edges=m.x_axis.edges[::2], e_edges=m.e_axis.edges[::2])
    assert np.isnan(r.signal[0, 0])
    expected = np.nanmean(m.signal[2:4, 2:4])
    assert r.signal[1, 1] == pytest.approx(expected, rel=1e-13)
    assert np.isfinite(r.signal[0, 1]) and np.isfinite(r.signal[1, 0])


def test_rebin_outside_data_is_nan_and_accepts_binning_strings():
    m = make_map()
    r = m.rebin(x_edges="0,0.5,6")
    assert np.all(np.isnan(r.signal[r.x_axis.centres > 4.0]))
    assert np.all(np.isfinite(r.signal[r.x_axis.centres < 4.0]))
    assert r.e_axis.equals(m.e_axis)


def test_rebin_counts_map_conserves_total_counts():
    m = make_map()
    counts = INSMap(m.signal, m.error, m.x_axis, m.e_axis, m.metadata, distribution=False)
    r = counts.rebin(x_edges=m.x_axis.edges[::4], e_edges=m.e_axis.edges[::5])
    assert np.nansum(r.signal) == pytest.approx(np.nansum(m.signal), rel=1e-12)


# --- cuts -------------------------------------------------------------------------------------
def test_cut_integrates_analytic_function():
    x = Axis(np.linspace(0, 2, 21), "MomentumTransfer")
    e = Axis(np.linspace(0, 10, 101), "DeltaE")
    # S(Q, E) = Q · (1 + E): the integral over E in [2, 6] is Q · (4 + (36 - 4)/2) = 20 Q
    s = np.outer(x.centres, 1 + e.centres)
    m = INSMap(s, np.full_like(s, 0.3), x, e)
    c = m.cut(axis="x", window=(2.0, 6.0))
    np.testing.assert_allclose(c.signal, 20 * x.centres, rtol=1e-12)
    # 40 full bins of width 0.1 with σ = 0.3 each: σ_I = 0.3 · 0.1 · sqrt(40)
    np.testing.assert_allclose(c.error, 0.3 * 0.1 * np.sqrt(40), rtol=1e-12)
    assert c.axis.unit == "MomentumTransfer" and c.window_unit == "DeltaE"
    np.testing.assert_allclose(c.coverage, 1.0)


def test_cut_along_energy_with_partial_bins_and_average():
    x = Axis(np.linspace(0, 2, 21), "MomentumTransfer")
    e = Axis(np.linspace(0, 10, 11), "DeltaE")
    s = np.ones((20, 10)) * np.arange(10)[None, :]
    m = INSMap(s, np.ones_like(s), x, e)
    c = m.cut(axis="e", window=(0.25, 0.75))  # 0.5 Å⁻¹ wide: 4 whole bins and two half bins
    np.testing.assert_allclose(c.signal, 0.5 * np.arange(10), rtol=1e-12)
    avg = m.cut(axis="e", window=(0.25, 0.75), average=True)
    np.testing.assert_allclose(avg.signal, np.arange(10), rtol=1e-12)
    # weights 0.05, 0.1, 0.1, 0.1, 0.1, 0.05 with σ = 1: σ_I = sqrt(2·0.05² + 4·0.1²)
    np.testing.assert_allclose(c.error, np.sqrt(2 * 0.05**2 + 4 * 0.1**2), rtol=1e-12)


def test_cut_skips_nan_and_reports_coverage():
    m = make_map(nx=2, ne=4, e_edges=np.array([0.0, 1, 2, 3, 4]))
    m.signal[0, 1] = np.nan
    m.signal[1, :] = np.nan
    c = m.cut(axis="x", window=(0.0, 4.0))
    assert c.signal[0] == pytest.approx(np.nansum(m.signal[0]))
    assert c.coverage[0] == pytest.approx(0.75)
    assert np.isnan(c.signal[1]) and c.coverage[1] == 0


def test_cut_bad_arguments():
    m = make_map()
    with pytest.raises(InsganInputError, match="axis"):
        m.cut(axis="q", window=(0, 1))
    with pytest.raises(InsganInputError, match="hi must be > lo"):
        m.cut(axis="x", window=(5, 1))
    with pytest.raises(InsganInputError, match="does not overlap"):
        m.cut(axis="x", window=(100, 200))


# --- arithmetic ----------------------------------------------------------------------------------
def test_add_subtract_propagate_errors_in_quadrature():
    a, b = make_map(seed=1), make_map(seed=2)
    for r, s in ((a + b, a.signal + b.signal), (a - b, a.signal - b.signal)):
        np.testing.assert_allclose(r.signal, s)
        np.testing.assert_allclose(r.error, np.sqrt(a.error**2 + b.error**2))
    np.testing.assert_allclose((a + 2.0).error, a.error)
    np.testing.assert_allclose((3.0 - a).signal, 3.0 - a.signal)


def test_multiply_divide_propagate_relative_errors():
    a, b = make_map(seed=1), make_map(seed=2)
    rel = np.sqrt((a.error / a.signal) ** 2 + (b.error / b.signal) ** 2)
    p, q = a * b, a / b
    np.testing.assert_allclose(p.signal, a.signal * b.signal)
    np.testing.assert_allclose(p.error, np.abs(p.signal) * rel)
    np.testing.assert_allclose(q.signal, a.signal / b.signal)
    np.testing.assert_allclose(q.error, np.abs(q.signal) * rel)
    np.testing.assert_allclose((2 * a).error, 2 * a.error)
    np.testing.assert_allclose((a / 4).error, a.error / 4)
    r = 1.0 / a
    np.testing.assert_allclose(r.error, a.error / a.signal**2)


def test_division_by_zero_gives_nan_not_inf():
    a = make_map()
    b = a.with_data(np.zeros_like(a.signal))
    q = a / b
    assert np.all(np.isnan(q.signal)) and np.all(np.isnan(q.error))


def test_arithmetic_keeps_nan_and_checks_grid():
    a, b = make_map(nan_fraction=0.2, seed=4), make_map(seed=5)
    assert np.array_equal(np.isnan((a + b).signal), np.isnan(a.signal))
    other = make_map(nx=10)
    with pytest.raises(InsganInputError, match="different grids"):
        a + other
    # grids equal within tolerance are accepted
    c = INSMap(b.signal, b.error, Axis(b.x_axis.edges + 1e-12, "MomentumTransfer"), b.e_axis)
    assert (b - c).signal.max() == 0


def test_numpy_array_on_the_left_defers_to_map():
    a = make_map()
    with pytest.raises(TypeError):
        np.ones(a.shape) + a


def test_mapstack_is_copy_free():
    maps = [make_map(seed=i) for i in range(3)]
    stack = MapStack.from_maps(maps)
    m1 = stack[1]
    assert np.shares_memory(m1.signal, stack.signal)
    m1.signal[0, 0] = 123.0
    assert stack.signal[1, 0, 0] == 123.0
    assert stack[2].metadata.provenance["seed"] == 2
