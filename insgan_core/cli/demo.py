"""``insgan demo``: the main job — simulate, add artefacts, train GANs, apply, evaluate, plot."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  insgan demo                                   # built-in MERLIN default, no outside data
  insgan demo --quick -o demo-quick             # small and fast (used by the tests)
  insgan demo --measured ../shared/data/experimental/bi2fe4o9_Ei62_5K.nxspe --model bi2fe4o9
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "demo",
        help="run the main job end to end (simulate -> artefacts -> structured model and GANs -> apply -> evaluate -> figure)",
        description=(
            "Simulate powder spin-wave maps, pass them through the physics model of the spectrometer, train a "
            "paired GAN (and, with --measured, an unpaired GAN against the measured map), apply them to held-out "
            "simulations and write Mantid-loadable .nxs maps, the model files, metrics.json and demo.png."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--output-dir", default="insgan-demo", help="output folder (default: insgan-demo)")
    p.add_argument("--measured", metavar="FILE", help="measured NXSPE file (enables the unpaired GAN)")
    p.add_argument("--quick", action="store_true", help="small, fast variant (coarse grid, few steps)")
    p.add_argument("--model", default=None, help="spin-wave library model or model file (default: square_afm, "
                   "or bi2fe4o9 with --measured)")
    p.add_argument("--temperature", type=float, default=5.0, metavar="K", help="sample temperature in K (default 5)")
    p.add_argument("--method", choices=("analytic", "montecarlo"), default="analytic",
                   help="resolution method of the artefact simulator (default analytic)")
    p.add_argument("--paired-steps", type=int, default=None, help="training steps of the paired GAN")
    p.add_argument("--unpaired-steps", type=int, default=None, help="training steps of the unpaired GAN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..workflows.demo import DemoSettings, run_demo

    model = args.model or ("bi2fe4o9" if args.measured else "square_afm")
    settings = DemoSettings(
        output_dir=Path(args.output_dir),
        measured=Path(args.measured) if args.measured else None,
        quick=args.quick,
        model=model,
        temperature_K=args.temperature,
        method=args.method,
        paired_steps=args.paired_steps,
        unpaired_steps=args.unpaired_steps,
        seed=args.seed,
        device=args.device,
        progress=not args.quiet,
    )
    record = run_demo(settings)
    if not args.quiet:
        m = record["metrics"]
        print(f"outputs in {settings.output_dir}/:")
        for name, path in record["files"].items():
            print(f"  {name:20s} {path}")
        s = m["structured_vs_noise_free"]
        print(f"structured model (default): relative L1 to the noise-free artefact map {s['relative_l1_output']:.3f} "
              f"(clean simulation: {s['relative_l1_baseline']:.3f})")
        p = m["paired_vs_noise_free"]
        print(f"paired GAN: relative L1 to the noise-free artefact map {p['relative_l1_output']:.3f} "
              f"(clean simulation: {p['relative_l1_baseline']:.3f}; gap closed {p['gap_closed']:.1%})")
        if "unpaired" in m:
            pd = m["unpaired"]["patch_distance"]
            print(f"unpaired GAN: patch distance to measured {pd['output']:.4g} (clean simulation: {pd['baseline']:.4g})")
        if "structured_measured" in m:
            q = m["structured_measured"]
            print(f"structured model on the measured map (training fit): inelastic chi2/N {q['inelastic_chi2_per_bin']:.4g} "
                  f"(clean simulation best-scaled: {q['inelastic_chi2_per_bin_clean_scaled']:.4g}); elastic integral "
                  f"ratio {q['elastic_integral_ratio']:.3f}")
        print(f"total time {record['timings_s']['total']:.1f} s")
    return 0
