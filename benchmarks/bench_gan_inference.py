"""Benchmark: GAN inference time per map, against the physics artefact paths it replaces.

Measures, in one process:

* CPU, batch 1: median milliseconds per ~200 x 200 map for :meth:`TranslationModel.apply` with the default
  generator (:func:`insgan_core.gan.config.default_generator`), normalisation, inverse and NaN masking
  included (the issue's target: <= 20 ms on 2 CPU cores);
* CPU, batch 16: ms per map;
* CUDA (when available): maps per second at batch 64 (float32);
* when the instrument layer is importable: the time of :func:`apply_artefacts` on the same map with the
  analytic and Monte-Carlo resolution, printed as ratios to the GAN time.

The weights are random (timing does not depend on training). Run::

    python benchmarks/bench_gan_inference.py [--threads 2] [--repeats 50] [--size 200] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from insgan_core.data import Axis, INSMap, MapMetadata, MapStack
from insgan_core.gan.config import default_generator
from insgan_core.gan.inference import TranslationModel
from insgan_core.gan.networks import build_network, count_parameters
from insgan_core.gan.normalisation import Normaliser


def clean_map(n: int) -> INSMap:
    """A clean powder-like map on a MERLIN Ei = 62 meV grid: |Q| 0–6 Å⁻¹, E −10–55 meV, n x n bins."""
    q_edges, e_edges = np.linspace(0.0, 6.0, n + 1), np.linspace(-10.0, 55.0, n + 1)
    q, e = 0.5 * (q_edges[1:] + q_edges[:-1]), 0.5 * (e_edges[1:] + e_edges[:-1])
    disp = 20.0 * np.abs(np.sin(np.pi * q / 1.2))[:, None]
    s = np.exp(-0.5 * ((e[None, :] - disp) / 0.6) ** 2) / (1.0 + q[:, None] ** 2)
    return INSMap(s, np.zeros_like(s), Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"),
                  MapMetadata(instrument="MERLIN", ei_meV=62.0))


def make_model(m: INSMap, device: str = "cpu") -> TranslationModel:
    spec = default_generator()
    torch.manual_seed(0)
    g = build_network(spec)
    md = {
        "network": spec,
        "normaliser": Normaliser().fit(m.signal[None]).to_dict(),
        "grid": {"x_edges": m.x_axis.edges.tolist(), "x_unit": m.x_axis.unit,
                 "e_edges": m.e_axis.edges.tolist(), "e_unit": "DeltaE"},
        "coverage_mask": (~m.mask).tolist(),
        "instrument": "MERLIN", "ei_meV": 62.0, "mode": "paired",
    }
    return TranslationModel(g, md, device=device)


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--size", type=int, default=200, help="map size n (n x n bins)")
    ap.add_argument("--quick", action="store_true", help="smoke-test: 5 repeats (map size unchanged)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH",
                    help="also write the measured numbers to PATH as JSON (atomically)")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats = 5
    results = {"benchmark": "gan_inference", "map_bins": [args.size, args.size], "torch": torch.__version__,
               "torch_threads": args.threads, "repeats": args.repeats, "target_cpu_batch1_max_ms_per_map": 20.0}
    try:
        _run(args, results)
    finally:  # whatever was measured is written, also when a later part fails
        if args.json is not None:
            from results_json import write_json

            write_json(args.json, results)


def _run(args, results: dict) -> None:
    torch.set_num_threads(args.threads)
    m = clean_map(args.size)
    model = make_model(m)
    print(f"default generator {default_generator()}: {count_parameters(model.generator) / 1e6:.3f} M parameters")
    results["generator"] = default_generator()
    results["generator_parameters"] = count_parameters(model.generator)
    print(f"map {m.shape[0]} x {m.shape[1]} bins, torch {torch.__version__}, {args.threads} CPU thread(s)")

    gan_ms = median_ms(lambda: model.apply(m), args.repeats)
    print(f"GAN apply, CPU, batch 1      : median {gan_ms:8.2f} ms per map (target <= 20 ms)")
    stack = MapStack.from_maps([m] * 16)
    b16 = median_ms(lambda: model.apply(stack, batch_size=16), max(3, args.repeats // 10)) / 16
    print(f"GAN apply, CPU, batch 16     : median {b16:8.2f} ms per map")
    with torch.inference_mode():
        x = torch.from_numpy(model.normaliser.encode(m.signal[None]))
        net_ms = median_ms(lambda: model.generator(x), args.repeats)
    print(f"  of which generator forward : median {net_ms:8.2f} ms ({100 * net_ms / gan_ms:.0f} %)")
    results.update(cpu_batch1_median_ms_per_map=gan_ms, cpu_batch16_median_ms_per_map=b16,
                   cpu_generator_forward_median_ms=net_ms)

    if torch.cuda.is_available():
        gpu = make_model(m, device="cuda")
        big = MapStack.from_maps([m] * 64)
        gpu.apply(big, batch_size=64)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        n_rep = 10
        for _ in range(n_rep):
            gpu.apply(big, batch_size=64)
        torch.cuda.synchronize()
        rate = 64 * n_rep / (time.perf_counter() - t0)
        print(f"GAN apply, {torch.cuda.get_device_name()}, batch 64: {rate:8.1f} maps/s (numpy I/O included)")
        results.update(cuda_device=torch.cuda.get_device_name(), cuda_batch64_maps_per_s=rate)
    else:
        print("CUDA not available: GPU throughput at batch 64 not measured")

    try:
        from insgan_core.instrument.pipeline import ArtefactConfig, apply_artefacts
        from insgan_core.instrument.settings import InstrumentSettings
    except ImportError as exc:
        print(f"instrument layer not importable ({exc}): no ratios to the artefact paths")
        results["artefact_paths"] = None
        return
    results["artefact_paths"] = []
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
    for method, steps, reps in (("analytic", ("resolution",), 5), ("analytic", None, 3), ("montecarlo", ("resolution",), 1)):
        config = ArtefactConfig() if steps is None else ArtefactConfig(steps=steps)
        label = f"{method}, {'all steps' if steps is None else '+'.join(steps)}"
        ms = median_ms(lambda: apply_artefacts(m, settings=settings, config=config, method=method), reps, warmup=1)
        print(f"apply_artefacts ({label:<26}): median {ms:10.1f} ms per map = {ms / gan_ms:8.1f} x the GAN")
        results["artefact_paths"].append({"method": method, "steps": "all" if steps is None else "+".join(steps),
                                          "median_ms_per_map": ms, "ratio_to_gan_cpu_batch1": ms / gan_ms})


if __name__ == "__main__":
    main()
