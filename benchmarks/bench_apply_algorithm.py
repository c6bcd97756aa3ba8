"""Benchmark: the ApplyINSGAN Mantid algorithm end to end on a MERLIN-sized S(|Q|,E) workspace.

End to end = validate the inputs (model header, grid check) + load the model file + apply the generator +
build the output workspace with logs, run through the test-only Mantid stand-in (``tests/mantid_standin``;
Mantid itself is conda-only). The baseline, timed in the same process, is the core alone
(``load_model(path).apply(map)``), so the ratio shows the cost of the Mantid face. Target: well under 1 s.

Run: ``python benchmarks/bench_apply_algorithm.py [--repeats 10] [--nq 140] [--ne 220] [--quick] [--json PATH]``
(the default grid is that of the MERLIN Bi2Fe4O9 Ei 62 meV powder map: |Q| 0–7 Å⁻¹ in 0.05 steps x
220 energy bins).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _load_standin():
    sys.path.insert(0, str(REPO / "tests" / "mantid_standin"))
    import mantid  # the stand-in

    assert getattr(mantid, "__insgan_test_standin__", False), "expected the insgan test stand-in of Mantid"
    import mantid.simpleapi

    spec = importlib.util.spec_from_file_location("ApplyINSGAN", REPO / "plugins" / "ApplyINSGAN.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ApplyINSGAN"] = module
    spec.loader.exec_module(module)
    return mantid.simpleapi


def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--nq", type=int, default=140, help="|Q| bins (default 140)")
    parser.add_argument("--ne", type=int, default=220, help="energy bins (default 220)")
    parser.add_argument("--quick", action="store_true", help="smoke-test: 3 repeats (grid unchanged)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the measured numbers to PATH as JSON (atomically)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 3

    import torch

    from insgan_core import mantid_bridge
    from insgan_core.data.grid import Axis
    from insgan_core.data.ins_map import INSMap, MapMetadata, MapStack
    from insgan_core.gan.config import TrainConfig
    from insgan_core.gan.model_file import load_model
    from insgan_core.gan.training import train

    sa = _load_standin()
    rng = np.random.default_rng(0)
    q = Axis(np.linspace(0.0, 0.05 * args.nq, args.nq + 1), "MomentumTransfer")
    e = Axis(np.linspace(-15.5, 52.7, args.ne + 1), "DeltaE")
    maps = []
    for i in range(2):
        s = rng.random((args.nq, args.ne))
        s[: args.nq // 10, args.ne // 2 :] = np.nan  # a kinematic-limit-like blank corner
        maps.append(INSMap(s, 0.1 * np.nan_to_num(s), q, e, MapMetadata(instrument="MERLIN", ei_meV=62.0)))
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.safetensors"
        stack = MapStack.from_maps(maps)
        train(stack, stack, TrainConfig(mode="paired", steps=1, batch_size=1, device="cpu", checkpoint_every=0),
              output_path=model_path)
        ws = mantid_bridge.map_to_workspace(maps[0], name="sim")

        def algorithm():
            sa.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(model_path), OutputWorkspace="out")

        def core():
            load_model(model_path).apply(maps[0])

        algorithm()  # warm-up (imports, allocator)
        core()
        t_alg, t_alg_min = _timed(algorithm, args.repeats)
        t_core, t_core_min = _timed(core, args.repeats)
        out = mantid_bridge.workspace_to_map(sa.mtd["out"])
        assert out.signal.shape == (args.nq, args.ne) and ws.getNumberHistograms() == args.nq

    print(f"ApplyINSGAN end to end on a {args.nq} x {args.ne} workspace (torch threads: {torch.get_num_threads()}):")
    print(f"  algorithm (validate + load model + apply + build workspace): median {1e3 * t_alg:.1f} ms "
          f"(min {1e3 * t_alg_min:.1f} ms)")
    print(f"  core only (load_model + apply):                             median {1e3 * t_core:.1f} ms "
          f"(min {1e3 * t_core_min:.1f} ms)")
    print(f"  ratio algorithm / core: {t_alg / t_core:.2f}; target < 1000 ms: {'met' if t_alg < 1.0 else 'NOT met'}")
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, {
            "benchmark": "apply_algorithm", "workspace_bins": [args.nq, args.ne], "repeats": args.repeats,
            "torch_threads": torch.get_num_threads(), "mantid": "insgan test stand-in (tests/mantid_standin)",
            "algorithm_median_ms": 1e3 * t_alg, "algorithm_min_ms": 1e3 * t_alg_min,
            "core_median_ms": 1e3 * t_core, "core_min_ms": 1e3 * t_core_min,
            "ratio_algorithm_over_core": t_alg / t_core, "target_algorithm_max_ms": 1000.0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
