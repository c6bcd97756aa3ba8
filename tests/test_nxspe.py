"""NXSPE reading (every real file) and clear errors for bad files."""

import shutil

import h5py
import numpy as np
import pytest

from insgan_core.data import DetectorData, MapMetadata
from insgan_core.data.io import load, load_nxspe, save_nxspe
from insgan_core.errors import InsganFileError

# (file, instrument, ndet, ne, Ei meV) from ../shared/data/README.md
REAL_NXSPE = [
    ("bi2fe4o9_Ei62_5K.nxspe", "MERLIN", 212, 220, 62.1),
    ("bi2fe4o9_Ei62_300K.nxspe", "MERLIN", 212, 220, 62.0),
    ("pdcro2_Ei60_5K.nxspe", "MARI", 285, 788, 59.4),
    ("MAR11001_test.nxspe", "MARI", 285, 110, 12.97),
    ("MAR29858_180meV_powder.nxspe", "MARI", 285, 9, 180.0),
    ("gen_sqw_96dets.nxspe", "Horace", 96, 145, 35.5),
    ("inst_maps_ei400_600hz.nxspe", "MAPS", 5, 5, 400.0),
    ("inst_merlin_ei120_600hz.nxspe", "MERLIN", 5, 5, 120.0),
    ("nxspe_version1_0.nxspe", "MAPS", 5, 30, 800.0),
]


def test_every_file_in_the_experimental_folder_loads(experimental_dir):
    files = sorted(p for p in experimental_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    assert len(files) >= 10
    for path in files:
        data = load(path)
        assert data.signal.ndim == 2 and np.isfinite(data.signal).any(), path.name
        assert data.metadata.provenance["source_file"] == path.name


@pytest.mark.parametrize("name, instrument, ndet, ne, ei", REAL_NXSPE)
def test_real_nxspe_shapes_and_metadata(experimental_dir, name, instrument, ndet, ne, ei):
    det = load_nxspe(experimental_dir / name)
    assert isinstance(det, DetectorData)
    assert det.shape == (ndet, ne)
    assert det.energy_edges.shape == (ne + 1,)
    assert np.all(np.diff(det.energy_edges) > 0)
    assert det.ei_meV == pytest.approx(ei, abs=0.1)
    assert det.metadata.instrument == instrument
    assert det.metadata.ei_meV == det.ei_meV
    for field in ("polar_deg", "azimuthal_deg", "polar_width_deg", "azimuthal_width_deg", "distance_m"):
        assert getattr(det, field).shape == (ndet,)


def test_bi2fe4o9_detector_coverage_and_masking(bi2fe4o9_5k):
    det = load_nxspe(bi2fe4o9_5k)
    assert det.polar_deg.min() == pytest.approx(2.9, abs=0.05)
    assert det.polar_deg.max() == pytest.approx(135.6, abs=0.05)
    assert det.energy_edges[0] == pytest.approx(-15.5) and det.energy_edges[-1] == pytest.approx(52.7)
    assert det.masked_detectors.sum() == 5
    assert np.isnan(det.signal).mean() == pytest.approx(0.024, abs=0.002)
    assert det.ki_over_kf_scaling is True
    assert np.all(det.polar_width_deg > 0) and np.all(det.distance_m > 2.0)
    assert det.metadata.provenance["nxspe_version"] == "1.2"


def test_energy_given_as_bin_centres(experimental_dir):
    det = load_nxspe(experimental_dir / "inst_maps_ei400_600hz.nxspe")
    with h5py.File(experimental_dir / "inst_maps_ei400_600hz.nxspe") as f:
        centres = f["w1/data/energy"][()]
    np.testing.assert_allclose(0.5 * (det.energy_edges[1:] + det.energy_edges[:-1]), centres)
    assert det.metadata.provenance["energy_given_as"] == "centres"
    assert det.metadata.provenance["nxspe_version"] == "1.3"


def test_version_1_0_file(experimental_dir):
    det = load_nxspe(experimental_dir / "nxspe_version1_0.nxspe")
    assert det.metadata.provenance["nxspe_version"] == "1.0"
    assert det.masked_detectors.sum() == 2


def small_detector_data():
    rng = np.random.default_rng(1)
    return DetectorData(
        signal=rng.random((4, 6)),
        error=rng.random((4, 6)) * 0.1,
        energy_edges=np.linspace(-2, 10, 7),
        polar_deg=np.array([10.0, 20, 30, 40]),
        azimuthal_deg=np.zeros(4),
        polar_width_deg=np.full(4, 1.0),
        azimuthal_width_deg=np.full(4, 2.0),
        distance_m=np.full(4, 4.0),
        ei_meV=25.0,
        psi_deg=float("nan"),
        ki_over_kf_scaling=False,
        metadata=MapMetadata(instrument="MARI", ei_meV=25.0),
    )


def test_save_and_load_round_trip(tmp_path):
    det = small_detector_data()
    save_nxspe(det, tmp_path / "x.nxspe")
    back = load_nxspe(tmp_path / "x.nxspe")
    for field in ("signal", "error", "energy_edges", "polar_deg", "polar_width_deg", "distance_m"):
        np.testing.assert_array_equal(getattr(back, field), getattr(det, field))
    assert back.ei_meV == 25.0 and back.ki_over_kf_scaling is False and back.metadata.instrument == "MARI"


@pytest.fixture()
def good_file(tmp_path):
    path = tmp_path / "good.nxspe"
    save_nxspe(small_detector_data(), path)
    return path


def edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f["insgan"])


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda e: e.__delitem__("data/data"), "missing dataset '/insgan/data/data'"),
        (lambda e: e.__delitem__("NXSPE_info/fixed_energy"), "fixed_energy"),
        (lambda e: e.__delitem__("data/polar"), "polar"),
        (lambda e: e.move("data/error", "data/errors"), "missing dataset '/insgan/data/error'"),
        (lambda e: (e.__delitem__("definition"), e.create_dataset("definition", data=[b"NXTOFRAW"])), "expected 'NXSPE'"),
        (lambda e: e["data/energy"].attrs.__setitem__("units", b"THz"), "units 'THz', expected meV"),
        (lambda e: e["NXSPE_info/fixed_energy"].__setitem__(..., [-5.0]), "expected > 0"),
        (lambda e: e["data/energy"].__setitem__(..., np.linspace(30, 42, 7)), "no kinematically allowed bin"),
        (lambda e: e["data/data"].__setitem__(..., np.nan), "NaN everywhere"),
        (lambda e: (e.__delitem__("data/error"), e["data"].create_dataset("error", data=np.zeros((4, 5)))), "shape"),
        (lambda e: (e.__delitem__("data/energy"), e["data"].create_dataset("energy", data=np.arange(9.0))), "energy"),
        (lambda e: (e.__delitem__("data/polar"), e["data"].create_dataset("polar", data=np.arange(3.0))), "one per detector"),
        (lambda e: (e.__delitem__("data/data"), e["data"].create_dataset("data", data=np.zeros((0, 6)))), "empty"),
    ],
)
def test_bad_files_raise_clear_errors(good_file, change, fragment):
    edit(good_file, change)
    with pytest.raises(InsganFileError) as info:
        load_nxspe(good_file)
    assert str(good_file) in str(info.value)
    assert fragment in str(info.value)


def test_truncated_and_non_hdf5_files(tmp_path, bi2fe4o9_5k):
    truncated = tmp_path / "truncated.nxspe"
    truncated.write_bytes(bi2fe4o9_5k.read_bytes()[:20000])
    with pytest.raises(InsganFileError, match="truncated"):
        load_nxspe(truncated)
    text = tmp_path / "notes.nxspe"
    text.write_text("not a NeXus file")
    with pytest.raises(InsganFileError, match="HDF5"):
        load_nxspe(text)
    with pytest.raises(InsganFileError, match="not an HDF5"):
        load(text)
    with pytest.raises(InsganFileError, match="not found"):
        load(tmp_path / "missing.nxspe")


def test_processed_nexus_is_not_read_as_nxspe(experimental_dir, tmp_path):
    shutil.copy(experimental_dir / "MAR29858_180meV_powder.nxspe", tmp_path / "a.nxspe")
    with pytest.raises(InsganFileError, match="expected 'NXSPE'"):
        load_nxspe(experimental_dir / "aluminium_Ei60.nxspe")
    assert load_nxspe(tmp_path / "a.nxspe").shape == (285, 9)
