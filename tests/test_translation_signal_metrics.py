"""Signal-part metrics of issue 16 (insgan_core.translation.signal_metrics) on hand-made maps whose answers
are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap
from insgan_core.errors import InsganInputError
from insgan_core.translation.signal_metrics import (
    inelastic_cut_meV,
    interior_peaks,
    signal_inelastic_ratio,
    signal_peak_shifts,
)

Q_EDGES = np.linspace(0.0, 3.0, 31)
E_EDGES = np.linspace(-10.0, 50.0, 121)  # 0.5 meV
EC = 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
FWHM = 2 * math.sqrt(2 * math.log(2))


def _map(profile):
    s = np.broadcast_to(np.asarray(profile, float)[None, :], (Q_EDGES.size - 1, E_EDGES.size - 1)).copy()
    return INSMap(s, np.zeros_like(s), Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))


def _gauss(centre, fwhm=2.0, height=1.0):
    return height * np.exp(-0.5 * ((EC - centre) / (fwhm / FWHM)) ** 2)


def _half(e):
    return 1.0  # half FWHM of 1 meV at every energy


WINDOWS = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]


def test_inelastic_cut():
    assert inelastic_cut_meV(2.7) == pytest.approx(5.4)
    assert inelastic_cut_meV(1.0) == 3.0  # never below e_min_meV
    with pytest.raises(InsganInputError, match="fwhm_at_zero_meV"):
        inelastic_cut_meV(float("nan"))


def test_interior_peaks_skip_the_edges():
    assert list(interior_peaks(_gauss(20.0))) == [int(np.argmin(np.abs(EC - 20.0)))]
    assert interior_peaks(np.exp(-EC / 3.0)).size == 0  # a tail falling from the range's edge is no peak
    assert interior_peaks(EC).size == 0


def test_peak_shift_of_a_moved_line_in_half_fwhm_units():
    tgt = _map(_gauss(20.0))
    rows = signal_peak_shifts(_map(_gauss(21.0)), tgt, q_windows=WINDOWS, e_range=(5.0, 45.0), half_fwhm=_half)
    for r in rows:
        assert r["target_peak_meV"] == pytest.approx(20.0, abs=0.05)
        assert r["shift_over_half_fwhm"] == pytest.approx(1.0, abs=0.1)


def test_peak_shift_ignores_an_elastic_tail_and_rank_swaps():
    """A quasi-elastic tail rising to the search edge is not a peak; two near-equal van Hove peaks that swap
    rank between target and prediction still give ~0 shift (the earlier strongest-maximum metric gave 15 half-widths)."""
    tail = 50.0 * np.exp(-EC / 1.5) * (EC > 0)
    tgt = _map(tail + _gauss(15.0, height=1.0) + _gauss(30.0, height=0.98))
    pred = _map(3.0 * tail + _gauss(15.0, height=0.98) + _gauss(30.0, height=1.0))
    rows = signal_peak_shifts(pred, tgt, q_windows=WINDOWS, e_range=(5.0, 45.0), half_fwhm=_half)
    for r in rows:
        assert r["target_peak_meV"] == pytest.approx(15.0, abs=0.05)
        assert r["shift_over_half_fwhm"] < 0.1


def test_deleted_peak_fails_and_peakless_target_is_not_judged():
    tgt = _map(_gauss(20.0))
    rows = signal_peak_shifts(_map(np.zeros_like(EC)), tgt, q_windows=WINDOWS, e_range=(5.0, 45.0), half_fwhm=_half)
    assert all(r["shift_over_half_fwhm"] == math.inf for r in rows)
    rows = signal_peak_shifts(tgt, _map(np.exp(-EC / 3.0)), q_windows=WINDOWS, e_range=(5.0, 45.0), half_fwhm=_half)
    assert all(math.isnan(r["target_peak_meV"]) and math.isnan(r["shift_over_half_fwhm"]) for r in rows)


def test_inelastic_ratio_counts_only_the_inelastic_region():
    line = _gauss(20.0)
    elastic = _gauss(0.0, fwhm=1.5, height=1e4)  # < 1e-11 above 5.4 meV
    tgt = _map(line + elastic)
    assert signal_inelastic_ratio(_map(2.0 * line + elastic), tgt, e_cut_meV=5.4) == pytest.approx(2.0, rel=1e-6)
    assert signal_inelastic_ratio(_map(line + 3.0 * elastic), tgt, e_cut_meV=5.4) == pytest.approx(1.0, rel=1e-6)
    masked = _map(line)
    masked.signal[:, EC > 25.0] = np.nan  # bins missing in one map are left out of both integrals
    assert signal_inelastic_ratio(masked, tgt, e_cut_meV=5.4) == pytest.approx(1.0, rel=1e-6)
    assert math.isnan(signal_inelastic_ratio(tgt, _map(np.zeros_like(EC)), e_cut_meV=5.4))
