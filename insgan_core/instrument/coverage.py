"""Kinematics and detector coverage: sample S(|Q|,E) at detector pixels, then reduce as real data are.

A simulated map passes through the same steps as a measurement: S is evaluated at every detector ×
energy-transfer pixel of a detector table (read from an NXSPE file, or a built-in angular coverage per
instrument), pixels the table marks as masked (NaN) stay NaN, pixels with E ≥ Ei have no neutron, and
the table is converted to S(|Q|,E) with the data layer's powder reduction
(:func:`insgan_core.data.reduction.powder_map`). Masked detectors, gaps between detector banks and the
kinematic limit therefore appear exactly where they appear in the user's reduced data.
"""

from __future__ import annotations

import numpy as np

from ..data.detector import DetectorData
from ..data.ins_map import INSMap, MapMetadata
from ..data.kinematics import q_from_angle
from ..errors import InsganInputError
from .settings import normalise_instrument_name

__all__ = [
    "BUILTIN_COVERAGE",
    "builtin_detectors",
    "check_detector_table",
    "interpolate_map",
    "sample_at_pixels",
    "detector_path",
]

#: Built-in powder-ring coverage per instrument: ((2θ_min, 2θ_max) per contiguous detector bank in
#: degrees, ring width in degrees, sample–detector distance in m). Ranges follow the public ISIS
#: instrument descriptions and real reduced files (../shared/data/experimental): MERLIN 2θ 2.9°–135.6°
#: in 0.6° rings with a one-ring gap at 45° between door sets; MARI 3.4°–134.1° in 0.43° rings with a
#: one-ring gap every 15° between detector banks (the bank boundaries of the PdCrO2 file); MAPS 3°–60°
#: (low-angle bank to 20°, high-angle banks to 60°); LET powder rings 5°–140°. Gaps are narrow: in
#: grouped, reduced powder data neighbouring rings cover most of them, as the real files show.
BUILTIN_COVERAGE = {
    "MERLIN": (((2.9, 44.7), (45.3, 135.6)), 0.6, 2.5),
    "MARI": (((3.4, 29.1), (29.5, 44.1), (44.5, 59.1), (59.5, 74.1), (74.5, 89.1), (89.5, 104.1),
              (104.5, 119.1), (119.5, 134.1)), 0.43, 4.022),
    "MAPS": (((3.0, 19.7), (20.3, 60.0)), 0.5, 6.0),
    "LET": (((5.0, 140.0),), 0.5, 3.5),
}


def builtin_detectors(instrument: str, *, ei_meV: float, e_edges) -> DetectorData:
    """A detector table from the built-in angular coverage of an instrument.

    Parameters
    ----------
    instrument : str
        ``"MERLIN"``, ``"MARI"``, ``"MAPS"`` or ``"LET"``.
    ei_meV : float
        Incident energy, meV.
    e_edges : ndarray, shape (ne + 1,)
        Energy-transfer bin edges, meV.

    Returns
    -------
    DetectorData
        One row per powder ring (zeros as signal, nothing masked), polar angles at ring centres,
        ``polar_width_deg`` the ring width (rings of about the nominal width tiling each bank exactly);
        see :data:`BUILTIN_COVERAGE`.
    """
    name = normalise_instrument_name(instrument)
    banks, width, distance = BUILTIN_COVERAGE[name]
    centres, ring_widths = [], []
    for lo, hi in banks:
        n = max(1, int(round((hi - lo) / width)))
        step = (hi - lo) / n  # rings tile each bank exactly
        centres.append(lo + step * (np.arange(n) + 0.5))
        ring_widths.append(np.full(n, step))
    polar = np.concatenate(centres)
    widths = np.concatenate(ring_widths)
    e_edges = np.asarray(e_edges, dtype=np.float64)
    zeros = np.zeros((polar.size, e_edges.size - 1))
    return DetectorData(
        signal=zeros,
        error=zeros.copy(),
        energy_edges=e_edges,
        polar_deg=polar,
        azimuthal_deg=np.zeros_like(polar),
        polar_width_deg=widths,
        azimuthal_width_deg=np.full(polar.size, 360.0),
        distance_m=np.full(polar.size, distance),
        ei_meV=ei_meV,
        ki_over_kf_scaling=True,
        metadata=MapMetadata(instrument=name, ei_meV=float(ei_meV), provenance={"detectors": f"builtin {name}"}),
    )


def check_detector_table(detectors: DetectorData, *, ei_meV: float | None = None, source: str = "detector table") -> None:
    """Refuse detector tables that cannot place pixels in (|Q|, E).

    Raises
    ------
    InsganInputError
        When the table has no detectors, its polar angles are missing (all zero) or outside 0°–180°,
        or its incident energy differs from ``ei_meV`` by more than 2 %.
    """
    if not isinstance(detectors, DetectorData):
        raise InsganInputError(f"{source}: expected a DetectorData table (e.g. from an NXSPE file), got {type(detectors).__name__}")
    polar = detectors.polar_deg
    if polar.size == 0:
        raise InsganInputError(f"{source}: the detector table has no detectors")
    if np.all(polar == 0):
        raise InsganInputError(
            f"{source}: every detector has polar angle 0°, so the file carries no detector angles; use an NXSPE "
            f"file written with the instrument's detector positions (data/polar) or the built-in coverage"
        )
    if np.any(polar < 0) or np.any(polar > 180):
        raise InsganInputError(f"{source}: polar angles must lie in 0°–180°, got {polar.min():g}°–{polar.max():g}°")
    if ei_meV is not None and abs(detectors.ei_meV - ei_meV) > 0.02 * ei_meV:
        raise InsganInputError(
            f"{source}: the detector table was measured at Ei = {detectors.ei_meV:g} meV but the instrument settings "
            f"say Ei = {ei_meV:g} meV; use the same incident energy (within 2 %)"
        )


def interpolate_map(src: INSMap, q: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a map between its bin centres, clamped at the edges.

    Parameters
    ----------
    src : INSMap
        Map on a (|Q|, E) grid.
    q, e : ndarray (same shape)
        |Q| in Å⁻¹ and energy transfer in meV of the points.

    Returns
    -------
    ndarray
        Interpolated signal; NaN where a point is not finite or touches a NaN bin.
    """
    qc, ec = src.x_axis.centres, src.e_axis.centres
    s = src.signal

    def weights(c, x):
        if c.size == 1:
            i0 = np.zeros(x.shape, dtype=int)
            return i0, i0, np.zeros(x.shape)
        xc = np.clip(x, c[0], c[-1])
        i1 = np.clip(np.searchsorted(c, xc, side="right"), 1, c.size - 1)
        i0 = i1 - 1
        t = (xc - c[i0]) / (c[i1] - c[i0])
        return i0, i1, t

    finite = np.isfinite(q) & np.isfinite(e)
    qq = np.where(finite, q, qc[0])
    ee = np.where(finite, e, ec[0])
    a0, a1, ta = weights(qc, qq)
    b0, b1, tb = weights(ec, ee)
    out = (
        s[a0, b0] * (1 - ta) * (1 - tb)
        + s[a1, b0] * ta * (1 - tb)
        + s[a0, b1] * (1 - ta) * tb
        + s[a1, b1] * ta * tb
    )
    return np.where(finite, out, np.nan)


def sample_at_pixels(sqw: INSMap, detectors: DetectorData) -> DetectorData:
    """Evaluate a |Q| map at every detector × energy pixel.

    Parameters
    ----------
    sqw : INSMap
        S(|Q|, E) (x unit ``MomentumTransfer``) covering the region of interest.
    detectors : DetectorData
        Geometry and energy bins; its NaN pixels (masked detectors) stay NaN.

    Returns
    -------
    DetectorData
        Same geometry, signal = S(|Q|(2θ, E), E) at the centre of each pixel (bilinear between bin
        centres), NaN where the table is masked or E ≥ Ei; errors zero (intensities carry no ki/kf factor).
    """
    if sqw.x_axis.unit != "MomentumTransfer":
        raise InsganInputError(
            f"detector coverage: the map's x axis must be |Q| (MomentumTransfer), got '{sqw.x_axis.unit}'"
        )
    e = 0.5 * (detectors.energy_edges[1:] + detectors.energy_edges[:-1])
    q = q_from_angle(ei_meV=detectors.ei_meV, energy_transfer_meV=e[None, :], two_theta_deg=detectors.polar_deg[:, None])
    ee = np.broadcast_to(e[None, :], q.shape)
    signal = interpolate_map(sqw, q, ee)
    signal[np.isnan(detectors.signal)] = np.nan
    out = detectors.with_signal(signal, np.where(np.isnan(signal), np.nan, 0.0))
    out.ki_over_kf_scaling = True  # the intensities are S itself: no ki/kf factor to add in the reduction
    return out


def detector_path(sqw: INSMap, detectors: DetectorData, *, method: str = "polygon") -> INSMap:
    """Sample a map at detector pixels and reduce it back onto its own (|Q|, E) grid.

    Parameters
    ----------
    sqw : INSMap
        S(|Q|, E) on the output grid.
    detectors : DetectorData
    method : {"polygon", "centre"}
        Reduction method of :func:`insgan_core.data.reduction.powder_map`.

    Returns
    -------
    INSMap
        On ``sqw``'s grid, NaN where no detector pixel reaches (masks, gaps, kinematic limit).
    """
    from ..data.reduction import powder_map

    pixels = sample_at_pixels(sqw, detectors)
    reduced = powder_map(pixels, q_edges=sqw.x_axis.edges, e_edges=sqw.e_axis.edges, method=method, correct_ki_kf=False)
    return sqw.with_data(reduced.signal, reduced.error, ei_meV=detectors.ei_meV)
