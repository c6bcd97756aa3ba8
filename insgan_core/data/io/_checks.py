"""Physical checks of fields read from INS files; each failure names the file, the field and what was
expected (one line)."""

from __future__ import annotations

import numpy as np

from ...errors import InsganFileError

__all__ = ["check_signal", "check_errors", "check_per_detector", "check_increasing", "MAX_EI_MEV", "MAX_MAGNITUDE"]

#: largest incident energy accepted, meV (the highest Ei of direct-geometry spectrometers is a few eV)
MAX_EI_MEV = 100_000.0
#: largest |intensity| or error accepted: squares (variances) must stay finite in float64
MAX_MAGNITUDE = 1e150


def _first_bad(values: np.ndarray, bad: np.ndarray) -> str:
    index = np.argwhere(bad)[0]
    at = tuple(int(i) for i in index) if values.ndim > 1 else int(index[0])
    return f"{np.asarray(values)[tuple(index)]!r} at index {at}".replace("np.float64(", "").replace(")", "")


def check_signal(values: np.ndarray, *, path, field: str) -> None:
    """Intensities: finite numbers (|x| <= 1e150), or NaN for masked bins; ±inf is refused."""
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) > MAX_MAGNITUDE
    if bad.any():
        raise InsganFileError(
            f"{path}: '{field}' holds {int(bad.sum())} infinite or implausibly large value(s) (first "
            f"{_first_bad(values, bad)}); expected finite intensities (|I| <= {MAX_MAGNITUDE:g}), or NaN for masked bins"
        )


def check_errors(values: np.ndarray, *, path, field: str) -> None:
    """Standard deviations: finite, >= 0 and <= 1e150, or NaN."""
    with np.errstate(invalid="ignore"):
        bad = (values < 0) | (values > MAX_MAGNITUDE)
    if bad.any():
        raise InsganFileError(
            f"{path}: '{field}' holds {int(bad.sum())} negative, infinite or implausibly large value(s) (first "
            f"{_first_bad(values, bad)}); expected standard deviations from 0 to {MAX_MAGNITUDE:g} (or NaN for masked bins)"
        )


def check_per_detector(
    values: np.ndarray,
    *,
    path,
    field: str,
    unit: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    allow_nan: bool = False,
    meaning: str = "",
) -> None:
    """Per-detector geometry: finite (NaN only if ``allow_nan``) and within [lo, hi] (lo excluded if
    ``lo_open``)."""
    bad = ~np.isfinite(values)
    if allow_nan:
        bad &= ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            bad |= (values <= lo) if lo_open else (values < lo)
        if hi is not None:
            bad |= values > hi
    if bad.any():
        if lo is not None and hi is not None:
            expected = f"finite values {'above' if lo_open else 'from'} {lo:g} to {hi:g} {unit}"
        elif lo is not None:
            expected = f"finite values {'>' if lo_open else '>='} {lo:g} {unit}"
        else:
            expected = f"finite values in {unit}"
        raise InsganFileError(
            f"{path}: '{field}'{' (' + meaning + ')' if meaning else ''} has {int(bad.sum())} value(s) out of range "
            f"(first {_first_bad(values, bad)}); expected {expected}{' or NaN' if allow_nan else ''}"
        )


def check_increasing(values: np.ndarray, *, path, field: str, unit: str) -> None:
    """An axis: finite and strictly increasing (no repeated values)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InsganFileError(
            f"{path}: '{field}' holds {int(bad.sum())} NaN or infinite value(s) (first {_first_bad(values, bad)}); "
            f"expected finite, strictly increasing values in {unit}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        step = np.diff(values)
    bad = ~(step > 0)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        kind = "repeats" if values[i + 1] == values[i] else "decreases"
        raise InsganFileError(
            f"{path}: '{field}' {kind} at index {i + 1} ({values[i]:g} then {values[i + 1]:g} {unit}); "
            f"expected strictly increasing values (sorted, no repeats)"
        )
