"""Single-crystal S(Q, E) along paths of wavevectors in r.l.u. (labelled corners) or on Q lists."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..data.grid import Axis
from ..data.ins_map import INSMap, MapMetadata
from ..errors import InsganInputError
from .broadening import histogram_modes, resolve_width
from .calculator import SpinWaveCalculator
from .model import SIGN_CONVENTION, SpinWaveModel
from ..data.grid import check_edges

__all__ = ["q_path", "parse_q_path", "path_map", "sqw_points"]


def q_path(corners, *, points_per_segment: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along straight segments between corners (r.l.u.).

    Parameters
    ----------
    corners : array_like (nc, 3)
        Path corners in r.l.u. (at least 2).
    points_per_segment : int
        Points per segment (the end corner of a segment is the start of the next).

    Returns
    -------
    q : ndarray (N, 3)
        Wavevectors in r.l.u.
    x : ndarray (N,)
        Cumulative path length in r.l.u. (Euclidean norm of the hkl steps).
    corner_x : ndarray (nc,)
        Path coordinate of each corner.
    """
    c = np.asarray(corners, dtype=float)
    if c.ndim != 2 or c.shape[1] != 3 or c.shape[0] < 2:
        raise InsganInputError(f"path: expected at least 2 corners of 3 components (r.l.u.), got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise InsganInputError("path: corners contain NaN or inf")
    n = int(points_per_segment)
    if n < 2:
        raise InsganInputError(f"points_per_segment = {points_per_segment}; give at least 2")
    pts = [c[0][None]]
    for a, b in zip(c[:-1], c[1:]):
        t = np.linspace(0.0, 1.0, n)[1:]
        pts.append(a + t[:, None] * (b - a))
    q = np.concatenate(pts)
    steps = np.linalg.norm(np.diff(q, axis=0), axis=1)
    x = np.concatenate([[0.0], np.cumsum(steps)])
    corner_x = x[:: n - 1]
    if np.any(np.diff(corner_x) <= 0):
        raise InsganInputError("path: two consecutive corners are equal; remove the repeated corner")
    return q, x, corner_x


def sqw_points(
    model: SpinWaveModel,
    q_rlu,
    *,
    e_edges,
    temperature_K: float = 0.0,
    fwhm_meV: float | None = None,
    width_function: Callable | None = None,
    form_factor: bool = True,
    backend: str = "numpy",
    device: str = "cpu",
    units: str = "spin",
    calculator: SpinWaveCalculator | None = None,
    precision: str = "float64",
) -> np.ndarray:
    """S(Q, E) per meV at a list of wavevectors (N, 3) r.l.u. on energy bins: array (N, ne).

    ``precision="float32"`` (numpy backend) solves in complex64 with complex128 refinement of soft modes
    (see :class:`SpinWaveCalculator`); ignored when ``calculator`` is given.
    """
    e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
    width = resolve_width(fwhm_meV, width_function)
    calc = calculator or SpinWaveCalculator(model, backend=backend, device=device, precision=precision)
    energies, weights = calc.spectrum(q_rlu, temperature_K=temperature_K, form_factor=form_factor, units=units)
    n = energies.shape[0]
    return histogram_modes(energies, weights, np.arange(n), n, e_axis.edges, width=width)


def path_map(
    model: SpinWaveModel,
    *,
    path,
    e_edges,
    labels: Sequence[str] | None = None,
    points_per_segment: int = 50,
    temperature_K: float = 0.0,
    fwhm_meV: float | None = None,
    width_function: Callable | None = None,
    form_factor: bool = True,
    backend: str = "numpy",
    device: str = "cpu",
    units: str = "spin",
    calculator: SpinWaveCalculator | None = None,
    precision: str = "float64",
) -> INSMap:
    """S(Q, E) along a path of r.l.u. corners, as an INSMap with x unit ``rlu_path``.

    Parameters
    ----------
    path : array_like (nc, 3) or sequence of (label, (h, k, l))
        Corners in r.l.u. of the model's cell.
    labels : sequence of str, optional
        Corner labels (default: the hkl triples).
    e_edges : array_like
        Energy bin edges (meV).
    precision : {"float64", "float32"}
        As :class:`SpinWaveCalculator` (ignored when ``calculator`` is given).

    Returns
    -------
    INSMap
        x bins centred on the path points (edges half-way between points), tick labels at the corners;
        signal per meV; no form factor when ``form_factor=False``.
    """
    if len(path) and isinstance(path[0], (tuple, list)) and len(path[0]) == 2 and isinstance(path[0][0], str):
        labels = [p[0] for p in path]
        corners = np.array([p[1] for p in path], dtype=float)
    else:
        corners = np.asarray(path, dtype=float)
    q, x, corner_x = q_path(corners, points_per_segment=points_per_segment)
    if labels is None:
        labels = ["(" + ",".join(f"{v:g}" for v in c) + ")" for c in corners]
    if len(labels) != len(corners):
        raise InsganInputError(f"path: {len(labels)} labels for {len(corners)} corners")
    mid = 0.5 * (x[1:] + x[:-1])
    first = x[0] - (mid[0] - x[0])
    last = x[-1] + (x[-1] - mid[-1])
    x_axis = Axis(np.concatenate([[first], mid, [last]]), "rlu_path", tuple(zip(corner_x.tolist(), labels)))
    calc = calculator or SpinWaveCalculator(model, backend=backend, device=device, precision=precision)
    signal = sqw_points(
        model, q, e_edges=e_edges, temperature_K=temperature_K, fwhm_meV=fwhm_meV,
        width_function=width_function, form_factor=form_factor, units=units, calculator=calc,
    )
    e_axis = Axis(np.asarray(e_edges, dtype=float), "DeltaE")
    provenance = {
        "generator": "insgan_core.spinwave.path_map",
        "model": calc.model.name,
        "parameters": calc.model.parameters,
        "convention": SIGN_CONVENTION,
        "path_rlu": corners.tolist(),
        "labels": list(labels),
        "form_factor": bool(form_factor),
        "fwhm_meV": None if fwhm_meV is None or callable(fwhm_meV) else float(fwhm_meV),
        "precision": calc.precision,
    }
    md = MapMetadata(temperature_K=float(temperature_K), sample=calc.model.name, provenance={"spinwave": provenance})
    return INSMap(signal, np.zeros_like(signal), x_axis, e_axis, md, distribution=True)


def parse_q_path(text: str, *, name: str = "QPath") -> list[tuple[str, tuple[float, float, float]]]:
    """Corners of a reciprocal-space path from ``"G=0,0,0; X=0.5,0,0; M=0.5,0.5,0"`` (r.l.u.).

    Corners are separated by ``;``; each is ``label=h,k,l`` or just ``h,k,l`` (then labelled by its
    coordinates). Returns ``[(label, (h, k, l)), ...]`` as :func:`insgan_core.spinwave.path_map` takes.

    Raises
    ------
    InsganInputError
        Naming ``name``, for fewer than two corners or a corner that is not three numbers.
    """
    corners = []
    for part in [p.strip() for p in str(text).split(";") if p.strip()]:
        label, _, coords = part.rpartition("=")
        try:
            hkl = tuple(float(v) for v in coords.split(","))
        except ValueError:
            hkl = ()
        if len(hkl) != 3 or not all(np.isfinite(hkl)):
            raise InsganInputError(
                f"{name}: corner '{part}' is not 'label=h,k,l' (three numbers in r.l.u.); "
                "example: 'G=0,0,0; X=0.5,0,0; M=0.5,0.5,0'"
            )
        corners.append((label.strip() or "(" + ",".join(f"{v:g}" for v in hkl) + ")", hkl))
    if len(corners) < 2:
        raise InsganInputError(f"{name}: a path needs at least two corners separated by ';', got {text!r}")
    return corners
