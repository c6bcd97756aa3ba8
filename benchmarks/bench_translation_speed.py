"""Benchmark: inference time of the structured translation model per map, and model-file load time.

Measures, in one process with ``--threads`` torch/BLAS threads (default 2):

* the best time of :meth:`StructuredTranslator.predict` (signal path: E kernel then per-energy |Q| kernels,
  plus the static background terms and coverage blanking) on one ``--size`` x ``--size`` map
  (issue 16's target: <= 20 ms for 200 x 200 on 2 CPU threads);
* ``sample`` (predict + Poisson counting noise);
* loading the model file (``load_translator``);
* a baseline in the same process: one numpy ``size x size`` float64 matrix product, so the printed ratio
  is comparable across machines.

The model is built from the analytic MERLIN resolution with random background/elastic parameters (timing
does not depend on training). Run::

    python benchmarks/bench_translation_speed.py [--threads 2] [--repeats 20] [--size 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--json", type=Path, default=None, help="also write the measured numbers as JSON here")
    args = p.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    from insgan_core.data import Axis, INSMap, MapMetadata
    from insgan_core.instrument import InstrumentSettings
    from insgan_core.translation import StructuredTranslator, load_translator

    n = args.size
    q_edges, e_edges = np.linspace(0.1, 6.0, n + 1), np.linspace(-10.0, 55.0, n + 1)
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
    model = StructuredTranslator.from_settings(settings, q_edges, e_edges)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        model.h.copy_(torch.from_numpy(rng.uniform(0, 1, model.h.shape)))
        model.el_amp.copy_(torch.from_numpy(rng.uniform(0, 10, model.el_amp.shape)))
        model.count_scale.fill_(10.0)
    model.invalidate()
    q, e = 0.5 * (q_edges[1:] + q_edges[:-1]), 0.5 * (e_edges[1:] + e_edges[:-1])
    s = np.exp(-0.5 * ((e[None, :] - 20 * np.abs(np.sin(np.pi * q / 1.2))[:, None]) / 0.6) ** 2)
    sim = INSMap(s, np.zeros_like(s), Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"),
                 MapMetadata(instrument="MERLIN", ei_meV=62.0, temperature_K=5.0))
    a, b = rng.random((n, n)), rng.random((n, n))
    with threadpool_limits(limits=args.threads):
        t_mm = best_time(lambda: a @ b, repeats=args.repeats)
        t_pred = best_time(lambda: model.predict(sim, temperature_K=5.0), repeats=args.repeats)
        t_samp = best_time(lambda: model.sample(sim, temperature_K=5.0, rng=rng), repeats=args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.safetensors"
            model.save(path)
            t_load = best_time(lambda: load_translator(path), repeats=max(3, args.repeats // 4))
            size_mb = path.stat().st_size / 1e6
    print(f"structured translator, {n} x {n} map, {args.threads} thread(s):")
    print(f"  numpy {n}x{n} matmul baseline : {1e3 * t_mm:8.2f} ms")
    print(f"  predict                      : {1e3 * t_pred:8.2f} ms  (ratio to matmul {t_pred / t_mm:6.1f}; target <= 20 ms)")
    print(f"  sample (predict + Poisson)   : {1e3 * t_samp:8.2f} ms  (ratio {t_samp / t_mm:6.1f})")
    print(f"  load model file ({size_mb:.1f} MB)  : {1e3 * t_load:8.2f} ms")
    print(f"  first predict after load includes building the kernels once")
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, {"size": n, "threads": args.threads, "matmul_ms": 1e3 * t_mm,
                               "predict_ms_per_map": 1e3 * t_pred, "sample_ms_per_map": 1e3 * t_samp,
                               "load_ms": 1e3 * t_load, "predict_ratio_to_matmul": t_pred / t_mm})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
