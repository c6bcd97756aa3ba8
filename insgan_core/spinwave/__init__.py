"""Linear spin-wave theory: models, model files, solver, intensities, powder and single-crystal maps.

Conventions: H = Σ_bonds S_i·J_ij·S_j (each bond once, J > 0 antiferromagnetic, as SpinW/pySpinW) +
Σ_i S_i·A_i·S_i − μ_B Σ_i g_i B·S_i; energies in meV, |Q| in Å⁻¹, wavevectors in r.l.u. of the model's
(magnetic) cell, vectors Cartesian with a ∥ x. Intensities are S⊥ per magnetic site (optionally
mbarn/sr/meV per site).

Typical use::

    from insgan_core.data import parse_binning
    from insgan_core.spinwave import load_model, powder_map
    model = load_model("afm_chain", "J=3.5")
    smap = powder_map(model, q_edges=parse_binning("0,0.02,3"), e_edges=parse_binning("0,0.2,20"), fwhm_meV=1.0)
"""

from .bonds import bonds_in_shell, shell_distances
from .bose import bose_factor
from .broadening import FWHM_TO_SIGMA
from .calculator import ModeSet, SpinWaveCalculator
from .formfactor import form_factor, known_ions
from .ground_state import classical_energy, relax_directions
from .lattice import Lattice
from .model import SIGN_CONVENTION, Anisotropy, Bond, Exchange, Site, SpinWaveModel
from .model_file import list_models, load_model, model_from_dict, model_to_dict, parse_overrides
from .powder import fibonacci_sphere, powder_map
from .powder_plan import PowderPlan
from .powder_torch import DifferentiablePowder
from .single_crystal import parse_q_path, path_map, q_path, sqw_points

__all__ = [
    "SIGN_CONVENTION",
    "Lattice",
    "Site",
    "Exchange",
    "Bond",
    "Anisotropy",
    "SpinWaveModel",
    "bonds_in_shell",
    "shell_distances",
    "load_model",
    "list_models",
    "model_from_dict",
    "model_to_dict",
    "parse_overrides",
    "SpinWaveCalculator",
    "ModeSet",
    "powder_map",
    "PowderPlan",
    "DifferentiablePowder",
    "path_map",
    "q_path",
    "parse_q_path",
    "sqw_points",
    "fibonacci_sphere",
    "form_factor",
    "known_ions",
    "bose_factor",
    "FWHM_TO_SIGMA",
    "classical_energy",
    "relax_directions",
]
