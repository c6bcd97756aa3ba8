"""Powder reduction: detector space (2θ, E) → S(|Q|, E), the equivalent of Mantid's ``SofQW``.

Two methods:

``"polygon"`` (fractional area, as Mantid ``SofQWNormalisedPolygon``)
    Each detector × energy-bin pixel is the quadrilateral in (|Q|, E) whose corners are
    |Q|(2θ ± Δ2θ/2, E_lo/E_hi); its intensity is shared among the output bins in proportion to the exact
    overlap area, and each output bin holds the overlap-area-weighted mean of the pixels that reach it.
``"centre"`` (as ``SofQWCentre``)
    Each pixel contributes only at its centre (2θ, E_centre); each output bin holds the mean of the pixels
    whose centres fall in it.

Bins no pixel reaches are NaN. Masked detectors (NaN rows) and NaN pixels are left out.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import InsganInputError
from .detector import DetectorData
from .grid import Axis, check_edges, parse_binning
from .ins_map import INSMap
from .kinematics import k_from_energy, q_from_angle
from .limits import check_allocation

_HINT = "use coarser --q-bins/--e-bins or a smaller range"

__all__ = [
    "powder_map",
    "pixel_corners_qe",
    "pixel_bin_overlaps",
    "effective_polar_widths",
    "kinematic_range",
    "explain_empty_map",
    "check_energy_range",
]

#: estimated working memory, bytes, per pixel-energy slab and per pixel-bin overlap in pixel_bin_overlaps
_BYTES_PER_SLAB = 200
_BYTES_PER_OVERLAP = 500
#: estimated working memory per output bin of powder_map (accumulators, coverage, result, error)
_BYTES_PER_BIN = 100

METHODS = ("polygon", "centre")


def _edges(value, *, name: str) -> np.ndarray:
    """Bin edges from a ``"start,step,end"`` string or an array of edges (validated)."""
    if isinstance(value, str):
        return parse_binning(value, name=name)
    return check_edges(value, name=name, unit="MomentumTransfer" if name.startswith("q") else "DeltaE").edges


def effective_polar_widths(det: DetectorData) -> np.ndarray:
    """The 2θ width of every detector, degrees, shape (ndet,).

    Widths from the file are used where > 0; a zero width (not given) is replaced by the interval between
    the midpoints to the neighbouring detectors in 2θ, so that the polygon method has a finite area.
    """
    width = det.polar_width_deg.copy()
    missing = ~(width > 0)
    if missing.any():
        p = det.polar_deg
        order = np.argsort(p)
        ps = p[order]
        if ps.size > 1:
            mid = 0.5 * (ps[1:] + ps[:-1])
            lo = np.concatenate([[ps[0] - (mid[0] - ps[0])], mid])
            hi = np.concatenate([mid, [ps[-1] + (ps[-1] - mid[-1])]])
            cell = np.empty_like(p)
            cell[order] = hi - lo
        else:
            cell = np.ones_like(p)
        width[missing] = cell[missing]
    return width


def pixel_corners_qe(det: DetectorData) -> dict[str, np.ndarray]:
    """|Q| at the four corners of every detector × energy pixel.

    Returns
    -------
    dict of ndarray, each shape (ndet, ne)
        ``q_left_lo``, ``q_left_hi`` (at 2θ − Δ2θ/2, clipped at 0°, and E_lo / E_hi), ``q_right_lo``,
        ``q_right_hi`` (at 2θ + Δ2θ/2, clipped at 180°), in Å⁻¹; plus ``e_lo``, ``e_hi`` (meV,
        broadcast). Corners with E ≥ Ei are NaN.

    Notes
    -----
    At fixed E, |Q| grows with 2θ on [0°, 180°], so the left side has the smaller |Q|. The sides are
    taken as straight lines between the corners (as Mantid's polygon rebinning does).
    """
    width = effective_polar_widths(det)
    t_lo = np.clip(det.polar_deg - 0.5 * width, 0.0, 180.0)[:, None]
    t_hi = np.clip(det.polar_deg + 0.5 * width, 0.0, 180.0)[:, None]
    e = det.energy_edges
    e_lo, e_hi = e[None, :-1], e[None, 1:]

    def q(tt, ee):
        return q_from_angle(ei_meV=det.ei_meV, energy_transfer_meV=ee, two_theta_deg=tt)

    shape = det.shape
    return {
        "q_left_lo": np.broadcast_to(q(t_lo, e_lo), shape),
        "q_left_hi": np.broadcast_to(q(t_lo, e_hi), shape),
        "q_right_lo": np.broadcast_to(q(t_hi, e_lo), shape),
        "q_right_hi": np.broadcast_to(q(t_hi, e_hi), shape),
        "e_lo": np.broadcast_to(e_lo, shape),
        "e_hi": np.broadcast_to(e_hi, shape),
    }


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi] (inclusive, hi >= lo - 1), the (owner, value) pairs of all integers in them."""
    counts = np.maximum(hi - lo + 1, 0)
    owner = np.repeat(np.arange(lo.size), counts)
    start = np.cumsum(counts) - counts
    value = lo[owner] + (np.arange(owner.size) - start[owner])
    return owner, value


def pixel_bin_overlaps(
    q_left_lo, q_left_hi, q_right_lo, q_right_hi, e_lo, e_hi, *, q_edges: np.ndarray, e_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact overlap areas between trapezoidal pixels and the rectangles of an output grid.

    Parameters
    ----------
    q_left_lo, q_left_hi, q_right_lo, q_right_hi : ndarray, shape (P,)
        |Q| of each pixel's corners (Å⁻¹): left/right side at its lower/upper energy. The pixel is the
        quadrilateral with horizontal edges at ``e_lo`` and ``e_hi`` and straight left/right sides.
    e_lo, e_hi : ndarray, shape (P,)
        Energy range of each pixel, meV.
    q_edges : ndarray, shape (nq + 1,)
    e_edges : ndarray, shape (ne + 1,)
        Output bin edges.

    Returns
    -------
    pixel, iq, ie : ndarray of int, shape (K,)
        Pixel index and output bin indices of every non-empty overlap.
    area : ndarray, shape (K,)
        Overlap area in Å⁻¹·meV.

    Notes
    -----
    The pixel's horizontal edges make the clip in E trivial: the slab [max(E_lo, e0), min(E_hi, e1)].
    Within it the covered |Q| length is f(E) = max(0, min(R(E), q1) − max(L(E), q0)) for linear sides
    L, R; f is piecewise linear with kinks only where L or R crosses q0 or q1, so the trapezoid rule over
    the sorted kinks integrates it exactly.
    """
    q_edges = np.asarray(q_edges, dtype=np.float64)
    e_edges = np.asarray(e_edges, dtype=np.float64)
    nq, ne = q_edges.size - 1, e_edges.size - 1
    # 1. pixel x output-energy-bin slabs
    k_lo = np.searchsorted(e_edges, e_lo, side="right") - 1
    k_hi = np.searchsorted(e_edges, e_hi, side="left") - 1
    k_lo = np.clip(k_lo, 0, ne - 1)
    k_hi = np.clip(k_hi, -1, ne - 1)
    inside = (e_hi > e_edges[0]) & (e_lo < e_edges[-1])
    k_hi = np.where(inside, k_hi, k_lo - 1)
    check_allocation(float(np.maximum(k_hi - k_lo + 1, 0).sum()), bytes_per_item=_BYTES_PER_SLAB,
                     what=f"powder reduction: {e_lo.size} pixels x {ne} energy bins", hint=_HINT)
    p, k = _expand(k_lo, k_hi)
    ea = np.maximum(e_lo[p], e_edges[k])
    eb = np.minimum(e_hi[p], e_edges[k + 1])
    keep = eb > ea
    p, k, ea, eb = p[keep], k[keep], ea[keep], eb[keep]
    de_pix = e_hi[p] - e_lo[p]
    ta = (ea - e_lo[p]) / de_pix
    tb = (eb - e_lo[p]) / de_pix
    la = q_left_lo[p] + ta * (q_left_hi[p] - q_left_lo[p])
    lb = q_left_lo[p] + tb * (q_left_hi[p] - q_left_lo[p])
    ra = q_right_lo[p] + ta * (q_right_hi[p] - q_right_lo[p])
    rb = q_right_lo[p] + tb * (q_right_hi[p] - q_right_lo[p])
    # 2. slab x output-|Q|-bin cells
    qmin = np.minimum(la, lb)
    qmax = np.maximum(ra, rb)
    m_lo = np.clip(np.searchsorted(q_edges, qmin, side="right") - 1, 0, nq - 1)
    m_hi = np.clip(np.searchsorted(q_edges, qmax, side="left") - 1, -1, nq - 1)
    inside = (qmax > q_edges[0]) & (qmin < q_edges[-1]) & (qmax > qmin)
    m_hi = np.where(inside, m_hi, m_lo - 1)
    check_allocation(float(np.maximum(m_hi - m_lo + 1, 0).sum()), bytes_per_item=_BYTES_PER_OVERLAP,
                     what=f"powder reduction: pixel overlaps with {nq} |Q| x {ne} energy bins", hint=_HINT)
    s, m = _expand(m_lo, m_hi)
    q0, q1 = q_edges[m], q_edges[m + 1]
    ea, eb, la, lb, ra, rb = ea[s], eb[s], la[s], lb[s], ra[s], rb[s]
    h = eb - ea
    # 3. exact integral of the piecewise-linear covered length over [ea, eb]
    pts = [np.zeros_like(h), h]
    for a, b in ((la, lb), (ra, rb)):
        slope = b - a
        safe = np.where(slope != 0, slope, 1.0)
        for qq in (q0, q1):
            t = np.where(slope != 0, (qq - a) / safe, 0.0)
            pts.append(np.clip(t, 0.0, 1.0) * h)
    pts = np.sort(np.stack(pts, axis=1), axis=1)  # (K, 6) positions along the slab, from 0 to h
    frac = pts / np.where(h > 0, h, 1.0)[:, None]
    lq = la[:, None] + frac * (lb - la)[:, None]
    rq = ra[:, None] + frac * (rb - ra)[:, None]
    f = np.maximum(np.minimum(rq, q1[:, None]) - np.maximum(lq, q0[:, None]), 0.0)
    area = np.sum(0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(pts, axis=1), axis=1)
    good = area > 0
    return p[s][good], m[good], k[s][good], area[good]


def powder_map(
    det: DetectorData,
    *,
    q_edges,
    e_edges=None,
    method: str = "polygon",
    correct_ki_kf: bool | None = None,
    return_coverage: bool = False,
):
    """Convert detector-space data to a powder map S(|Q|, E).

    Parameters
    ----------
    det : DetectorData
        Direct-geometry data (Ei, 2θ per detector, energy-transfer bins).
    q_edges : ndarray, shape (nq + 1,), or str
        Output |Q| bin edges in Å⁻¹, or Mantid's ``"start,step,end"``.
    e_edges : ndarray, shape (ne + 1,), or str, optional
        Output energy-transfer edges in meV or ``"start,step,end"``; default: the input energy bins.
    method : {"polygon", "centre"}
        Fractional-area polygon rebinning (default) or centre-point binning (see module docstring).
    correct_ki_kf : bool or None
        Multiply each pixel by ki/kf (kf at the pixel's energy centre). None (default): only when the
        data do not carry the factor yet (``det.ki_over_kf_scaling`` False), so that the output is
        proportional to S(|Q|,E) either way; True/False force it on/off.
    return_coverage : bool
        Also return the fraction of each output bin's area covered by valid pixels (polygon) or the
        number of pixel centres in it (centre).

    Returns
    -------
    INSMap
        x axis |Q| (``MomentumTransfer``, Å⁻¹), energy ``DeltaE`` (meV), ``distribution=True``, signal in
        the input's intensity unit; NaN where no pixel reaches. Metadata copied from ``det`` with
        ``provenance["reduction"]`` describing the conversion.
    coverage : ndarray, shape (nq, ne)
        Only with ``return_coverage=True``.

    Notes
    -----
    Direct geometry: ki² = Ei/2.0721, kf² = (Ei − E)/2.0721, |Q|² = ki² + kf² − 2 ki kf cos 2θ.
    Polygon: S_b = Σ_p A_pb S_p / Σ_p A_pb and σ_b² = Σ_p A_pb² σ_p² / (Σ_p A_pb)², A_pb the overlap area
    of pixel p with bin b (:func:`pixel_bin_overlaps`). Hence Σ_b S_b C_b = Σ_p S_p A_p with C_b the
    covered area: the integrated intensity Σ_p S_p A_p is conserved, and equals Σ_b S_b ΔQ ΔE where every
    bin touched is fully covered. Pixels reaching E ≥ Ei are dropped.
    Centre: S_b = mean of S_p over pixels whose centre lies in b; σ_b = sqrt(Σ σ_p²)/n_b.
    """
    if not isinstance(det, DetectorData):
        raise InsganInputError(f"powder_map: expected DetectorData, got {type(det).__name__}")
    if method not in METHODS:
        raise InsganInputError(f"powder_map: method must be one of {METHODS}, got {method!r}")
    q_edges = _edges(q_edges, name="q_bins")
    e_edges = det.energy_edges.copy() if e_edges is None else _edges(e_edges, name="e_bins")
    if q_edges[0] < 0:
        raise InsganInputError(f"q_bins: |Q| edges must be >= 0 Å⁻¹, start is {q_edges[0]}")
    if e_edges[0] >= det.ei_meV:
        raise InsganInputError(
            f"e_bins: every energy transfer ({e_edges[0]:g} to {e_edges[-1]:g} meV) is >= Ei = {det.ei_meV:g} meV"
        )
    nq, ne = q_edges.size - 1, e_edges.size - 1
    check_allocation(float(nq) * float(ne), bytes_per_item=_BYTES_PER_BIN, what=f"q_bins x e_bins: {nq} x {ne} bins", hint=_HINT)
    check_allocation(float(det.signal.size), bytes_per_item=_BYTES_PER_SLAB,
                     what=f"powder reduction of {det.shape[0]} detectors x {det.shape[1]} energies")
    signal, error = det.signal, np.nan_to_num(det.error)
    apply_ki_kf = (not det.ki_over_kf_scaling) if correct_ki_kf is None else bool(correct_ki_kf)
    if apply_ki_kf:
        e_c = 0.5 * (det.energy_edges[1:] + det.energy_edges[:-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = k_from_energy(det.ei_meV) / k_from_energy(det.ei_meV - e_c)
        signal, error = signal * factor[None, :], error * factor[None, :]

    if method == "polygon":
        c = pixel_corners_qe(det)
        valid = np.isfinite(signal)
        for key in ("q_left_lo", "q_left_hi", "q_right_lo", "q_right_hi"):
            valid &= np.isfinite(c[key])
        flat = np.flatnonzero(valid)
        args = [c[key].reshape(-1)[flat] for key in ("q_left_lo", "q_left_hi", "q_right_lo", "q_right_hi", "e_lo", "e_hi")]
        pix, iq, ie, area = pixel_bin_overlaps(*args, q_edges=q_edges, e_edges=e_edges)
        s = signal.reshape(-1)[flat][pix]
        v = error.reshape(-1)[flat][pix] ** 2
        b = iq * ne + ie
        num = np.bincount(b, s * area, nq * ne).reshape(nq, ne)
        den = np.bincount(b, area, nq * ne).reshape(nq, ne)
        var = np.bincount(b, v * area**2, nq * ne).reshape(nq, ne)
        bin_area = np.diff(q_edges)[:, None] * np.diff(e_edges)[None, :]
        ok = den > 1e-9 * bin_area
        coverage = np.where(ok, den / bin_area, 0.0)
    else:
        e_c = 0.5 * (det.energy_edges[1:] + det.energy_edges[:-1])
        q_c = q_from_angle(ei_meV=det.ei_meV, energy_transfer_meV=e_c[None, :], two_theta_deg=det.polar_deg[:, None])
        q_c = np.broadcast_to(q_c, det.shape)
        e_c = np.broadcast_to(e_c[None, :], det.shape)
        iq = np.searchsorted(q_edges, q_c, side="right") - 1
        ie = np.searchsorted(e_edges, e_c, side="right") - 1
        valid = np.isfinite(signal) & np.isfinite(q_c) & (iq >= 0) & (iq < nq) & (ie >= 0) & (ie < ne)
        b = (iq * ne + ie)[valid]
        num = np.bincount(b, signal[valid], nq * ne).reshape(nq, ne)
        den = np.bincount(b, None, nq * ne).reshape(nq, ne).astype(np.float64)
        var = np.bincount(b, error[valid] ** 2, nq * ne).reshape(nq, ne)
        ok = den > 0
        coverage = den
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, num / den, np.nan)
        err = np.where(ok, np.sqrt(var) / den, np.nan)
    metadata = copy.deepcopy(det.metadata)
    if metadata.ei_meV is None:
        metadata.ei_meV = det.ei_meV
    metadata.provenance["reduction"] = {
        "algorithm": "insgan powder_map (SofQW equivalent)",
        "method": method,
        "ki_over_kf_applied_here": apply_ki_kf,
        "ki_over_kf_in_output": bool(det.ki_over_kf_scaling or apply_ki_kf),
    }
    result = INSMap(out, err, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"), metadata, True)
    return (result, coverage) if return_coverage else result


def kinematic_range(det: DetectorData) -> tuple[float, float, float, float]:
    """The (|Q| min, |Q| max, E min, E max) reached by the valid pixels of ``det`` (Å⁻¹, meV).

    Valid pixels have a finite signal and E < Ei; |Q| spans each detector's 2θ width
    (:func:`effective_polar_widths`). NaN everywhere when no pixel is valid.
    """
    corners = pixel_corners_qe(det)
    valid = np.isfinite(det.signal)
    q_lo = np.fmin(corners["q_left_lo"], corners["q_left_hi"])
    q_hi = np.fmax(corners["q_right_lo"], corners["q_right_hi"])
    ok = valid & np.isfinite(q_lo) & np.isfinite(q_hi)
    if not ok.any():
        return (float("nan"),) * 4
    e_lo = np.broadcast_to(det.energy_edges[None, :-1], det.shape)[ok]
    e_hi = np.minimum(np.broadcast_to(det.energy_edges[None, 1:], det.shape)[ok], det.ei_meV)
    return float(q_lo[ok].min()), float(q_hi[ok].max()), float(e_lo.min()), float(e_hi.max())


def explain_empty_map(det: DetectorData, *, q_edges, e_edges=None, source: str = "this file") -> str:
    """Why a reduction of ``det`` onto ``q_edges`` × ``e_edges`` reaches no output bin (one line)."""
    q_edges = np.asarray(q_edges, dtype=float)
    e_edges = det.energy_edges if e_edges is None else np.asarray(e_edges, dtype=float)
    q0, q1, e0, e1 = kinematic_range(det)
    if not np.isfinite(q0):
        return f"{source} has no valid pixel (every bin is NaN or at E >= Ei)"
    if q_edges[0] >= q1 or q_edges[-1] <= q0:
        return (
            f"the requested |Q| range {q_edges[0]:g}–{q_edges[-1]:g} Å⁻¹ lies outside the kinematic range "
            f"{q0:.2g}–{q1:.2g} Å⁻¹ of {source}"
        )
    if e_edges[0] >= e1 or e_edges[-1] <= e0:
        return (
            f"the requested energy range {e_edges[0]:g}–{e_edges[-1]:g} meV lies outside the energy range "
            f"{e0:g}–{e1:g} meV of {source}"
        )
    return (
        f"no valid pixel of {source} (|Q| {q0:.2g}–{q1:.2g} Å⁻¹, E {e0:g}–{e1:g} meV) reaches the requested "
        f"bins (|Q| {q_edges[0]:g}–{q_edges[-1]:g} Å⁻¹, E {e_edges[0]:g}–{e_edges[-1]:g} meV): at these |Q| the "
        "energies are kinematically inaccessible"
    )


def check_energy_range(e_edges, ei_meV: float, *, name: str = "--e-bins") -> None:
    """Refuse an energy-transfer binning that reaches beyond the incident energy (E <= Ei is required)."""
    e_edges = np.asarray(e_edges, dtype=float)
    if e_edges[0] >= ei_meV:
        raise InsganInputError(
            f"{name}: every energy transfer ({e_edges[0]:g} to {e_edges[-1]:g} meV) is >= Ei = {ei_meV:g} meV"
        )
    if e_edges[-1] > ei_meV * (1 + 1e-9):
        raise InsganInputError(
            f"{name}: the energy range {e_edges[0]:g}–{e_edges[-1]:g} meV goes beyond Ei = {ei_meV:g} meV; energy "
            f"transfer cannot exceed the incident energy (end the binning at or below {ei_meV:g} meV)"
        )
