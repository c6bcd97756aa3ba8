"""The three insgan algorithms in REAL Mantid, end to end on the real files (skipped without Mantid).

Mantid is conda-only; in Mantid's conda environment, from a source checkout (see docs/mantid.md):

    python -m pip list --format=freeze > mantid-constraints.txt && python -m pip install -c mantid-constraints.txt -e ".[test]" && python -m pytest tests/test_mantid_real.py

(the constraints file pins every package already in the environment, so pip only adds what is missing and
never changes one of Mantid's packages; it fails instead of upgrading).

Covered: LoadNXSPE + SofQW / SofQW3 (RebinnedOutput) of the shared files -> SimulateINSSpinWave on their grid
-> TrainINSGAN -> ApplyINSGAN -> SaveNexusProcessed -> LoadNexusProcessed, WorkspaceGroups, the dialog path
(validateInputs), cancelling TrainINSGAN and resuming from its last checkpoint.
The measured files are loaded with ``LoadNXSPE`` and converted with ``SofQW``; outputs are written with
``SaveNexusProcessed`` and must load back with ``LoadNexusProcessed``. The test-only stand-in
(``tests/mantid_standin``) is never used here: a module marked ``__insgan_test_standin__`` is skipped.
"""

import importlib.util
import sys

import numpy as np
import pytest

mantid = pytest.importorskip("mantid")
if getattr(mantid, "__insgan_test_standin__", False):
    pytest.skip("the insgan test stand-in is not Mantid; these tests need a real Mantid", allow_module_level=True)

from mantid.api import AlgorithmManager, AnalysisDataService  # noqa: E402
from mantid.simpleapi import (  # noqa: E402
    CreateSampleWorkspace,
    LoadNexusProcessed,
    LoadNXSPE,
    SaveNexusProcessed,
    SofQW,
    Transpose,
)

from insgan_core import mantid_bridge  # noqa: E402

pytestmark = pytest.mark.mantid

#: library model used for the simulations (a ferromagnetic chain: fast, analytic)
MODEL = "fm_chain"
MODEL_PARAMETERS = "J=-1.0"


@pytest.fixture(scope="module", autouse=True)
def registered_plugins():
    """Import the algorithm files as Mantid's plugin loader does (each subscribes its algorithm)."""
    folder = mantid_bridge.mantid_plugins_dir()
    for filename in mantid_bridge.ALGORITHM_FILES:
        name = filename[:-3]
        spec = importlib.util.spec_from_file_location(name, folder / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    yield
    AnalysisDataService.clear()


def run(name, **properties):
    """Run a (Python) algorithm by name as a managed algorithm; outputs land in the ADS."""
    alg = AlgorithmManager.create(name)
    alg.setRethrows(True)
    for key, value in properties.items():
        alg.setProperty(key, value)
    alg.execute()
    return alg


@pytest.fixture(scope="module")
def bfo(experimental_dir):
    """MERLIN Bi2Fe4O9 5 K: (detector-space workspace name, S(|Q|,E) workspace name, file)."""
    path = experimental_dir / "bi2fe4o9_Ei62_5K.nxspe"
    LoadNXSPE(Filename=str(path), OutputWorkspace="bfo_raw")
    SofQW(InputWorkspace="bfo_raw", QAxisBinning="0.3,0.1,4.5", EMode="Direct", OutputWorkspace="bfo_sqw")
    return "bfo_raw", "bfo_sqw", path


def nan_equal(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def test_simulate_on_a_sofqw_grid_equals_the_core(bfo, tmp_path):
    from insgan_core.spinwave import load_model, powder_map

    _, sqw_name, _ = bfo
    sqw = AnalysisDataService.retrieve(sqw_name)
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, TemperatureInKelvin=5.0,
        InputWorkspace=sqw_name, OutputWorkspace="sim")
    sim = AnalysisDataService.retrieve("sim")
    assert sim.getAxis(0).getUnit().unitID() == "DeltaE"
    assert sim.getAxis(1).getUnit().unitID() == "MomentumTransfer"
    assert sim.getNumberHistograms() == sqw.getNumberHistograms() and sim.blocksize() == sqw.blocksize()
    np.testing.assert_allclose(sim.getAxis(1).extractValues(), sqw.getAxis(1).extractValues())
    assert sim.isDistribution()
    assert sim.run().getLogData("Model").value == MODEL
    ref = mantid_bridge.workspace_to_map(sqw)
    core = powder_map(load_model(MODEL, MODEL_PARAMETERS), q_edges=ref.x_axis.edges, e_edges=ref.e_axis.edges,
                      temperature_K=5.0, seed=0)
    nan_equal(sim.extractY(), core.signal)
    # the written file loads back in Mantid
    path = tmp_path / "sim.nxs"
    SaveNexusProcessed(InputWorkspace="sim", Filename=str(path))
    back = LoadNexusProcessed(Filename=str(path), OutputWorkspace="sim_back")
    nan_equal(back.extractY(), sim.extractY())
    assert back.getAxis(1).getUnit().unitID() == "MomentumTransfer"


def test_simulate_transposed_grid_and_artefacts(bfo):
    _, sqw_name, path = bfo
    Transpose(InputWorkspace=sqw_name, OutputWorkspace="bfo_sqw_t")
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace="bfo_sqw_t",
        OutputWorkspace="sim_t")
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace=sqw_name,
        OutputWorkspace="sim_n")
    nan_equal(AnalysisDataService.retrieve("sim_t").extractY(), AnalysisDataService.retrieve("sim_n").extractY())
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace=sqw_name,
        Instrument="MERLIN", Artefacts=["resolution", "coverage"], DetectorFile=str(path), OutputWorkspace="sim_art")
    art = AnalysisDataService.retrieve("sim_art")
    assert art.run().getLogData("Ei").value == pytest.approx(62.0, abs=0.5)  # from the input's Ei log
    y = art.extractY()
    assert np.isnan(y).any() and np.isfinite(y).any()  # kinematic limit and detector gaps appear


def test_train_and_apply_end_to_end(bfo, tmp_path):
    from insgan_core.gan.model_file import load_model

    _, sqw_name, _ = bfo
    for i, j in enumerate((-1.0, -1.5)):
        run("SimulateINSSpinWave", Model=MODEL, ModelParameters=f"J={j}", InputWorkspace=sqw_name,
            OutputWorkspace=f"src_{i}")
        run("SimulateINSSpinWave", Model=MODEL, ModelParameters=f"J={j}", InputWorkspace=sqw_name,
            Instrument="MERLIN", Artefacts=["resolution", "background"], OutputWorkspace=f"tgt_{i}")
    model_file = tmp_path / "model.safetensors"
    train = run("TrainINSGAN", SourceWorkspaces=["src_0", "src_1"], TargetWorkspaces=["tgt_0", "tgt_1"],
                Mode="paired", Steps=3, BatchSize=2, Device="cpu", OutputModelFile=str(model_file),
                OutputTable="losses")
    assert train.isExecuted() and model_file.is_file()
    assert AnalysisDataService.retrieve("losses").rowCount() == 3
    run("ApplyINSGAN", InputWorkspace="src_0", ModelFile=str(model_file), OutputWorkspace="gan_out")
    out = AnalysisDataService.retrieve("gan_out")
    expected = load_model(model_file).apply(mantid_bridge.workspace_to_map(AnalysisDataService.retrieve("src_0")))
    nan_equal(out.extractY(), expected.signal)
    assert out.run().hasProperty("insgan_model_file") and out.run().hasProperty("Model")  # input logs kept
    path = tmp_path / "gan_out.nxs"
    SaveNexusProcessed(InputWorkspace="gan_out", Filename=str(path))
    back = LoadNexusProcessed(Filename=str(path), OutputWorkspace="gan_back")
    nan_equal(back.extractY(), out.extractY())


def test_unpaired_training_towards_the_measured_map(bfo, tmp_path):
    _, sqw_name, _ = bfo
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace=sqw_name,
        OutputWorkspace="src_u")
    run("TrainINSGAN", SourceWorkspaces=["src_u"], TargetWorkspaces=[sqw_name], Mode="unpaired", Steps=2,
        BatchSize=2, Device="cpu", OutputModelFile=str(tmp_path / "u.safetensors"), OutputTable="losses_u")
    assert AnalysisDataService.retrieve("losses_u").rowCount() == 2


def test_pdcro2_mari_file(experimental_dir):
    LoadNXSPE(Filename=str(experimental_dir / "pdcro2_Ei60_5K.nxspe"), OutputWorkspace="pcr_raw")
    SofQW(InputWorkspace="pcr_raw", QAxisBinning="0.5,0.1,5", EMode="Direct", OutputWorkspace="pcr_sqw")
    run("SimulateINSSpinWave", Model=MODEL, InputWorkspace="pcr_sqw", Instrument="MARI",
        ChopperPackage="G", ChopperFrequencyInHz=250.0, OutputWorkspace="pcr_sim")
    sim = AnalysisDataService.retrieve("pcr_sim")
    assert sim.getNumberHistograms() == AnalysisDataService.retrieve("pcr_sqw").getNumberHistograms()


def test_bad_workspaces_are_refused_naming_the_property(bfo, tmp_path):
    raw_name, _, _ = bfo
    with pytest.raises(RuntimeError, match="InputWorkspace.*SofQW"):  # detector space: no |Q| axis
        run("SimulateINSSpinWave", Model=MODEL, InputWorkspace=raw_name, OutputWorkspace="bad")
    CreateSampleWorkspace(OutputWorkspace="tof_ws")  # X in time of flight
    with pytest.raises(RuntimeError, match="time of flight"):
        run("SimulateINSSpinWave", Model=MODEL, InputWorkspace="tof_ws", OutputWorkspace="bad")
    with pytest.raises(RuntimeError, match="QBinning"):
        run("SimulateINSSpinWave", Model=MODEL, EnergyBinning="0,1,10", OutputWorkspace="bad")
    with pytest.raises(RuntimeError, match="IncidentEnergyInMeV"):
        run("SimulateINSSpinWave", Model=MODEL, QBinning="0.1,0.1,3", EnergyBinning="0,1,10", Instrument="MERLIN",
            IncidentEnergyInMeV=5000.0, OutputWorkspace="bad")


# --- issue 15: behaviour only real Mantid can confirm -----------------------------------------------------
@pytest.fixture(scope="module")
def bfo_polygon(experimental_dir):
    """SofQW3 (SofQW Method=NormalisedPolygon) of the MERLIN file: a RebinnedOutput, as ISIS reductions give."""
    path = experimental_dir / "bi2fe4o9_Ei62_5K.nxspe"
    LoadNXSPE(Filename=str(path), OutputWorkspace="bfo_raw_p")
    SofQW(InputWorkspace="bfo_raw_p", QAxisBinning="0.3,0.1,4.5", EMode="Direct", Method="NormalisedPolygon",
          OutputWorkspace="bfo_sqw3")
    return "bfo_sqw3"


def test_sofqw3_chain_simulate_apply_save_reload(bfo_polygon, tmp_path):
    """LoadNXSPE + SofQW3 -> SimulateINSSpinWave on its grid -> ApplyINSGAN -> SaveNexusProcessed -> reload:
    every output is a Workspace2D carrying the input's logs (a RebinnedOutput parent must not leak its type)."""
    sqw3 = AnalysisDataService.retrieve(bfo_polygon)
    assert sqw3.id() == "RebinnedOutput"
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace=bfo_polygon,
        OutputWorkspace="sim3")
    sim = AnalysisDataService.retrieve("sim3")
    assert sim.id() == "Workspace2D" and sim.getNumberHistograms() == sqw3.getNumberHistograms()
    model_file = tmp_path / "m3.safetensors"
    run("TrainINSGAN", SourceWorkspaces=["sim3"], TargetWorkspaces=[bfo_polygon], Mode="unpaired", Steps=2,
        BatchSize=2, Device="cpu", OutputModelFile=str(model_file), OutputTable="losses3")
    run("ApplyINSGAN", InputWorkspace=bfo_polygon, ModelFile=str(model_file), OutputWorkspace="gan3")
    out = AnalysisDataService.retrieve("gan3")
    assert out.id() == "Workspace2D"
    assert out.run().hasProperty("Ei") and out.run().getLogData("Ei").value == pytest.approx(
        sqw3.run().getLogData("Ei").value)
    assert out.getTitle() == sqw3.getTitle()
    path = tmp_path / "gan3.nxs"
    SaveNexusProcessed(InputWorkspace="gan3", Filename=str(path))
    back = LoadNexusProcessed(Filename=str(path), OutputWorkspace="gan3_back")
    assert back.id() == "Workspace2D"
    nan_equal(back.extractY(), out.extractY())


def test_groups_are_processed(bfo, bfo_polygon, tmp_path):
    from mantid.simpleapi import GroupWorkspaces

    _, sqw_name, _ = bfo
    GroupWorkspaces(InputWorkspaces=[sqw_name, bfo_polygon], OutputWorkspace="bfo_group")
    run("SimulateINSSpinWave", Model=MODEL, InputWorkspace="bfo_group", OutputWorkspace="sim_group")
    sims = AnalysisDataService.retrieve("sim_group")
    assert sims.getNumberOfEntries() == 2 and all(ws.id() == "Workspace2D" for ws in sims)
    model_file = tmp_path / "g.safetensors"
    run("TrainINSGAN", SourceWorkspaces=["sim_group"], TargetWorkspaces=["bfo_group"], Mode="paired", Steps=2,
        BatchSize=2, Device="cpu", OutputModelFile=str(model_file), OutputTable="losses_g")
    run("ApplyINSGAN", InputWorkspace="bfo_group", ModelFile=str(model_file), OutputWorkspace="gan_group")
    outs = AnalysisDataService.retrieve("gan_group")
    assert outs.getNumberOfEntries() == 2 and all(ws.id() == "Workspace2D" for ws in outs)


def test_dialog_path_validate_inputs_gives_messages(bfo, tmp_path):
    """As Workbench's AlgorithmDialog: set each property from text, then validateInputs(); a binary Model file
    and a detector-space workspace must come back as messages on their properties, not exceptions."""
    raw_name, sqw_name, path = bfo
    for values, prop in (
        (dict(Model=str(path), InputWorkspace=sqw_name), "Model"),  # an NXSPE (HDF5, binary) as a YAML model
        (dict(Model=MODEL, InputWorkspace=raw_name), "InputWorkspace"),
    ):
        alg = AlgorithmManager.createUnmanaged("SimulateINSSpinWave")
        alg.initialize()
        if not hasattr(alg, "validateInputs"):
            pytest.skip("this Mantid does not export IAlgorithm.validateInputs to Python")
        for key, value in dict(values, OutputWorkspace="dialog_out").items():
            alg.setPropertyValue(key, value)
        issues = alg.validateInputs()
        assert prop in issues and issues[prop].startswith(prop), issues


def test_cancel_training_keeps_a_usable_checkpoint(bfo, tmp_path):
    import threading
    import time

    _, sqw_name, _ = bfo
    run("SimulateINSSpinWave", Model=MODEL, ModelParameters=MODEL_PARAMETERS, InputWorkspace=sqw_name,
        OutputWorkspace="src_c")
    ckpt = tmp_path / "ckpt"
    props = dict(SourceWorkspaces=["src_c"], TargetWorkspaces=[sqw_name], Mode="unpaired", Steps=100000, BatchSize=2,
                 Device="cpu", OutputModelFile=str(tmp_path / "c.safetensors"), CheckpointDirectory=str(ckpt),
                 CheckpointEvery=1, OutputTable="losses_c")
    alg = AlgorithmManager.create("TrainINSGAN")
    for key, value in props.items():
        alg.setProperty(key, value)
    errors = []

    def execute():
        try:
            alg.execute()
        except RuntimeError as exc:  # cancelled
            errors.append(exc)

    thread = threading.Thread(target=execute)
    thread.start()
    deadline = time.time() + 300
    while not list(ckpt.glob("checkpoint_step*.safetensors")) and time.time() < deadline:
        time.sleep(0.2)
    alg.cancel()
    thread.join(timeout=300)
    assert not thread.is_alive() and not alg.isExecuted()
    assert not (tmp_path / "c.safetensors").exists()
    last = max(int(p.stem.split("step")[1]) for p in ckpt.glob("checkpoint_step*.safetensors"))
    assert last >= 1
    resumed = run("TrainINSGAN", **dict(props, Steps=last + 2, Resume=True))
    assert resumed.isExecuted() and (tmp_path / "c.safetensors").is_file()
    steps = AnalysisDataService.retrieve("losses_c").column("step")
    assert steps[-2:] == [last + 1, last + 2]  # continued after the last checkpoint
