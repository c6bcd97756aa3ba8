"""``insgan apply`` and ``insgan evaluate``, run in-process."""

import json
import pickle

import numpy as np
import pytest
import torch

from insgan_core.cli.main import main
from insgan_core.data import Axis, INSMap, MapMetadata
from insgan_core.data.io import load, save
from insgan_core.gan.model_file import save_model
from insgan_core.gan.networks import build_network
from insgan_core.gan.normalisation import Normaliser

Q_EDGES = np.linspace(0.2, 5.0, 25)
E_EDGES = np.linspace(-10.0, 50.0, 31)


def _map(seed, *, q_edges=Q_EDGES, scale=1.0):
    rng = np.random.default_rng(seed)
    q, e = 0.5 * (q_edges[1:] + q_edges[:-1]), 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
    s = scale * (4.0 * np.exp(-((e[None, :] - 18 - 2 * q[:, None]) ** 2) / 10.0) + 0.3 + 0.1 * rng.random((q.size, e.size)))
    s[:2, -5:] = np.nan
    return INSMap(s, np.sqrt(s) * 0.1, Axis(q_edges, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"), MapMetadata(sample=f"map {seed}"))


@pytest.fixture()
def model_file(tmp_path):
    """A doubling model: identity U-Net with target scale = 2 x source scale (linear transform)."""
    spec = {"name": "unet", "width": 4, "depth": 2}
    g = build_network(spec)
    with torch.no_grad():
        g.outc.weight.zero_()
        g.outc.bias.zero_()
    md = {
        "network": spec,
        "normaliser": Normaliser(transform="linear", source_scale=1.0, target_scale=2.0).to_dict(),
        "grid": {"x_edges": Q_EDGES, "x_unit": "MomentumTransfer", "e_edges": E_EDGES, "e_unit": "DeltaE"},
        "mode": "paired",
        "instrument": "MERLIN",
        "ei_meV": 62.0,
    }
    path = tmp_path / "double.safetensors"
    save_model(path, generator=g, metadata=md)
    return path


def test_apply_one_file(tmp_path, model_file):
    m = _map(0)
    save(m, tmp_path / "in.npz")
    assert main(["--quiet", "apply", str(model_file), str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.nxs")]) == 0
    out = load(tmp_path / "out.nxs")
    np.testing.assert_allclose(out.signal, 2.0 * m.signal, rtol=1e-5)
    assert np.array_equal(out.mask, m.mask)


def test_apply_folder(tmp_path, model_file):
    src = tmp_path / "clean"
    src.mkdir()
    for i in range(3):
        save(_map(i), src / f"sim{i}.npz")
    (src / "notes.txt").write_text("ignored")
    dst = tmp_path / "translated"
    assert main(["--quiet", "apply", str(model_file), str(src), "-o", str(dst), "--format", "nxs"]) == 0
    assert sorted(p.name for p in dst.iterdir()) == ["sim0.nxs", "sim1.nxs", "sim2.nxs"]
    np.testing.assert_allclose(load(dst / "sim2.nxs").signal, 2.0 * _map(2).signal, rtol=1e-5)


def test_apply_grid_mismatch_needs_rebin(tmp_path, model_file, capsys):
    fine_q = np.linspace(0.2, 5.0, 49)
    save(_map(0, q_edges=fine_q), tmp_path / "fine.npz")
    args = ["apply", str(model_file), str(tmp_path / "fine.npz"), "-o", str(tmp_path / "out.npz")]
    assert main(args) == 2
    assert "differs from the model grid" in capsys.readouterr().err
    assert main(["--quiet", *args, "--rebin"]) == 0
    out = load(tmp_path / "out.npz")
    assert out.shape == (48, 30)
    assert out.metadata.provenance["gan"]["rebinned"] is True


def test_apply_refuses_a_malicious_model_file(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(Payload()))
    save(_map(0), tmp_path / "in.npz")
    assert main(["apply", str(evil), str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 2
    assert "evil.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out.npz").exists()


def test_apply_reduces_a_real_nxspe_onto_the_model_grid(tmp_path, model_file, bi2fe4o9_5k):
    out_path = tmp_path / "bfo.npz"
    assert main(["--quiet", "apply", str(model_file), str(bi2fe4o9_5k), "-o", str(out_path)]) == 0
    out = load(out_path)
    assert out.shape == (Q_EDGES.size - 1, E_EDGES.size - 1)
    assert out.metadata.instrument == "MERLIN"
    # the kinematic limit of the real data (no |Q| near 0.2 Å⁻¹ at 45 meV) stays empty
    assert np.isnan(out.signal[0, -1]) and np.isfinite(out.signal).any()


def test_evaluate_writes_json_and_reports_gap(tmp_path, capsys):
    for name, scale in (("out", 2.0), ("ref", 2.0), ("base", 1.0)):
        d = tmp_path / name
        d.mkdir()
        for i in range(2):
            save(_map(i, scale=scale), d / f"m{i}.npz")
    metrics = tmp_path / "metrics.json"
    code = main([
        "evaluate", "--output", str(tmp_path / "out"), "--reference", str(tmp_path / "ref"),
        "--baseline", str(tmp_path / "base"), "-o", str(metrics), "--q-window", "1,2", "--e-range", "5,45",
        "--patch-size", "8", "--n-patches", "64",
    ])
    assert code == 0
    res = json.loads(metrics.read_text())
    assert res["relative_l1"]["output"]["mean"] == 0.0
    assert res["relative_l1"]["baseline"]["mean"] == pytest.approx(0.5)
    assert res["relative_l1"]["gap_closed"] == 1.0
    assert res["cuts"]["energy_cuts"][0]["q_window"] == [1.0, 2.0]
    printed = capsys.readouterr().out
    assert "relative_l1" in printed and "patch_distance" in printed


def test_evaluate_bad_window(tmp_path, capsys):
    save(_map(0), tmp_path / "a.npz")
    a = str(tmp_path / "a.npz")
    assert main(["evaluate", "--output", a, "--reference", a, "--baseline", a, "--q-window", "2,1"]) == 2
    assert "--q-window" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["apply", "evaluate"])
def test_help_has_an_example(cmd, capsys):
    assert main([cmd, "--help"]) == 0
    assert f"example: insgan {cmd}" in capsys.readouterr().out


def test_apply_noise_needs_a_model_with_count_scale(tmp_path, model_file, capsys):
    save(_map(0), tmp_path / "in.npz")
    args = ["apply", str(model_file), str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz"), "--noise", "poisson"]
    assert main(args) == 2
    assert "count_scale" in capsys.readouterr().err
