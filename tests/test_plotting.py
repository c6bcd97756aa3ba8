"""plot_map: labelled axes with units, NaN blank, log scale, detector-space input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from insgan_core.data import Axis, INSMap, MapMetadata  # noqa: E402
from insgan_core.data.io import load_nxspe  # noqa: E402
from insgan_core.data.plotting import plot_map  # noqa: E402
from insgan_core.errors import InsganInputError  # noqa: E402


def small_map():
    s = np.arange(20.0).reshape(4, 5) + 1
    s[0, 0] = np.nan
    md = MapMetadata(instrument="MERLIN", ei_meV=62.0, temperature_K=5.0, sample="Bi2Fe4O9")
    return INSMap(s, np.ones_like(s), Axis(np.linspace(0, 2, 5), "MomentumTransfer"), Axis(np.linspace(0, 10, 6), "DeltaE"), md)


def test_map_plot_labels_units_and_nan_blank():
    fig, ax = plt.subplots()
    image = plot_map(small_map(), ax=ax)
    assert ax.get_xlabel() == "|Q| (Å⁻¹)" and ax.get_ylabel() == "Energy transfer (meV)"
    assert "Bi2Fe4O9" in ax.get_title() and "62 meV" in ax.get_title() and "5 K" in ax.get_title()
    data = image.get_array()
    assert np.ma.is_masked(data) and data.mask.sum() == 1  # the NaN bin is masked (drawn transparent)
    assert image.get_cmap()(np.nan)[3] == 0.0
    plt.close(fig)


def test_log_scale_and_limits():
    image = plot_map(small_map(), log=True, vmin=2, vmax=10)
    assert isinstance(image.norm, mcolors.LogNorm)
    assert image.norm.vmin == 2 and image.norm.vmax == 10
    plt.close(image.figure)


def test_path_map_uses_tick_labels():
    m = small_map()
    path = INSMap(m.signal, m.error, Axis(np.linspace(0, 2, 5), "rlu_path", ((0.0, "Γ"), (2.0, "M"))), m.e_axis, m.metadata)
    image = plot_map(path)
    labels = [t.get_text() for t in image.axes.get_xticklabels()]
    assert labels == ["Γ", "M"]
    plt.close(image.figure)


def test_detector_space_plot(bi2fe4o9_5k):
    det = load_nxspe(bi2fe4o9_5k)
    image = plot_map(det, log=True)
    assert image.axes.get_xlabel() == "2θ (deg)"
    assert image.get_array().size == det.signal.size
    # masked detectors stay blank
    assert image.get_array().mask.sum() >= np.isnan(det.signal).sum()
    plt.close(image.figure)


def test_nothing_to_plot_raises():
    m = small_map()
    with pytest.raises(InsganInputError, match="no finite positive"):
        plot_map(m.with_data(-np.ones(m.shape)), log=True)
    with pytest.raises(InsganInputError, match="expected an INSMap"):
        plot_map(np.ones((3, 3)))
    with pytest.raises(InsganInputError, match="unknown colour map"):
        plot_map(m, cmap="no-such-map")
