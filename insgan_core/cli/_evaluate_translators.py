"""``insgan evaluate --baselines ...``: fit baseline translators (and a saved model) on measured maps, judge
them on other measured maps (:func:`insgan_core.translation.evaluate_translators`), print a table, write JSON."""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
from pathlib import Path

import numpy as np

from ..data.detector import DetectorData
from ..data.grid import parse_binning
from ..data.io._atomic import atomic_path
from ..errors import InsganInputError

__all__ = ["add_translator_arguments", "run_translators", "parse_baselines", "load_translation_model"]

log = logging.getLogger("insgan")


def add_translator_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the baseline mode (an argument group of ``insgan evaluate``)."""
    g = p.add_argument_group("translators (fit on measured maps, judge on others)")
    g.add_argument("--baselines", default=None, metavar="LIST",
                   help="comma-separated baselines to fit: clean, blur, analytic, structured (or 'all'); switches to this mode")
    g.add_argument("--train-measured", nargs="+", default=None, metavar="FILE", help="measured training maps (NXSPE or S(|Q|,E))")
    g.add_argument("--test-measured", nargs="+", default=None, metavar="FILE", help="measured test maps")
    g.add_argument("--train-temperature", nargs="+", type=float, default=None, metavar="K",
                   help="temperature (K) of each training map (default: from the files)")
    g.add_argument("--test-temperature", nargs="+", type=float, default=None, metavar="K",
                   help="temperature (K) of each test map (default: from the files)")
    g.add_argument("--spin-model", default=None, metavar="NAME|YAML",
                   help="spin-wave model whose clean powder map is simulated at each temperature on the grid")
    g.add_argument("--n-directions", type=int, default=1597, metavar="N", help="directions per |Q| shell of the powder average (default 1597)")
    g.add_argument("--train-sim", nargs="+", default=None, metavar="FILE",
                   help="clean simulations of the training maps (instead of --spin-model); they set the grid")
    g.add_argument("--test-sim", nargs="+", default=None, metavar="FILE", help="clean simulations of the test maps")
    g.add_argument("--model", default=None, metavar="FILE", help="a saved physics-structured translation model to judge too")
    g.add_argument("--q-binning", default="0,0.05,6", metavar="START,STEP,END", help="|Q| bins in Å⁻¹ with --spin-model (default 0,0.05,6)")
    g.add_argument("--e-binning", default=None, metavar="START,STEP,END",
                   help="energy bins in meV with --spin-model (default: the first training file's bins)")
    g.add_argument("--instrument", default=None, metavar="NAME", help="spectrometer (default: from the training file)")
    g.add_argument("--chopper-package", default=None, metavar="PKG", help="Fermi chopper package (default: the instrument's)")
    g.add_argument("--chopper-frequency", type=float, default=250.0, metavar="HZ",
                   help="chopper frequency in Hz of the analytic resolution (default 250; MERLIN Bi2Fe4O9 data: 350)")
    g.add_argument("--inelastic-min", type=float, default=3.0, metavar="MEV",
                   help="bins above this energy transfer count as inelastic (default 3 meV)")


def parse_baselines(text: str) -> list[str]:
    """``"clean,structured"`` → ["clean", "structured"]; ``"all"`` → every baseline; unknown names raise."""
    from ..translation.baselines import BASELINES

    names = list(BASELINES) if text.strip().lower() == "all" else [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise InsganInputError(f"--baselines: unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)} or 'all'")
    if len(set(names)) != len(names):
        raise InsganInputError(f"--baselines: each baseline may appear once, got {text!r}")
    return names


def load_translation_model(path: str):
    """A saved translation model with ``predict``/``sample`` (kind ``structured``), named ``"model"``."""
    if not Path(path).is_file():
        raise InsganInputError(f"--model: '{path}' is not a file")
    try:
        from ..translation.model_io import load_translator
    except ImportError:
        raise InsganInputError("--model: the physics-structured translation model (insgan_core.translation.structured) "
                               "is not available in this installation") from None
    model = load_translator(path)
    if not (callable(getattr(model, "predict", None)) and callable(getattr(model, "sample", None))):
        raise InsganInputError(f"--model: '{path}' is a GAN model file; only translation models with predict/sample "
                               "(kind 'structured', from 'insgan train') are judged with --baselines")
    from ..translation.evaluation import Renamed

    return Renamed(model, "model")


def _files(paths, option: str) -> list[Path]:
    out = []
    for text in paths:
        f = Path(text)
        if not f.is_file():
            raise InsganInputError(f"{option}: '{f}' is not a file")
        out.append(f)
    return out


def _temperatures(values, maps, option: str) -> list[float]:
    if values is not None:
        if len(values) != len(maps):
            raise InsganInputError(f"{option}: {len(values)} temperatures for {len(maps)} files; give one per file")
        for v in values:
            if not (math.isfinite(v) and v >= 0):
                raise InsganInputError(f"{option}: temperatures must be numbers >= 0 (kelvin), got {v}")
        return [float(v) for v in values]
    temps = []
    for m, f in maps:
        t = m.metadata.temperature_K
        if t is None:
            raise InsganInputError(f"{option}: '{f}' does not record its temperature; give one per file with {option}")
        temps.append(float(t))
    return temps


def _settings(args, detectors: DetectorData | None, first_map):
    from ..instrument.settings import InstrumentSettings

    instrument = args.instrument or (first_map.metadata.instrument or None)
    ei = detectors.ei_meV if detectors is not None else first_map.metadata.ei_meV
    if not instrument:
        raise InsganInputError("--instrument: the training file does not name its instrument; give --instrument")
    if ei is None:
        raise InsganInputError("--train-measured: the training file does not record Ei; the analytic resolution needs it")
    try:
        return InstrumentSettings(instrument=instrument, ei_meV=float(ei), chopper_package=args.chopper_package,
                                  chopper_frequency_hz=args.chopper_frequency)
    except InsganInputError as exc:
        raise InsganInputError(f"--chopper-frequency/--chopper-package/--instrument: {exc}") from None


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


#: (JSON key, column title) of the printed table
TABLE = (("chi2_per_bin_inelastic", "chi2/N inel"), ("chi2_per_bin_all", "chi2/N all"), ("relative_l1", "rel L1"),
         ("patch_distance", "patch dist"), ("inelastic_ratio", "inel ratio"), ("elastic_ratio", "elas ratio"),
         ("variance_to_mean_ratio", "noise ratio"), ("max_abs_peak_shift_meV", "max shift"))


def format_table(result: dict) -> str:
    """One row per translator and test map (and the mean), the columns of :data:`TABLE`."""
    names = list(result["summary"])
    width = max(12, *(len(n) + 2 for n in names))
    head = f"{'translator':<{width}}{'map':>5}" + "".join(f"{t:>13}" for _, t in TABLE)
    lines = [head]
    for name in names:
        for mp in result["maps"]:
            m = dict(mp["translators"][name])
            shifts = [abs(c["shift_from_target_meV"]) for c in m["energy_cuts"] if math.isfinite(c["shift_from_target_meV"])]
            m["max_abs_peak_shift_meV"] = max(shifts) if shifts else float("nan")
            lines.append(f"{name:<{width}}{mp['index']:>5}" + "".join(f"{_fmt(m.get(k)):>13}" for k, _ in TABLE))
        if len(result["maps"]) > 1:
            s = result["summary"][name]
            lines.append(f"{name:<{width}}{'mean':>5}" + "".join(f"{_fmt(s.get(k)):>13}" for k, _ in TABLE))
    return "\n".join(lines)


def _fit_model_kwargs(fn, settings, detectors) -> dict:
    params = inspect.signature(fn).parameters
    kw = {}
    if "settings" in params:
        kw["settings"] = settings
    if "detectors" in params:
        kw["detectors"] = detectors
    return kw


def _exposure_or_one(fn) -> float:
    """The relative exposure ``fn()`` gives, or 1 when the maps carry no counting errors."""
    try:
        return fn()
    except InsganInputError:
        return 1.0


def run_translators(args) -> int:
    from ..data import io
    from ..translation.baselines import fit_baseline
    from ..data.exposure import relative_exposure
    from ..translation.evaluation import evaluate_translators, summarise
    from ..translation.exposure import AtExposure
    from ._maps import load_map_on_grid
    from .evaluate import parse_window

    names = parse_baselines(args.baselines)
    if not names and args.model is None:
        raise InsganInputError("--baselines: no baseline named and no --model given; nothing to evaluate")
    for opt in ("output", "reference", "baseline"):
        if getattr(args, opt) is not None:
            raise InsganInputError(f"--{opt}: not used with --baselines (that mode fits the translators itself)")
    for opt in ("train_measured", "test_measured"):
        if getattr(args, opt) is None:
            raise InsganInputError(f"--{opt.replace('_', '-')}: required with --baselines")
    if (args.spin_model is None) == (args.train_sim is None):
        raise InsganInputError("--spin-model / --train-sim: give exactly one source of clean simulations")
    if (args.train_sim is None) != (args.test_sim is None):
        raise InsganInputError("--train-sim / --test-sim: give both (one simulation per measured file) or neither")
    if args.n_directions < 1:
        raise InsganInputError(f"--n-directions: must be >= 1, got {args.n_directions}")
    model = load_translation_model(args.model) if args.model is not None else None

    train_files = _files(args.train_measured, "--train-measured")
    test_files = _files(args.test_measured, "--test-measured")
    raw = {f: io.load(f) for f in train_files + test_files}

    # grid and clean simulations
    if args.train_sim is not None:
        train_sims = [io.load(f) for f in _files(args.train_sim, "--train-sim")]
        test_sims = [io.load(f) for f in _files(args.test_sim, "--test-sim")]
        for opt, sims, files in (("--train-sim", train_sims, train_files), ("--test-sim", test_sims, test_files)):
            if len(sims) != len(files):
                raise InsganInputError(f"{opt}: {len(sims)} simulations for {len(files)} measured files; give one per file")
            for s in sims:
                if isinstance(s, DetectorData) or s.x_axis.unit != "MomentumTransfer":
                    raise InsganInputError(f"{opt}: simulations must be S(|Q|,E) maps (|Q| on x)")
        grids = [(s.x_axis.edges, s.e_axis.edges) for s in train_sims + test_sims]
    else:
        q_edges = parse_binning(args.q_binning, name="--q-binning")
        first = raw[train_files[0]]
        if args.e_binning is not None:
            e_edges = parse_binning(args.e_binning, name="--e-binning")
        elif isinstance(first, DetectorData):
            e_edges = first.energy_edges
        else:
            e_edges = first.e_axis.edges
        grids = [(q_edges, e_edges)] * (len(train_files) + len(test_files))

    def measured(f, grid):
        data = raw[f]
        m = load_map_on_grid(f, q_edges=grid[0], e_edges=grid[1]) if isinstance(data, DetectorData) else data
        if not isinstance(data, DetectorData):
            m = m.rebin(x_edges=grid[0], e_edges=grid[1])
        return m, (data if isinstance(data, DetectorData) else None)

    train = [measured(f, g) for f, g in zip(train_files, grids[: len(train_files)])]
    test = [measured(f, g) for f, g in zip(test_files, grids[len(train_files):])]
    train_T = _temperatures(args.train_temperature, [(m, f) for (m, _), f in zip(train, train_files)], "--train-temperature")
    test_T = _temperatures(args.test_temperature, [(m, f) for (m, _), f in zip(test, test_files)], "--test-temperature")

    if args.spin_model is not None:
        from ..spinwave import load_model, powder_map

        spin = load_model(args.spin_model)
        cache = {}

        def simulate(T):
            if T not in cache:
                log.info("simulating %s at %g K", spin.name, T)
                cache[T] = powder_map(spin, q_edges=grids[0][0], e_edges=grids[0][1], temperature_K=T,
                                      n_directions=args.n_directions)
            return cache[T]

        train_sims = [simulate(T) for T in train_T]
        test_sims = [simulate(T) for T in test_T]

    settings = _settings(args, train[0][1], train[0][0])
    targets = [m for m, _ in train]
    dets = [d for _, d in train]
    dets = None if any(d is None for d in dets) else dets
    translators, fitted = [], {}
    for name in names:
        tr = fit_baseline(name, train_sims, targets, temperatures_K=train_T, settings=settings, detectors=dets,
                          **({"e_min_meV": args.inelastic_min} if name != "structured" else {}))
        translators.append(tr)
        fitted[name] = tr.parameters()
    if model is not None:
        translators.append(model)
        fitted["model"] = {"file": str(args.model)}
    q_windows = None if args.q_window is None else [parse_window(w, name="--q-window") for w in args.q_window]
    e_window = None if args.e_window is None else parse_window(args.e_window[0], name="--e-window")
    e_range = None if args.e_range is None else parse_window(args.e_range, name="--e-range")
    test_dets = [d for _, d in test]
    # each test map is judged with its own run's exposure, read from its errors only (relative to the first
    # training map for the baselines, to the model file's training exposure map for a saved model)
    exposures, maps_out = [], []
    for i, ((tm, det), sim, T) in enumerate(zip(test, test_sims, test_T)):
        x_base = _exposure_or_one(lambda: relative_exposure(tm, reference=targets[0], where=str(test_files[i])))
        wrapped = []
        for tr in translators:
            inner = getattr(tr, "inner", tr) if tr is model else tr
            x = _exposure_or_one(lambda: inner.exposure_of(tm)) if hasattr(inner, "exposure_of") else x_base
            wrapped.append(AtExposure(inner, x, name="model" if tr is model else getattr(tr, "name", type(tr).__name__)))
        exposures.append({"file": str(test_files[i]), "baselines": x_base,
                          "model": next((w.exposure for w in wrapped if w.name == "model"), None)})
        r = evaluate_translators(
            wrapped, [sim], [tm], [T], detectors=[det], q_windows=q_windows,
            e_window=e_window, e_range=e_range, inelastic_min_meV=args.inelastic_min, patch_size=args.patch_size,
            n_patches=args.n_patches, seed=args.seed,
        )
        for mp in r["maps"]:
            mp["index"] = i
        maps_out.extend(r["maps"])
    result = {"options": r["options"], "maps": maps_out,
              "summary": summarise(maps_out, [w.name for w in wrapped]),
              "test_exposure_relative": exposures,
              "test_exposure_note": "each test run's exposure (counts per unit intensity relative to training) is read "
                                    "from its own error bars; it scales the noise and the background fixed in counts"}
    result = _json_safe({"mode": "translators", "train": [str(f) for f in train_files], "train_temperatures_K": train_T,
                         "test": [str(f) for f in test_files], "test_temperatures_K": test_T,
                         "settings": settings.to_dict(), "fitted": fitted, **result})
    if args.metrics:
        with atomic_path(args.metrics, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    if not args.quiet:
        print(format_table(result))
    return 0
