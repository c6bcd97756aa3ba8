"""Colour maps of INS data: S(|Q|,E) maps and detector-space data, NaN shown blank."""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError
from .detector import DetectorData
from .ins_map import INSMap

__all__ = ["plot_map"]


def plot_map(
    map_or_detdata,
    *,
    ax=None,
    log: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    colorbar: bool = True,
):
    """Draw a map as a colour mesh with labelled axes and units.

    Parameters
    ----------
    map_or_detdata : INSMap or DetectorData
        An INSMap is drawn with its x axis (e.g. |Q| in Å⁻¹) horizontal and energy transfer (meV)
        vertical; DetectorData with the scattering angle 2θ (degrees) horizontal, one column per
        detector in 2θ order (width = its polar width, or the spacing to its neighbours).
    ax : matplotlib Axes, optional
        Axes to draw in; default: a new figure.
    log : bool
        Logarithmic colour scale (only positive values are shown; others are blank).
    vmin, vmax : float, optional
        Colour limits; default: 1st and 99.5th percentiles of the finite (positive, for log) values.
    cmap : str
        Matplotlib colour map; NaN bins are transparent (blank).
    title : str, optional
        Default: sample, instrument, Ei and temperature from the metadata.
    colorbar : bool
        Add a colour bar labelled "Intensity".

    Returns
    -------
    matplotlib.collections.QuadMesh
        The image (``image.axes`` and ``image.figure`` give the axes and figure).
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    if isinstance(map_or_detdata, INSMap):
        m = map_or_detdata
        x_edges, e_edges, z = m.x_axis.edges, m.e_axis.edges, m.signal
        xlabel, ylabel = m.x_axis.label, m.e_axis.label
        ticks = m.x_axis.tick_labels
        md = m.metadata
    elif isinstance(map_or_detdata, DetectorData):
        d = map_or_detdata
        order = np.argsort(d.polar_deg, kind="stable")
        polar = d.polar_deg[order]
        # columns between midpoints of neighbouring detectors, so that overlapping rings do not overdraw
        if polar.size > 1:
            mid = 0.5 * (polar[1:] + polar[:-1])
            x_edges = np.concatenate([[polar[0] - (mid[0] - polar[0])], mid, [polar[-1] + (polar[-1] - mid[-1])]])
        else:
            x_edges = np.array([polar[0] - 0.5, polar[0] + 0.5])
        if not np.all(np.diff(x_edges) > 0):  # detectors at equal 2θ: plot against detector index instead
            x_edges = np.arange(d.shape[0] + 1) - 0.5
            xlabel = "Detector (sorted by 2θ)"
        else:
            xlabel = "2θ (deg)"
        e_edges, z = d.energy_edges, d.signal[order]
        ylabel = "Energy transfer (meV)"
        ticks = ()
        md = d.metadata
    else:
        raise InsganInputError(f"plot_map: expected an INSMap or DetectorData, got {type(map_or_detdata).__name__}")

    finite = z[np.isfinite(z)]
    if log:
        finite = finite[finite > 0]
    if finite.size == 0:
        raise InsganInputError("plot_map: no finite" + (" positive" if log else "") + " values to show")
    lo = float(np.percentile(finite, 1.0)) if vmin is None else float(vmin)
    hi = float(np.percentile(finite, 99.5)) if vmax is None else float(vmax)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 1e-6
    if log:
        if lo <= 0:
            lo = float(finite.min())
        norm = mcolors.LogNorm(vmin=lo, vmax=max(hi, lo * 1.000001))
        z = np.where(z > 0, z, np.nan)
    else:
        norm = mcolors.Normalize(vmin=lo, vmax=hi)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    try:
        colour_map = plt.get_cmap(cmap).with_extremes(bad=(0.0, 0.0, 0.0, 0.0))  # NaN drawn transparent
    except ValueError:
        raise InsganInputError(f"plot_map: unknown colour map '{cmap}' (try viridis, magma, jet)") from None
    image = ax.pcolormesh(x_edges, e_edges, np.ma.masked_invalid(z).T, cmap=colour_map, norm=norm, shading="flat")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ticks:
        ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
    if title is None:
        parts = [md.sample or "", md.instrument or ""]
        if md.ei_meV is not None:
            parts.append(f"Ei = {md.ei_meV:.4g} meV")
        if md.temperature_K is not None:
            parts.append(f"T = {md.temperature_K:.4g} K")
        title = ", ".join(p for p in parts if p)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="Intensity (arb. units)" + (", log scale" if log else ""))
    return image


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
