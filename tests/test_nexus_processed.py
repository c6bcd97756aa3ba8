"""Mantid processed NeXus: the real aluminium file, S(|Q|,E) round trips, Mantid layout, bad files."""

import json

import h5py
import numpy as np
import pytest

from insgan_core.data import Axis, DetectorData, INSMap, MapMetadata
from insgan_core.data.io import load, load_nexus_processed, load_nxspe, save, save_nexus_processed
from insgan_core.errors import InsganFileError, InsganInputError


@pytest.fixture(scope="module")
def aluminium(experimental_dir):
    return load_nexus_processed(experimental_dir / "aluminium_Ei60.nxspe")


def test_aluminium_golden_file_is_detector_space(aluminium, experimental_dir):
    assert isinstance(aluminium, DetectorData)
    assert aluminium.shape == (285, 294)
    assert aluminium.ei_meV == pytest.approx(59.3706, abs=1e-4)
    assert aluminium.metadata.instrument == "MARI"
    assert aluminium.energy_edges[0] == pytest.approx(-30.0) and aluminium.energy_edges[-1] == pytest.approx(58.2)
    assert aluminium.metadata.provenance["distribution"] is True
    with h5py.File(experimental_dir / "aluminium_Ei60.nxspe") as f:
        np.testing.assert_array_equal(aluminium.signal, f["mantid_workspace_1/workspace/values"][()])
    # MARI's grouping is the same as in the PdCrO2 NXSPE written by SaveNXSPE: the spectrum angles averaged
    # from the per-detector positions must reproduce Mantid's own 2θ, φ and distances
    pdcro2 = load_nxspe(experimental_dir / "pdcro2_Ei60_5K.nxspe")
    np.testing.assert_allclose(aluminium.polar_deg, pdcro2.polar_deg, atol=1e-9)
    np.testing.assert_allclose(aluminium.distance_m, pdcro2.distance_m, atol=1e-9)
    assert np.all(aluminium.polar_width_deg > 0)


def test_aluminium_converts_to_powder_map_with_bragg_lines(aluminium):
    from insgan_core.data.reduction import powder_map

    m = powder_map(aluminium, q_edges="0.5,0.02,9", e_edges="-2,4,2")
    elastic = m.cut(axis="x", window=(-2, 2))
    # Al fcc, a = 4.05 Å: (111) at 2π√3/a = 2.687 Å⁻¹, (200) at 3.103 Å⁻¹
    q = elastic.centres
    for q_bragg in (2.687, 3.103):
        near = np.abs(q - q_bragg) < 0.06
        away = (np.abs(q - q_bragg) > 0.15) & (np.abs(q - q_bragg) < 0.3)
        assert np.nanmax(elastic.signal[near]) > 5 * np.nanmedian(elastic.signal[away])


def sqw_map(*, seed=0, nq=30, ne=40):
    rng = np.random.default_rng(seed)
    s = rng.random((nq, ne))
    s[:3, 30:] = np.nan
    e = rng.random((nq, ne)) * 0.1
    e[np.isnan(s)] = np.nan
    md = MapMetadata(
        instrument="MERLIN", ei_meV=62.0967088093, temperature_K=5.0, sample="Bi2Fe4O9",
        provenance={"source_file": "x.nxspe", "nested": {"a": [1, 2.5, None]}, "seed": seed},
    )
    return INSMap(s, e, Axis(np.linspace(0.1, 6.1, nq + 1), "MomentumTransfer"), Axis(np.linspace(-10, 50, ne + 1), "DeltaE"), md)


def assert_maps_identical(a, b):
    np.testing.assert_array_equal(a.signal, b.signal)
    np.testing.assert_array_equal(a.error, b.error)
    np.testing.assert_array_equal(a.x_axis.edges, b.x_axis.edges)
    np.testing.assert_array_equal(a.e_axis.edges, b.e_axis.edges)
    assert a.x_axis.unit == b.x_axis.unit and a.e_axis.unit == b.e_axis.unit
    assert a.x_axis.tick_labels == b.x_axis.tick_labels
    assert a.distribution == b.distribution
    assert a.metadata.to_dict() == b.metadata.to_dict()


def test_round_trip_is_exact(tmp_path):
    m = sqw_map()
    save_nexus_processed(m, tmp_path / "m.nxs")
    back = load(tmp_path / "m.nxs")
    assert isinstance(back, INSMap)
    assert_maps_identical(m, back)


def test_round_trip_path_map_with_tick_labels(tmp_path):
    m = sqw_map()
    path_map = INSMap(m.signal, m.error, Axis(np.linspace(0, 3, 31), "rlu_path", ((0.0, "Γ"), (1.5, "M"), (3.0, "K"))), m.e_axis, m.metadata)
    save(path_map, tmp_path / "p.nxs")
    assert_maps_identical(path_map, load_nexus_processed(tmp_path / "p.nxs"))
    with h5py.File(tmp_path / "p.nxs") as f:  # not a Mantid unit: written as a Label unit
        a2 = f["mantid_workspace_1/workspace/axis2"]
        assert a2.attrs["units"] == b"Label" and a2.attrs["caption"] == b"rlu_path"


def test_written_layout_follows_mantid(tmp_path):
    m = sqw_map()
    save_nexus_processed(m, tmp_path / "m.nxs", workspace_name="bfo_sqw")
    with h5py.File(tmp_path / "m.nxs") as f:
        groups = []
        f.visititems(lambda name, obj: groups.append(obj) if isinstance(obj, h5py.Group) else None)
        assert groups and all("NX_class" in g.attrs for g in groups)
        # every text attribute is a fixed-length byte string (Mantid's NeXus API cannot read variable-length)
        def check_attrs(name, obj):
            for key in obj.attrs:
                tid = obj.attrs.get_id(key).get_type()
                if isinstance(tid, h5py.h5t.TypeStringID):
                    assert not tid.is_variable_str(), f"{name}@{key}"
        f.visititems(check_attrs)
        entry = f["mantid_workspace_1"]
        assert entry.attrs["NX_class"] == b"NXentry"
        assert entry["definition"][0] == b"Mantid Processed Workspace"
        assert entry["workspace_name"][0] == b"bfo_sqw"
        ws = entry["workspace"]
        assert ws.attrs["NX_class"] == b"NXdata"
        assert ws["values"].shape == (30, 40)
        assert ws["values"].attrs["signal"] == 1 and ws["values"].attrs["axes"] == b"axis2,axis1"
        assert ws["axis1"].attrs["units"] == b"DeltaE" and ws["axis1"].attrs["distribution"] == b"1"
        assert ws["axis1"].shape == (41,)
        assert ws["axis2"].attrs["units"] == b"MomentumTransfer" and ws["axis2"].shape == (31,)
        assert entry["logs"].attrs["NX_class"] == b"NXgroup"  # what Mantid's LogManager opens
        assert entry["logs/Ei"].attrs["NX_class"] == b"NXlog"
        assert entry["process"].attrs["NX_class"] == b"NXprocess"
        assert list(f) == ["mantid_workspace_1"]  # LoadNexusProcessed counts top-level groups as entries
        assert entry["logs/Ei/value"][0] == pytest.approx(62.0967088093)
        stored = json.loads(entry["logs/insgan_metadata/value"][0])
        assert stored["metadata"]["sample"] == "Bi2Fe4O9"


def write_workspace(path, values, axis1, unit1, axis2, unit2, *, distribution=b"1"):
    with h5py.File(path, "w") as f:
        e = f.create_group("mantid_workspace_1")
        e.attrs["NX_class"] = b"NXentry"
        ws = e.create_group("workspace")
        ws.attrs["NX_class"] = b"NXdata"
        ws.create_dataset("values", data=values)
        ws.create_dataset("errors", data=np.sqrt(np.abs(values)))
        a1 = ws.create_dataset("axis1", data=axis1)
        a1.attrs["units"] = unit1
        a1.attrs["distribution"] = distribution
        a2 = ws.create_dataset("axis2", data=axis2)
        a2.attrs["units"] = unit2


def test_reads_transposed_orientation_and_point_axes(tmp_path):
    rng = np.random.default_rng(2)
    sqw = rng.random((12, 20))  # (|Q|, E)
    q_edges, e_edges = np.linspace(0, 3, 13), np.linspace(-5, 15, 21)
    # SofQW orientation, bin-edge |Q| axis
    write_workspace(tmp_path / "a.nxs", sqw, e_edges, b"DeltaE", q_edges, b"MomentumTransfer")
    # transposed (X = |Q|, spectra = E), numeric point |Q| axis, E points
    write_workspace(tmp_path / "b.nxs", sqw.T, 0.5 * (q_edges[1:] + q_edges[:-1]), b"MomentumTransfer", e_edges, b"DeltaE")
    a, b = load(tmp_path / "a.nxs"), load(tmp_path / "b.nxs")
    for m in (a, b):
        assert m.x_axis.unit == "MomentumTransfer" and m.e_axis.unit == "DeltaE"
        np.testing.assert_array_equal(m.signal, sqw)
        np.testing.assert_allclose(m.x_axis.edges, q_edges, atol=1e-12)
        np.testing.assert_allclose(m.e_axis.edges, e_edges)
    assert b.metadata.provenance["x_axis_given_as"] == "points"


def test_detector_space_without_angles_gives_spectrum_axis(tmp_path):
    values = np.arange(12.0).reshape(3, 4)
    write_workspace(tmp_path / "d.nxs", values, np.linspace(0, 4, 5), b"DeltaE", np.array([1.0, 2, 3]), b"spectraNumber")
    m = load(tmp_path / "d.nxs")
    assert isinstance(m, INSMap) and m.x_axis.unit == "SpectrumNumber"
    np.testing.assert_allclose(m.x_axis.centres, [1, 2, 3])


@pytest.mark.parametrize(
    "values, axis1, unit1, axis2, unit2, fragment",
    [
        (np.ones((3, 4)), np.linspace(0, 4, 5), b"TOF", np.arange(4.0), b"Degrees", "expected one of them to be 'DeltaE'"),
        (np.ones((3, 4)), np.linspace(0, 4, 7), b"DeltaE", np.arange(4.0), b"MomentumTransfer", "expected 5 bin edges or 4 points"),
        (np.full((3, 4), np.nan), np.linspace(0, 4, 5), b"DeltaE", np.arange(4.0), b"MomentumTransfer", "NaN everywhere"),
        (np.ones((3, 4)), np.array([0, 2, 1, 3, 4.0]), b"DeltaE", np.arange(4.0), b"MomentumTransfer", "strictly increasing"),
    ],
)
def test_bad_processed_files(tmp_path, values, axis1, unit1, axis2, unit2, fragment):
    path = tmp_path / "bad.nxs"
    write_workspace(path, values, axis1, unit1, axis2, unit2)
    with pytest.raises(InsganFileError) as info:
        load(path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_missing_workspace_fields(tmp_path):
    path = tmp_path / "bad.nxs"
    write_workspace(path, np.ones((3, 4)), np.linspace(0, 4, 5), b"DeltaE", np.arange(4.0), b"MomentumTransfer")
    with h5py.File(path, "r+") as f:
        del f["mantid_workspace_1/workspace/errors"]
    with pytest.raises(InsganFileError, match="missing dataset '/mantid_workspace_1/workspace/errors'"):
        load_nexus_processed(path)
    with h5py.File(path, "w") as f:
        f.create_group("entry").attrs["NX_class"] = b"NXentry"
    with pytest.raises(InsganFileError, match="neither NXSPE"):
        load(path)
    with pytest.raises(InsganFileError, match="mantid_workspace"):
        load_nexus_processed(path)


def test_failed_write_leaves_existing_file_untouched(tmp_path, monkeypatch):
    path = tmp_path / "m.nxs"
    save_nexus_processed(sqw_map(seed=1), path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_nexus_processed(sqw_map(seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.nxs"]  # no temporary file left behind


def test_writer_rejects_detector_data(aluminium, tmp_path):
    with pytest.raises(InsganInputError, match="expected an INSMap"):
        save_nexus_processed(aluminium, tmp_path / "x.nxs")
    with pytest.raises(InsganInputError, match="extension"):
        save(sqw_map(), tmp_path / "x.txt")
