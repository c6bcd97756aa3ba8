"""Where real Mantid differs from a permissive stand-in, and what insgan's algorithms must do about it.

Each test names the Mantid behaviour (and source file) it relies on; see docs/mantid-standin.md. The
defect tests (marked "was:") failed on the code before issue 15 with this stand-in.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mantid_standin.fixture import (  # noqa: F401
    STANDIN_DIR,
    dialog_set_properties,
    make_map,
    mantid_standin,
    rebinned_copy,
    standin,
    tiny_model,
)

from insgan_core import mantid_bridge
from insgan_core.data.ins_map import MapStack
from insgan_core.gan.model_file import load_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model"))


def add_input(standin, name, kind, seed=1):
    """An S(|Q|,E) input in the ADS with a log, a sample name and a title: Workspace2D or RebinnedOutput."""
    ws = mantid_bridge.map_to_workspace(make_map(seed=seed))
    ws.mutableRun().addProperty("run_number", f"MER{seed}", "", True)
    ws.mutableSample().setName(f"Bi2Fe4O9 {seed}")
    ws.setTitle(f"measured {seed}")
    if kind == "RebinnedOutput":
        ws = rebinned_copy(ws)
    standin.api.AnalysisDataService.addOrReplace(name, ws)
    return ws


# --- 1. outputs are Workspace2D, with the input's logs, sample and title ----------------------------------
def test_standin_create_workspace_keeps_the_parents_type(standin):
    """CreateWorkspace.cpp: WorkspaceFactory::create(parent) -> a RebinnedOutput parent gives a RebinnedOutput
    with zero fractional areas (what insgan used to hand on)."""
    parent = add_input(standin, "ro", "RebinnedOutput")
    out = standin.simpleapi.CreateWorkspace(DataX=np.arange(3.0), DataY=np.ones(2), ParentWorkspace=parent,
                                            StoreInADS=False)
    assert out.id() == "RebinnedOutput" and not out.readF(0).any()
    assert out.run().getProperty("run_number").value == "MER1"


@pytest.mark.parametrize("kind", ["Workspace2D", "RebinnedOutput"])
def test_map_to_workspace_is_workspace2d_for_every_parent(standin, kind):
    """was: a RebinnedOutput parent gave a RebinnedOutput output with F = 0."""
    parent = add_input(standin, "in", kind)
    m = make_map(seed=4)
    m.metadata.sample = ""  # no title of its own: the parent's title is kept
    out = mantid_bridge.map_to_workspace(m, parent=parent)
    assert out.id() == "Workspace2D"
    assert out.run().getProperty("run_number").value == "MER1"
    assert out.sample().getName() == "Bi2Fe4O9 1"
    assert out.getTitle() == "measured 1"
    np.testing.assert_array_equal(out.extractY(), m.signal)


@pytest.mark.parametrize("kind", ["Workspace2D", "RebinnedOutput", "group"])
def test_apply_outputs_workspace2d_with_input_logs_sample_title(standin, model_path, kind):
    """was: ApplyINSGAN on SofQW3 output (RebinnedOutput) returned a RebinnedOutput with zero fractions."""
    if kind == "group":
        add_input(standin, "a", "RebinnedOutput", seed=1)
        add_input(standin, "b", "Workspace2D", seed=2)
        standin.simpleapi.GroupWorkspaces(InputWorkspaces=["a", "b"], OutputWorkspace="in")
    else:
        add_input(standin, "in", kind)
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="in", ModelFile=str(model_path), OutputWorkspace="out")
    outputs = list(out) if kind == "group" else [out]
    model = load_model(model_path)
    maps = [make_map(seed=i + 1) for i in range(len(outputs))]
    expected = list(model.apply(MapStack.from_maps(maps))) if kind == "group" else [model.apply(maps[0])]
    for i, ws in enumerate(outputs):
        seed = i + 1
        assert ws.id() == "Workspace2D"
        assert ws.run().getProperty("run_number").value == f"MER{seed}"
        assert ws.run().hasProperty("insgan_model_file")
        assert ws.sample().getName() == f"Bi2Fe4O9 {seed}"
        np.testing.assert_allclose(ws.extractY(), expected[i].signal, rtol=1e-12, equal_nan=True)


# --- 2. validateInputs never raises; the dialog path ---------------------------------------------------
@pytest.mark.parametrize("binary", ["nxspe", "safetensors", "png"])
def test_binary_model_file_is_a_message_not_an_exception(standin, tmp_path, binary, model_path):
    """was: UnicodeDecodeError escaped from SimulateINSSpinWave.validateInputs (Workbench: an error box)."""
    if binary == "nxspe":
        path = REPO.parent / "shared" / "data" / "experimental" / "bi2fe4o9_Ei62_5K.nxspe"
        if not path.is_file():
            path = tmp_path / "fake.nxspe"
            path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    elif binary == "safetensors":
        path = model_path
    else:
        path = tmp_path / "x.yaml"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    alg = standin.api.AlgorithmManager.create("SimulateINSSpinWave")
    errors = dialog_set_properties(alg, {"Model": str(path), "QBinning": "0,0.1,3", "EnergyBinning": "0,1,10",
                                         "OutputWorkspace": "o"})
    assert set(errors) == {"Model"}
    assert errors["Model"].startswith("Model: ") and str(path) in errors["Model"]


def test_dialog_with_a_group_input_validates_the_members(standin):
    """Algorithm.cpp: for a group, validateInputs runs per member; in the dialog the MatrixWorkspaceProperty's
    value is None. was: the dialog said 'EnergyBinning: give start,step,end' for a valid group."""
    add_input(standin, "a", "Workspace2D", seed=1)
    add_input(standin, "b", "RebinnedOutput", seed=2)
    standin.simpleapi.GroupWorkspaces(InputWorkspaces=["a", "b"], OutputWorkspace="grp")
    alg = standin.api.AlgorithmManager.create("SimulateINSSpinWave")
    values = {"Model": "fm_chain", "InputWorkspace": "grp", "OutputWorkspace": "sim"}
    assert dialog_set_properties(alg, values) == {}
    # and execution processes the group member by member, each output a Workspace2D
    out = standin.simpleapi.SimulateINSSpinWave(Model="fm_chain", InputWorkspace="grp", OutputWorkspace="sim")
    assert isinstance(out, standin.api.WorkspaceGroup) and [w.id() for w in out] == ["Workspace2D"] * 2
    assert standin.api.mtd.doesExist("sim_1") and standin.api.mtd.doesExist("sim_2")
    standin.simpleapi.CreateWorkspace(DataX=np.arange(5.0), DataY=np.ones(4), UnitX="TOF", OutputWorkspace="tof")
    standin.simpleapi.GroupWorkspaces(InputWorkspaces=["a", "tof"], OutputWorkspace="bad")
    errors = dialog_set_properties(standin.api.AlgorithmManager.create("SimulateINSSpinWave"),
                                   dict(values, InputWorkspace="bad"))
    assert "time of flight" in errors["InputWorkspace"]


def test_apply_grid_check_failure_is_a_message(standin, model_path):
    """was: ApplyINSGAN._grid_issues let workspace_to_map raise (infinite values) out of validateInputs."""
    m = make_map(seed=2)
    m.signal[0, 0] = np.inf
    mantid_bridge.map_to_workspace(m, name="inf")
    alg = standin.api.AlgorithmManager.create("ApplyINSGAN")
    errors = dialog_set_properties(alg, {"InputWorkspace": "inf", "ModelFile": str(model_path), "OutputWorkspace": "o"})
    assert "infinite" in errors["InputWorkspace"]


def test_train_validate_inputs_for_cuda_does_not_import_torch():
    """was: TrainINSGAN.validateInputs imported torch (seconds, in a dialog) for Device=cuda."""
    code = f"""
import sys, importlib.util
sys.path.insert(0, {str(STANDIN_DIR)!r})
import mantid.simpleapi
spec = importlib.util.spec_from_file_location("TrainINSGAN", {str(REPO / 'plugins' / 'TrainINSGAN.py')!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
alg = mantid.api.AlgorithmManager.create("TrainINSGAN")
alg.setProperty("Device", "cuda")
issues = alg.validateInputs()
assert isinstance(issues, dict) and all(isinstance(v, str) for v in issues.values()), issues
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --- 3. the stand-in refuses what Mantid refuses --------------------------------------------------------
def test_run_add_property_value_types(standin):
    """Run.cpp + PropertyWithValueFactory.cpp: exact float/int/bool/str or a list of them; replace required."""
    run = mantid_bridge.map_to_workspace(make_map()).mutableRun()
    for bad in (np.float64(1.0), np.int64(1), None, {"a": 1}, np.array([1.0, 2.0]), [], [True], type("S", (str,), {})("x")):
        with pytest.raises((ValueError, RuntimeError)):
            run.addProperty("bad", bad, "", True)
    with pytest.raises(TypeError):
        run.addProperty("x", 1.0)  # no replace argument
    run.addProperty("ok", [1.0, 2.0], "K", True)
    assert isinstance(run.getProperty("ok").value, np.ndarray)


def test_bridge_logs_are_of_mantid_types(standin):
    """was: a str subclass (or other non-exact types) reached Run.addProperty unchanged."""
    label = type("Label", (str,), {})("MER 42")
    ws = mantid_bridge.map_to_workspace(
        make_map(), logs={"a": np.float64(2.5), "b": np.int64(3), "c": np.bool_(True), "d": label, "e": Path("/x"),
                          "f": np.arange(3), "g": {"k": [1, 2]}}
    )
    run = ws.run()
    assert run.getProperty("a").value == 2.5 and type(run.getProperty("a").value) is float
    assert run.getProperty("b").value == 3 and run.getProperty("c").value == "True"
    assert type(run.getProperty("d").value) is str and run.getProperty("e").value == "/x"
    assert run.getProperty("f").value == "[0, 1, 2]"


def test_progress_arguments(standin):
    """Progress.cpp / ProgressBase.cpp exports: Progress(alg, start, end, nreports), report([i,] [msg])."""
    api = standin.api
    alg = api.AlgorithmManager.create("ApplyINSGAN")
    with pytest.raises(TypeError):
        api.Progress(alg)  # start, end and nreports have no defaults in Mantid
    with pytest.raises(TypeError):
        api.Progress(alg, 0.0, 1.0, 2.5)
    with pytest.raises(OverflowError):
        api.Progress(alg, 0.0, 1.0, -1)
    p = api.Progress(alg, start=0.0, end=1.0, nreports=2)
    p.report()
    p.report("done")
    with pytest.raises(TypeError):
        p.report(3)
    assert alg._progress_reports[-1] == (1.0, "done")


def test_read_x_is_a_read_only_view_and_the_bridge_copies(standin):
    """MatrixWorkspace.cpp export (WrapReadOnly). was: workspace_to_map kept readX's view as the map's axis,
    so a later change of the workspace changed the map."""
    ws = mantid_bridge.map_to_workspace(make_map())
    with pytest.raises(ValueError):
        ws.readX(0)[0] = 1.0
    m = mantid_bridge.workspace_to_map(ws)
    before = m.e_axis.edges.copy()
    ws.dataX(0)[:] += 100.0
    np.testing.assert_array_equal(m.e_axis.edges, before)


def test_string_array_value_is_an_array(standin):
    """Array properties come back through Mantid's vector->numpy converters: iterate, never test truth."""
    alg = standin.api.AlgorithmManager.create("TrainINSGAN")
    alg.setProperty("SourceWorkspaces", "a, b")
    value = alg.getProperty("SourceWorkspaces").value
    assert list(value) == ["a", "b"]
    with pytest.raises(ValueError):
        bool(value)


def test_file_property_path_resolution(standin, tmp_path, model_path, monkeypatch):
    """FileProperty.cpp: relative Load paths are searched in datasearch.directories, relative Save paths go
    under defaultsave.directory, Save creates missing folders; the value is then absolute."""
    config = standin.kernel.config
    config["datasearch.directories"] = str(Path(model_path).parent)
    config["defaultsave.directory"] = str(tmp_path / "save")
    monkeypatch.chdir(tmp_path)
    alg = standin.api.AlgorithmManager.create("ApplyINSGAN")
    alg.setProperty("ModelFile", Path(model_path).name)
    assert alg.getProperty("ModelFile").value == str(model_path)
    with pytest.raises(ValueError, match="not found"):
        alg.setProperty("ModelFile", "missing.safetensors")
    train = standin.api.AlgorithmManager.create("TrainINSGAN")
    train.setProperty("OutputModelFile", "m.safetensors")
    assert train.getProperty("OutputModelFile").value == str(tmp_path / "save" / "m.safetensors")
    train.setProperty("OutputModelFile", str(tmp_path / "new" / "deeper" / "m.safetensors"))
    assert (tmp_path / "new" / "deeper").is_dir()


# --- 4. cancellation and threads ---------------------------------------------------------------------
def add_pairs(n=3):
    for i in range(n):
        m = make_map(seed=i)
        mantid_bridge.map_to_workspace(m, name=f"s{i}")
        mantid_bridge.map_to_workspace(m.with_data(2.0 * m.signal + 0.1, m.error), name=f"t{i}")


def test_cancelled_training_leaves_a_usable_checkpoint(standin, tmp_path):
    """Algorithm.cpp cancel()/interruption_point(): Workbench's Cancel makes the next Progress.report raise."""
    add_pairs()
    ckpt = tmp_path / "ckpt"
    alg = standin.api.AlgorithmManager.create("TrainINSGAN")
    props = dict(Mode="paired", SourceWorkspaces="s0,s1,s2", TargetWorkspaces="t0,t1,t2", Steps=6, BatchSize=2, Device="cpu",
                 OutputModelFile=str(tmp_path / "model.safetensors"), CheckpointDirectory=str(ckpt),
                 CheckpointEvery=1, OutputTable="losses")
    for key, value in props.items():
        alg.setProperty(key, value)

    def press_cancel(a, fraction, message):
        if message == "step 3":
            a.cancel()

    alg._progress_observer = press_cancel
    with pytest.raises(RuntimeError, match="Algorithm terminated"):
        alg.execute()
    assert not (tmp_path / "model.safetensors").exists()  # no half-trained model file
    assert sorted(p.name for p in ckpt.glob("checkpoint_step*.safetensors"))[-1] == "checkpoint_step00000002.safetensors"
    assert not list(ckpt.glob("*.tmp*"))
    table = standin.simpleapi.TrainINSGAN(**dict(props, Resume=True, Steps=4))
    assert table.column("step")[-2:] == [3, 4]
    load_model(tmp_path / "model.safetensors")


def test_torch_threads_follow_mantid_max_cores(standin, model_path):
    import torch

    add_input(standin, "in", "Workspace2D")
    before = torch.get_num_threads()
    standin.kernel.config["MultiThreaded.MaxCores"] = "1"
    seen = []
    alg = standin.api.AlgorithmManager.create("ApplyINSGAN")
    for key, value in dict(InputWorkspace="in", ModelFile=str(model_path), OutputWorkspace="o").items():
        alg.setProperty(key, value)
    alg._progress_observer = lambda a, f, msg: seen.append(torch.get_num_threads())
    alg.execute()
    assert set(seen) == {1}
    assert torch.get_num_threads() == before
    standin.kernel.config["MultiThreaded.MaxCores"] = "0"
    assert mantid_bridge.mantid_max_cores() is None
