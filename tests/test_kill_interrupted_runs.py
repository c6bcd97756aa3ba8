"""kill -9 in the middle of a file write: ``insgan make-dataset`` and ``insgan train`` leave only complete
files under their final names, and the resumed command gives the same result as an uninterrupted run.

The child process is the real command line (``insgan_core.cli.main``) with one hook that pauses inside
the write (after the temporary file is partly or fully written, before the rename) and touches a marker
file; the test then sends SIGKILL, so the kill lands exactly where a half-written file could appear.
"""

import hashlib
import json
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
from insgan_core.data import Axis, INSMap, MapMetadata
from insgan_core.data import io

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="SIGKILL is POSIX")

REPO = Path(__file__).resolve().parents[1]


def _spawn(code: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, marker: Path, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"child ended before the kill point: {proc.stderr.read().decode()[-2000:]}")
            if time.time() > deadline:
                raise AssertionError("child never reached the kill point")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


# --- make-dataset ---------------------------------------------------------------------------------

def dataset_config() -> dict:
    return {
        "seed": 7,
        "n_samples": 3,
        "shard_size": 1,
        "grid": {"q_bins": "0.2,0.2,3.0", "e_bins": "-5,2,35"},
        "model": {"name": "afm_chain", "parameters": {"J": {"uniform": [2.0, 5.0]}}},
        "powder": {"n_directions": 20},
        "temperature_K": 5.0,
        "instrument": {"instrument": "MERLIN", "ei_meV": 62, "chopper_package": "G", "chopper_frequency_hz": 250},
        "artefacts": {"steps": ["background", "noise"]},
    }


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard_*.h5"))}


def test_make_dataset_killed_mid_write_leaves_complete_shards_and_resumes_identically(tmp_path):
    from insgan_core.instrument.dataset import _shard_is_complete

    cfg = tmp_path / "set.yaml"
    cfg.write_text(yaml.safe_dump(dataset_config()))
    out, ref, marker = tmp_path / "out", tmp_path / "ref", tmp_path / "in_write"
    # pause while the second shard's temporary file is half written (its clean maps are in, the rest not)
    code = (
        "import sys, time, h5py\n"
        "orig = h5py.Group.create_dataset\n"
        "count = [0]\n"
        "def slow(self, name, *a, **k):\n"
        "    ds = orig(self, name, *a, **k)\n"
        "    if self.name == '/clean' and name == 'error':\n"
        "        count[0] += 1\n"
        "        if count[0] == 2:\n"
        "            self.file.flush()\n"
        f"            open({str(marker)!r}, 'w').close()\n"
        "            time.sleep(120)\n"
        "    return ds\n"
        "h5py.Group.create_dataset = slow\n"
        "from insgan_core.cli.main import main\n"
        f"sys.exit(main(['-q', 'make-dataset', {str(cfg)!r}, '-o', {str(out)!r}, '--workers', '1']))\n"
    )
    _kill_when(_spawn(code), marker)
    finals = sorted(p.name for p in out.glob("shard_*.h5"))
    assert finals == ["shard_00000.h5"], finals  # the half-written shard never got its final name
    assert all(_shard_is_complete(out / name, json.loads((out / "manifest.json").read_text())["config_hash"])
               for name in finals)
    assert list(out.glob(".shard_00001.h5.*.tmp")), "the kill did not land inside the write"
    assert main(["-q", "make-dataset", str(cfg), "-o", str(out), "--workers", "1"]) == 0
    assert main(["-q", "make-dataset", str(cfg), "-o", str(ref), "--workers", "1"]) == 0
    assert not list(out.glob(".*.tmp"))
    assert _digests(out) == _digests(ref) and len(_digests(ref)) == 3


# --- train ----------------------------------------------------------------------------------------

Q_EDGES = np.linspace(0.2, 5.0, 17)
E_EDGES = np.linspace(-5.0, 55.0, 17)


def _band(i, scale=1.0, offset=0.0):
    q, e = Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE")
    qq, ee = np.meshgrid(q.centres, e.centres, indexing="ij")
    s = scale * np.exp(-0.5 * ((ee - (10 + i + 4 * np.abs(np.sin(qq)))) / 2.0) ** 2) + offset
    return INSMap(s, 0.05 * np.sqrt(s), q, e, MapMetadata(instrument="MERLIN", ei_meV=62.0))


def test_train_killed_while_writing_a_checkpoint_resumes_to_the_same_weights(tmp_path):
    from safetensors import safe_open

    from insgan_core.gan.model_file import load_model
    from insgan_core.gan.training import CHECKPOINT_KEY

    src, tgt = tmp_path / "clean", tmp_path / "art"
    src.mkdir()
    tgt.mkdir()
    for i in range(3):
        io.save(_band(i), src / f"m{i}.npz")
        io.save(_band(i, 3.0, 0.2), tgt / f"m{i}.npz")
    common = ["-q", "train", "--mode", "paired", "--source", str(src), "--target", str(tgt), "--batch-size", "2",
              "--width", "4", "--seed", "3", "--steps", "6", "--checkpoint-every", "2", "--device", "cpu"]
    killed, marker = tmp_path / "killed.safetensors", tmp_path / "in_write"
    ck = tmp_path / "ck"
    # pause after the step-4 checkpoint's temporary file is written, before its rename
    code = (
        "import sys, time, contextlib\n"
        "import insgan_core.gan.training as t\n"
        "orig = t.atomic_path\n"
        "@contextlib.contextmanager\n"
        "def paused(path, **k):\n"
        "    with orig(path, **k) as tmp:\n"
        "        yield tmp\n"
        "        if 'step00000004' in str(path):\n"
        f"            open({str(marker)!r}, 'w').close()\n"
        "            time.sleep(120)\n"
        "t.atomic_path = paused\n"
        "from insgan_core.cli.main import main\n"
        f"sys.exit(main({[*common, '-o', str(killed), '--checkpoint-dir', str(ck)]!r}))\n"
    )
    _kill_when(_spawn(code), marker)
    assert not killed.exists()  # the model is written only at the end
    names = sorted(p.name for p in ck.glob("checkpoint_step*.safetensors"))
    assert names == ["checkpoint_step00000002.safetensors"], names
    assert list(ck.glob(".checkpoint_step00000004*.tmp")), "the kill did not land inside the write"
    with safe_open(str(ck / names[0]), framework="pt") as f:  # the remaining checkpoint is complete
        assert json.loads(f.metadata()[CHECKPOINT_KEY])["step"] == 2
        assert all(f.get_tensor(k).numel() >= 0 for k in f.keys())
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the child (OMP_NUM_THREADS=1): the same float32 summation order
    try:
        assert main([*common, "-o", str(killed), "--checkpoint-dir", str(ck), "--resume"]) == 0
        straight = tmp_path / "straight.safetensors"
        assert main([*common, "-o", str(straight), "--checkpoint-dir", str(tmp_path / "ck2")]) == 0
    finally:
        torch.set_num_threads(threads)
    a = load_model(killed).generator.state_dict()
    b = load_model(straight).generator.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), atol=1e-6, err_msg=k)
