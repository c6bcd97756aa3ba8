"""Benchmark: quality evidence for GAN translation (issue 5), paired and unpaired, on CPU or GPU.

Paired (pix2pix) — the GAN learns the instrument simulator:
    sources = clean spin-wave powder maps of the Bi2Fe4O9 model on the MERLIN Bi2Fe4O9 grid, model
    parameters drawn around their nominal values; targets = the same maps through the artefact simulator
    (Monte-Carlo resolution + backgrounds + coverage + Poisson noise). Judged on HELD-OUT parameters:
    * relative-L1 gap closed = 1 − L1(GAN(clean), noise-free artefact map) / L1(clean, noise-free artefact
      map), with the GAN's expected (noise-free) output (target ≥ 0.90);
    * noise statistics: variance/mean in counts of the GAN output with counting noise drawn from the
      count scale the model learnt from its targets (``apply(noise="poisson")``), over that of the noisy
      targets, both with the structure of the noise-free map removed (target within 10 %, i.e. 0.9–1.1).

Unpaired (CUT) — the real MERLIN Bi2Fe4O9 5 K map as the target domain:
    the real map is reduced to S(|Q|,E) on the same grid and split into alternating |Q| blocks; training
    sees only the even blocks, the patch-distribution distance is measured on the odd (held-out) blocks:
    * patch-distance reduction = 1 − d(GAN(clean), real) / d(clean, real) on the held-out blocks
      (target ≥ 0.50);
    * magnon preserved: peak energies of energy cuts through the magnon (|Q| windows near 1.2 Å⁻¹) in
      the GAN output vs the clean input, within the energy-resolution FWHM at the peak.

Needs the spin-wave layer (``load_model``, ``powder_map``), the instrument layer
(``simulate_with_artefacts``, ``apply_artefacts``, ``energy_fwhm_meV``) and the GAN trainer; it says
what is missing otherwise. Results are printed and written to ``--out`` (JSON). Run::

    python benchmarks/bench_gan_quality.py [--quick] [--device auto] [--out quality.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: used when the library has no Bi2Fe4O9 model
FALLBACK_MODEL = "square_afm"
DEFAULT_REAL = REPO.parent / "shared" / "data" / "experimental" / "bi2fe4o9_Ei62_5K.nxspe"


def _need(what: str, fn):
    try:
        return fn()
    except (ImportError, AttributeError) as exc:
        sys.exit(f"bench_gan_quality: cannot run, {what} is missing ({type(exc).__name__}: {exc})")


def grid_of_real_data(path: Path, *, q_step: float, e_coarsen: int):
    """|Q| edges 0.2..6 Å⁻¹ (``q_step``) and the file's own energy bins (every ``e_coarsen``-th edge)."""
    from insgan_core.data.grid import parse_binning
    from insgan_core.data.io import load

    det = load(path)
    e_edges = det.energy_edges[::e_coarsen]
    if e_edges[-1] != det.energy_edges[-1]:
        e_edges = np.append(e_edges, det.energy_edges[-1])
    return det, parse_binning(f"0.2,{q_step},6.0", name="q"), e_edges


def draw_parameters(nominal: dict, rng, *, spread: float, fixed=("S",)) -> dict:
    """Every model parameter except the spin lengths ``fixed`` × U(1 − spread, 1 + spread)."""
    return {k: float(v) * rng.uniform(1 - spread, 1 + spread) for k, v in nominal.items() if k not in fixed}


def simulate_pairs(model, params_list, *, q_edges, e_edges, settings, config, seeds, detectors=None, with_noise_free=True,
                   n_directions=200):
    """(clean, noisy artefact, noise-free artefact) MapStacks for each parameter set."""
    from insgan_core.data.ins_map import MapStack
    from insgan_core.instrument import apply_artefacts, simulate_with_artefacts

    clean, noisy, free = [], [], []
    no_noise = replace(config, steps=tuple(s for s in config.steps if s != "noise"))
    for params, seed in zip(params_list, seeds):
        m = model.with_parameters(**params)
        c, a = simulate_with_artefacts(m, grid=(q_edges, e_edges), settings=settings, config=config,
                                       detectors=detectors, seed=seed, method="montecarlo", temperature_K=5.0,
                                       n_directions=n_directions)
        clean.append(c)
        noisy.append(a)
        if with_noise_free:  # same seed → same Monte-Carlo histories, no counting noise
            free.append(apply_artefacts(c, settings=settings, config=no_noise, detectors=detectors, seed=seed,
                                        method="montecarlo"))
    stacks = [MapStack.from_maps(clean), MapStack.from_maps(noisy)]
    return (*stacks, MapStack.from_maps(free) if free else None)


def excess_variance_to_mean(maps, noise_free, *, count_scale: float, sigma_bins: float = 1.0) -> float:
    """Noise variance/mean in counts of ``maps``, with the structure of the noise-free maps removed.

    :func:`~insgan_core.gan.metrics.noise_variance_to_mean` of the maps minus that of the noise-free maps
    (same bins): for x = f + n the small-scale residual of x is that of f plus that of n, so the difference
    estimates var(n)/mean in counts (1 for Poisson counting noise), free of the leakage of sharp features.
    """
    from insgan_core.gan.metrics import noise_variance_to_mean

    a, f = maps.signal.copy(), noise_free.signal.copy()
    bad = np.isnan(a) | np.isnan(f)
    a[bad] = np.nan
    f[bad] = np.nan
    return (noise_variance_to_mean(a, sigma_bins=sigma_bins, count_scale=count_scale)
            - noise_variance_to_mean(f, sigma_bins=sigma_bins, count_scale=count_scale))


def paired_benchmark(args, model, det, q_edges, e_edges, settings, workdir: Path) -> dict:
    from insgan_core.gan.config import TrainConfig
    from insgan_core.gan.metrics import evaluate, relative_l1
    from insgan_core.gan.model_file import load_model
    from insgan_core.gan.training import train
    from insgan_core.instrument import ArtefactConfig

    rng = np.random.default_rng(12345)
    nominal = dict(model.parameters)
    train_params = [draw_parameters(nominal, rng, spread=args.spread) for _ in range(args.n_train)]
    test_params = [draw_parameters(nominal, rng, spread=args.spread) for _ in range(args.n_test)]
    config = ArtefactConfig()
    count_scale = config.noise.count_scale
    t0 = time.perf_counter()
    src, tgt, _ = simulate_pairs(model, train_params, q_edges=q_edges, e_edges=e_edges, settings=settings,
                                 config=config, seeds=range(args.n_train), detectors=det, with_noise_free=False,
                                 n_directions=args.n_directions)
    test_clean, test_noisy, test_free = simulate_pairs(
        model, test_params, q_edges=q_edges, e_edges=e_edges, settings=settings, config=config,
        seeds=range(10_000, 10_000 + args.n_test), detectors=det, n_directions=args.n_directions)
    t_sim = time.perf_counter() - t0
    print(f"[paired] simulated {args.n_train} training + {args.n_test} held-out pairs "
          f"({src.signal.shape[1]}x{src.signal.shape[2]} bins) in {t_sim:.0f} s")

    cfg = TrainConfig(mode="paired", steps=args.paired_steps, batch_size=args.batch_size, seed=0, device=args.device,
                      checkpoint_every=0, log_every=max(1, args.paired_steps // 10), generator=generator_spec(args))
    t0 = time.perf_counter()
    result = train(src, tgt, cfg, output_path=workdir / "paired.safetensors", checkpoint_dir=workdir / "paired_ckpt")
    t_train = time.perf_counter() - t0
    gan = load_model(result.model_path, device=args.device)
    out = gan.apply(test_clean)  # the expected (noise-free) map
    out_noisy = gan.apply(test_clean, noise="poisson", seed=1) if gan.count_scale else out

    l1_gan = relative_l1(out, test_free)
    l1_clean = relative_l1(test_clean, test_free)
    gap = 1.0 - l1_gan / l1_clean
    vtm_out = excess_variance_to_mean(out_noisy, test_free, count_scale=count_scale)
    vtm_mean = excess_variance_to_mean(out, test_free, count_scale=count_scale)
    vtm_tgt = excess_variance_to_mean(test_noisy, test_free, count_scale=count_scale)
    full = evaluate(out, test_noisy, test_clean, patch_size=16, n_patches=256)
    res = {
        "n_train": args.n_train, "n_test": args.n_test, "steps": args.paired_steps, "train_s": t_train,
        "simulate_s": t_sim, "relative_l1_gan_vs_noise_free": l1_gan, "relative_l1_clean_vs_noise_free": l1_clean,
        "gap_closed": gap, "gap_target": 0.90,
        "variance_to_mean_counts_gan": vtm_out, "variance_to_mean_counts_gan_expected_map": vtm_mean,
        "learnt_count_scale": gan.count_scale, "simulated_count_scale": count_scale, "variance_to_mean_counts_targets": vtm_tgt,
        "noise_ratio": vtm_out / vtm_tgt, "noise_target": [0.9, 1.1],
        "evaluate_vs_noisy_targets": full,
    }
    print(f"[paired] trained {args.paired_steps} steps in {t_train:.0f} s")
    print(f"[paired] held-out relative L1 to the noise-free artefact map: clean {l1_clean:.4f}, GAN {l1_gan:.4f} "
          f"-> gap closed {100 * gap:.1f} % (target >= 90 %)")
    print(f"[paired] noise variance/mean in counts (structure of the noise-free map removed): GAN + Poisson noise "
          f"{vtm_out:.3f} (expected map alone {vtm_mean:.3f}), targets {vtm_tgt:.3f} -> ratio {vtm_out / vtm_tgt:.3f} "
          f"(target 0.9-1.1); count scale learnt {gan.count_scale}, simulated {count_scale:g}")
    return res


def generator_spec(args) -> dict:
    """The default generator (no residual input connection), or with it when ``--residual``.

    With ``residual=True`` the generator adds its correction to the normalised input; clean spin-wave maps
    have sharp, bright modes that the resolution spreads out, so the residual path first passes the
    spikes through (scaled to the target units) and the network must learn to undo them.
    """
    from insgan_core.gan.config import default_generator

    return {**default_generator(), "residual": True} if args.residual else default_generator()


def heldout_blocks(q_edges, *, block_invA: float):
    """Boolean (nq,) arrays: training |Q| blocks (even) and held-out blocks (odd)."""
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    block = np.floor((qc - q_edges[0]) / block_invA).astype(int)
    return block % 2 == 0, block % 2 == 1


def unpaired_benchmark(args, model, det, q_edges, e_edges, settings, workdir: Path) -> dict:
    from insgan_core.data.ins_map import MapStack
    from insgan_core.data.reduction import powder_map as reduce_powder
    from insgan_core.gan.config import TrainConfig
    from insgan_core.gan.metrics import patch_distance, peak_energy
    from insgan_core.gan.model_file import load_model
    from insgan_core.gan.training import train
    from insgan_core.instrument import energy_fwhm_meV
    from insgan_core.spinwave import powder_map

    real = reduce_powder(det, q_edges=q_edges, e_edges=e_edges)
    train_rows, held_rows = heldout_blocks(q_edges, block_invA=args.block_invA)
    real_train = real.copy()
    real_train.signal[held_rows] = np.nan
    real_train.error[held_rows] = np.nan
    real_held = real.copy()
    real_held.signal[train_rows] = np.nan

    rng = np.random.default_rng(777)
    nominal = dict(model.parameters)
    t0 = time.perf_counter()
    sources = [powder_map(model.with_parameters(**draw_parameters(nominal, rng, spread=args.spread)),
                          q_edges=q_edges, e_edges=e_edges, temperature_K=5.0, n_directions=args.n_directions)
               for _ in range(args.n_unpaired_sources)]
    clean_eval = powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=5.0, n_directions=args.n_directions)
    t_sim = time.perf_counter() - t0
    cfg = TrainConfig(mode="unpaired", steps=args.unpaired_steps, batch_size=args.batch_size, seed=0,
                      device=args.device, checkpoint_every=0, patch_size=args.patch, generator=generator_spec(args),
                      coverage="input", log_every=max(1, args.unpaired_steps // 10))
    t0 = time.perf_counter()
    result = train(MapStack.from_maps(sources), MapStack.from_maps([real_train]), cfg,
                   output_path=workdir / "unpaired.safetensors", checkpoint_dir=workdir / "unpaired_ckpt")
    t_train = time.perf_counter() - t0
    gan = load_model(result.model_path, device=args.device)
    out = gan.apply(clean_eval)

    def held(m):  # compare only where the held-out real data exists
        s = m.signal.copy()
        s[np.isnan(real_held.signal)] = np.nan
        return m.with_data(s)

    # patches must fit inside one held-out |Q| block
    pd_kw = {"patch_size": int(min(16, round(args.block_invA / args.q_step))), "n_patches": 512, "seed": 0}
    d_gan = patch_distance(held(out), real_held, **pd_kw)
    d_clean = patch_distance(held(clean_eval), real_held, **pd_kw)
    reduction = 1.0 - d_gan / d_clean
    # a stronger baseline: the clean map put on the mean intensity of the training blocks of the real map
    k = np.nanmean(real_train.signal) / np.nanmean(clean_eval.signal)
    d_scaled = patch_distance(held(clean_eval.with_data(clean_eval.signal * k)), real_held, **pd_kw)
    peaks = []
    for w in args.magnon_windows:
        e_clean = peak_energy(clean_eval, q_window=w, e_range=tuple(args.magnon_e_range))
        e_gan = peak_energy(out, q_window=w, e_range=tuple(args.magnon_e_range))
        fwhm = float(np.atleast_1d(energy_fwhm_meV(settings, np.array([e_clean])))[0]) if np.isfinite(e_clean) else float("nan")
        peaks.append({"q_window": list(w), "clean_peak_meV": e_clean, "gan_peak_meV": e_gan,
                      "shift_meV": e_gan - e_clean, "resolution_fwhm_meV": fwhm,
                      "within_fwhm": bool(abs(e_gan - e_clean) <= fwhm)})
    res = {
        "n_sources": args.n_unpaired_sources, "steps": args.unpaired_steps, "train_s": t_train, "simulate_s": t_sim,
        "patch_distance_gan": d_gan, "patch_distance_clean": d_clean, "reduction": reduction, "reduction_target": 0.5,
        "patch_distance_clean_rescaled": d_scaled, "reduction_vs_rescaled": 1.0 - d_gan / d_scaled,
        "patch_options": pd_kw, "heldout_block_invA": args.block_invA, "magnon_peaks": peaks,
    }
    print(f"[unpaired] trained {args.unpaired_steps} steps in {t_train:.0f} s")
    print(f"[unpaired] held-out patch distance to real data: clean {d_clean:.3f}, GAN {d_gan:.3f} "
          f"-> reduction {100 * reduction:.1f} % (target >= 50 %)")
    print(f"[unpaired] stronger baseline, clean map rescaled to the real map's mean intensity: {d_scaled:.3f} "
          f"-> GAN reduction {100 * (1.0 - d_gan / d_scaled):.1f} %")
    for p in peaks:
        print(f"[unpaired] magnon peak |Q| {p['q_window']}: clean {p['clean_peak_meV']:.2f} meV, GAN {p['gan_peak_meV']:.2f} meV, "
              f"shift {p['shift_meV']:+.2f} meV vs FWHM {p['resolution_fwhm_meV']:.2f} meV -> "
              f"{'ok' if p['within_fwhm'] else 'NOT preserved'}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="GAN quality evidence (paired and unpaired)")
    ap.add_argument("--quick", action="store_true", help="small demo scale (minutes on CPU); numbers are indicative")
    ap.add_argument("--part", choices=("both", "paired", "unpaired"), default="both")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", default="bi2fe4o9", help="spin-wave library model (default bi2fe4o9)")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL, help="real MERLIN Bi2Fe4O9 5 K NXSPE file")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH",
                    help="write the results as JSON here, atomically (as run_all.py expects)")
    ap.add_argument("--n-train", type=int, default=48)
    ap.add_argument("--n-test", type=int, default=8)
    ap.add_argument("--n-unpaired-sources", type=int, default=16)
    ap.add_argument("--paired-steps", type=int, default=3000)
    ap.add_argument("--unpaired-steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--residual", action="store_true", help="generator with the residual input connection")
    ap.add_argument("--patch", type=int, default=32, help="unpaired training patch size (bins)")
    ap.add_argument("--n-directions", type=int, default=200, help="powder-average directions per |Q| shell")
    ap.add_argument("--spread", type=float, default=0.15, help="relative spread of the model parameters")
    ap.add_argument("--q-step", type=float, default=0.05)
    ap.add_argument("--e-coarsen", type=int, default=2, help="merge this many energy bins of the real file")
    ap.add_argument("--block-invA", type=float, default=1.0, help="|Q| width of the train/held-out blocks")
    ap.add_argument("--magnon-windows", type=lambda s: tuple(float(v) for v in s.split(",")), nargs="+",
                    default=[(1.0, 1.4), (1.4, 1.8)], help="|Q| windows lo,hi of the magnon energy cuts")
    ap.add_argument("--magnon-e-range", type=float, nargs=2, default=[8.0, 40.0])
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.n_unpaired_sources = 12, 4, 4
        args.paired_steps, args.unpaired_steps = 300, 300
        args.q_step, args.e_coarsen = 0.1, 4

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    spin = _need("the spin-wave layer (insgan_core.spinwave.load_model / powder_map)",
                 lambda: __import__("insgan_core.spinwave", fromlist=["load_model", "powder_map"]))
    _need("insgan_core.spinwave.powder_map", lambda: spin.powder_map)
    instrument = _need("the instrument layer", lambda: __import__("insgan_core.instrument", fromlist=["InstrumentSettings"]))
    _need("the GAN trainer (insgan_core.gan.training.train)", lambda: __import__("insgan_core.gan.training", fromlist=["train"]).train)
    if not args.real.is_file():
        sys.exit(f"bench_gan_quality: real data file not found: {args.real}")
    if args.model not in spin.list_models() and not Path(args.model).is_file():
        print(f"WARNING: spin-wave model '{args.model}' is not in the library {spin.list_models()}; using "
              f"'{FALLBACK_MODEL}' instead (square-lattice AFM, S = 5/2 like Fe3+, 20 meV band, magnetic Bragg "
              "peak at 1.11 Å⁻¹: a stand-in for the Bi2Fe4O9 magnon)")
        args.model = FALLBACK_MODEL
    model = spin.load_model(args.model)
    det, q_edges, e_edges = grid_of_real_data(args.real, q_step=args.q_step, e_coarsen=args.e_coarsen)
    settings = instrument.InstrumentSettings(instrument="MERLIN", ei_meV=float(det.ei_meV), chopper_package="G",
                                             chopper_frequency_hz=250.0)
    print(f"grid: |Q| {q_edges[0]:g}-{q_edges[-1]:g} Å⁻¹ ({q_edges.size - 1} bins), E {e_edges[0]:g}-{e_edges[-1]:g} meV "
          f"({e_edges.size - 1} bins); model {args.model} {model.parameters}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}")
    results = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="insgan_quality_") as tmp:
        work = Path(tmp)
        if args.part in ("both", "paired"):
            results["paired"] = paired_benchmark(args, model, det, q_edges, e_edges, settings, work)
        if args.part in ("both", "unpaired"):
            results["unpaired"] = unpaired_benchmark(args, model, det, q_edges, e_edges, settings, work)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
        print(f"results written to {args.out}")
    if args.json:
        from results_json import write_json

        write_json(args.json, {"benchmark": "gan_quality", **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
