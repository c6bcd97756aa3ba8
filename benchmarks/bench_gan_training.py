"""Training throughput of the GAN trainers on CPU (maps per second), with a baseline in the same process.

Baseline: one plain supervised step of the same generator (forward, masked L1, backward, Adam) on the
same batch — the least any trainer step can cost. The ratio trainer/baseline shows the GAN overhead
(discriminator updates, PatchNCE). Also reports the generator's inference time per map at batch 1 and
how much of the clean→target relative-L1 gap a short paired run closes on synthetic demo-scale maps.

usage: OMP_NUM_THREADS=2 python benchmarks/bench_gan_training.py [--steps 40] [--nq 100] [--ne 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from insgan_core.data import Axis, MapStack
from insgan_core.gan.config import TrainConfig
from insgan_core.gan.losses import masked_l1
from insgan_core.gan.model_file import read_metadata
from insgan_core.gan.networks import build_network, count_parameters
from insgan_core.gan.normalisation import Normaliser
from insgan_core.gan.training import train


def demo_pairs(n: int, nq: int, ne: int, seed: int = 0) -> tuple[MapStack, MapStack]:
    """Synthetic magnon-like band (clean) and a broadened, scaled, background-added, masked version."""
    rng = np.random.default_rng(seed)
    q = Axis(np.linspace(0.2, 5.0, nq + 1), "MomentumTransfer")
    e = Axis(np.linspace(-5.0, 55.0, ne + 1), "DeltaE")
    qq, ee = np.meshgrid(q.centres, e.centres, indexing="ij")
    clean, art = [], []
    for _ in range(n):
        j = 1.0 + 0.5 * rng.random()
        disp = 20 * j * np.abs(np.sin(1.3 * qq))
        c = np.exp(-0.5 * ((ee - disp) / 0.6) ** 2) * np.exp(-0.1 * qq**2)
        a = 3.0 * np.exp(-0.5 * ((ee - disp) / 2.5) ** 2) * 0.6 / 2.5 * np.exp(-0.1 * qq**2) + 0.05 + 0.01 * qq**2
        kf2 = (62.0 - ee) / 2.0721
        ki2 = 62.0 / 2.0721
        qmin2 = ki2 + kf2 - 2 * np.sqrt(ki2 * np.clip(kf2, 0, None)) * np.cos(np.radians(3))
        a[(qq**2 < qmin2) | (kf2 <= 0)] = np.nan
        clean.append(c)
        art.append(a)
    return MapStack(np.array(clean), None, q, e), MapStack(np.array(art), None, q, e)


def baseline_steps_per_s(cfg: TrainConfig, src: MapStack, tgt: MapStack, steps: int) -> float:
    torch.manual_seed(0)
    g = build_network(cfg.generator)
    opt = torch.optim.Adam(g.parameters(), lr=cfg.lr)
    norm = Normaliser().fit(src, tgt)
    x = norm.encode(torch.as_tensor(src.signal[: cfg.batch_size]))
    y = norm.forward(torch.as_tensor(tgt.signal[: cfg.batch_size]), domain="target")[:, None].float()
    m = torch.as_tensor(~np.isnan(tgt.signal[: cfg.batch_size]))[:, None].float()
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        opt.zero_grad()
        masked_l1(g(x), y, m).backward()
        opt.step()
        if i >= 2:  # after warm-up
            times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def inference_ms(spec: dict, hw=(200, 200), repeats: int = 15) -> float:
    g = build_network(spec).eval()
    norm = Normaliser()
    sig = np.random.default_rng(0).gamma(1, 1, (1, *hw))
    times = []
    with torch.inference_mode():
        for i in range(repeats + 3):
            t0 = time.perf_counter()
            y = g(torch.from_numpy(norm.encode(sig)))
            norm.inverse(y[:, 0].double().numpy())
            if i >= 3:
                times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--nq", type=int, default=100)
    p.add_argument("--ne", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--learn-steps", type=int, default=300, help="steps of the short paired learning run (0: skip)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the measured numbers to PATH as JSON (atomically)")
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; maps {args.nq} x {args.ne} bins")
    results = {"benchmark": "gan_training", "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
               "map_bins": [args.nq, args.ne], "steps": args.steps, "batch_size": args.batch_size,
               "trainers": {}, "inference_200x200_batch1": []}
    src, tgt = demo_pairs(8, args.nq, args.ne)
    tmp = Path(tempfile.mkdtemp(prefix="bench_gan_"))
    paired = TrainConfig(mode="paired", steps=args.steps, batch_size=args.batch_size, checkpoint_every=0, log_every=args.steps)
    unpaired = TrainConfig(mode="unpaired", steps=args.steps, batch_size=args.batch_size, checkpoint_every=0,
                           log_every=args.steps, patch_size=64)
    print(f"generator {paired.generator}: {count_parameters(build_network(paired.generator)):,} parameters")
    for name, cfg in (("paired pix2pix (whole maps)", paired), ("unpaired CUT (64x64 patches)", unpaired)):
        # the baseline runs right before each trainer so both see the same machine load
        base = baseline_steps_per_s(paired, src, tgt, args.steps) * args.batch_size
        res = train(src, tgt, cfg, output_path=tmp / f"{cfg.mode}.safetensors")
        rate = res.history[-1]["maps_per_s"]
        print(f"{name:30s}: {rate:8.2f} maps/s; baseline (supervised generator step on whole maps) "
              f"{base:8.2f} maps/s; ratio {rate / base:.2f}")
        results["trainers"][cfg.mode] = {"label": name, "maps_per_s": rate, "baseline_supervised_maps_per_s": base,
                                         "ratio_to_baseline": rate / base}
    for spec in ({"name": "unet"}, {"name": "resnet", "width": 8, "n_blocks": 3, "norm": "none"},
                 {"name": "resnet", "width": 64, "n_blocks": 9}):
        ms = inference_ms(spec)
        results["inference_200x200_batch1"].append({"network": spec, "median_ms_per_map": ms})
        print(f"inference 200x200, batch 1, {spec}: median {ms:.1f} ms (incl. normalisation)")
    if args.learn_steps:
        t0 = time.perf_counter()
        cfg = TrainConfig(mode="paired", steps=args.learn_steps, batch_size=args.batch_size, checkpoint_every=0,
                          log_every=50, lr=5e-4)
        res = train(MapStack(src.signal[:6], None, src.x_axis, src.e_axis),
                    MapStack(tgt.signal[:6], None, tgt.x_axis, tgt.e_axis), cfg, output_path=tmp / "learn.safetensors")
        m = read_metadata(res.model_path)["metrics"]
        gap = 1 - m["train_relative_l1"] / m["train_relative_l1_identity"]
        print(f"paired learning run, {args.learn_steps} steps in {time.perf_counter() - t0:.1f} s: relative L1 "
              f"{m['train_relative_l1']:.3f} vs identity {m['train_relative_l1_identity']:.3f} "
              f"(gap closed {100 * gap:.1f} % on training pairs)")
        results["paired_learning_run"] = {"steps": args.learn_steps, "wall_s": time.perf_counter() - t0,
                                          "train_relative_l1": m["train_relative_l1"],
                                          "train_relative_l1_identity": m["train_relative_l1_identity"],
                                          "gap_closed": gap}
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, results)


if __name__ == "__main__":
    main()
