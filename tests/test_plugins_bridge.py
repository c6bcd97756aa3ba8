"""insgan_core.mantid_bridge through the test-only Mantid stand-in: workspace <-> INSMap.

Checks orientation detection from axis units, bin-edge vs point axes, error messages for time-of-flight,
detector-space, ragged and unknown-unit workspaces, exact round trips (including metadata and path maps),
the group/table helpers and the plugin-folder lookup.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from mantid_standin.fixture import PLUGINS_DIR, mantid_standin, standin  # noqa: F401

from insgan_core import mantid_bridge
from insgan_core.spinwave.single_crystal import parse_q_path
from insgan_core.data.grid import Axis
from insgan_core.data.ins_map import INSMap, MapMetadata
from insgan_core.errors import InsganFileError, InsganInputError


def make_map(nq=6, ne=5, *, unit="MomentumTransfer", ticks=()):
    rng = np.random.default_rng(1)
    signal = rng.random((nq, ne))
    signal[0, -1] = np.nan
    error = 0.1 * signal
    md = MapMetadata(instrument="MERLIN", ei_meV=62.0, temperature_K=5.0, sample="test", provenance={"model": "fm_chain"})
    return INSMap(
        signal,
        error,
        Axis(np.linspace(0.1, 3.1, nq + 1), unit, tick_labels=ticks),
        Axis(np.linspace(-2.0, 18.0, ne + 1), "DeltaE"),
        md,
    )


def create(sa, *, x, y, e=None, nspec, unit_x, v_unit, v_values=None):
    kwargs = dict(DataX=np.ravel(x), DataY=np.ravel(y), NSpec=nspec, UnitX=unit_x, VerticalAxisUnit=v_unit, StoreInADS=False)
    if e is not None:
        kwargs["DataE"] = np.ravel(e)
    if v_values is not None:
        kwargs["VerticalAxisValues"] = [str(v) for v in v_values]
    return sa.CreateWorkspace(**kwargs)


def assert_maps_equal(a, b):
    np.testing.assert_array_equal(a.signal, b.signal)
    np.testing.assert_array_equal(a.error, b.error)
    assert a.x_axis.equals(b.x_axis, rtol=0, atol=0) and a.e_axis.equals(b.e_axis, rtol=0, atol=0)


def test_map_to_workspace_layout_and_logs(standin):
    m = make_map()
    ws = mantid_bridge.map_to_workspace(m, logs={"Model": "fm_chain", "ModelParameters": {"J1": -1.0}})
    assert ws.getAxis(0).getUnit().unitID() == "DeltaE"
    assert ws.getAxis(1).getUnit().unitID() == "MomentumTransfer"
    assert ws.getNumberHistograms() == 6 and ws.blocksize() == 5
    np.testing.assert_array_equal(ws.getAxis(1).extractValues(), m.x_axis.edges)  # bin edges: nq + 1 values
    np.testing.assert_array_equal(ws.readX(3), m.e_axis.edges)
    np.testing.assert_array_equal(ws.extractY(), m.signal)
    assert ws.isDistribution() and ws.isHistogramData()
    run = ws.run()
    assert run.getProperty("Ei").value == 62.0 and run.getProperty("Ei").units == "meV"
    assert run.getProperty("SampleTemperature").value == 5.0 and run.getProperty("SampleTemperature").units == "K"
    assert run.getProperty("Model").value == "fm_chain"
    assert json.loads(run.getProperty("ModelParameters").value) == {"J1": -1.0}
    assert json.loads(run.getProperty("insgan_metadata").value)["instrument"] == "MERLIN"


def test_round_trip_is_exact(standin):
    m = make_map()
    back = mantid_bridge.workspace_to_map(mantid_bridge.map_to_workspace(m, name="rt"))
    assert_maps_equal(m, back)
    assert back.metadata.ei_meV == 62.0 and back.metadata.temperature_K == 5.0
    assert back.metadata.instrument == "MERLIN" and back.metadata.sample == "test"
    assert back.metadata.provenance["model"] == "fm_chain" and back.metadata.provenance["workspace"] == "rt"
    assert standin.api.mtd.doesExist("rt")


def test_transposed_orientation_detected_from_units(standin):
    m = make_map()
    ws_t = mantid_bridge.map_to_workspace(m, orientation="e_spectra")
    assert ws_t.getAxis(0).getUnit().unitID() == "MomentumTransfer"
    assert ws_t.getAxis(1).getUnit().unitID() == "DeltaE"
    assert ws_t.getNumberHistograms() == 5
    assert mantid_bridge.workspace_orientation(ws_t) == "e_spectra"
    assert_maps_equal(m, mantid_bridge.workspace_to_map(ws_t))
    # the same data made by hand, Abins2D-style (X = |Q| edges, vertical = energy bin edges)
    ws = create(
        standin.simpleapi,
        x=m.x_axis.edges,
        y=m.signal.T,
        e=m.error.T,
        nspec=5,
        unit_x="MomentumTransfer",
        v_unit="DeltaE",
        v_values=m.e_axis.edges,
    )
    np.testing.assert_array_equal(mantid_bridge.workspace_to_map(ws).signal, m.signal)


def test_point_axes_become_midpoint_edges(standin):
    centres_q = np.array([0.5, 1.0, 1.5, 2.0])
    centres_e = np.array([1.0, 3.0, 5.0])
    ws = create(
        standin.simpleapi,
        x=centres_e,
        y=np.ones((4, 3)),
        nspec=4,
        unit_x="DeltaE",
        v_unit="MomentumTransfer",
        v_values=centres_q,
    )
    m = mantid_bridge.workspace_to_map(ws)
    np.testing.assert_allclose(m.x_axis.edges, [0.25, 0.75, 1.25, 1.75, 2.25])
    np.testing.assert_allclose(m.e_axis.edges, [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(m.x_axis.centres, centres_q)


def test_time_of_flight_is_refused_naming_property(standin):
    ws = create(standin.simpleapi, x=np.arange(6.0), y=np.ones((2, 5)), nspec=2, unit_x="TOF", v_unit="SpectraNumber")
    with pytest.raises(InsganInputError, match=r"SourceWorkspaces: .*time of flight.*SofQW"):
        mantid_bridge.workspace_to_map(ws, property_name="SourceWorkspaces")


def test_detector_space_has_no_q_axis(standin):
    ws = create(standin.simpleapi, x=np.arange(6.0), y=np.ones((3, 5)), nspec=3, unit_x="DeltaE", v_unit="SpectraNumber")
    msg = mantid_bridge.workspace_problem(ws)
    assert msg.startswith("InputWorkspace:") and "no |Q| axis" in msg and "SofQW" in msg


def test_unknown_units_are_refused(standin):
    ws = create(
        standin.simpleapi, x=np.arange(6.0), y=np.ones((3, 5)), nspec=3, unit_x="Wavelength", v_unit="MomentumTransfer",
        v_values=[0, 1, 2, 3],
    )
    with pytest.raises(InsganInputError, match="expected energy transfer 'DeltaE'.*either orientation"):
        mantid_bridge.workspace_to_map(ws)


def test_ragged_bins_are_refused(standin):
    x = np.array([np.arange(6.0), np.arange(6.0) + 0.5])
    ws = create(
        standin.simpleapi, x=x, y=np.ones((2, 5)), nspec=2, unit_x="DeltaE", v_unit="MomentumTransfer", v_values=[0, 1, 2]
    )
    with pytest.raises(InsganInputError, match="ragged bins.*Rebin"):
        mantid_bridge.workspace_to_map(ws)


def test_infinite_values_are_refused(standin):
    y = np.ones((2, 5))
    y[1, 2] = np.inf
    ws = create(
        standin.simpleapi, x=np.arange(6.0), y=y, nspec=2, unit_x="DeltaE", v_unit="MomentumTransfer", v_values=[0, 1, 2]
    )
    with pytest.raises(InsganInputError, match="infinite"):
        mantid_bridge.workspace_to_map(ws)


def test_path_map_round_trip_with_labels(standin):
    m = make_map(unit="rlu_path", ticks=((0.1, "G"), (1.6, "X"), (3.1, "M")))
    ws = mantid_bridge.map_to_workspace(m)
    unit = ws.getAxis(1).getUnit()
    assert unit.unitID() == "Label" and unit.caption() == "Q path" and unit.label() == "r.l.u."
    back = mantid_bridge.workspace_to_map(ws)
    assert back.x_axis.unit == "rlu_path" and back.x_axis.tick_labels == m.x_axis.tick_labels
    assert_maps_equal(m, back)
    # a path map is never written transposed
    assert mantid_bridge.map_to_workspace(m, orientation="e_spectra").getAxis(0).getUnit().unitID() == "DeltaE"


def test_parent_workspace_logs_are_kept(standin):
    m = make_map()
    parent = mantid_bridge.map_to_workspace(m)
    parent.mutableRun().addProperty("run_number", "MER12345", "", True)
    out = mantid_bridge.map_to_workspace(m.with_data(2 * m.signal, m.error), parent=parent, logs={"extra": 1.5})
    assert out.run().getProperty("run_number").value == "MER12345"
    assert out.run().getProperty("extra").value == 1.5
    np.testing.assert_array_equal(out.extractY(), 2 * m.signal)


def test_metadata_from_plain_mantid_logs(standin):
    ws = create(
        standin.simpleapi, x=np.arange(6.0), y=np.ones((2, 5)), nspec=2, unit_x="DeltaE", v_unit="MomentumTransfer",
        v_values=[0, 1, 2],
    )
    ws.mutableRun().addProperty("Ei", 59.4, "meV", True)
    ws.mutableRun().addProperty("SampleTemp", [4.0, 6.0], "K", True)  # array log (value: ndarray): its mean
    md = mantid_bridge.workspace_to_map(ws).metadata
    assert md.ei_meV == pytest.approx(59.4) and md.temperature_K == pytest.approx(5.0)


def test_expand_workspace_names_with_groups(standin):
    sa = standin.simpleapi
    m = make_map()
    for name in ("a", "b", "c"):
        mantid_bridge.map_to_workspace(m, name=name)
    sa.GroupWorkspaces(InputWorkspaces=["a", "b"], OutputWorkspace="ab")
    got = mantid_bridge.expand_workspace_names(["ab", "c"], property_name="SourceWorkspaces")
    assert [w.name() for w in got] == ["a", "b", "c"]
    with pytest.raises(InsganInputError, match="SourceWorkspaces: workspace 'nope' is not in"):
        mantid_bridge.expand_workspace_names(["nope"], property_name="SourceWorkspaces")
    with pytest.raises(InsganInputError, match="no workspaces given"):
        mantid_bridge.expand_workspace_names([], property_name="SourceWorkspaces")


def test_table_from_records(standin):
    table = mantid_bridge.table_from_records([{"step": 1, "loss_G": 0.5}, {"step": 2, "loss_G": 0.25, "note": "x"}])
    assert table.getColumnNames() == ["step", "loss_G", "note"]
    assert table.column("step") == [1, 2]
    assert table.column("loss_G") == [0.5, 0.25]
    assert table.column("note") == ["", "x"]


def test_plugins_dir_holds_the_algorithm_files():
    folder = mantid_bridge.mantid_plugins_dir()
    assert folder == PLUGINS_DIR
    assert sorted(p.name for p in folder.glob("*.py")) == sorted(mantid_bridge.ALGORITHM_FILES)


def test_plugins_dir_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(mantid_bridge, "__file__", str(tmp_path / "pkg" / "mantid_bridge.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(mantid_bridge.site, "USER_BASE", str(tmp_path))
    with pytest.raises(InsganFileError, match="SimulateINSSpinWave.py.*not found"):
        mantid_bridge.mantid_plugins_dir()


def test_importing_insgan_never_imports_mantid():
    code = "import sys, insgan_core, insgan_core.mantid_bridge; print('mantid' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_standin_is_not_importable_outside_the_fixture():
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.find_spec('mantid')\n"
        "if spec is None: print('absent')\n"
        "else:\n"
        "    import mantid; print('standin' if getattr(mantid, '__insgan_test_standin__', False) else 'real')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PLUGINS_DIR.parent)
    assert out.stdout.strip() in ("absent", "real")


def test_parse_q_path():
    assert parse_q_path("G=0,0,0; X=0.5,0,0;M = 0.5,0.5,0") == [
        ("G", (0.0, 0.0, 0.0)), ("X", (0.5, 0.0, 0.0)), ("M", (0.5, 0.5, 0.0))
    ]
    assert parse_q_path("0,0,0; 1,0,0")[1] == ("(1,0,0)", (1.0, 0.0, 0.0))
    with pytest.raises(InsganInputError, match="QPath: corner 'X=a,0,0'"):
        parse_q_path("G=0,0,0; X=a,0,0")
    with pytest.raises(InsganInputError, match="at least two corners"):
        parse_q_path("G=0,0,0")
