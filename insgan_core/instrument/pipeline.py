"""The artefact pipeline: resolution → backgrounds → detector coverage and kinematics → counting noise.

:class:`ArtefactConfig` says which steps run and with which physical parameters;
:func:`apply_artefacts` turns a clean S(|Q|,E) into what the spectrometer would record;
:func:`simulate_with_artefacts` makes the clean spin-wave map first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.detector import DetectorData
from ..data.ins_map import INSMap
from ..errors import InsganInputError
from .backgrounds import FlatBackground, IncoherentElastic, PhononBackground, background_from_dict, background_to_dict
from .broadening import broaden_energy, broaden_q
from .coverage import builtin_detectors, check_detector_table, detector_path
from .energy_resolution import energy_sigma_meV
from .montecarlo import mc_resolution_map
from .noise import add_poisson_noise, check_count_scale
from .q_resolution import q_sigma_invA
from .settings import InstrumentSettings

__all__ = [
    "STEPS",
    "METHODS",
    "ResolutionConfig",
    "NoiseConfig",
    "ArtefactConfig",
    "apply_artefacts",
    "simulate_with_artefacts",
]

#: artefact steps in the order they are applied
STEPS = ("resolution", "background", "coverage", "noise")
#: resolution methods: analytic Gaussians (fast) or Monte-Carlo histories (slow, faithful)
METHODS = ("analytic", "montecarlo")


@dataclass(frozen=True, kw_only=True)
class ResolutionConfig:
    """Resolution step parameters.

    Parameters
    ----------
    energy, q : bool
        Broaden along energy (resins) and along |Q| (angular widths) in the analytic method (the
        Monte-Carlo method always samples both).
    detector_width_deg, divergence_deg : float or None
        Angular detector width (full) and incident divergence (FWHM), degrees; None: instrument defaults
        (see :mod:`insgan_core.instrument.q_resolution`).
    mc_samples : int
        Neutron histories per bin in the Monte-Carlo method.
    """

    energy: bool = True
    q: bool = True
    detector_width_deg: float | None = None
    divergence_deg: float | None = None
    mc_samples: int = 64

    def __post_init__(self):
        if not float(self.mc_samples).is_integer() or int(self.mc_samples) < 1:
            raise InsganInputError(f"resolution.mc_samples: must be a whole number >= 1, got {self.mc_samples}")
        object.__setattr__(self, "mc_samples", int(self.mc_samples))
        for name in ("detector_width_deg", "divergence_deg"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise InsganInputError(f"resolution.{name}: must be a number >= 0 (degrees) or null, got {v!r}")


@dataclass(frozen=True, kw_only=True)
class NoiseConfig:
    """Counting-noise parameters: ``count_scale`` = expected counts per unit intensity in a bin (> 0)."""

    count_scale: float = 100.0

    def __post_init__(self):
        object.__setattr__(self, "count_scale", check_count_scale(self.count_scale))


def _default_backgrounds():
    return (IncoherentElastic(), PhononBackground(), FlatBackground())


@dataclass(frozen=True, kw_only=True)
class ArtefactConfig:
    """Which artefact steps run and their physical parameters.

    Parameters
    ----------
    steps : tuple of str
        Subset of :data:`STEPS`; applied in the order of :data:`STEPS` whatever the order given.
    resolution : ResolutionConfig
    backgrounds : tuple
        Background steps (:mod:`insgan_core.instrument.backgrounds`) added by the ``"background"`` step.
    noise : NoiseConfig
    reduction_method : {"polygon", "centre"}
        Powder reduction used by the ``"coverage"`` step.
    """

    steps: tuple = STEPS
    resolution: ResolutionConfig = field(default_factory=ResolutionConfig)
    backgrounds: tuple = field(default_factory=_default_backgrounds)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    reduction_method: str = "polygon"

    def __post_init__(self):
        steps = self.steps.split(",") if isinstance(self.steps, str) else list(self.steps)
        steps = [s.strip() for s in steps if s.strip()]
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise InsganInputError(f"artefacts: unknown step(s) {unknown}; choose from {', '.join(STEPS)}")
        object.__setattr__(self, "steps", tuple(s for s in STEPS if s in steps))
        object.__setattr__(self, "backgrounds", tuple(self.backgrounds))
        names = [b.name for b in self.backgrounds]
        if len(set(names)) != len(names):
            raise InsganInputError(f"artefacts.backgrounds: each kind may appear once, got {names}")
        if self.reduction_method not in ("polygon", "centre"):
            raise InsganInputError(f"artefacts.reduction_method: expected 'polygon' or 'centre', got {self.reduction_method!r}")

    # --- serialisation and sweeps -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "resolution": asdict(self.resolution),
            "backgrounds": [background_to_dict(b) for b in self.backgrounds],
            "noise": asdict(self.noise),
            "reduction_method": self.reduction_method,
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> "ArtefactConfig":
        """Build from a (JSON/YAML) dict; unknown keys raise naming the key."""
        d = dict(d or {})
        allowed = {"steps", "resolution", "backgrounds", "noise", "reduction_method"}
        unknown = set(d) - allowed
        if unknown:
            raise InsganInputError(f"artefacts: unknown key(s) {sorted(unknown)}; expected {sorted(allowed)}")
        kw = {}
        if "steps" in d:
            kw["steps"] = d["steps"]
        if "resolution" in d:
            kw["resolution"] = _dataclass_from(ResolutionConfig, d["resolution"], "artefacts.resolution")
        if "noise" in d:
            kw["noise"] = _dataclass_from(NoiseConfig, d["noise"], "artefacts.noise")
        if "backgrounds" in d:
            kw["backgrounds"] = tuple(background_from_dict(b) for b in (d["backgrounds"] or []))
        if "reduction_method" in d:
            kw["reduction_method"] = d["reduction_method"]
        return cls(**kw)

    def with_parameters(self, updates: dict) -> "ArtefactConfig":
        """A copy with dotted parameters replaced, e.g. ``{"noise.count_scale": 50,
        "backgrounds.phonon.amplitude": 0.02, "resolution.mc_samples": 32}``; unknown names raise."""
        d = self.to_dict()
        for key, value in updates.items():
            parts = key.split(".")
            target = d
            try:
                if parts[0] == "backgrounds":
                    (target,) = [b for b in d["backgrounds"] if b["kind"] == parts[1]]
                    parts = parts[2:]
                else:
                    for p in parts[:-1]:
                        target = target[p]
                    parts = parts[-1:]
                if len(parts) != 1 or parts[0] not in target or parts[0] == "kind":
                    raise KeyError(key)
            except (KeyError, ValueError, IndexError, TypeError):
                raise InsganInputError(
                    f"artefact parameter {key!r} does not exist; use 'resolution.<field>', 'noise.count_scale' or "
                    f"'backgrounds.<kind>.<field>' with kinds {[b['kind'] for b in d['backgrounds']]}"
                ) from None
            target[parts[0]] = value
        return ArtefactConfig.from_dict(d)


def _dataclass_from(cls, d, where: str):
    d = dict(d or {})
    unknown = set(d) - set(cls.__dataclass_fields__)
    if unknown:
        raise InsganInputError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(cls.__dataclass_fields__)}")
    return cls(**d)


def _analytic_resolution(sqw: INSMap, settings: InstrumentSettings, res: ResolutionConfig) -> np.ndarray:
    signal = sqw.signal
    ec = sqw.e_axis.centres
    if res.energy:
        sigma_e = np.zeros_like(ec)
        ok = ec < settings.ei_meV
        if ok.any():
            sigma_e[ok] = energy_sigma_meV(settings, ec[ok])
        signal = broaden_energy(signal, sqw.e_axis.edges, sigma_e)
    if res.q:
        qc = sqw.x_axis.centres
        sigma_q = q_sigma_invA(
            settings,
            q_invA=qc[:, None],
            energy_transfer_meV=ec[None, :],
            detector_width_deg=res.detector_width_deg,
            divergence_deg=res.divergence_deg,
        )
        signal = broaden_q(signal, sqw.x_axis.edges, np.broadcast_to(sigma_q, signal.shape))
    return signal


def apply_artefacts(
    clean: INSMap,
    *,
    settings: InstrumentSettings,
    config: ArtefactConfig | None = None,
    detectors: DetectorData | None = None,
    seed: int = 0,
    method: str = "analytic",
) -> INSMap:
    """Pass a clean S(|Q|,E) through the physics model of the spectrometer.

    Parameters
    ----------
    clean : INSMap, shape (nq, ne)
        Resolution-free S(|Q|,E) (x unit ``MomentumTransfer``, Å⁻¹; E in meV), e.g. from
        :func:`insgan_core.spinwave.powder_map`; the output has the same grid.
    settings : InstrumentSettings
    config : ArtefactConfig or None
        Steps and parameters (default: all steps with default parameters).
    detectors : DetectorData or None
        Detector table for the coverage step (e.g. from an NXSPE file at the same Ei); None uses the
        instrument's built-in coverage (:func:`builtin_detectors`).
    seed : int
        Seeds the Monte-Carlo histories and the counting noise (same seed → same map).
    method : {"analytic", "montecarlo"}
        Resolution by Gaussian broadening (fast) or Monte-Carlo histories (slow, faithful).

    Returns
    -------
    INSMap
        The map with artefacts: NaN where no detector pixel reaches (after ``"coverage"``), Poisson
        errors (after ``"noise"``); provenance records settings, config, method and seed.
    """
    config = ArtefactConfig() if config is None else config
    if not isinstance(settings, InstrumentSettings):
        raise InsganInputError(f"apply_artefacts: settings must be InstrumentSettings, got {type(settings).__name__}")
    if method not in METHODS:
        raise InsganInputError(f"apply_artefacts: method must be one of {', '.join(METHODS)}, got {method!r}")
    if clean.x_axis.unit != "MomentumTransfer":
        raise InsganInputError(
            f"apply_artefacts: the clean map must be a powder map with |Q| (MomentumTransfer) on x, got '{clean.x_axis.unit}'"
        )
    if detectors is not None and "coverage" in config.steps:
        check_detector_table(detectors, ei_meV=settings.ei_meV)
    seq = np.random.SeedSequence(int(seed))
    mc_seed, noise_seed = (np.random.default_rng(s) for s in seq.spawn(2))

    out = clean.copy()
    if "resolution" in config.steps:
        if method == "analytic":
            out = out.with_data(_analytic_resolution(out, settings, config.resolution), np.zeros_like(out.signal))
        else:
            r = config.resolution
            out = mc_resolution_map(
                out, settings, n_samples=r.mc_samples, seed=mc_seed,
                detector_width_deg=r.detector_width_deg, divergence_deg=r.divergence_deg,
            )
    if "background" in config.steps and config.backgrounds:
        total = sum(b.intensity(out.x_axis.centres, out.e_axis.edges, settings) for b in config.backgrounds)
        out = out.with_data(out.signal + total, out.error)
    if "coverage" in config.steps:
        table = detectors if detectors is not None else builtin_detectors(
            settings.instrument, ei_meV=settings.ei_meV, e_edges=out.e_axis.edges
        )
        out = detector_path(out, table, method=config.reduction_method)
    if "noise" in config.steps:
        out = add_poisson_noise(out, count_scale=config.noise.count_scale, seed=noise_seed)

    md = out.metadata
    md.instrument = settings.instrument
    md.ei_meV = settings.ei_meV
    md.provenance = dict(md.provenance)
    md.provenance["artefacts"] = {
        "settings": settings.to_dict(),
        "config": config.to_dict(),
        "method": method,
        "seed": int(seed),
        "detectors": "builtin" if detectors is None else str(detectors.metadata.provenance.get("source_file", "table")),
    }
    return out


def simulate_with_artefacts(
    model,
    *,
    grid,
    settings: InstrumentSettings,
    config: ArtefactConfig | None = None,
    detectors: DetectorData | None = None,
    seed: int = 0,
    method: str = "analytic",
    temperature_K: float = 5.0,
    **powder_kwargs,
) -> tuple[INSMap, INSMap]:
    """Clean spin-wave powder map and the same map with instrument artefacts.

    Parameters
    ----------
    model : SpinWaveModel
        From :func:`insgan_core.spinwave.load_model`.
    grid : INSMap or (q_edges, e_edges)
        The output grid (Å⁻¹, meV); an INSMap contributes its axes only.
    settings, config, detectors, seed, method
        As :func:`apply_artefacts`.
    temperature_K : float
        Sample temperature for the Bose factor of the spin-wave map.
    **powder_kwargs
        Passed to :func:`insgan_core.spinwave.powder_map` (``n_directions``, ``form_factor``...).

    Returns
    -------
    (clean, artefact) : tuple of INSMap
        Both on ``grid``; ``clean`` has no broadening (the resolution step supplies it).
    """
    from ..spinwave import powder_map

    if isinstance(grid, INSMap):
        q_edges, e_edges = grid.x_axis.edges, grid.e_axis.edges
    else:
        try:
            q_edges, e_edges = grid
        except (TypeError, ValueError):
            raise InsganInputError("simulate_with_artefacts: grid must be an INSMap or a (q_edges, e_edges) pair") from None
    clean = powder_map(model, q_edges=np.asarray(q_edges), e_edges=np.asarray(e_edges), temperature_K=temperature_K,
                       seed=seed, **powder_kwargs)
    clean.metadata.instrument = settings.instrument
    clean.metadata.ei_meV = settings.ei_meV
    clean.metadata.temperature_K = temperature_K
    artefact = apply_artefacts(clean, settings=settings, config=config, detectors=detectors, seed=seed, method=method)
    return clean, artefact
