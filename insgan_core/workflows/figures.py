"""The demo figure: maps side by side on one colour scale, energy cuts through the magnon, a |Q| cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import INSMap
from ..data.io._atomic import atomic_path
from ..data.plotting import plot_map

__all__ = ["magnon_windows", "demo_figure"]

#: energy transfer (meV) above which the colour scale and cut limits are taken (clear of the elastic line)
INELASTIC_FROM_MEV = 5.0

#: panel titles of the maps the demo writes
TITLES = {
    "clean_simulation": "Clean simulation",
    "structured": "Structured model (default)",
    "gan_paired": "GAN (paired)",
    "artefact_simulation": "Physics artefact simulation",
    "measured": "Measured",
    "gan_unpaired": "GAN (unpaired, trained on measured)",
    "structured_measured": "Structured model (trained on measured)",
}


def magnon_windows(clean: INSMap, *, q_half_width_invA: float = 0.2, e_half_width_meV: float = 3.0):
    """Where to cut: the |Q| window around the strongest inelastic intensity, and the energy window
    around the peak of the energy cut there.

    Parameters
    ----------
    clean : INSMap
        Clean simulation (|Q| in Å⁻¹, E in meV).

    Returns
    -------
    q_window : (lo, hi) in Å⁻¹
    e_window : (lo, hi) in meV
    """
    e = clean.e_axis.centres
    inelastic = np.where((e > 2.0)[None, :], clean.signal, np.nan)
    q_profile = np.nansum(np.nan_to_num(inelastic) * clean.e_axis.widths[None, :], axis=1)
    iq = int(np.argmax(q_profile))
    qc = clean.x_axis.centres[iq]
    q_window = (max(qc - q_half_width_invA, clean.x_axis.edges[0]), min(qc + q_half_width_invA, clean.x_axis.edges[-1]))
    ecut = clean.cut(axis="e", window=q_window, average=True)
    sig = np.where(e > 2.0, ecut.signal, np.nan)
    ie = int(np.nanargmax(sig)) if np.isfinite(sig).any() else len(e) // 2
    ec = e[ie]
    e_window = (ec - e_half_width_meV, ec + e_half_width_meV)
    return q_window, e_window


def demo_figure(maps: dict[str, INSMap], path: str | Path, *, title: str = "", dpi: int = 110) -> Path:
    """Write the demo figure (PNG).

    Top row: every map of ``maps`` (keys from :data:`TITLES`) on one linear colour scale (0 to the 99th
    percentile above :data:`INELASTIC_FROM_MEV` of the measured map, or of the artefact simulation). Bottom row: an energy cut through
    the magnon (|Q| window around the strongest inelastic intensity of the clean simulation, mean over
    the window) and a |Q| cut (energy window around the magnon peak), each for all maps.

    Parameters
    ----------
    maps : dict of str -> INSMap
        Must contain ``"clean_simulation"``; all maps on one grid.
    path : str or Path
        Output PNG (written atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = [n for n in TITLES if n in maps]
    ref = maps.get("measured", maps.get("artefact_simulation", maps["clean_simulation"]))
    # The elastic line (and Bragg peaks on it) would set the scale and hide the magnons: take the
    # colour limit from the inelastic part, E > INELASTIC_FROM_MEV, and let the elastic line saturate.
    inelastic = ref.e_axis.centres > INELASTIC_FROM_MEV
    vmax = float(np.nanpercentile(ref.signal[:, inelastic], 99))
    vmin = 0.0
    ncol = len(names)
    fig = plt.figure(figsize=(4.2 * ncol, 8.0), constrained_layout=True)
    grid = fig.add_gridspec(2, max(ncol, 2), height_ratios=[1.25, 1.0])
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[0, i])
        plot_map(maps[name], ax=ax, vmin=vmin, vmax=vmax, title=TITLES[name], colorbar=(i == ncol - 1))

    q_window, e_window = magnon_windows(maps["clean_simulation"])
    half = max(ncol // 2, 1)
    ax_e = fig.add_subplot(grid[1, :half])
    ax_q = fig.add_subplot(grid[1, half:])
    e_max = 0.0
    for name in names:
        m = maps[name]
        ec = m.cut(axis="e", window=q_window, average=True)
        qc = m.cut(axis="x", window=e_window, average=True)
        ax_e.plot(ec.centres, ec.signal, label=TITLES[name], drawstyle="steps-mid")
        ax_q.plot(qc.centres, qc.signal, label=TITLES[name], drawstyle="steps-mid")
        above = ec.signal[ec.centres > INELASTIC_FROM_MEV]
        if np.isfinite(above).any():
            e_max = max(e_max, float(np.nanmax(above)))
    if e_max > 0:
        ax_e.set_ylim(0.0, 1.25 * e_max)  # the elastic line is clipped
    ax_e.set_xlabel("Energy transfer (meV)")
    ax_e.set_ylabel("Mean intensity")
    ax_e.set_title(f"Energy cut, |Q| = {q_window[0]:.2f}–{q_window[1]:.2f} Å⁻¹ (elastic line clipped)")
    ax_q.set_xlabel("|Q| (Å⁻¹)")
    ax_q.set_ylabel("Mean intensity")
    ax_q.set_title(f"|Q| cut, E = {e_window[0]:.1f}–{e_window[1]:.1f} meV")
    ax_e.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path
