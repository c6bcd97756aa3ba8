"""``insgan train`` in-process: files, folders, real NXSPE targets, resume, and bad input (exit 2)."""

import numpy as np
import pytest

from insgan_core.cli.main import main
from insgan_core.data import Axis, INSMap, MapMetadata
from insgan_core.data import io
from insgan_core.gan.model_file import load_model, read_metadata

Q_EDGES = np.linspace(0.2, 5.0, 33)
E_EDGES = np.linspace(-5.0, 55.0, 33)


def band_map(i, *, scale=1.0, offset=0.0, nan_above=None):
    q, e = Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE")
    qq, ee = np.meshgrid(q.centres, e.centres, indexing="ij")
    s = scale * np.exp(-0.5 * ((ee - (10 + i + 4 * np.abs(np.sin(qq)))) / 2.0) ** 2) + offset
    if nan_above is not None:
        s[ee > nan_above + 5 * qq] = np.nan
    return INSMap(s, 0.05 * np.sqrt(np.abs(np.nan_to_num(s))), q, e, MapMetadata(instrument="MERLIN", ei_meV=62.0))


@pytest.fixture()
def paired_dirs(tmp_path):
    src, tgt = tmp_path / "clean", tmp_path / "artefact"
    src.mkdir()
    tgt.mkdir()
    for i in range(3):
        io.save(band_map(i), src / f"m{i}.npz")
        io.save(band_map(i, scale=3.0, offset=0.2, nan_above=30.0), tgt / f"m{i}.nxs")
    return src, tgt


TINY = ["--steps", "3", "--batch-size", "2", "--width", "4", "--seed", "1"]


def test_paired_from_folders(tmp_path, paired_dirs):
    src, tgt = paired_dirs
    out = tmp_path / "model.safetensors"
    assert main(["-q", "train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "-o", str(out), *TINY]) == 0
    md = read_metadata(out)
    assert md["training"]["steps"] == 3 and md["training"]["n_sources"] == 3
    assert md["instrument"] == "MERLIN" and md["ei_meV"] == 62.0
    assert md["network"] == {"name": "unet", "width": 4, "depth": 3, "norm": "none", "residual": False}
    applied = load_model(out).apply(io.load(src / "m0.npz"))
    np.testing.assert_array_equal(np.isnan(applied.signal), np.isnan(io.load(tgt / "m0.nxs").signal))
    assert (tmp_path / "model_checkpoints" / "train_log.csv").is_file()


def test_resume_from_the_command_line(tmp_path, paired_dirs):
    src, tgt = paired_dirs
    args = ["-q", "train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "--batch-size", "2",
            "--width", "4", "--checkpoint-every", "2", "--checkpoint-dir", str(tmp_path / "ck")]
    assert main([*args, "-o", str(tmp_path / "a.safetensors"), "--steps", "2"]) == 0
    assert main([*args, "-o", str(tmp_path / "b.safetensors"), "--steps", "4", "--resume"]) == 0
    assert main(["-q", "train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "--batch-size", "2",
                 "--width", "4", "-o", str(tmp_path / "c.safetensors"), "--steps", "4",
                 "--checkpoint-dir", str(tmp_path / "ck2")]) == 0
    wb = load_model(tmp_path / "b.safetensors").generator.state_dict()
    wc = load_model(tmp_path / "c.safetensors").generator.state_dict()
    for k in wb:
        np.testing.assert_allclose(wb[k].numpy(), wc[k].numpy(), atol=1e-6)
    assert read_metadata(tmp_path / "b.safetensors")["training"]["steps"] == 4


def test_unpaired_with_real_merlin_target(tmp_path, bi2fe4o9_5k):
    src = tmp_path / "sim.npz"
    io.save(band_map(0), src)
    out = tmp_path / "cut.safetensors"
    code = main(["-q", "train", "--mode", "unpaired", "--source", str(src), "--target", str(bi2fe4o9_5k),
                 "--patch-size", "16", "-o", str(out), *TINY])
    assert code == 0
    md = read_metadata(out)
    cov = np.array(md["coverage_mask"])
    # the NXSPE target was reduced onto the source grid; its kinematic limit is the learned coverage
    assert cov.shape == (32, 32) and 0.3 < cov.mean() < 1.0
    assert md["instrument"] == "MERLIN" and md["ei_meV"] == pytest.approx(62.1, abs=0.1)
    out_map = load_model(out).apply(io.load(src))
    assert np.isnan(out_map.signal[~cov]).all() and np.isfinite(out_map.signal[cov]).all()


def test_config_file_and_overrides(tmp_path, paired_dirs):
    src, tgt = paired_dirs
    cfg = tmp_path / "train.yaml"
    cfg.write_text("steps: 2\nbatch_size: 1\nlambda_l1: 10.0\ngenerator: {name: resnet, width: 4, n_blocks: 1}\n")
    out = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "-o", str(out),
                 "--config", str(cfg), "--steps", "1"]) == 0
    c = read_metadata(out)["training"]["config"]
    assert c["steps"] == 1 and c["lambda_l1"] == 10.0 and c["generator"]["name"] == "resnet"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--steps", "0"], "steps"),
        (["-o", "model.pt"], "must end in .safetensors"),
        (["--batch-size", "9"], "batch_size' 9 is larger"),
        (["--config", "nope.yaml"], "nope.yaml not found"),
        (["--device", "tpu"], "device"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, paired_dirs, capsys, extra, message):
    src, tgt = paired_dirs
    args = ["train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "-o", str(tmp_path / "m.safetensors")]
    assert main([*args, *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_target_and_bad_paths(tmp_path, paired_dirs, capsys):
    src, tgt = paired_dirs
    out = str(tmp_path / "m.safetensors")
    assert main(["train", "--mode", "paired", "--source", str(src), "-o", out]) == 2
    assert "--target" in capsys.readouterr().err
    assert main(["train", "--mode", "paired", "--source", str(tmp_path / "none"), "--target", str(tgt), "-o", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--mode", "paired", "--source", str(empty), "--target", str(tgt), "-o", out]) == 2
    assert "holds no map files" in capsys.readouterr().err


def test_mismatched_source_grids_are_refused(tmp_path, paired_dirs, capsys):
    src, tgt = paired_dirs
    m = band_map(0)
    other = INSMap(m.signal[:-1], m.error[:-1], Axis(Q_EDGES[:-1], "MomentumTransfer"), m.e_axis)
    io.save(other, src / "z_other.npz")
    assert main(["train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "-o", str(tmp_path / "m.safetensors")]) == 2
    assert "--source" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    assert main(["train", "--help"]) == 0
    assert "example: insgan train" in capsys.readouterr().out
