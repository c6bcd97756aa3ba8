"""Powder reduction detector space -> S(|Q|,E): geometry, conservation, real Bi2Fe4O9 data."""

import numpy as np
import pytest

from insgan_core.data import DetectorData, MapMetadata
from insgan_core.data.io import load_nxspe
from insgan_core.data.kinematics import q_from_angle
from insgan_core.data.reduction import pixel_bin_overlaps, pixel_corners_qe, powder_map
from insgan_core.errors import InsganInputError


def make_detectors(*, seed=0, ei=60.0, signal=None, ki_kf=True):
    """Contiguous detectors: 2θ from 5° to 65° in 1° steps (widths tile without gaps or overlaps)."""
    polar = np.arange(5.5, 65.0, 1.0)
    e_edges = np.arange(-10.0, 40.01, 0.5)
    rng = np.random.default_rng(seed)
    shape = (polar.size, e_edges.size - 1)
    s = rng.uniform(1.0, 3.0, shape) if signal is None else np.broadcast_to(signal, shape).copy()
    return DetectorData(
        signal=s,
        error=rng.uniform(0.05, 0.1, shape),
        energy_edges=e_edges,
        polar_deg=polar,
        azimuthal_deg=np.zeros_like(polar),
        polar_width_deg=np.ones_like(polar),
        azimuthal_width_deg=np.full_like(polar, 5.0),
        distance_m=np.full_like(polar, 2.5),
        ei_meV=ei,
        ki_over_kf_scaling=ki_kf,
        metadata=MapMetadata(instrument="TEST", ei_meV=ei),
    )


# --- an independent peer for the overlap areas: Sutherland-Hodgman clipping + shoelace --------------
def clip(poly, axis, value, keep_greater):
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ina = (a[axis] >= value) if keep_greater else (a[axis] <= value)
        inb = (b[axis] >= value) if keep_greater else (b[axis] <= value)
        if ina:
            out.append(a)
        if ina != inb:
            t = (value - a[axis]) / (b[axis] - a[axis])
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return out


def polygon_area(poly):
    if len(poly) < 3:
        return 0.0
    x = np.array([p[0] for p in poly])
    y = np.array([p[1] for p in poly])
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def clipped_area(quad, q0, q1, e0, e1):
    poly = list(quad)
    for axis, value, greater in ((0, q0, True), (0, q1, False), (1, e0, True), (1, e1, False)):
        poly = clip(poly, axis, value, greater)
        if not poly:
            return 0.0
    return polygon_area(poly)


def test_overlap_areas_match_polygon_clipping():
    rng = np.random.default_rng(7)
    n = 40
    e_lo = rng.uniform(-5, 20, n)
    e_hi = e_lo + rng.uniform(0.2, 3.0, n)
    q_ll = rng.uniform(0.5, 3.0, n)
    q_lh = q_ll + rng.uniform(-0.6, 0.6, n)
    q_rl = q_ll + rng.uniform(0.05, 0.8, n)
    q_rh = q_lh + rng.uniform(0.05, 0.8, n)
    q_edges = np.linspace(0, 4.5, 19)
    e_edges = np.linspace(-6, 25, 23)
    pix, iq, ie, area = pixel_bin_overlaps(q_ll, q_lh, q_rl, q_rh, e_lo, e_hi, q_edges=q_edges, e_edges=e_edges)
    fast = np.zeros((n, 18, 22))
    np.add.at(fast, (pix, iq, ie), area)
    ref = np.zeros_like(fast)
    for p in range(n):
        quad = [(q_ll[p], e_lo[p]), (q_rl[p], e_lo[p]), (q_rh[p], e_hi[p]), (q_lh[p], e_hi[p])]
        for i in range(18):
            for j in range(22):
                ref[p, i, j] = clipped_area(quad, q_edges[i], q_edges[i + 1], e_edges[j], e_edges[j + 1])
    np.testing.assert_allclose(fast, ref, atol=1e-12)
    # every pixel's area is distributed completely (all pixels lie inside the grid)
    pixel_area = 0.5 * ((q_rl - q_ll) + (q_rh - q_lh)) * (e_hi - e_lo)
    np.testing.assert_allclose(fast.sum(axis=(1, 2)), pixel_area, rtol=1e-12)


def test_polygon_conserves_integrated_intensity():
    det = make_detectors()
    c = pixel_corners_qe(det)
    # pixel areas from the corners (shoelace of the trapezoid), independent of the overlap code
    pixel_area = 0.5 * ((c["q_right_lo"] - c["q_left_lo"]) + (c["q_right_hi"] - c["q_left_hi"])) * (c["e_hi"] - c["e_lo"])
    expected = np.sum(det.signal * pixel_area)
    m, coverage = powder_map(det, q_edges="0,0.05,8", method="polygon", return_coverage=True)
    covered_area = coverage * np.outer(m.x_axis.widths, m.e_axis.widths)
    got = np.nansum(m.signal * covered_area)
    assert got == pytest.approx(expected, rel=1e-10)
    # contiguous detectors tile the covered region: no bin is covered more than once
    assert coverage.max() <= 1 + 1e-9
    # where bins are fully covered, the plain integrated intensity of those bins is the same sum
    full = coverage > 1 - 1e-12
    assert full.sum() > 1000
    assert np.all(np.isnan(m.signal) == (coverage == 0))


def test_uniform_signal_stays_uniform_and_error_scales():
    det = make_detectors(signal=2.5)
    m = powder_map(det, q_edges="0,0.1,8", e_edges="-10,1,40")
    finite = np.isfinite(m.signal)
    np.testing.assert_allclose(m.signal[finite], 2.5, rtol=1e-12)
    assert np.all(m.error[finite] > 0)
    assert np.all(m.error[finite] <= det.error.max() + 1e-12)


def test_nan_where_no_pixel_reaches_and_kinematic_limits():
    det = make_detectors()
    m = powder_map(det, q_edges="0,0.05,8", e_edges="-10,0.5,40")
    e_c = m.e_axis.centres
    qmin = q_from_angle(ei_meV=60.0, energy_transfer_meV=e_c, two_theta_deg=5.0)
    qmax = q_from_angle(ei_meV=60.0, energy_transfer_meV=e_c, two_theta_deg=65.0)
    q_c = m.x_axis.centres
    below = q_c[:, None] < qmin[None, :] - 0.1
    above = q_c[:, None] > qmax[None, :] + 0.1
    inside = (q_c[:, None] > qmin[None, :] + 0.1) & (q_c[:, None] < qmax[None, :] - 0.1)
    assert np.all(np.isnan(m.signal[below | above]))
    assert np.all(np.isfinite(m.signal[inside]))


def test_masked_detectors_are_left_out():
    det = make_detectors()
    det.signal[10] = np.nan
    det.signal[11] = 1e6  # a hot detector next to the masked one is still used
    m = powder_map(det, q_edges="0,0.05,8")
    assert np.nanmax(m.signal) > 1e5
    assert np.all(np.isfinite(m.signal[np.isfinite(m.signal)]))


def test_centre_method_is_mean_of_pixel_centres():
    det = make_detectors()
    m = powder_map(det, q_edges="0,0.2,8", e_edges="-10,2,40", method="centre")
    e_c = 0.5 * (det.energy_edges[1:] + det.energy_edges[:-1])
    q = q_from_angle(ei_meV=det.ei_meV, energy_transfer_meV=e_c[None, :], two_theta_deg=det.polar_deg[:, None])
    iq = np.floor(q / 0.2).astype(int)
    ie = np.floor((e_c + 10) / 2).astype(int)
    i, j = 10, 12
    sel = (iq == i) & (ie[None, :] == j)
    assert sel.sum() > 0
    assert m.signal[i, j] == pytest.approx(det.signal[sel].mean(), rel=1e-12)
    assert m.error[i, j] == pytest.approx(np.sqrt((det.error[sel] ** 2).sum()) / sel.sum(), rel=1e-12)


def test_polygon_and_centre_agree_on_smooth_data():
    det = make_detectors()
    e_c = 0.5 * (det.energy_edges[1:] + det.energy_edges[:-1])
    q = q_from_angle(ei_meV=det.ei_meV, energy_transfer_meV=e_c[None, :], two_theta_deg=det.polar_deg[:, None])
    smooth = det.with_signal(1.0 + 0.2 * q + 0.01 * e_c[None, :], det.error)
    a = powder_map(smooth, q_edges="0,0.25,8", e_edges="-10,2,40", method="polygon")
    b = powder_map(smooth, q_edges="0,0.25,8", e_edges="-10,2,40", method="centre")
    both = np.isfinite(a.signal) & np.isfinite(b.signal)
    interior = both & (np.abs(a.signal - b.signal) < 1) & (a.x_axis.centres[:, None] > 1)
    assert interior.sum() > 100
    np.testing.assert_allclose(a.signal[interior], b.signal[interior], rtol=0.02)


def test_ki_over_kf_applied_only_when_missing():
    det = make_detectors(signal=1.0, ki_kf=False)
    m = powder_map(det, q_edges="0,0.1,8", e_edges="-10,0.5,40")
    ki = np.sqrt(60.0 / 2.0721)
    kf = np.sqrt((60.0 - m.e_axis.centres) / 2.0721)
    row = m.signal[30]
    ok = np.isfinite(row)
    np.testing.assert_allclose(row[ok], (ki / kf)[ok], rtol=1e-12)
    assert m.metadata.provenance["reduction"]["ki_over_kf_applied_here"] is True
    already = powder_map(make_detectors(signal=1.0, ki_kf=True), q_edges="0,0.1,8", e_edges="-10,0.5,40")
    np.testing.assert_allclose(already.signal[np.isfinite(already.signal)], 1.0)
    forced_off = powder_map(det, q_edges="0,0.1,8", e_edges="-10,0.5,40", correct_ki_kf=False)
    np.testing.assert_allclose(forced_off.signal[np.isfinite(forced_off.signal)], 1.0)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"q_edges": "0,0,5"}, "step must be > 0"),
        ({"q_edges": "0,0.1"}, "start,step,end"),
        ({"q_edges": "0,0.1,5", "e_edges": "70,1,80"}, ">= Ei"),
        ({"q_edges": "0,0.1,5", "method": "voronoi"}, "method"),
        ({"q_edges": "-1,0.1,5"}, ">= 0"),
        ({"q_edges": [0.0, 2.0, 1.0]}, "q_bins: bin edges must be strictly increasing"),
        ({"q_edges": "0,0.1,5", "e_edges": [0.0, np.nan, 1.0]}, "e_bins: bin edges contain NaN"),
    ],
)
def test_bad_arguments_raise(kwargs, fragment):
    with pytest.raises(InsganInputError, match=fragment):
        powder_map(make_detectors(), **kwargs)


# --- the real Bi2Fe4O9 5 K data ------------------------------------------------------------------
@pytest.fixture(scope="module")
def bfo(bi2fe4o9_5k):
    return load_nxspe(bi2fe4o9_5k)


def test_bi2fe4o9_magnetic_intensity_near_1p2_invA(bfo):
    m = powder_map(bfo, q_edges="0,0.05,4", e_edges="-10,0.5,55")
    cut = m.cut(axis="x", window=(15.0, 25.0), average=True)
    q = cut.centres
    band = (q > 0.8) & (q < 2.5)
    q_peak = q[band][np.nanargmax(cut.signal[band])]
    assert 1.1 < q_peak < 1.4
    peak = np.nanmean(cut.signal[(q > 1.15) & (q < 1.35)])
    surroundings = np.nanmean(cut.signal[(q > 1.8) & (q < 2.2)])
    err = np.sqrt(np.nansum(cut.error[(q > 1.15) & (q < 1.35)] ** 2)) / 4
    assert peak > 2.5 * surroundings
    assert (peak - surroundings) / err > 10


def test_bi2fe4o9_kinematic_edge(bfo):
    m = powder_map(bfo, q_edges="0,0.02,4")  # input energy bins
    first_unmasked = np.flatnonzero(~bfo.masked_detectors)[0]
    c = pixel_corners_qe(bfo)
    rows = np.flatnonzero((m.e_axis.centres > 10) & (m.e_axis.centres < 45))
    assert rows.size > 100
    for j in rows:
        col = m.signal[:, j]
        i = np.argmax(np.isfinite(col))
        edge = m.x_axis.edges[i]
        # the polygon edge is the left corner of the lowest-angle unmasked detector (to one bin)
        q_low = min(c["q_left_lo"][first_unmasked, j], c["q_left_hi"][first_unmasked, j])
        assert m.x_axis.edges[i] - 1e-9 <= q_low < m.x_axis.edges[i + 1] + 1e-9
        # and it lies where |Q|min(E) for 2θ = 2.9° predicts (the first rings are masked, hence 0.06 Å⁻¹)
        q_29 = q_from_angle(ei_meV=bfo.ei_meV, energy_transfer_meV=m.e_axis.centres[j], two_theta_deg=2.9)
        assert abs(edge - q_29) < 0.06
        assert np.all(np.isnan(col[:i]))


def test_bi2fe4o9_polygon_and_centre_consistent(bfo):
    poly = powder_map(bfo, q_edges="0,0.05,7", e_edges="-10,0.5,55", method="polygon")
    centre = powder_map(bfo, q_edges="0,0.05,7", e_edges="-10,0.5,55", method="centre")
    assert poly.shape == centre.shape == (140, 130)
    assert poly.x_axis.unit == "MomentumTransfer" and poly.metadata.instrument == "MERLIN"
    # polygon spreads each pixel, so it covers at least the bins the centres reach
    assert np.all(np.isfinite(poly.signal[np.isfinite(centre.signal)]))
    both = np.isfinite(centre.signal) & (np.abs(centre.signal) > 0)
    ratio = np.nanmedian(poly.signal[both] / centre.signal[both])
    assert 0.9 < ratio < 1.1
