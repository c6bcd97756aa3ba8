"""Training-set generation: exact regeneration, resume after interruption, retries, dask, bad configs."""

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from insgan_core.cli.main import main
from insgan_core.errors import InsganFileError, InsganInputError
from insgan_core.instrument import dataset as dataset_module
from insgan_core.instrument import generate_dataset, load_dataset
from insgan_core.instrument.dataset import ShardFailedError, plan_dataset

MODEL = "afm_chain"
PARAM = "J"


def config(**updates):
    cfg = {
        "seed": 42,
        "n_samples": 6,
        "shard_size": 2,
        "grid": {"q_bins": "0.2,0.1,4.0", "e_bins": "-10,1,50"},
        "model": {"name": MODEL, "parameters": {PARAM: {"uniform": [2.0, 5.0]}}},
        "powder": {"n_directions": 30},
        "temperature_K": {"uniform": [2.0, 20.0]},
        "instrument": {"instrument": "MERLIN", "ei_meV": 62, "chopper_package": "G", "chopper_frequency_hz": 250},
        "artefacts": {"steps": ["resolution", "background", "coverage", "noise"]},
        "artefact_parameters": {"noise.count_scale": {"log_uniform": [20, 2000]}},
    }
    cfg.update(updates)
    return cfg


def digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard_*.h5"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    manifest = generate_dataset(config(), out, workers=1, progress=False)
    return out, manifest


def test_dataset_contents_and_manifest(reference):
    out, manifest = reference
    clean, artefact, man = load_dataset(out)
    assert clean.signal.shape == artefact.signal.shape == (6, 38, 60)
    assert not np.isnan(clean.signal).any() and np.isnan(artefact.signal).any()  # coverage masks appear
    assert clean.x_axis.unit == "MomentumTransfer" and artefact.e_axis.unit == "DeltaE"
    assert len(man["shards"]) == 3 and sorted(manifest["done"]) == [s["file"] for s in man["shards"]]
    for key in ("config", "grid", "instrument", "samples", "versions", "config_hash"):
        assert key in man
    assert set(man["versions"]) >= {"insgan", "numpy", "resins", "h5py"}
    values = [s["model_parameters"][PARAM] for s in man["samples"]]
    assert len(set(values)) == 6 and all(2.0 <= v <= 5.0 for v in values)
    scales = [s["artefact_parameters"]["noise.count_scale"] for s in man["samples"]]
    assert all(20 <= c <= 2000 for c in scales)
    assert artefact[3].metadata.provenance["sample"]["index"] == 3
    # the noisy maps scatter about their expected value with the drawn count scale
    ok = np.isfinite(artefact.signal[0])
    assert np.all(artefact.error[0][ok] >= 0)


def test_same_manifest_gives_bit_identical_shards(reference, tmp_path):
    ref, _ = reference
    generate_dataset(config(), tmp_path, workers=1, progress=False)
    assert digests(tmp_path) == digests(ref) and len(digests(ref)) == 3
    other = tmp_path / "other_seed"
    generate_dataset(config(seed=43), other, workers=1, progress=False)
    assert digests(other) != digests(ref)


def test_interrupted_generation_resumes_without_redoing_shards(reference, tmp_path):
    ref, _ = reference
    first = generate_dataset(config(), tmp_path, workers=1, progress=False, max_shards=1)
    assert first["done"] == ["shard_00000.h5"]
    with pytest.raises(InsganFileError, match="missing or incomplete"):
        load_dataset(tmp_path)
    # leftovers of a killed run: a temporary file and a shard without its completion mark
    (tmp_path / ".shard_00001.h5.abc123.tmp").write_bytes(b"half a shard")
    (tmp_path / "shard_00002.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    mtime = (tmp_path / "shard_00000.h5").stat().st_mtime_ns
    second = generate_dataset(config(), tmp_path, workers=1, progress=False)
    assert sorted(second["done"]) == ["shard_00001.h5", "shard_00002.h5"]
    assert (tmp_path / "shard_00000.h5").stat().st_mtime_ns == mtime  # not redone
    assert not list(tmp_path.glob(".shard_*"))
    assert digests(tmp_path) == digests(ref)


def test_kill_mid_run_then_resume(reference, tmp_path):
    ref, _ = reference
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(config()))
    out = tmp_path / "out"
    code = (
        "import sys, time\n"
        "import insgan_core.instrument.dataset as d\n"
        "orig = d._run_shard\n"
        "def slow(plan, k, out):\n"
        "    r = orig(plan, k, out)\n"
        "    time.sleep(60)\n"  # a long shard: the kill arrives while the run is busy
        "    return r\n"
        "d._run_shard = slow\n"
        f"d.generate_dataset({str(cfg_file)!r}, {str(out)!r}, workers=1, progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        deadline = time.time() + 120
        while not (out / "shard_00000.h5").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert (out / "shard_00000.h5").exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in out.glob("shard_*.h5")) == ["shard_00000.h5"]
    resumed = generate_dataset(cfg_file, out, workers=1, progress=False)
    assert sorted(resumed["done"]) == ["shard_00001.h5", "shard_00002.h5"]
    assert digests(out) == digests(ref)


def test_failed_shard_is_retried_and_reported(reference, tmp_path, monkeypatch, caplog):
    ref, _ = reference
    orig = dataset_module._run_shard
    calls = {}

    def flaky(plan, k, out):
        calls[k] = calls.get(k, 0) + 1
        if k == 1 and calls[k] == 1:
            raise RuntimeError("worker lost")
        return orig(plan, k, out)

    monkeypatch.setattr(dataset_module, "_run_shard", flaky)
    with caplog.at_level(logging.WARNING, logger="insgan"):
        generate_dataset(config(), tmp_path, workers=1, progress=False)
    assert calls[1] == 2 and "worker lost" in caplog.text
    assert digests(tmp_path) == digests(ref)

    def broken(plan, k, out):
        if k == 2:
            raise RuntimeError("disk full")
        return orig(plan, k, out)

    monkeypatch.setattr(dataset_module, "_run_shard", broken)
    out = tmp_path / "broken"
    with pytest.raises(ShardFailedError, match="shard_00002.h5: RuntimeError: disk full"):
        generate_dataset(config(), out, workers=1, progress=False, retries=1)
    assert sorted(p.name for p in out.glob("shard_*.h5")) == ["shard_00000.h5", "shard_00001.h5"]
    monkeypatch.setattr(dataset_module, "_run_shard", orig)
    assert generate_dataset(config(), out, workers=1, progress=False)["done"] == ["shard_00002.h5"]
    assert digests(out) == digests(ref)


def test_dask_local_cluster_gives_the_same_shards(reference, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    ref, _ = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        manifest = generate_dataset(config(), tmp_path, scheduler=cluster.scheduler_address, progress=False)
    assert sorted(manifest["done"]) == ["shard_00000.h5", "shard_00001.h5", "shard_00002.h5"]
    assert digests(tmp_path) == digests(ref)


@pytest.mark.parametrize(
    "updates, match",
    [
        ({"colour": "blue"}, "unknown key"),
        ({"model": {"name": MODEL, "parameters": {"J99": 1.0}}}, "has no parameter"),
        ({"artefact_parameters": {"noise.loudness": 3}}, "does not exist"),
        ({"artefact_parameters": {"noise.count_scale": {"gamma": [1, 2]}}}, "unknown distribution"),
        ({"artefact_parameters": {"noise.count_scale": {"uniform": [5, 1]}}}, "lo <= hi"),
        ({"artefacts": {"noise": {"count_scale": -1}}}, "count_scale"),
        ({"instrument": {"instrument": "MERLIN", "ei_meV": 400}}, "outside the range"),
        ({"instrument": {"instrument": "MERLIN", "ei_meV": 62, "chopper_frequency_hz": 333}}, "cannot run"),
        ({"powder": {"n_direction": 10}}, "unknown option"),
        ({"grid": {"q_bins": "0.2,0.1,4.0"}}, "e_bins"),
        ({"method": "tobyfit"}, "method"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_bad_configs_fail_before_any_work(tmp_path, updates, match):
    with pytest.raises(InsganInputError, match=match):
        generate_dataset(config(**updates), tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists()


def test_missing_detector_file_and_foreign_folder(reference, tmp_path):
    with pytest.raises(InsganFileError, match="not found"):
        plan_dataset(config(detectors=str(tmp_path / "nope.nxspe")))
    ref, _ = reference
    with pytest.raises(InsganInputError, match="different config"):
        generate_dataset(config(seed=7), ref, workers=1, progress=False)


def test_detector_file_in_config(tmp_path, bi2fe4o9_5k):
    plan = plan_dataset(config(detectors=str(bi2fe4o9_5k), n_samples=1))
    assert plan["config"]["detectors"] == str(bi2fe4o9_5k)
    generate_dataset(config(detectors=str(bi2fe4o9_5k), n_samples=1), tmp_path, workers=1, progress=False)
    _, artefact, _ = load_dataset(tmp_path)
    assert np.isnan(artefact.signal).mean() > 0.1


def test_make_dataset_cli(tmp_path, capsys):
    cfg_file = tmp_path / "set.yaml"
    cfg_file.write_text(yaml.safe_dump(config(n_samples=2)))
    assert main(["--quiet", "make-dataset", str(cfg_file), "-o", str(tmp_path / "out"), "--workers", "1"]) == 0
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["config"]["n_samples"] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config(unknown_key=1)))
    assert main(["make-dataset", str(bad), "-o", str(tmp_path / "bad")]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert main(["make-dataset", str(tmp_path / "absent.yaml"), "-o", str(tmp_path / "x")]) == 2


def test_example_dask_config_is_valid():
    example = Path(__file__).resolve().parents[1] / "examples" / "dataset_dask.yaml"
    plan = plan_dataset(example)
    assert len(plan["samples"]) == 8 and len(plan["shards"]) == 4
    assert yaml.safe_load(example.read_text())["scheduler"] == "local-cluster"
    assert "scheduler" not in plan["config"]  # how it runs is not part of what it makes


def test_local_process_pool_gives_the_same_shards(reference, tmp_path):
    ref, _ = reference
    manifest = generate_dataset(config(), tmp_path, workers=2, progress=False)
    assert sorted(manifest["done"]) == ["shard_00000.h5", "shard_00001.h5", "shard_00002.h5"]
    assert digests(tmp_path) == digests(ref)
