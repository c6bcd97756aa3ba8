"""validateInputs never raises, whatever state a Workbench dialog is in (issue 15).

Workbench calls ``validateInputs`` while a dialog is being filled in; an exception there is an error box instead
of a red star next to the property. For each algorithm, >= 500 random dialog states are built from a pool
of values per property: unset, partial, wrong type, invalid, missing and binary files, a directory,
WorkspaceGroups (also empty), a time-of-flight and a detector-space workspace, ragged/infinite data, a
RebinnedOutput, a trained model. Each state is checked twice: ``validateInputs()`` called directly (whatever
the individual property errors) and through the dialog path (``dialog_set_properties``: validateInputs only
when every property is individually valid). Nothing may raise, and every message must be a str on an
existing property.
"""

import random
from pathlib import Path

import numpy as np
import pytest
from mantid_standin.fixture import (  # noqa: F401
    dialog_set_properties,
    make_map,
    mantid_standin,
    rebinned_copy,
    standin,
    tiny_model,
)

from insgan_core import mantid_bridge

REPO = Path(__file__).resolve().parents[1]
N_STATES = 520
WORKSPACES = ["", "sim", "sim_t", "ro", "grp", "empty_grp", "tof", "det", "other", "inf", "table", "not_there", " sim "]


@pytest.fixture(scope="module")
def pool(mantid_standin, tmp_path_factory):
    """Files for the value pools (module scope: one trained model for all states)."""
    folder = tmp_path_factory.mktemp("fuzz")
    model = tiny_model(folder)
    binary = folder / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    fake_st = folder / "fake.safetensors"
    fake_st.write_bytes(b"\xff" * 64)
    broken_yaml = folder / "broken.yaml"
    broken_yaml.write_text("model: [unclosed\n  J1: {")
    nxspe = REPO.parent / "shared" / "data" / "experimental" / "bi2fe4o9_Ei62_5K.nxspe"
    files = [str(model), str(binary), str(fake_st), str(broken_yaml), str(folder), str(folder / "missing.safetensors"),
             "relative_missing.yaml", ""]
    if nxspe.is_file():
        files.append(str(nxspe))
    return dict(folder=folder, model=str(model), files=files)


def fill_ads(standin):
    sa, api = standin.simpleapi, standin.api
    m = make_map(seed=1)
    mantid_bridge.map_to_workspace(m, name="sim")
    mantid_bridge.map_to_workspace(make_map(seed=2), name="sim_t", orientation="e_spectra")
    api.AnalysisDataService.addOrReplace("ro", rebinned_copy(mantid_bridge.map_to_workspace(make_map(seed=3))))
    mantid_bridge.map_to_workspace(make_map(20, 16, seed=4, q_range=(0.0, 2.5)), name="other")
    bad = make_map(seed=5)
    bad.signal[2, 3] = np.inf
    mantid_bridge.map_to_workspace(bad, name="inf")
    sa.GroupWorkspaces(InputWorkspaces=["sim", "ro"], OutputWorkspace="grp")
    api.AnalysisDataService.addOrReplace("empty_grp", api.WorkspaceGroup())
    sa.CreateWorkspace(DataX=np.arange(17.0), DataY=np.ones(32), NSpec=2, UnitX="TOF", OutputWorkspace="tof")
    sa.CreateWorkspace(DataX=np.arange(17.0), DataY=np.ones(32), NSpec=2, UnitX="DeltaE", OutputWorkspace="det")
    sa.CreateEmptyTableWorkspace(OutputWorkspace="table")


def value_pool(prop, files):
    """Candidate dialog texts for one property (by name, else by kind)."""
    name = prop.name
    specific = {
        "Model": ["fm_chain", "square_afm", "no_such_model", "", "  "] + files,
        "ModelParameters": ["", "J=-1", "J1=2.5, D=0.1", "J=", "nonsense", "J=abc", "K=1"],
        "QBinning": ["", "0,0.1,3", "0.1,0.1,3.1", "3,0.1,0", "-1,0.1,2", "a,b,c", "0,0,1", "1", "0,1e-9,1e3"],
        "EnergyBinning": ["", "-2,0.5,10", "0,1,10", "10,1,0", "x", "0,0,1", "1,2"],
        "QPath": ["", "G=0,0,0; X=0.5,0,0", "G=0,0,0", "bad", "G=0,0; X=1", ";;"],
        "Artefacts": ["", "resolution", "resolution,coverage,noise", "background", "nonsense", "coverage", "noise,noise"],
        "ChopperPackage": ["", "A", "G", "S", "Z", "nonsense"],
        "DetectorFile": files,
        "ModelFile": files,
        "OutputModelFile": ["", "model.pt"] + [f for f in files if f.endswith(".safetensors")]
        + ["out/model.safetensors"],
        "CheckpointDirectory": ["", "ckpt", "/nonexistent_root_dir_for_insgan_tests/x"],
        "SourceWorkspaces": ["", "sim", "sim,other", "grp", "tof", "sim,not_there", "empty_grp", "ro,sim", "inf", ",,",
                             "table"],
        "TargetWorkspaces": ["", "sim", "sim,ro", "grp", "det", "other", "sim_t", "not_there"],
        "OutputWorkspace": ["", "out", "sim"],
        "OutputTable": ["", "losses"],
        "InputWorkspace": WORKSPACES,
    }
    if name in specific:
        return specific[name]
    validator = getattr(prop, "validator", None)
    if validator is not None and hasattr(validator, "allowedValues"):
        return validator.allowedValues() + ["", "bad"]
    kind = getattr(prop, "type_", str)
    if kind is bool:
        return ["", "0", "1", "True", "yes"]
    if kind is int:
        return ["", "0", "-1", "1", "2", "5", "1000", "abc", "2.5"]
    if kind is float:
        return ["", "0", "-1", "0.5", "2.5", "62", "5000", "nan", "inf", "x"]
    return ["", "text"]


def baseline(alg_name, pool):
    """A valid dialog state to perturb (so that deep checks -- grids, models, training data -- are reached)."""
    return {
        "SimulateINSSpinWave": dict(Model="fm_chain", QBinning="0,0.1,3", EnergyBinning="-2,0.5,10", OutputWorkspace="out"),
        "TrainINSGAN": dict(SourceWorkspaces="sim", TargetWorkspaces="ro", BatchSize="1", Device="cpu",
                            OutputModelFile=str(pool["folder"] / "new.safetensors"), OutputTable="losses"),
        "ApplyINSGAN": dict(InputWorkspace="sim", ModelFile=pool["model"], OutputWorkspace="out"),
    }[alg_name]


def random_states(alg_name, api, pool, rng):
    """Half the states: random fills (20-100 % of the properties set); half: the valid baseline with 1-3
    properties changed."""
    props = api.AlgorithmManager.create(alg_name).getProperties()
    names = [p.name for p in props]
    pools = {p.name: value_pool(p, pool["files"]) for p in props}
    for i in range(N_STATES):
        if i % 2:
            state = dict(baseline(alg_name, pool))
            for n in rng.sample(names, rng.randint(1, 3)):
                state[n] = rng.choice(pools[n])
            yield state
        else:
            fill = rng.choice([0.2, 0.5, 0.8, 1.0])
            yield {n: rng.choice(pools[n]) for n in names if rng.random() < fill}


@pytest.mark.parametrize("alg_name", ["SimulateINSSpinWave", "TrainINSGAN", "ApplyINSGAN"])
def test_validate_inputs_never_raises(standin, pool, alg_name, tmp_path, monkeypatch):
    api = standin.api
    monkeypatch.chdir(tmp_path)
    standin.kernel.config["defaultsave.directory"] = str(tmp_path)
    fill_ads(standin)
    rng = random.Random(f"issue15-{alg_name}")
    raised, states, with_messages, dialog_clean = [], 0, 0, 0
    for values in random_states(alg_name, api, pool, rng):
        states += 1
        alg = api.AlgorithmManager.create(alg_name)
        for key, text in values.items():
            try:
                alg.setPropertyValue(key, text)
            except (ValueError, TypeError, RuntimeError):
                pass  # refused by the property itself (a red star before validateInputs)
        try:
            issues = api.validate_inputs_as_mantid(alg)
        except Exception as exc:  # noqa: BLE001 -- collected and reported below
            raised.append((values, f"{type(exc).__name__}: {exc}"))
            continue
        assert set(issues) <= {p.name for p in alg.getProperties()}, issues
        with_messages += bool(issues)
        dialog = api.AlgorithmManager.create(alg_name)
        try:
            errors = dialog_set_properties(dialog, values)
        except Exception as exc:  # noqa: BLE001
            raised.append((values, f"dialog: {type(exc).__name__}: {exc}"))
            continue
        dialog_clean += not errors
    print(f"{alg_name}: {states} states, {with_messages} with validateInputs messages, "
          f"{dialog_clean} accepted by the dialog")
    assert states >= 500
    assert not raised, f"{len(raised)} of {states} states raised, e.g. {raised[:3]}"
    # the pool really exercises validation: many states give messages, some are accepted
    assert with_messages > states // 4 and dialog_clean > 0
