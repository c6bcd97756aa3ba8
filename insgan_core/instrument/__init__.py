"""Instrument layer: what a direct-geometry spectrometer does to S(|Q|,E).

Resolution from resins (energy) and the detector geometry (|Q|), kinematics and detector coverage
through the data layer's powder reduction, backgrounds, counting noise, a Monte-Carlo resolution
convolution, and paired training-set generation (local cores or a dask.distributed cluster).
"""

from .backgrounds import AluminiumCanLines, FlatBackground, IncoherentElastic, PhononBackground
from .coverage import builtin_detectors, detector_path, sample_at_pixels
from .dataset import generate_dataset, load_dataset, read_dataset_config
from .energy_resolution import energy_fwhm_meV, energy_sigma_meV
from .montecarlo import mc_resolution_map
from .noise import add_poisson_noise
from .pipeline import STEPS, ArtefactConfig, NoiseConfig, ResolutionConfig, apply_artefacts, simulate_with_artefacts
from .q_resolution import q_fwhm_invA, q_sigma_invA
from .settings import InstrumentSettings, instrument_options, known_instruments

__all__ = [
    "InstrumentSettings",
    "known_instruments",
    "instrument_options",
    "energy_fwhm_meV",
    "energy_sigma_meV",
    "q_fwhm_invA",
    "q_sigma_invA",
    "builtin_detectors",
    "sample_at_pixels",
    "detector_path",
    "IncoherentElastic",
    "PhononBackground",
    "FlatBackground",
    "AluminiumCanLines",
    "add_poisson_noise",
    "mc_resolution_map",
    "STEPS",
    "ArtefactConfig",
    "ResolutionConfig",
    "NoiseConfig",
    "apply_artefacts",
    "simulate_with_artefacts",
    "generate_dataset",
    "load_dataset",
    "read_dataset_config",
]
