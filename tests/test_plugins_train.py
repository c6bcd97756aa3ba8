"""TrainINSGAN through the test-only Mantid stand-in: declarations, validation, outputs equal the core's."""

import numpy as np
import pytest
from mantid_standin.fixture import make_map, mantid_standin, property_table, standin  # noqa: F401
from safetensors.numpy import load_file

from insgan_core import mantid_bridge
from insgan_core.data.ins_map import MapStack

PROPERTIES = [
    "SourceWorkspaces", "TargetWorkspaces", "Mode", "Temperatures", "Weighting", "Steps", "BatchSize", "LearningRate", "PatchSize",
    "LambdaL1", "LambdaNCE", "Seed", "Generator", "Device", "OutputModelFile", "CheckpointDirectory", "CheckpointEvery", "Resume",
    "OutputTable",
]


def add_pairs(n=3, *, grid=(16, 16)):
    """Source maps s0.. and paired targets t0.. (targets = 2 x source + 0.1) in the ADS."""
    sources, targets = [], []
    for i in range(n):
        m = make_map(*grid, seed=i)
        t = m.with_data(2.0 * m.signal + 0.1, m.error)
        mantid_bridge.map_to_workspace(m, name=f"s{i}")
        mantid_bridge.map_to_workspace(t, name=f"t{i}")
        sources.append(m)
        targets.append(t)
    return MapStack.from_maps(sources), MapStack.from_maps(targets)


def run_train(sa, tmp_path, **kwargs):
    args = dict(
        SourceWorkspaces="s0,s1,s2", TargetWorkspaces="t0,t1,t2", Mode="paired", Steps=3, BatchSize=2, Device="cpu",
        OutputModelFile=str(tmp_path / "model.safetensors"), CheckpointDirectory=str(tmp_path / "ckpt"),
        OutputTable="losses",
    )
    args.update(kwargs)
    return sa.TrainINSGAN(**args)


def test_declaration(standin):
    alg = standin.api.AlgorithmManager.create("TrainINSGAN")
    props = property_table(alg)
    assert list(props) == PROPERTIES
    for p in props.values():
        assert p.documentation.strip(), f"{p.name} has no documentation"
        assert p.group in ("Data", "Training", "Output"), f"{p.name} is in no property group"
    assert alg.category() == "Inelastic\\Simulation;MachineLearning"
    assert {"ApplyINSGAN", "SimulateINSSpinWave", "SofQW"} <= set(alg.seeAlso())
    assert alg.version() == 1 and alg.summary()
    assert props["Mode"].validator.allowedValues() == ["structured", "paired", "unpaired"]
    assert props["Mode"].value == "structured"
    assert props["Weighting"].validator.allowedValues() == ["errors", "model"]
    assert props["Weighting"].value == "errors"
    assert props["Generator"].validator.allowedValues() == ["unet", "resnet"]
    assert props["Device"].validator.allowedValues() == ["auto", "cpu", "cuda"]


def test_properties_map_onto_train_config(standin):
    sources, _ = add_pairs(1)
    alg = standin.api.AlgorithmManager.create("TrainINSGAN")
    for name, value in dict(
        Mode="unpaired", Steps=7, BatchSize=3, LearningRate=1e-3, PatchSize=8, LambdaL1=5.0, LambdaNCE=2.5, Seed=11,
        Generator="resnet", Device="cpu", CheckpointEvery=4,
    ).items():
        alg.setProperty(name, value)
    cfg = alg._config(sources)
    assert (cfg.mode, cfg.steps, cfg.batch_size, cfg.lr, cfg.patch_hw) == ("unpaired", 7, 3, 1e-3, (8, 8))
    assert (cfg.lambda_l1, cfg.lambda_nce, cfg.seed, cfg.device, cfg.checkpoint_every) == (5.0, 2.5, 11, "cpu", 4)
    assert cfg.generator["name"] == "resnet"
    # PatchSize 0: whole maps when paired, at most 32 bins when unpaired
    alg.setProperty("PatchSize", 0)
    assert alg._config(sources).patch_hw == (16, 16)
    alg.setProperty("Mode", "paired")
    assert alg._config(sources).patch_size is None


def test_paired_training_equals_the_core(standin, tmp_path):
    from insgan_core.gan.training import train

    sources, targets = add_pairs(3)
    standin.simpleapi.GroupWorkspaces(InputWorkspaces=["t0", "t1", "t2"], OutputWorkspace="targets")
    table = run_train(standin.simpleapi, tmp_path, TargetWorkspaces="targets", Seed=3)  # a group name works
    assert table.column("step") == [1, 2, 3]
    assert {"loss_G", "loss_D"} <= set(table.getColumnNames())
    assert all(np.isfinite(table.column("loss_G")))
    assert standin.api.mtd.doesExist("losses")
    # the same run through the core directly gives bit-identical weights
    alg = standin.api.AlgorithmManager.create("TrainINSGAN")
    for name, value in dict(Mode="paired", Steps=3, BatchSize=2, Device="cpu", Seed=3).items():
        alg.setProperty(name, value)
    result = train(sources, targets, alg._config(sources), output_path=tmp_path / "core.safetensors",
                   checkpoint_dir=tmp_path / "core_ckpt")
    ours, core = load_file(tmp_path / "model.safetensors"), load_file(result.model_path)
    assert ours.keys() == core.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], core[key])
    assert [r["loss_G"] for r in result.history][-1] == pytest.approx(table.column("loss_G")[-1], rel=1e-6)
    assert any("paired training" in msg for _, msg in standin.kernel.logger.messages)


def test_unpaired_with_a_single_target_map(standin, tmp_path):
    add_pairs(2)
    mantid_bridge.map_to_workspace(make_map(20, 24, seed=9), name="measured")
    table = run_train(standin.simpleapi, tmp_path, SourceWorkspaces="s0,s1", TargetWorkspaces="measured",
                      Mode="unpaired", Steps=2, BatchSize=2)
    assert table.column("step") == [1, 2]
    assert (tmp_path / "model.safetensors").is_file()


def test_resume_continues_from_checkpoint(standin, tmp_path):
    add_pairs(3)
    run_train(standin.simpleapi, tmp_path, Steps=2, CheckpointEvery=1)
    assert any((tmp_path / "ckpt").iterdir())
    table = run_train(standin.simpleapi, tmp_path, Steps=4, CheckpointEvery=1, Resume=True)
    steps = table.column("step")
    assert steps[-2:] == [3, 4] and 1 not in steps[1:]  # continued at step 3, not restarted


@pytest.mark.parametrize(
    "kwargs, prop, text",
    [
        (dict(SourceWorkspaces="s0,nope"), "SourceWorkspaces", "'nope' is not in the analysis data service"),
        (dict(TargetWorkspaces="t0,t1"), "TargetWorkspaces", "3 sources but 2 targets"),
        (dict(BatchSize=5), "BatchSize", "larger than the training set"),
        (dict(OutputModelFile="model.pt"), "OutputModelFile", "must end in .safetensors"),
        (dict(Resume=True, CheckpointDirectory=""), "CheckpointDirectory", "Resume needs"),
        (dict(Mode="unpaired", PatchSize=40), "PatchSize", "larger than the training"),
    ],
)
def test_validation_messages_name_the_property(standin, tmp_path, kwargs, prop, text):
    add_pairs(3)
    if "OutputModelFile" in kwargs:
        kwargs["OutputModelFile"] = str(tmp_path / kwargs["OutputModelFile"])
    with pytest.raises(RuntimeError, match=rf"{prop}: .*{text}"):
        run_train(standin.simpleapi, tmp_path, **kwargs)
    assert not (tmp_path / "model.safetensors").exists()


def test_time_of_flight_and_grid_problems_are_refused(standin, tmp_path):
    add_pairs(3)
    standin.simpleapi.CreateWorkspace(DataX=np.arange(17.0), DataY=np.ones(32), NSpec=2, UnitX="TOF",
                                      OutputWorkspace="tof")
    with pytest.raises(RuntimeError, match="SourceWorkspaces: .*time of flight"):
        run_train(standin.simpleapi, tmp_path, SourceWorkspaces="s0,s1,tof")
    mantid_bridge.map_to_workspace(make_map(12, 16, seed=5), name="other_grid")
    with pytest.raises(RuntimeError, match="SourceWorkspaces: all workspaces must share one grid"):
        run_train(standin.simpleapi, tmp_path, SourceWorkspaces="s0,s1,other_grid")


def test_validators_refuse_bad_values(standin, tmp_path):
    add_pairs(3)
    for kwargs in (dict(Steps=0), dict(BatchSize=0), dict(LearningRate=0.0), dict(Mode="cyclegan"),
                   dict(Generator="vgg"), dict(Device="tpu"), dict(Seed=-1), dict(LambdaL1=-1.0),
                   dict(LambdaNCE=-1.0), dict(PatchSize=-1), dict(CheckpointEvery=-1)):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            run_train(standin.simpleapi, tmp_path, **kwargs)


def test_cuda_device_without_cuda_is_refused(standin, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    add_pairs(3)
    with pytest.raises(RuntimeError, match="Device: cuda requested"):
        run_train(standin.simpleapi, tmp_path, Device="cuda")
