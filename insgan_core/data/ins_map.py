"""The INS map: a 2-D histogram S(x, E) with errors, bin-edge axes, a NaN mask and metadata.

Orientation is fixed: ``signal[i, j]`` is the bin at ``x_axis`` bin *i* (|Q|, a reciprocal-lattice path
coordinate, or a detector index) and energy-transfer bin *j*. This is the layout of Mantid's ``SofQW``
output (one spectrum per |Q| bin, X = energy transfer).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InsganInputError
from .grid import Axis

__all__ = ["MapMetadata", "INSMap", "MapStack"]


@dataclass
class MapMetadata:
    """What a map is of and how it was made.

    Attributes
    ----------
    instrument : str
        Instrument name (``"MERLIN"``, ``"MAPS"``, ``"MARI"``, ``"LET"``) or ``""``.
    ei_meV : float or None
        Incident energy in meV (direct geometry).
    temperature_K : float or None
        Sample temperature in kelvin.
    sample : str
        Sample or model description.
    provenance : dict
        Free-form JSON-serialisable record (source file, model parameters, artefacts, seeds...).
    """

    instrument: str = ""
    ei_meV: float | None = None
    temperature_K: float | None = None
    sample: str = ""
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "instrument": self.instrument,
            "ei_meV": self.ei_meV,
            "temperature_K": self.temperature_K,
            "sample": self.sample,
            "provenance": copy.deepcopy(self.provenance),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "MapMetadata":
        return cls(
            instrument=d.get("instrument", "") or "",
            ei_meV=d.get("ei_meV"),
            temperature_K=d.get("temperature_K"),
            sample=d.get("sample", "") or "",
            provenance=dict(d.get("provenance", {}) or {}),
        )


@dataclass
class INSMap:
    """A 2-D INS map with errors and units.

    Parameters
    ----------
    signal : ndarray, shape (nx, ne)
        Intensity; NaN marks masked or kinematically inaccessible bins.
    error : ndarray, shape (nx, ne)
        One standard deviation of ``signal``; NaN where ``signal`` is NaN.
    x_axis : Axis
        |Q| (``MomentumTransfer``, Å⁻¹), path coordinate (``rlu_path``) or detector axis; nx bins.
    e_axis : Axis
        Energy transfer (``DeltaE``, meV); ne bins.
    metadata : MapMetadata
    distribution : bool
        True when ``signal`` is a density (per unit energy transfer), as Mantid's distribution flag.
    """

    signal: np.ndarray
    error: np.ndarray
    x_axis: Axis
    e_axis: Axis
    metadata: MapMetadata = field(default_factory=MapMetadata)
    distribution: bool = True

    def __post_init__(self):
        self.signal = np.asarray(self.signal, dtype=np.float64)
        if self.error is None:
            self.error = np.zeros_like(self.signal)
        self.error = np.asarray(self.error, dtype=np.float64)
        expected = (self.x_axis.size, self.e_axis.size)
        if self.signal.shape != expected:
            raise InsganInputError(
                f"INSMap: signal has shape {self.signal.shape} but the axes give {expected} "
                f"({self.x_axis.unit} bins, {self.e_axis.unit} bins)"
            )
        if self.error.shape != expected:
            raise InsganInputError(f"INSMap: error has shape {self.error.shape}, expected {expected} like signal")
        if self.e_axis.unit != "DeltaE":
            raise InsganInputError(f"INSMap: e_axis must have unit 'DeltaE' (meV), got '{self.e_axis.unit}'")
        if np.isinf(self.signal).any():
            raise InsganInputError("INSMap: signal contains inf; use NaN for masked or inaccessible bins")

    # --- shape and mask -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.signal.shape

    @property
    def mask(self) -> np.ndarray:
        """Boolean array, True where the bin is masked or inaccessible (signal is NaN)."""
        return np.isnan(self.signal)

    @property
    def q_axis(self) -> Axis:
        """Alias of ``x_axis`` for |Q| maps."""
        return self.x_axis

    def same_grid(self, other: "INSMap", *, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
        """True when both maps have equal axes (units and edges) within tolerance."""
        return self.x_axis.equals(other.x_axis, rtol=rtol, atol=atol) and self.e_axis.equals(
            other.e_axis, rtol=rtol, atol=atol
        )

    def copy(self) -> "INSMap":
        return replace(
            self, signal=self.signal.copy(), error=self.error.copy(), metadata=copy.deepcopy(self.metadata)
        )

    def with_data(self, signal: np.ndarray, error: np.ndarray | None = None, **metadata_updates) -> "INSMap":
        """A new map on the same grid with other data; metadata copied (and updated by keyword)."""
        md = copy.deepcopy(self.metadata)
        for k, v in metadata_updates.items():
            setattr(md, k, v)
        return INSMap(
            signal=signal,
            error=np.zeros_like(signal) if error is None else error,
            x_axis=self.x_axis,
            e_axis=self.e_axis,
            metadata=md,
            distribution=self.distribution,
        )


class MapStack:
    """N maps on one grid, stored as one (N, nx, ne) array; indexing returns views, not copies.

    Parameters
    ----------
    signal, error : ndarray, shape (N, nx, ne)
    x_axis, e_axis : Axis
        The shared grid.
    metadata : list of MapMetadata, length N (optional)
    """

    def __init__(self, signal, error, x_axis: Axis, e_axis: Axis, metadata=None, distribution: bool = True):
        self.signal = np.asarray(signal, dtype=np.float64)
        self.error = np.zeros_like(self.signal) if error is None else np.asarray(error, dtype=np.float64)
        if self.signal.ndim != 3:
            raise InsganInputError(f"MapStack: signal must have shape (N, nx, ne), got {self.signal.shape}")
        expected = (self.signal.shape[0], x_axis.size, e_axis.size)
        if self.signal.shape != expected or self.error.shape != expected:
            raise InsganInputError(
                f"MapStack: signal {self.signal.shape} / error {self.error.shape} do not match the grid {expected}"
            )
        self.x_axis = x_axis
        self.e_axis = e_axis
        self.distribution = distribution
        self.metadata = list(metadata) if metadata is not None else [MapMetadata() for _ in range(len(self))]
        if len(self.metadata) != len(self):
            raise InsganInputError(f"MapStack: {len(self.metadata)} metadata records for {len(self)} maps")

    def __len__(self) -> int:
        return self.signal.shape[0]

    def __getitem__(self, i: int) -> INSMap:
        # INSMap keeps float64 arrays as given, so these are views into the stack.
        return INSMap(self.signal[i], self.error[i], self.x_axis, self.e_axis, self.metadata[i], self.distribution)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @classmethod
    def from_maps(cls, maps, *, rtol: float = 1e-6) -> "MapStack":
        """Stack maps that share one grid; raises naming the first map whose grid differs."""
        maps = list(maps)
        if not maps:
            raise InsganInputError("MapStack.from_maps: no maps given (expected at least one)")
        ref = maps[0]
        for i, m in enumerate(maps[1:], start=1):
            if not ref.same_grid(m, rtol=rtol):
                raise InsganInputError(
                    f"MapStack.from_maps: map {i} is on a different grid from map 0 "
                    f"({m.x_axis.size}x{m.e_axis.size} vs {ref.x_axis.size}x{ref.e_axis.size}); rebin first"
                )
        return cls(
            np.stack([m.signal for m in maps]),
            np.stack([m.error for m in maps]),
            ref.x_axis,
            ref.e_axis,
            [m.metadata for m in maps],
            ref.distribution,
        )
