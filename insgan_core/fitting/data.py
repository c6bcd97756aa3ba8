"""A measured dataset prepared for fitting: S(|Q|, E) on a grid, errors, coverage and masks.

Masks follow the project's convention: a bin takes part in the fit only where the measured signal and
error are finite, the error is > 0 and no mask removes it. Masks: an elastic-line window |E| ≤ w (meV),
|Q| windows (Å⁻¹, e.g. Bragg peaks or a detector edge) and energy windows (meV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.detector import DetectorData
from ..data.ins_map import INSMap
from ..errors import InsganInputError
from ..instrument.settings import InstrumentSettings

__all__ = ["FitDataset", "load_dataset", "parse_window"]

DEFAULT_Q_BINS = "0.1,0.04,5.7"


def parse_window(text: str, *, name: str) -> tuple[float, float]:
    """``"a:b"`` -> (a, b) with a < b (both finite)."""
    try:
        a, b = (float(v) for v in str(text).split(":"))
    except ValueError:
        raise InsganInputError(f"{name}: expected LOW:HIGH (two numbers), got {text!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise InsganInputError(f"{name}: expected LOW:HIGH with LOW < HIGH, got {text!r}")
    return a, b


@dataclass
class FitDataset:
    """One measured map and everything the forward model needs about it.

    Attributes
    ----------
    measured : INSMap, shape (nq, ne)       S(|Q|, E) per meV (|Q| Å⁻¹, E meV), NaN where not measured
    settings : InstrumentSettings           instrument, Ei, chopper (resolution)
    temperature_K : float                   sample temperature for the Bose factor
    detectors : DetectorData or None        the file's detector table (coverage), if it had one
    mask : ndarray bool (nq, ne)            True where a bin is fitted
    name : str                              label (file name)
    """

    measured: INSMap
    settings: InstrumentSettings
    temperature_K: float
    detectors: DetectorData | None = None
    mask: np.ndarray = None
    name: str = "data"
    masks_applied: dict = field(default_factory=dict)

    @property
    def n_fitted(self) -> int:
        return int(self.mask.sum())


def load_dataset(source, *, q_bins=None, e_bins=None, temperature_K: float | None = None,
                 instrument: str | None = None, ei_meV: float | None = None,
                 chopper_frequency_hz: float | None = None, chopper_package: str | None = None,
                 mask_elastic_meV: float | None = None, mask_q=(), mask_e=(), name: str | None = None) -> FitDataset:
    """Read (or take) a measured map and build its :class:`FitDataset`.

    Parameters
    ----------
    source : str, Path or INSMap
        A reduced S(|Q|, E) map, or an NXSPE/detector-space file (reduced here onto ``q_bins``; its
        detector table then defines the coverage).
    q_bins, e_bins : str or ndarray, optional
        |Q| (Å⁻¹) / energy (meV) binning for detector-space input (default |Q| 0.1,0.04,5.7 and the
        file's energy bins).
    temperature_K : float, optional
        Default: the file's sample temperature; required when the file has none.
    instrument, ei_meV, chopper_frequency_hz, chopper_package
        Override the file's instrument and Ei; frequency default 250 Hz.
    mask_elastic_meV : float, optional
        Remove |E| ≤ this (meV) from the fit.
    mask_q, mask_e : sequence of (low, high)
        |Q| windows (Å⁻¹) and energy windows (meV) removed from the fit.
    """
    from ..data.grid import parse_binning
    from ..data.io import load
    from ..data.reduction import powder_map

    label = name or (Path(source).name if not isinstance(source, (INSMap, DetectorData)) else "data")
    data = load(source) if not isinstance(source, (INSMap, DetectorData)) else source
    detectors = None
    if isinstance(data, DetectorData):
        detectors = data
        q_edges = parse_binning(q_bins or DEFAULT_Q_BINS, name="--q-bins") if not isinstance(q_bins, np.ndarray) else q_bins
        e_edges = None
        if e_bins is not None:
            e_edges = parse_binning(e_bins, name="--e-bins") if not isinstance(e_bins, np.ndarray) else e_bins
        data = powder_map(data, q_edges=q_edges, e_edges=e_edges)
    elif data.x_axis.unit != "MomentumTransfer":
        raise InsganInputError(f"{label}: the map's x axis is '{data.x_axis.unit}', expected 'MomentumTransfer' (|Q|)")
    md = data.metadata
    inst = instrument or md.instrument or ""
    ei = ei_meV if ei_meV is not None else md.ei_meV
    if not inst or ei is None:
        raise InsganInputError(f"{label}: the file records no instrument/Ei; give --instrument and --ei")
    settings = InstrumentSettings(instrument=inst, ei_meV=float(ei),
                                  chopper_package=chopper_package,
                                  chopper_frequency_hz=250.0 if chopper_frequency_hz is None else float(chopper_frequency_hz))
    T = temperature_K if temperature_K is not None else md.temperature_K
    if T is None or not np.isfinite(T) or T < 0:
        raise InsganInputError(f"{label}: no sample temperature in the file; give --temperature K (>= 0)")
    signal, error = np.asarray(data.signal, float), np.asarray(data.error, float)
    finite = np.isfinite(signal) & np.isfinite(error) & (error > 0)
    if not finite.any():
        raise InsganInputError(f"{label}: the map has no finite bin with a positive error; nothing to fit")
    mask = finite.copy()
    q, e = data.x_axis.centres, data.e_axis.centres
    applied = {}
    if mask_elastic_meV is not None:
        w = float(mask_elastic_meV)
        if not (np.isfinite(w) and w > 0):
            raise InsganInputError(f"--mask-elastic: expected a half-width > 0 meV, got {mask_elastic_meV!r}")
        sel = np.abs(e) <= w
        mask &= ~sel[None, :]
        applied["elastic_meV"] = w
    for lo, hi in mask_q:
        sel = (q >= lo) & (q <= hi)
        if not sel.any():
            raise InsganInputError(f"--mask-q {lo:g}:{hi:g}: the window contains no |Q| bin centre of {label} "
                                   f"({q[0]:.3g}–{q[-1]:.3g} 1/angstrom); an empty mask is probably a typo")
        mask &= ~sel[:, None]
        applied.setdefault("q_windows", []).append([lo, hi])
    for lo, hi in mask_e:
        sel = (e >= lo) & (e <= hi)
        if not sel.any():
            raise InsganInputError(f"--mask-e {lo:g}:{hi:g}: the window contains no energy bin centre of {label} "
                                   f"({e[0]:.3g}–{e[-1]:.3g} meV); an empty mask is probably a typo")
        mask &= ~sel[None, :]
        applied.setdefault("e_windows", []).append([lo, hi])
    if not mask.any():
        raise InsganInputError(f"{label}: the masks remove every finite bin ({int(finite.sum())} before masking); "
                               "nothing is left to fit")
    return FitDataset(measured=data, settings=settings, temperature_K=float(T), detectors=detectors, mask=mask,
                      name=label, masks_applied=applied)
