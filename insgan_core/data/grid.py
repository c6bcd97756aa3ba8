"""Bin-edge axes and Mantid-style binning strings.

Internal units: |Q| in inverse angstrom (Mantid unit ID ``MomentumTransfer``), energy transfer in meV
(``DeltaE``). Reciprocal-lattice path coordinates use the unit ``rlu_path``; detector-space maps use
``Degrees`` (scattering angle 2θ) or ``SpectrumNumber``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InsganInputError
from .limits import MAX_BINS_PER_AXIS

__all__ = ["Axis", "parse_binning", "check_edges", "axes_equal", "UNIT_LABELS"]

#: Mantid unit ID -> (axis caption, unit string for plots)
UNIT_LABELS = {
    "MomentumTransfer": ("|Q|", "Å⁻¹"),
    "DeltaE": ("Energy transfer", "meV"),
    "rlu_path": ("Q path", "r.l.u."),
    "Degrees": ("2θ", "deg"),
    "SpectrumNumber": ("Spectrum", ""),
}


@dataclass(frozen=True)
class Axis:
    """One axis of an INS map, defined by its bin edges.

    Parameters
    ----------
    edges : ndarray, shape (n + 1,)
        Strictly increasing bin edges in ``unit``.
    unit : str
        Mantid unit ID: ``"MomentumTransfer"`` (Å⁻¹), ``"DeltaE"`` (meV), ``"rlu_path"``,
        ``"Degrees"`` or ``"SpectrumNumber"``.
    tick_labels : tuple of (float, str)
        Optional labelled positions (e.g. high-symmetry points of a path in r.l.u.).
    """

    edges: np.ndarray
    unit: str
    tick_labels: tuple = field(default=())

    def __post_init__(self):
        edges = np.asarray(self.edges, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2:
            raise InsganInputError(
                f"axis '{self.unit}': bin edges must be a 1-D array of at least 2 values, got shape {edges.shape}"
            )
        if not np.all(np.isfinite(edges)):
            raise InsganInputError(f"axis '{self.unit}': bin edges contain NaN or inf")
        if not np.all(np.diff(edges) > 0):
            raise InsganInputError(
                f"axis '{self.unit}': bin edges must be strictly increasing (got {edges[:3]}...{edges[-3:]})"
            )
        edges.setflags(write=False)
        object.__setattr__(self, "edges", edges)

    @property
    def centres(self) -> np.ndarray:
        """Bin centres, shape (n,)."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        """Bin widths, shape (n,)."""
        return np.diff(self.edges)

    @property
    def size(self) -> int:
        """Number of bins n."""
        return self.edges.size - 1

    @property
    def label(self) -> str:
        """Axis caption with unit, e.g. ``'|Q| (Å⁻¹)'``."""
        name, unit = UNIT_LABELS.get(self.unit, (self.unit, ""))
        return f"{name} ({unit})" if unit else name

    def equals(self, other: "Axis", *, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
        """True when both axes have the same unit and the same edges within tolerance."""
        return (
            self.unit == other.unit
            and self.edges.shape == other.edges.shape
            and bool(np.allclose(self.edges, other.edges, rtol=rtol, atol=atol))
        )


def axes_equal(a: Axis, b: Axis, *, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Functional form of :meth:`Axis.equals`."""
    return a.equals(b, rtol=rtol, atol=atol)


def parse_binning(text: str | tuple | list, *, name: str = "binning") -> np.ndarray:
    """Bin edges from Mantid's ``"start,step,end"`` syntax.

    Parameters
    ----------
    text : str or sequence of 3 floats
        ``"start,step,end"`` with step > 0 and end > start. The last bin is shortened to end exactly at
        ``end`` when the range is not a whole number of steps (as Mantid's Rebin does, except that a
        sliver below 1e-6 of a step is merged into the previous bin).
    name : str
        Property or option name, used in error messages.

    Returns
    -------
    ndarray, shape (n + 1,)
        Bin edges.
    """
    if isinstance(text, str):
        if len(text) > 200:
            raise InsganInputError(f"{name}: expected 'start,step,end' (three numbers), got {len(text)} characters")
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InsganInputError(
                f"{name}: cannot read '{text}' as 'start,step,end' (three numbers separated by commas)"
            ) from None
    else:
        try:
            values = [float(v) for v in text]
        except (TypeError, ValueError):
            raise InsganInputError(f"{name}: expected 'start,step,end' (three numbers), got {text!r:.80}") from None
    if len(values) != 3:
        raise InsganInputError(f"{name}: expected 'start,step,end' (three numbers), got {len(values)} value(s): {text!r}")
    start, step, end = values
    if not all(np.isfinite(values)):
        raise InsganInputError(f"{name}: start, step and end must be finite, got {text!r}")
    if step <= 0:
        raise InsganInputError(f"{name}: step must be > 0, got {step} in {text!r}")
    if end <= start:
        raise InsganInputError(f"{name}: end ({end}) must be greater than start ({start}) in {text!r}")
    with np.errstate(over="ignore"):
        n_float = (end - start) / step
    if not n_float <= MAX_BINS_PER_AXIS:
        raise InsganInputError(
            f"{name}: '{text if isinstance(text, str) else ','.join(map(str, values))}' makes {n_float:.3g} bins, more "
            f"than the limit of {MAX_BINS_PER_AXIS:,}; use a larger step or a smaller range"
        )
    n = int(np.floor(n_float + 1e-6))
    edges = start + step * np.arange(n + 1)
    if end - edges[-1] > 1e-6 * step:
        edges = np.append(edges, end)
    else:
        edges[-1] = end
    return edges


def check_edges(edges, *, name: str, unit: str, minimum: float | None = None) -> Axis:
    """Axis from bin edges, with errors naming the option (empty, reversed, NaN, below minimum)."""
    arr = np.asarray(edges, dtype=float) if edges is not None else np.array([])
    if arr.ndim != 1 or arr.size < 2:
        raise InsganInputError(f"{name}: need at least 2 bin edges (one bin), got {arr.size}; e.g. parse_binning('0,0.05,3')")
    if not np.all(np.isfinite(arr)):
        raise InsganInputError(f"{name}: bin edges contain NaN or inf")
    if not np.all(np.diff(arr) > 0):
        raise InsganInputError(f"{name}: bin edges must be strictly increasing (got {arr[:3].tolist()}...); reversed or repeated edges are not allowed")
    if minimum is not None and arr[0] < minimum:
        raise InsganInputError(f"{name}: first edge {arr[0]} is below {minimum}; |Q| cannot be negative")
    return Axis(arr, unit)
