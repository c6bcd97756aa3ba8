"""Distributed data-parallel training: 2 CPU processes with the gloo backend, launched by torchrun."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from insgan_core.gan.model_file import load_model, read_metadata

SCRIPT = textwrap.dedent(
    '''
    import hashlib, json, sys
    from pathlib import Path

    import numpy as np
    import torch

    from insgan_core.data import Axis, MapStack
    from insgan_core.gan.config import TrainConfig
    from insgan_core.gan.distributed import average_gradients, init_distributed
    from insgan_core.gan.training import train

    out = Path(sys.argv[1])
    ctx = init_distributed(torch.device("cpu"))

    # gradient averaging: rank r sees input (r + 1) * (1, 1, 1), so the averaged gradient is the mean
    lin = torch.nn.Linear(3, 1, bias=False)
    lin(torch.full((1, 3), float(ctx.rank + 1))).sum().backward()
    average_gradients(lin, ctx)

    rng = np.random.default_rng(0)
    q = Axis(np.linspace(0, 3, 25), "MomentumTransfer")
    e = Axis(np.linspace(0, 30, 25), "DeltaE")
    src = rng.gamma(1.0, 1.0, (4, 24, 24))
    tgt = 2 * src + 0.1
    tgt[:, :, -3:] = np.nan
    for mode in ("paired", "unpaired"):
        cfg = TrainConfig(mode=mode, steps=3, batch_size=1, checkpoint_every=2, log_every=1, seed=5,
                          patch_size=16 if mode == "unpaired" else None,
                          generator={"name": "unet", "width": 4, "depth": 2},
                          discriminator={"name": "patchgan", "width": 8, "n_layers": 2})
        res = train(MapStack(src, None, q, e), MapStack(tgt, None, q, e), cfg,
                    output_path=out / f"{mode}.safetensors", checkpoint_dir=out / f"ck_{mode}")
        digest = hashlib.sha256(b"".join(v.detach().numpy().tobytes() for v in res.generator.state_dict().values()))
        (out / f"{mode}_rank{ctx.rank}.json").write_text(json.dumps({
            "world": ctx.world_size, "grad": lin.weight.grad.tolist(), "digest": digest.hexdigest(),
            "model_path": str(res.model_path) if res.model_path else None}))
    ctx.close()
    '''
)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """One torchrun launch (2 processes, gloo) that trains a paired and an unpaired model."""
    out = tmp_path_factory.mktemp("ddp")
    script = out / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["paired", "unpaired"])
def test_torchrun_two_processes_gloo(ddp_run, mode):
    tmp_path = ddp_run
    ranks = [json.loads((tmp_path / f"{mode}_rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # gradients averaged over the two processes: mean of 1 and 2
    for r in ranks:
        np.testing.assert_allclose(r["grad"], [[1.5, 1.5, 1.5]])
    # weights stay identical on every rank; only rank 0 writes the model
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert ranks[0]["model_path"] and ranks[1]["model_path"] is None
    model = load_model(tmp_path / f"{mode}.safetensors")
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.generator.state_dict().values()))
    assert digest.hexdigest() == ranks[0]["digest"]
    md = read_metadata(tmp_path / f"{mode}.safetensors")
    assert md["training"]["world_size"] == 2 and md["training"]["steps"] == 3 and md["mode"] == mode
    assert (tmp_path / f"ck_{mode}" / "checkpoint_step00000002.safetensors").is_file()
    # the weights moved away from the initial identity map
    assert any(float(v.abs().sum()) > 0 for k, v in model.generator.state_dict().items() if k.startswith("outc"))
