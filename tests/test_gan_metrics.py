"""Metrics: identities, analytic cases, an independent SSIM peer, and evaluate's gap-closed bookkeeping."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from insgan_core.data import Axis, INSMap, MapStack
from insgan_core.errors import InsganInputError
from insgan_core.gan import metrics as M

Q_EDGES = np.linspace(0.0, 4.0, 41)
E_EDGES = np.linspace(-5.0, 45.0, 101)  # 0.5 meV bins
QC, EC = 0.5 * (Q_EDGES[1:] + Q_EDGES[:-1]), 0.5 * (E_EDGES[1:] + E_EDGES[:-1])


def magnon_map(*, e0=20.0, width=2.0, noise=0.0, seed=0, nan=True):
    rng = np.random.default_rng(seed)
    s = 10.0 * np.exp(-0.5 * ((EC[None, :] - e0 - 2.0 * QC[:, None]) / width) ** 2) + 0.5
    if noise:
        s = s + rng.normal(0.0, noise, s.shape)
    if nan:
        s[:6, 60:] = np.nan  # a kinematic-limit-like corner
    return INSMap(s, np.zeros_like(s), Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))


# --- relative L1 ----------------------------------------------------------------------------------
def test_relative_l1_identity_and_scaling():
    m = magnon_map()
    assert M.relative_l1(m, m) == 0.0
    assert M.relative_l1(1.1 * m, m) == pytest.approx(0.1)


def test_relative_l1_uses_only_common_bins_and_checks_input():
    b = np.ones((4, 5))
    a = 2.0 * np.ones((4, 5))
    a[0, :] = np.nan
    b[1, :] = np.nan
    assert M.relative_l1(a, b) == pytest.approx(1.0)
    with pytest.raises(InsganInputError, match="shapes"):
        M.relative_l1(np.ones((4, 5)), np.ones((5, 4)))
    with pytest.raises(InsganInputError, match="no covered bin"):
        M.relative_l1(np.full((2, 2), np.nan), np.ones((2, 2)))


# --- SSIM -----------------------------------------------------------------------------------------
def _ssim_brute_force(a, b, sigma, L, min_support=0.5):
    """Independent SSIM: explicit Gaussian-weighted window sums at every bin (O(n²) loops)."""
    nx, ne = a.shape
    r = int(3.5 * sigma + 0.5)
    k = np.arange(-r, r + 1)
    g1 = np.exp(-0.5 * (k / sigma) ** 2)
    g1 /= g1.sum()
    kern = np.outer(g1, g1)
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    vals = []
    for i in range(nx):
        for j in range(ne):
            if not (np.isfinite(a[i, j]) and np.isfinite(b[i, j])):
                continue
            w = wfull = 0.0
            sa = sb = saa = sbb = sab = 0.0
            for di in k:
                for dj in k:
                    ii, jj = i + di, j + dj
                    if not (0 <= ii < nx and 0 <= jj < ne):
                        continue
                    kw = kern[di + r, dj + r]
                    wfull += kw
                    x, y = a[ii, jj], b[ii, jj]
                    if np.isfinite(x) and np.isfinite(y):
                        w += kw
                        sa += kw * x
                        sb += kw * y
                        saa += kw * x * x
                        sbb += kw * y * y
                        sab += kw * x * y
            if w < min_support * wfull:
                continue
            ma, mb = sa / w, sb / w
            va, vb, cov = saa / w - ma**2, sbb / w - mb**2, sab / w - ma * mb
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_identity_is_one_even_with_nan():
    m = magnon_map(noise=0.3)
    assert M.ssim(m, m) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_maps_is_the_luminance_term():
    c1, c2, L = 2.0, 3.0, 1.0
    expected = (2 * c1 * c2 + (0.01 * L) ** 2) / (c1**2 + c2**2 + (0.01 * L) ** 2)
    assert M.ssim(np.full((15, 15), c1), np.full((15, 15), c2), data_range=L) == pytest.approx(expected, rel=1e-9)


def test_ssim_matches_brute_force_peer_with_nan_holes():
    rng = np.random.default_rng(5)
    b = gaussian_filter(rng.random((14, 17)), 1.0)
    a = b + 0.05 * rng.standard_normal(b.shape)
    a[2:4, 5:9] = np.nan
    b[10, :3] = np.nan
    L = float(np.nanmax(b) - np.nanmin(b))
    got = M.ssim(a, b, sigma_bins=1.0)
    assert got == pytest.approx(_ssim_brute_force(a, b, 1.0, L), rel=1e-6)
    assert got < 1.0


def test_ssim_of_anticorrelated_noise_is_negative():
    rng = np.random.default_rng(0)
    n = rng.standard_normal((40, 40))
    # same local means (luminance term ≈ 1), opposite fluctuations (structure term ≈ -1)
    assert M.ssim(10.0 + n, 10.0 - n) < -0.8


# --- patch distance -------------------------------------------------------------------------------
def test_patch_distance_identity_is_zero():
    m = magnon_map(noise=0.2)
    assert M.patch_distance(m, m) == 0.0
    assert M.patch_distance(MapStack.from_maps([m, m]), [m, m], features="raw") == 0.0


def test_patch_distance_of_constant_sets_is_analytic():
    # raw features of constant patches are c·(1,...,1); standardised by the reference's (zero) spread
    # the projections differ by Δ·(1·θ) with E[(1·θ)²] = 1 over random unit θ, so SW₂ ≈ |Δ|
    c1, c2 = 2.0, 3.0
    a, b = np.full((2, 30, 30), c1), np.full((2, 30, 30), c2)
    d = M.patch_distance(a, b, features="raw", patch_size=8, n_projections=2048)
    expected = abs(np.arcsinh(c1 / c2) - np.arcsinh(1.0))  # scale = mean |b| = c2
    assert d == pytest.approx(expected, rel=0.05)
    d_lin = M.patch_distance(a, b, features="raw", patch_size=8, n_projections=2048, transform="linear")
    assert d_lin == pytest.approx(abs(c1 - c2) / c2, rel=0.05)


def test_patch_distance_grows_with_noise_and_with_resolution_mismatch():
    ref = [magnon_map(noise=0.3, seed=s) for s in range(3)]
    clean = [magnon_map() for _ in range(3)]
    slightly = [magnon_map(noise=0.25, seed=10 + s) for s in range(3)]
    broad = [magnon_map(noise=0.3, width=5.0, seed=20 + s) for s in range(3)]
    d_clean, d_slight, d_broad = (M.patch_distance(x, ref) for x in (clean, slightly, broad))
    assert d_slight < d_clean
    assert d_slight < d_broad


def test_sliced_wasserstein_in_one_dimension_is_the_shift():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 1))
    assert M.sliced_wasserstein(x + 0.7, x, n_projections=8) == pytest.approx(0.7)


def test_extract_patches_respects_the_mask_and_checks_size():
    m = magnon_map()
    p = M.extract_patches(m, patch_size=8, n_patches=300, seed=0)
    assert p.shape == (300, 8, 8)
    assert np.all(p != 0)  # fully covered patches only (signal >= 0.5 everywhere covered)
    with pytest.raises(InsganInputError, match="patch_size"):
        M.extract_patches(m, patch_size=1000, n_patches=3)


def test_random_conv_features_are_fixed_by_the_seed():
    rng = np.random.default_rng(0)
    patches = rng.random((5, 16, 16))
    f1, f2 = M.RandomConvFeatures(seed=3)(patches), M.RandomConvFeatures(seed=3)(patches)
    assert f1.shape == (5, 4 * 16 + 2) and np.array_equal(f1, f2)
    assert not np.allclose(f1, M.RandomConvFeatures(seed=4)(patches))


# --- cuts and noise -------------------------------------------------------------------------------
@pytest.mark.parametrize("e0", [17.3, 22.05, 30.8])
def test_peak_energy_recovers_a_gaussian_peak_between_bins(e0):
    s = 10.0 * np.exp(-0.5 * ((EC[None, :] - e0) / 2.0) ** 2) * np.ones((QC.size, 1))
    m = INSMap(s, None, Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))
    assert M.peak_energy(m, q_window=(1.0, 2.0), e_range=(5.0, 45.0)) == pytest.approx(e0, abs=0.05)


def test_compare_cuts_reports_the_shift():
    a, b = magnon_map(e0=21.0, nan=False), magnon_map(e0=20.0, nan=False)
    res = M.compare_cuts(a, b, q_windows=[(1.0, 1.5)], e_windows=[(10.0, 30.0)], e_range=(5.0, 45.0))
    # peak of the dispersion 20 + 2|Q| at |Q| ≈ 1.25 (the cut averages over the window)
    assert res["e_cuts"][0]["peak_shift_meV"] == pytest.approx(1.0, abs=0.1)
    assert res["e_cuts"][0]["reference_peak_meV"] == pytest.approx(22.5, abs=0.3)
    assert res["q_cuts"][0]["relative_l1"] > 0


def test_noise_variance_to_mean_of_poisson_counts():
    rng = np.random.default_rng(2)
    c = 5.0
    lam = 40.0 * (1.0 + 0.5 * np.sin(QC[:, None] / 2.0)) * np.ones((1, EC.size))  # smooth mean counts
    maps = rng.poisson(lam, (3, *lam.shape)) / c
    assert M.noise_variance_to_mean(maps) == pytest.approx(1.0 / c, rel=0.05)
    assert M.noise_variance_to_mean(maps, count_scale=c) == pytest.approx(1.0, rel=0.05)


# --- evaluate -------------------------------------------------------------------------------------
def test_evaluate_perfect_output_closes_the_whole_gap():
    ref = MapStack.from_maps([magnon_map(width=3.0, noise=0.2, seed=s) for s in range(2)])
    clean = MapStack.from_maps([magnon_map() for _ in range(2)])
    res = M.evaluate(ref, ref, clean, patch_size=8, n_patches=128)
    assert res["paired"] is True
    assert res["relative_l1"]["output"]["mean"] == 0.0 and res["relative_l1"]["gap_closed"] == 1.0
    assert res["ssim"]["output"]["mean"] == pytest.approx(1.0) and res["ssim"]["gap_closed"] == pytest.approx(1.0)
    assert res["patch_distance"]["gap_closed"] == 1.0
    assert res["variance_to_mean"]["output_over_reference"] == 1.0
    assert len(res["cuts"]["energy_cuts"]) == 3 and len(res["cuts"]["q_cuts"]) == 3


def test_evaluate_identity_output_closes_nothing_and_unpaired_sets():
    ref = MapStack.from_maps([magnon_map(width=3.0, noise=0.2, seed=s) for s in range(2)])
    clean = MapStack.from_maps([magnon_map() for _ in range(3)])
    res = M.evaluate(clean, ref, clean, patch_size=8, n_patches=128)  # unpaired: 3 outputs, 2 references
    assert res["paired"] is False and "relative_l1" not in res
    assert res["patch_distance"]["gap_closed"] == 0.0
    for c in res["cuts"]["energy_cuts"]:
        assert c["shift_from_baseline_meV"]["mean"] == 0.0
    paired = M.evaluate(ref, ref, ref, patch_size=8, n_patches=64)
    assert np.isnan(paired["relative_l1"]["gap_closed"])  # baseline already perfect


def test_evaluate_refuses_mismatched_inputs():
    m = magnon_map()
    other = INSMap(np.ones((10, 100)), None, Axis(np.linspace(0, 4, 11), "MomentumTransfer"), m.e_axis)
    with pytest.raises(InsganInputError, match="different grid"):
        M.evaluate(m, other, m)
    with pytest.raises(InsganInputError, match="baseline"):
        M.evaluate([m, m], [m, m], m)
