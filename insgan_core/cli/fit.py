"""``insgan fit``: fit spin-wave Hamiltonian parameters (and nuisances) to measured powder maps."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import InsganInputError

__all__ = ["add_parser", "run", "parse_assignments", "parse_bounds"]

log = logging.getLogger("insgan")

EPILOG = """examples:
  insgan fit square_afm measured.nxs --vary J --bounds J=0.5:5 --mask-elastic 2 --out fit_square
  insgan fit bi2fe4o9 bi2fe4o9_Ei62_5K.nxspe --vary Jc,J44,J43p,J43,J33 \\
      --set Jc=0.8,J44=1.0,J43p=3.5,J43=7.5,J33=19 --mask-elastic 4 --fit-chopper --out fit_bfo
  insgan fit bi2fe4o9 run_5K.nxspe run_300K.nxspe --temperature 5,300 --vary J33 --out joint
  insgan fit bi2fe4o9 bi2fe4o9_Ei62_5K.nxspe --q-bins 0.5,0.1,2.5 --e-bins 4,1,45 --temperature 5 \\
      --chopper-frequency 350 --vary Jc,J44,J43p,J43,J33 --start amortised:bfo_estimator.safetensors \\
      --coarse-accuracy 0.2 --out fit_fast
  insgan fit bi2fe4o9 run.nxspe --vary none --compare bi2fe4o9 \\
      --compare-set Jc=0.8,J44=1.0,J43p=3.5,J43=7.5,J33=19 --out compare

The forward model is: powder linear spin-wave S(|Q|,E) (deterministic quadrature, reused across
parameter values) x scale, broadened by the resins energy resolution (x res_scale with --fit-resolution)
and the |Q| resolution, + flat and |Q|^2 backgrounds + an elastic Gaussian (when the elastic line is not
masked). Bins not recorded in the file (NaN), or removed by the masks, do not enter the fit.
Writes OUT/parameters.json (values, errors, correlations, chi2/dof, AIC/BIC), OUT/fitted_<i>.nxs and
OUT/residuals_<i>.png; with --compare also OUT/comparison.json."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fit", help="fit spin-wave model parameters to measured S(|Q|,E) maps",
        description="Least-squares / Poisson fit of spin-wave model parameters and nuisance parameters to one or "
                    "more measured powder maps, with a multi-start global stage, uncertainties and model comparison.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="library model name or path to a YAML model file")
    p.add_argument("measured", nargs="+", help="measured map(s): reduced S(|Q|,E) (.nxs/.npz) or NXSPE")
    p.add_argument("--vary", required=True, metavar="NAME[,NAME]",
                   help="model parameters to fit (comma-separated), or 'none' to fit only the nuisances")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE[,...]",
                   help="fixed values / starting values of model parameters (repeatable)")
    p.add_argument("--bounds", action="append", default=[], metavar="NAME=LOW:HIGH[,...]",
                   help="bounds of varied parameters (repeatable); also bound the global stage's starts")
    p.add_argument("--mask-elastic", type=float, default=None, metavar="MEV", help="remove |E| <= MEV from the fit")
    p.add_argument("--mask-q", action="append", default=[], metavar="LOW:HIGH",
                   help="remove a |Q| window (1/angstrom), e.g. a Bragg peak (repeatable)")
    p.add_argument("--mask-e", action="append", default=[], metavar="LOW:HIGH",
                   help="remove an energy window (meV) (repeatable)")
    p.add_argument("--temperature", default=None, metavar="K[,K...]",
                   help="sample temperature(s) in K (one, or one per dataset); default: from the files")
    p.add_argument("--q-bins", default=None, metavar="START,STEP,END",
                   help="|Q| binning for NXSPE input (default 0.1,0.04,5.7 1/angstrom)")
    p.add_argument("--e-bins", default=None, metavar="START,STEP,END",
                   help="energy binning (meV) for NXSPE input (default: the file's bins)")
    p.add_argument("--instrument", default=None, help="instrument (default: from the file)")
    p.add_argument("--ei", type=float, default=None, metavar="MEV", help="incident energy (default: from the file)")
    p.add_argument("--chopper-package", default=None, metavar="PKG", help="chopper package (default: instrument's)")
    p.add_argument("--chopper-frequency", type=float, default=None, metavar="HZ",
                   help="chopper frequency in Hz (default 250; files do not record it)")
    p.add_argument("--fit-chopper", action="store_true",
                   help="choose the chopper frequency whose resins elastic width matches the measured elastic line's "
                        "half-maximum width (first file; model-free, whatever the masks), then fit with it")
    p.add_argument("--fit-resolution", action="store_true",
                   help="also fit res_scale, a factor on the resins energy-resolution width")
    p.add_argument("--statistic", choices=("chi2", "poisson", "auto"), default="chi2",
                   help="objective: error-weighted chi2 (default; reduced, normalised data) or the Poisson deviance "
                        "(raw counting data, low counts; auto: Poisson when all fitted data >= 0)")
    p.add_argument("--starts", type=int, default=None, metavar="N",
                   help="Latin-hypercube starts of the global stage (default 8; 0 with an accepted --start amortised:)")
    p.add_argument("--start", default=None, metavar="amortised:FILE",
                   help="start from an amortised estimator's estimate (a .safetensors estimator file, e.g. written by "
                        "benchmarks/bench_fit_amortised_bfo.py); a flagged estimate (out of distribution) is reported "
                        "and the Latin-hypercube global stage runs instead")
    p.add_argument("--amortised-draws", type=int, default=8, metavar="N",
                   help="with --start amortised:: starts = the estimate and N draws from its posterior (default 8)")
    p.add_argument("--accuracy", type=float, default=0.05, metavar="REL", help="powder quadrature target (default 0.05)")
    p.add_argument("--coarse-accuracy", type=float, default=None, metavar="REL",
                   help="coarse-to-fine schedule: global and first local stage at this coarser quadrature (e.g. 0.2), "
                        "then a short refinement at --accuracy (default: off)")
    p.add_argument("--translation", default=None, metavar="MODEL",
                   help="a structured translation model file (insgan_core.translation) used as the instrument part of "
                        "the forward model instead of the built-in resolution")
    p.add_argument("--profile", action="store_true", help="check each sigma with a profile of chi2")
    p.add_argument("--compare", default=None, metavar="MODEL2",
                   help="also fit MODEL2 (same --vary) and rank the two by AIC/BIC/likelihood ratio")
    p.add_argument("--compare-set", action="append", default=[], metavar="NAME=VALUE[,...]",
                   help="parameter values of MODEL2 (after --set)")
    p.add_argument("--seed", type=int, default=0, help="seed of the global stage")
    p.add_argument("--out", "-o", default="fit_out", metavar="DIR", help="output directory (default fit_out)")
    p.add_argument("--no-figure", action="store_true", help="do not write residual figures")
    p.set_defaults(func=run)
    return p


def parse_assignments(items, *, option: str) -> dict:
    out = {}
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise InsganInputError(f"{option}: expected NAME=VALUE, got {part!r}")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def parse_bounds(items) -> dict:
    from ..fitting.data import parse_window

    return {k: parse_window(v, name=f"--bounds {k}") for k, v in parse_assignments(items, option="--bounds").items()}


def _temperatures(text, n):
    if text is None:
        return [None] * n
    try:
        vals = [float(t) for t in str(text).split(",")]
    except ValueError:
        raise InsganInputError(f"--temperature: expected K or K,K,... (numbers), got {text!r}") from None
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise InsganInputError(f"--temperature: give one temperature or one per dataset ({n}), got {len(vals)}")
    return vals


def _load_model(name, overrides):
    from ..spinwave import load_model

    model = load_model(name)
    unknown = sorted(set(overrides) - set(model.parameters))
    if unknown:
        raise InsganInputError(f"fit: unknown parameter(s) {', '.join(unknown)} in --set for model '{model.name}'; "
                               f"its parameters are: {', '.join(sorted(model.parameters))}")
    return model.with_parameters(**overrides) if overrides else model


def _datasets(args, chopper_frequency, *, full_energy_range: bool = False):
    from ..fitting import load_dataset
    from ..fitting.data import parse_window

    temps = _temperatures(args.temperature, len(args.measured))
    mq = [parse_window(t, name="--mask-q") for t in args.mask_q]
    me = [parse_window(t, name="--mask-e") for t in args.mask_e]
    out = []
    for path, T in zip(args.measured, temps):
        if not Path(path).exists():
            raise InsganInputError(f"fit: measured file {path} does not exist")
        out.append(load_dataset(path, q_bins=args.q_bins, e_bins=None if full_energy_range else args.e_bins,
                                temperature_K=T, instrument=args.instrument, ei_meV=args.ei,
                                chopper_frequency_hz=chopper_frequency, chopper_package=args.chopper_package,
                                mask_elastic_meV=args.mask_elastic, mask_q=mq, mask_e=me))
    return out


def _translator(args):
    if not args.translation:
        return None
    from ..translation.model_io import load_translator

    return load_translator(args.translation)


def _amortised_start(args, datasets, vary, translator=None):
    """(start points, estimate record) from ``--start amortised:FILE`` (([], None) without it). An estimator
    trained through a translator runs its predictive check only when ``--translation`` gives that same
    translator (same weights)."""
    if not args.start:
        return [], None
    kind, _, path = str(args.start).partition(":")
    if kind != "amortised" or not path:
        raise InsganInputError(f"--start: expected amortised:FILE, got {args.start!r}")
    from ..fitting.amortised import AmortisedEstimator

    est = AmortisedEstimator.load(path)
    missing = sorted(set(vary) - set(est.names))
    if missing:
        raise InsganInputError(f"--start {args.start}: the estimator gives {', '.join(est.names)}, not "
                               f"{', '.join(missing)}")
    if est.translation_digest is not None:
        if getattr(translator, "weights_digest", lambda: None)() == est.translation_digest:
            est.attach_translator(translator)
        else:
            log.info("amortised estimator trained through translator %s: give it with --translation for its "
                     "predictive check (skipped)", est.translation_digest)
    e = est.estimate(datasets[0])
    record = e.to_dict()
    if e.flags:
        log.warning("amortised estimate flagged (%s); running the global stage instead", "; ".join(e.flags))
        return [], record
    log.info("amortised estimate (%.1f ms): %s", 1e3 * e.seconds,
             ", ".join(f"{k}={e.mean[k]:.3g}±{e.sigma[k]:.2g}" for k in est.names))
    return e.starts(args.amortised_draws, seed=args.seed), record


def _fit_one(model, datasets, vary, bounds, args, *, start_points=(), translator=None):
    from ..fitting import FitProblem, fit

    problem = FitProblem(model, datasets, vary, bounds=bounds, fit_resolution=args.fit_resolution,
                         accuracy=args.accuracy, statistic=args.statistic, coarse_accuracy=args.coarse_accuracy,
                         translator=translator)
    starts = args.starts if args.starts is not None else (0 if start_points else 8)
    return fit(problem, n_starts=starts, seed=args.seed, profile=args.profile, start_points=start_points)


def run(args) -> int:
    from ..fitting.chopper import elastic_half_max

    vary = [] if args.vary.strip().lower() == "none" else [v for v in args.vary.split(",") if v.strip()]
    overrides = parse_assignments(args.overrides, option="--set")
    bounds = parse_bounds(args.bounds)
    model = _load_model(args.model, overrides)
    datasets = _datasets(args, args.chopper_frequency)
    chopper = None
    if args.fit_chopper:
        # the elastic line of the first file over its whole energy range (--e-bins may exclude it)
        chopper = elastic_half_max(_datasets(args, args.chopper_frequency, full_energy_range=True)[0]
                                   if args.e_bins else datasets[0])
        log.info("elastic line FWHM %.3f meV -> chopper frequency %g Hz", chopper["measured_fwhm_meV"],
                 chopper["frequency_hz"])
        if chopper["frequency_hz"] != datasets[0].settings.chopper_frequency_hz:
            datasets = _datasets(args, chopper["frequency_hz"])
    translator = _translator(args)
    start_points, estimate = _amortised_start(args, datasets, vary, translator)
    result = _fit_one(model, datasets, vary, bounds, args, start_points=start_points, translator=translator)
    out = Path(args.out)
    paths = result.write(out, figure=not args.no_figure)
    if chopper is not None or estimate is not None or translator is not None:
        d = json.loads((out / "parameters.json").read_text())
        if chopper is not None:
            d["chopper"] = chopper
        if estimate is not None:
            d["amortised_start"] = estimate
        if translator is not None:
            d["translation_model"] = str(args.translation)
        (out / "parameters.json").write_text(json.dumps(d, indent=2))
    print(result.summary())
    if args.compare:
        from ..fitting import compare_models

        other = _load_model(args.compare, {**overrides, **parse_assignments(args.compare_set, option="--compare-set")})
        second = _fit_one(other, datasets, vary, bounds, args, translator=translator)
        second.write(out / "compare_model", figure=not args.no_figure)
        labels = [f"{args.model} {','.join(f'{k}={v}' for k, v in overrides.items())}".strip(),
                  f"{args.compare} {','.join(args.compare_set)}".strip()]
        table = compare_models([result, second], labels=labels)
        (out / "comparison.json").write_text(json.dumps(table, indent=2))
        print(second.summary())
        for row in table["ranking"]:
            print(f"  {row['label']}: chi2 {row['chi2']:.1f}, AIC {row['aic']:.1f} (dAIC {row['delta_aic']:.1f}), "
                  f"BIC {row['bic']:.1f}, dchi2/(chi2/dof) {row['delta_chi2_scaled']:.1f}")
        print(f"preferred: {table['preferred']}")
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return 0
