"""ApplyINSGAN through the test-only Mantid stand-in: declarations, validation, outputs equal the core's."""

import numpy as np
import pytest
from mantid_standin.fixture import make_map, mantid_standin, property_table, standin  # noqa: F401

from insgan_core import mantid_bridge
from insgan_core.data.ins_map import MapStack
from insgan_core.gan.config import TrainConfig
from insgan_core.gan.model_file import load_model
from insgan_core.gan.training import train

PROPERTIES = ["InputWorkspace", "ModelFile", "RebinToModelGrid", "Device", "ExposureRelative", "OutputWorkspace"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny paired model on a 16 x 16 grid (|Q| 0-3 Å⁻¹, E -2-14 meV), trained for 2 steps by the core."""
    folder = tmp_path_factory.mktemp("model")
    sources = MapStack.from_maps([make_map(seed=i) for i in range(2)])
    targets = MapStack.from_maps([make_map(seed=i, offset=0.5) for i in range(2)])
    config = TrainConfig(mode="paired", steps=2, batch_size=2, device="cpu", checkpoint_every=0)
    return train(sources, targets, config, output_path=folder / "model.safetensors").model_path


def assert_same(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def test_declaration(standin):
    alg = standin.api.AlgorithmManager.create("ApplyINSGAN")
    props = property_table(alg)
    assert list(props) == PROPERTIES
    for p in props.values():
        assert p.documentation.strip(), f"{p.name} has no documentation"
        assert p.group in ("Workspaces", "Model")
    assert alg.category() == "Inelastic\\Simulation;MachineLearning"
    assert {"TrainINSGAN", "SimulateINSSpinWave", "SofQW", "LoadNXSPE"} <= set(alg.seeAlso())
    assert alg.checkGroups() is False and alg.summary() and alg.version() == 1
    assert props["ModelFile"].extensions == [".safetensors"]
    assert props["RebinToModelGrid"].value is False


def test_output_equals_core_and_keeps_logs(standin, model_path):
    m = make_map(seed=7)
    ws = mantid_bridge.map_to_workspace(m, name="sim")
    ws.mutableRun().addProperty("run_number", "MER42", "", True)
    alg = standin.api.AlgorithmManager.create("ApplyINSGAN")
    alg.setProperty("InputWorkspace", "sim")
    alg.setProperty("ModelFile", str(model_path))
    alg.setProperty("OutputWorkspace", "out")
    alg.execute()
    out = standin.api.mtd["out"]
    expected = load_model(model_path).apply(mantid_bridge.workspace_to_map(ws))
    assert_same(out.extractY(), expected.signal)
    assert_same(out.extractE(), expected.error)
    np.testing.assert_array_equal(out.getAxis(1).extractValues(), m.x_axis.edges)
    np.testing.assert_array_equal(out.readX(0), m.e_axis.edges)
    run = out.run()
    assert run.getProperty("run_number").value == "MER42"  # input logs preserved
    assert run.getProperty("insgan_model_file").value == str(model_path)
    back = mantid_bridge.workspace_to_map(out)
    assert back.metadata.provenance["gan"]["model_file"] == str(model_path)
    assert alg._progress_reports[-1][0] == pytest.approx(1.0)


def test_transposed_input_gives_transposed_output(standin, model_path):
    m = make_map(seed=3)
    mantid_bridge.map_to_workspace(m, name="sim_t", orientation="e_spectra")
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="sim_t", ModelFile=str(model_path), OutputWorkspace="out_t")
    assert out.getAxis(0).getUnit().unitID() == "MomentumTransfer"
    assert out.getAxis(1).getUnit().unitID() == "DeltaE"
    assert_same(out.extractY().T, load_model(model_path).apply(m).signal)


def test_group_in_group_out(standin, model_path):
    maps = [make_map(seed=s) for s in (1, 2, 3)]
    for i, m in enumerate(maps):
        mantid_bridge.map_to_workspace(m, name=f"g{i}")
    standin.simpleapi.GroupWorkspaces(InputWorkspaces=["g0", "g1", "g2"], OutputWorkspace="group")
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="group", ModelFile=str(model_path), OutputWorkspace="gout")
    assert isinstance(out, standin.api.WorkspaceGroup) and out.getNumberOfEntries() == 3
    expected = load_model(model_path).apply(MapStack.from_maps(maps))
    for i in range(3):
        assert_same(out.getItem(i).extractY(), expected.signal[i])
    assert standin.api.mtd.doesExist("gout_1")


def test_other_grid_is_refused_unless_rebinning(standin, model_path):
    m = make_map(20, 16, seed=4, q_range=(0.0, 2.5))
    mantid_bridge.map_to_workspace(m, name="other")
    with pytest.raises(RuntimeError, match=r"InputWorkspace: workspace 'other' grid .* differs from the model grid .*RebinToModelGrid"):
        standin.simpleapi.ApplyINSGAN(InputWorkspace="other", ModelFile=str(model_path), OutputWorkspace="o")
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="other", ModelFile=str(model_path), RebinToModelGrid=True,
                                        OutputWorkspace="o")
    assert out.getNumberHistograms() == 20  # back on the input grid
    assert_same(out.extractY(), load_model(model_path).apply(m, rebin=True).signal)


def test_bad_inputs_are_refused_before_execution(standin, model_path, tmp_path):
    sa = standin.simpleapi
    mantid_bridge.map_to_workspace(make_map(seed=1), name="sim")
    with pytest.raises(ValueError, match="ModelFile"):  # FileProperty(Load): the file must exist
        sa.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(tmp_path / "missing.safetensors"), OutputWorkspace="o")
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"\x80\x04K\x01." * 10)  # a pickle, renamed
    with pytest.raises(RuntimeError, match="ModelFile: "):
        sa.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(foreign), OutputWorkspace="o")
    sa.CreateWorkspace(DataX=np.arange(17.0), DataY=np.ones(32), NSpec=2, UnitX="TOF", OutputWorkspace="tof")
    with pytest.raises(RuntimeError, match="InputWorkspace: .*time of flight"):
        sa.ApplyINSGAN(InputWorkspace="tof", ModelFile=str(model_path), OutputWorkspace="o")
    with pytest.raises(ValueError, match="Device"):
        sa.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(model_path), Device="tpu", OutputWorkspace="o")
    with pytest.raises(ValueError, match="InputWorkspace"):
        sa.ApplyINSGAN(InputWorkspace="not_there", ModelFile=str(model_path), OutputWorkspace="o")
    assert not standin.api.mtd.doesExist("o")
