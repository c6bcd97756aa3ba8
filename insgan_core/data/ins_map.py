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
from .cut import Cut1D
from .grid import Axis, parse_binning
from .rebin import overlap_matrix, rebin_2d

__all__ = ["MapMetadata", "INSMap", "MapStack", "Cut1D"]


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

    # numpy defers to INSMap's operators (ndarray + INSMap -> INSMap.__radd__), not elementwise object ops
    __array_ufunc__ = None

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

    # --- integrals, rebinning and cuts ------------------------------------------------------------
    @property
    def bin_areas(self) -> np.ndarray:
        """Area Δx·ΔE of every bin, shape (nx, ne) (e.g. Å⁻¹·meV)."""
        return self.x_axis.widths[:, None] * self.e_axis.widths[None, :]

    def _density(self) -> tuple[np.ndarray, np.ndarray]:
        """Signal and error as densities per unit x per unit E."""
        if self.distribution:
            return self.signal, self.error
        return self.signal / self.bin_areas, self.error / self.bin_areas

    def integrated_intensity(self) -> tuple[float, float]:
        """Integral of the map over all non-NaN bins, with its standard deviation.

        Returns
        -------
        (value, error) : tuple of float
            Σ S·Δx·ΔE and sqrt(Σ (σ·Δx·ΔE)²) over non-NaN bins (for ``distribution=False`` maps, which
            hold counts per bin, Σ S and sqrt(Σ σ²)). Units: signal unit × x unit × meV.
        """
        valid = ~self.mask
        weights = self.bin_areas if self.distribution else np.ones(self.shape)
        value = float(np.sum(self.signal[valid] * weights[valid]))
        error = float(np.sqrt(np.sum((np.nan_to_num(self.error[valid]) * weights[valid]) ** 2)))
        return value, error

    def rebin(self, *, x_edges=None, e_edges=None) -> "INSMap":
        """The map on other bin edges, conserving integrated intensity (NaN-aware).

        Parameters
        ----------
        x_edges : ndarray, shape (mx + 1,), or str, optional
            New edges of the x axis (same unit), or a ``"start,step,end"`` string; default: unchanged.
        e_edges : ndarray, shape (me + 1,), or str, optional
            New energy-transfer edges in meV, or ``"start,step,end"``; default: unchanged.

        Returns
        -------
        INSMap
            Each new bin is the overlap-area-weighted mean of the valid old bins it covers; NaN where it
            covers none (:func:`insgan_core.data.rebin.rebin_2d` also returns the covered fraction).

        Notes
        -----
        See :func:`insgan_core.data.rebin.rebin_2d`. The integral is conserved exactly where every new
        bin that touches data is fully covered by valid old bins and the new grid spans the old one.
        Tick labels of a path axis are kept.
        """
        new_x = self.x_axis.edges if x_edges is None else (
            parse_binning(x_edges, name="x_edges") if isinstance(x_edges, str) else np.asarray(x_edges, float)
        )
        new_e = self.e_axis.edges if e_edges is None else (
            parse_binning(e_edges, name="e_edges") if isinstance(e_edges, str) else np.asarray(e_edges, float)
        )
        x_axis = Axis(new_x, self.x_axis.unit, self.x_axis.tick_labels)
        e_axis = Axis(new_e, "DeltaE")
        s, e = self._density()
        signal, error, _ = rebin_2d(
            s, e, x_edges=self.x_axis.edges, e_edges=self.e_axis.edges, new_x_edges=x_axis.edges, new_e_edges=e_axis.edges
        )
        if not self.distribution:
            areas = x_axis.widths[:, None] * e_axis.widths[None, :]
            signal, error = signal * areas, error * areas
        return INSMap(signal, error, x_axis, e_axis, copy.deepcopy(self.metadata), self.distribution)

    def cut(self, *, axis: str = "x", window: tuple[float, float], average: bool = False) -> Cut1D:
        """A 1-D cut along ``axis``, integrating the other axis over ``window``.

        Parameters
        ----------
        axis : {"x", "e"}
            The axis kept: ``"x"`` gives intensity against |Q| (or path/detector coordinate) integrated
            over an energy window in meV; ``"e"`` gives intensity against energy transfer integrated over
            an x window (e.g. |Q| in Å⁻¹).
        window : (lo, hi)
            Integration range on the other axis, in its unit; partial bins count by their overlap.
        average : bool
            False (default): the integral ∫ S d(other). True: the mean over the valid part of the window
            (integral / covered length).

        Returns
        -------
        Cut1D

        Notes
        -----
        I_i = Σ_j S_ij w_j over valid bins j with w_j the overlap of bin j with the window;
        σ_I² = Σ_j (σ_ij w_j)². Masked (NaN) bins are left out and reported in ``Cut1D.coverage``.
        """
        if axis not in ("x", "e"):
            raise InsganInputError(f"INSMap.cut: axis must be 'x' or 'e', got {axis!r}")
        try:
            lo, hi = (float(v) for v in window)
        except (TypeError, ValueError):
            raise InsganInputError(f"INSMap.cut: window must be (lo, hi), got {window!r}") from None
        if not hi > lo:
            raise InsganInputError(f"INSMap.cut: window hi must be > lo, got {window!r}")
        kept, other = (self.x_axis, self.e_axis) if axis == "x" else (self.e_axis, self.x_axis)
        s, e = self._density()
        if axis == "e":
            s, e = s.T, e.T
        w = overlap_matrix(other.edges, np.array([lo, hi]))[0]
        if not np.any(w > 0):
            raise InsganInputError(
                f"INSMap.cut: window {window} does not overlap the {other.unit} axis "
                f"[{other.edges[0]:g}, {other.edges[-1]:g}]"
            )
        valid = ~np.isnan(s)
        sw = np.where(valid, s, 0.0) @ w
        var = np.where(valid, np.nan_to_num(e) ** 2, 0.0) @ (w**2)
        covered = valid.astype(np.float64) @ w
        has = covered > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            if average:
                signal = np.where(has, sw / covered, np.nan)
                error = np.where(has, np.sqrt(var) / covered, np.nan)
            else:
                signal = np.where(has, sw, np.nan)
                error = np.where(has, np.sqrt(var), np.nan)
        return Cut1D(
            axis=kept,
            signal=signal,
            error=error,
            window=(lo, hi),
            window_unit=other.unit,
            coverage=covered / (hi - lo),
            metadata=self.metadata.to_dict(),
        )

    # --- arithmetic with error propagation ----------------------------------------------------
    def _operand(self, other, op: str):
        if isinstance(other, INSMap):
            if not self.same_grid(other):
                raise InsganInputError(
                    f"INSMap {op}: maps are on different grids ({self.x_axis.unit} {self.x_axis.size} bins x "
                    f"{self.e_axis.size} E bins vs {other.x_axis.unit} {other.x_axis.size} x {other.e_axis.size}); "
                    "rebin one onto the other first"
                )
            if self.distribution != other.distribution:
                raise InsganInputError(f"INSMap {op}: one map is a distribution and the other is not")
            return other.signal, other.error
        if np.isscalar(other) and np.isreal(other):
            return float(other), 0.0
        return NotImplemented

    def _result(self, signal, error) -> "INSMap":
        signal = np.where(np.isfinite(signal), signal, np.nan)
        error = np.where(np.isnan(signal), np.nan, error)
        return INSMap(signal, error, self.x_axis, self.e_axis, copy.deepcopy(self.metadata), self.distribution)

    def __add__(self, other):
        o = self._operand(other, "+")
        if o is NotImplemented:
            return o
        return self._result(self.signal + o[0], np.hypot(self.error, o[1]))

    __radd__ = __add__

    def __sub__(self, other):
        o = self._operand(other, "-")
        if o is NotImplemented:
            return o
        return self._result(self.signal - o[0], np.hypot(self.error, o[1]))

    def __rsub__(self, other):
        o = self._operand(other, "-")
        if o is NotImplemented:
            return o
        return self._result(o[0] - self.signal, np.hypot(self.error, o[1]))

    def __mul__(self, other):
        o = self._operand(other, "*")
        if o is NotImplemented:
            return o
        s2, e2 = o
        return self._result(self.signal * s2, np.hypot(self.error * s2, self.signal * e2))

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = self._operand(other, "/")
        if o is NotImplemented:
            return o
        s2, e2 = o
        with np.errstate(divide="ignore", invalid="ignore"):
            q = self.signal / s2
            return self._result(q, np.hypot(self.error / s2, q * e2 / s2))

    def __rtruediv__(self, other):
        o = self._operand(other, "/")
        if o is NotImplemented:
            return o
        s1, e1 = o
        with np.errstate(divide="ignore", invalid="ignore"):
            q = s1 / self.signal
            return self._result(q, np.hypot(e1 / self.signal, q * self.error / self.signal))

    def __neg__(self):
        return self._result(-self.signal, self.error.copy())


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
