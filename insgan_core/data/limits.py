"""Size limits checked before large allocations, so that a huge request fails with a clear message.

The limit is the memory one step may use: ``INSGAN_MEMORY_LIMIT_GIB`` (environment, GiB) when set,
else 80 % of the machine's physical memory (8 GiB where that cannot be read).
"""

from __future__ import annotations

import os

from ..errors import InsganInputError

__all__ = ["memory_limit_bytes", "check_allocation", "check_rebin_size", "GIB", "MAX_BINS_PER_AXIS"]

GIB = 1024**3
#: most bins one binning string may ask for (a 1e6-bin axis is already far finer than any spectrometer)
MAX_BINS_PER_AXIS = 1_000_000


def memory_limit_bytes() -> int:
    """Bytes one step may allocate (see module docstring)."""
    text = os.environ.get("INSGAN_MEMORY_LIMIT_GIB", "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if value > 0:
            return int(value * GIB)
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def check_allocation(n_items: float, *, bytes_per_item: float = 8.0, what: str, hint: str = "") -> None:
    """Raise :class:`InsganInputError` when ``n_items * bytes_per_item`` exceeds :func:`memory_limit_bytes`.

    Parameters
    ----------
    n_items : float
        Number of elements (may be a float product of sizes, so that it cannot overflow).
    bytes_per_item : float
        Estimated bytes of working memory per element (all arrays of the step together).
    what : str
        What is being allocated, e.g. ``"--q-bins x --e-bins: 140 x 1000000 bins"``; starts the message.
    hint : str
        How to make the request smaller, appended to the message.
    """
    need = float(n_items) * float(bytes_per_item)
    limit = memory_limit_bytes()
    if not need <= limit:  # also catches NaN/inf
        raise InsganInputError(
            f"{what}: needs about {need / GIB:.3g} GiB of memory, more than the limit of {limit / GIB:.3g} GiB"
            + (f"; {hint}" if hint else "")
            + " (the limit is 80 % of this machine's memory; set INSGAN_MEMORY_LIMIT_GIB to change it)"
        )


def check_rebin_size(old_shape: tuple[int, int], new_shape: tuple[int, int], *, what: str = "rebinning") -> None:
    """Memory check for :meth:`INSMap.rebin` (dense 1-D overlap matrices, then matrix products)."""
    (ox, oe), (nx, ne) = old_shape, new_shape
    items = float(ox) * nx + float(oe) * ne + 4.0 * float(ox) * ne + 10.0 * float(nx) * ne
    check_allocation(items, bytes_per_item=8, what=f"{what}: {ox} x {oe} bins onto {nx} x {ne} bins",
                     hint="use coarser binning or a smaller range")
