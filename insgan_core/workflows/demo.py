"""The main job: simulate spin waves, add instrument artefacts, train GANs, apply them, evaluate, plot.

Default (no outside data): a MERLIN grid at Ei = 62 meV with the built-in MERLIN detector coverage,
powder spin-wave maps of a library model over a range of exchange constants, and a paired GAN trained
to reproduce the physics artefact simulator (resolution, backgrounds, coverage, counting noise); the
GAN is applied to held-out simulations and compared with the simulator.

The default translation model is the physics-structured one (:mod:`insgan_core.translation`): it is
fitted to the same (clean, artefact) training pairs and evaluated on the same held-out maps as the GAN.

With a measured NXSPE file (e.g. MERLIN Bi2Fe4O9 at 5 K), the file is reduced to S(|Q|,E), the
simulations are made on its grid with its own detector table, put on its intensity scale, the structured
model is fitted to the measured map (clean library simulation → measurement, with the measured errors),
and an unpaired GAN is also trained against the measured map.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from ..data import INSMap, MapStack, parse_binning
from ..data.counting import estimate_count_scale
from ..data.detector import DetectorData
from ..data.io import load, save
from ..data.io._atomic import atomic_path
from ..data.reduction import powder_map as reduce_to_powder
from ..errors import InsganInputError
from ..gan import TrainConfig, evaluate, load_model, train
from ..gan.metrics import relative_l1
from ..instrument import (
    ArtefactConfig,
    InstrumentSettings,
    add_poisson_noise,
    apply_artefacts,
    builtin_detectors,
)
from ..spinwave import load_model as load_spin_model
from ..spinwave import powder_map as spinwave_powder_map
from .figures import demo_figure

__all__ = ["DemoSettings", "run_demo"]

log = logging.getLogger("insgan.demo")


@dataclass(frozen=True, kw_only=True)
class DemoSettings:
    """Settings of the demo job.

    Parameters
    ----------
    output_dir : Path
        Folder for every output (created).
    measured : Path or None
        Measured NXSPE (or processed NeXus) file; enables the unpaired GAN and the real-data panel.
    quick : bool
        A small, fast variant (coarse grid, few maps, few training steps) for tests.
    model : str
        Spin-wave library model name or model-file path.
    temperature_K : float
        Sample temperature (K) of the simulations.
    instrument, ei_meV, chopper_package, chopper_frequency_hz
        Spectrometer settings (default: MERLIN, 62 meV, package G, 250 Hz, as the Bi2Fe4O9 data).
    q_binning, e_binning : str
        Output grid, Mantid "start,step,end" (Å⁻¹, meV); None picks a default for ``quick``.
    n_train, n_test : int or None
        Training and held-out simulations (None: defaults for ``quick``).
    parameter_spread : float
        Each model parameter is drawn uniformly within ±spread (fraction) of its library value.
    paired_steps, unpaired_steps : int or None
        Training steps (None: defaults for ``quick``).
    method : {"analytic", "montecarlo"}
        Resolution method of the physics artefact simulator.
    seed : int
    device : str
        Torch device for training ("auto", "cpu", "cuda").
    progress : bool
        Show progress bars.
    """

    output_dir: Path
    measured: Path | None = None
    quick: bool = False
    model: str = "square_afm"
    temperature_K: float = 5.0
    instrument: str = "MERLIN"
    ei_meV: float = 62.0
    chopper_package: str = "G"
    chopper_frequency_hz: float = 250.0
    q_binning: str | None = None
    e_binning: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    parameter_spread: float = 0.2
    paired_steps: int | None = None
    unpaired_steps: int | None = None
    method: str = "analytic"
    n_directions: int | None = None
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def resolved(self) -> dict:
        """Every setting with the quick/full defaults filled in (JSON-serialisable)."""
        q = {
            "q_binning": self.q_binning or ("0.1,0.1,5.0" if self.quick else "0.1,0.04,5.7"),
            "e_binning": self.e_binning or ("-10,1,50" if self.quick else "-10,0.5,50"),
            "n_train": self.n_train or (6 if self.quick else 24),
            "n_test": self.n_test or (2 if self.quick else 4),
            "paired_steps": self.paired_steps or (20 if self.quick else 1500),
            "unpaired_steps": self.unpaired_steps or (20 if self.quick else 600),
            "n_directions": self.n_directions or (100 if self.quick else 600),
        }
        d = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        d.update(q)
        return d


#: model parameters the sweep leaves alone (spin lengths are properties of the ion, not fit parameters)
FIXED_PARAMETERS = ("S",)


def _scaled_parameters(base: dict, rng: np.random.Generator, spread: float) -> dict:
    """Model parameters (except :data:`FIXED_PARAMETERS`) each drawn uniformly within ±spread (fraction)
    of the library values."""
    return {
        k: float(v) if k in FIXED_PARAMETERS else float(v) * float(rng.uniform(1.0 - spread, 1.0 + spread))
        for k, v in base.items()
    }


def _counts_scale_from_measured(real: INSMap) -> float:
    """Counts per unit intensity implied by the measured map's Poisson errors (see
    :func:`insgan_core.data.counting.estimate_count_scale`)."""
    c = estimate_count_scale(real)
    if c is None:
        raise InsganInputError("measured map: no bin with positive signal and error to infer counting statistics from")
    return c


def _scale_to(reference: INSMap, model_map: INSMap, *, e_min_meV: float = 5.0) -> float:
    """Least-squares factor k minimising Σ(ref − k·model)² over bins finite in both with E > e_min_meV."""
    ok = np.isfinite(reference.signal) & np.isfinite(model_map.signal)
    ok &= (reference.e_axis.centres > e_min_meV)[None, :]
    m, r = model_map.signal[ok], reference.signal[ok]
    denom = float(np.dot(m, m))
    if ok.sum() < 10 or denom <= 0:
        raise InsganInputError("measured map and simulation share too few covered bins above 5 meV to set the scale")
    return float(np.dot(m, r) / denom)


def _fit_quality(pred: INSMap, real: INSMap, clean: INSMap, inst, detectors, *, e_min_meV: float = 3.0) -> dict:
    """Inelastic χ²/N (E > e_min_meV, measured errors) of the structured model's expectation and of the clean
    simulation through the analytic resolution and coverage, best-scaled (weighted least squares) on the
    measured map itself; elastic-line integrals (|E| ≤ 3 meV)."""
    ok = np.isfinite(pred.signal) & np.isfinite(real.signal) & (real.error > 0)
    inel = ok & (real.e_axis.centres > e_min_meV)[None, :]
    p = apply_artefacts(clean, settings=inst, config=ArtefactConfig(steps=("resolution", "coverage")),
                        detectors=detectors).signal
    inel_p = inel & np.isfinite(p)
    w = 1.0 / real.error[inel_p] ** 2
    k = float(np.sum(w * p[inel_p] * real.signal[inel_p]) / np.sum(w * p[inel_p] ** 2))
    chi2 = float(np.mean(((pred.signal[inel] - real.signal[inel]) / real.error[inel]) ** 2))
    chi2_clean = float(np.mean(((k * p[inel_p] - real.signal[inel_p]) / real.error[inel_p]) ** 2))
    el = ok & (np.abs(real.e_axis.centres) <= 3.0)[None, :]
    return {"inelastic_chi2_per_bin": chi2, "inelastic_chi2_per_bin_clean_scaled": chi2_clean,
            "elastic_integral_ratio": float(np.sum(pred.signal[el]) / np.sum(real.signal[el])) if el.any() else None,
            "note": "fitted on this map (training fit, not a held-out test)"}


def run_demo(settings: DemoSettings) -> dict:
    """Run the demo job and write its outputs to ``settings.output_dir``.

    Returns
    -------
    dict
        ``{"files": {name: path}, "metrics": {...}, "timings_s": {...}}``; the same record is written to
        ``metrics.json``.
    """
    cfg = settings.resolved()
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(settings.seed)
    timings: dict[str, float] = {}
    files: dict[str, str] = {}
    t_start = time.perf_counter()

    # --- grid, detectors and (optionally) the measured map ------------------------------------------
    q_edges = parse_binning(cfg["q_binning"], name="q_binning")
    e_edges = parse_binning(cfg["e_binning"], name="e_binning")
    real = None
    if settings.measured is not None:
        measured = load(settings.measured)
        if not isinstance(measured, DetectorData):
            raise InsganInputError(
                f"{settings.measured}: expected detector-space data (NXSPE) so the simulation can use its detector table"
            )
        ei = float(measured.ei_meV)
        e_lo = max(e_edges[0], measured.energy_edges[0])
        e_hi = min(e_edges[-1], measured.energy_edges[-1], 0.9 * ei)
        e_edges = e_edges[(e_edges >= e_lo) & (e_edges <= e_hi)]
        detectors = measured
        real = reduce_to_powder(measured, q_edges=q_edges, e_edges=e_edges, method="polygon")
        instrument_name = measured.metadata.instrument or settings.instrument
    else:
        ei = settings.ei_meV
        instrument_name = settings.instrument
        detectors = builtin_detectors(instrument_name, ei_meV=ei, e_edges=e_edges)
    inst = InstrumentSettings(
        instrument=instrument_name.upper(),
        ei_meV=ei,
        chopper_package=settings.chopper_package,
        chopper_frequency_hz=settings.chopper_frequency_hz,
    )
    no_noise = ArtefactConfig(steps=("resolution", "background", "coverage"))

    # --- simulations: clean and physics-artefact maps ----------------------------------------------
    model = load_spin_model(settings.model)
    base = dict(model.parameters)
    n_train, n_test = cfg["n_train"], cfg["n_test"]
    param_sets = [_scaled_parameters(base, rng, settings.parameter_spread) for _ in range(n_train + n_test)]
    clean_maps, noise_free = [], []
    t0 = time.perf_counter()
    iterator = enumerate(param_sets)
    if settings.progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(param_sets), desc="simulate", unit="map")
    for i, params in iterator:
        m = model.with_parameters(**params)
        clean = spinwave_powder_map(
            m, q_edges=q_edges, e_edges=e_edges, temperature_K=settings.temperature_K,
            n_directions=cfg["n_directions"], seed=settings.seed + i,
        )
        clean.metadata.instrument, clean.metadata.ei_meV = inst.instrument, ei
        clean.metadata.provenance["parameters"] = params
        art = apply_artefacts(clean, settings=inst, config=no_noise, detectors=detectors,
                              seed=settings.seed + i, method=settings.method)
        clean_maps.append(clean)
        noise_free.append(art)
    timings["simulate_per_map"] = (time.perf_counter() - t0) / len(param_sets)

    # Intensity scale and counting statistics: from the measured map, or a nominal 200 counts in the
    # 99th-percentile bin of the first simulation.
    if real is not None:
        k = _scale_to(real, noise_free[0])
        count_scale = _counts_scale_from_measured(real)
    else:
        k = 1.0
        count_scale = 200.0 / float(np.nanpercentile(noise_free[0].signal, 99))
    clean_maps = [m * k for m in clean_maps]
    noise_free = [m * k for m in noise_free]
    artefact = [
        add_poisson_noise(m, count_scale=count_scale, seed=settings.seed + 10_000 + i) for i, m in enumerate(noise_free)
    ]
    train_clean = MapStack.from_maps(clean_maps[:n_train])
    train_art = MapStack.from_maps(artefact[:n_train])
    test_clean = MapStack.from_maps(clean_maps[n_train:])
    test_art = MapStack.from_maps(artefact[n_train:])
    test_nf = MapStack.from_maps(noise_free[n_train:])

    # --- paired GAN: clean -> physics artefact simulation ------------------------------------------
    paired_cfg = TrainConfig(
        mode="paired", steps=cfg["paired_steps"], batch_size=min(4, n_train), seed=settings.seed,
        checkpoint_every=max(cfg["paired_steps"] // 4, 1), device=settings.device,
    )
    t0 = time.perf_counter()
    paired_path = out / "paired.safetensors"
    train(train_clean, train_art, paired_cfg, output_path=paired_path, checkpoint_dir=out / "checkpoints_paired",
          progress=settings.progress, manifest={"demo": cfg, "kind": "paired"})
    timings["train_paired"] = time.perf_counter() - t0
    files["paired_model"] = str(paired_path)
    paired_model = load_model(paired_path)
    t0 = time.perf_counter()
    gan_expected = paired_model.apply(test_clean)
    timings["apply_paired_per_map"] = (time.perf_counter() - t0) / len(test_clean)
    # The generator gives the expected (noise-free) experiment-like map; counting noise is drawn from the
    # count scale the model learnt from its targets, as a measurement would have it.
    gan_paired = paired_model.apply(test_clean, noise="poisson", seed=settings.seed)

    metrics: dict = {
        "paired": evaluate(gan_paired, test_art, test_clean),
        "paired_vs_noise_free": {
            "relative_l1_output": float(np.mean([relative_l1(g, r) for g, r in zip(gan_expected, test_nf)])),
            "relative_l1_baseline": float(np.mean([relative_l1(c, r) for c, r in zip(test_clean, test_nf)])),
        },
    }
    p = metrics["paired_vs_noise_free"]
    p["gap_closed"] = 1.0 - p["relative_l1_output"] / p["relative_l1_baseline"] if p["relative_l1_baseline"] > 0 else None

    # --- structured model (default): same training pairs, same held-out maps -----------------------------
    from ..translation import fit_structured

    t0 = time.perf_counter()
    n_fit = min(2, n_train)  # a handful of explicit parameters: two pairs identify them
    structured = fit_structured(list(train_clean)[:n_fit], list(train_art)[:n_fit],
                                temperatures_K=[settings.temperature_K] * n_fit, settings=inst, detectors=detectors,
                                seed=settings.seed)
    timings["train_structured"] = time.perf_counter() - t0
    structured_path = out / "structured.safetensors"
    structured.save(structured_path)
    files["structured_model"] = str(structured_path)
    t0 = time.perf_counter()
    st_expected = [structured.predict(m, temperature_K=settings.temperature_K) for m in test_clean]
    timings["apply_structured_per_map"] = (time.perf_counter() - t0) / len(test_clean)
    st_sample = MapStack.from_maps([structured.sample(m, temperature_K=settings.temperature_K,
                                                      rng=np.random.default_rng(settings.seed + 1))
                                    for m in test_clean])
    metrics["structured"] = evaluate(st_sample, test_art, test_clean)
    metrics["structured_vs_noise_free"] = {
        "relative_l1_output": float(np.mean([relative_l1(g, r) for g, r in zip(st_expected, test_nf)])),
        "relative_l1_baseline": p["relative_l1_baseline"],
        "training": structured.training_record,
    }

    # --- unpaired GAN: clean -> measured -------------------------------------------------------------
    gan_unpaired = None
    structured_measured = None
    if real is not None:
        patch = [min(32, real.shape[0]), min(32, real.shape[1])]
        unpaired_cfg = TrainConfig(
            mode="unpaired", steps=cfg["unpaired_steps"], batch_size=4, seed=settings.seed, patch_size=patch,
            checkpoint_every=max(cfg["unpaired_steps"] // 4, 1), device=settings.device,
        )
        t0 = time.perf_counter()
        unpaired_path = out / "unpaired.safetensors"
        train(train_clean, MapStack.from_maps([real]), unpaired_cfg, output_path=unpaired_path,
              checkpoint_dir=out / "checkpoints_unpaired", progress=settings.progress,
              manifest={"demo": cfg, "kind": "unpaired", "measured": str(settings.measured)})
        timings["train_unpaired"] = time.perf_counter() - t0
        files["unpaired_model"] = str(unpaired_path)
        gan_unpaired = load_model(unpaired_path).apply(test_clean)
        metrics["unpaired"] = evaluate(gan_unpaired, MapStack.from_maps([real]), test_clean)

        # structured model on the measured map: the library model's clean map -> the measurement
        t0 = time.perf_counter()
        library_clean = spinwave_powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=settings.temperature_K,
                                            n_directions=cfg["n_directions"], seed=settings.seed)
        st_real = fit_structured([library_clean], [real], temperatures_K=[settings.temperature_K], settings=inst,
                                 detectors=detectors, seed=settings.seed)
        timings["train_structured_measured"] = time.perf_counter() - t0
        st_real_path = out / "structured_measured.safetensors"
        st_real.save(st_real_path)
        files["structured_measured_model"] = str(st_real_path)
        structured_measured = st_real.predict(library_clean, temperature_K=settings.temperature_K)
        metrics["structured_measured"] = _fit_quality(structured_measured, real, library_clean, inst, detectors)
        metrics["structured_measured"]["training"] = st_real.training_record

    # --- outputs -------------------------------------------------------------------------------------
    to_save = {
        "clean_simulation": test_clean[0],
        "structured": st_sample[0],
        "gan_paired": gan_paired[0],
        "artefact_simulation": test_art[0],
    }
    if real is not None:
        to_save["measured"] = real
        to_save["gan_unpaired"] = gan_unpaired[0]
        to_save["structured_measured"] = structured_measured
    for name, m in to_save.items():
        path = out / f"{name}.nxs"
        save(m, path)
        files[name] = str(path)

    fig_path = out / "demo.png"
    demo_figure(to_save, fig_path, title=f"insgan demo: {settings.model}, {inst.instrument}, Ei = {ei:.1f} meV, T = {settings.temperature_K:g} K")
    files["figure"] = str(fig_path)
    timings["total"] = time.perf_counter() - t_start

    record = {
        "insgan_version": __version__,
        "settings": cfg,
        "intensity_scale_to_measured": k,
        "count_scale": count_scale,
        "files": files,
        "metrics": metrics,
        "timings_s": timings,
    }
    metrics_path = out / "metrics.json"
    with atomic_path(metrics_path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2, default=float))
    files["metrics"] = str(metrics_path)
    return record
