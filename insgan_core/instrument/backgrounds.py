"""Background steps: each a separate, composable contribution with physical parameters.

Every step is a small frozen dataclass with ``intensity(q_invA, e_edges, settings) -> (nq, ne)`` giving
the background in the map's units (intensity per meV) on a |Q| × energy grid; the pipeline adds the
enabled steps to the (resolution-broadened) map. Energies in meV, |Q| in Å⁻¹, temperatures in K.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.integrate import quad
from scipy.special import erf

from ..errors import InsganInputError
from ..spinwave.bose import KB_MEV_PER_K, bose_factor
from .energy_resolution import SIGMA_TO_FWHM, energy_sigma_meV

__all__ = [
    "IncoherentElastic",
    "PhononBackground",
    "FlatBackground",
    "AluminiumCanLines",
    "BACKGROUND_STEPS",
    "background_from_dict",
    "background_to_dict",
]

def _check(name: str, **values):
    for key, value in values.items():
        if value is None:
            continue
        if not np.all(np.isfinite(value)) or np.any(np.asarray(value) < 0):
            raise InsganInputError(f"background '{name}': {key} must be finite and >= 0, got {value!r}")


def _gaussian_bin_average(e_edges: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """Bin average (per meV) of a unit-area Gaussian; exact bin integrals divided by the widths."""
    cdf = 0.5 * erf((e_edges - centre) / (np.sqrt(2.0) * sigma))
    return np.diff(cdf) / np.diff(e_edges)


@dataclass(frozen=True, kw_only=True)
class IncoherentElastic:
    """Incoherent elastic line, resolution-broadened, with a Debye–Waller fall-off in |Q|.

    S_el(|Q|, E) = A · exp(−⟨u²⟩|Q|²) · G(E; σ), G a unit-area Gaussian centred at E = 0.

    Parameters
    ----------
    amplitude : float
        A, energy-integrated intensity at |Q| = 0 (intensity × meV).
    u2_A2 : float
        ⟨u²⟩, mean-square displacement along Q in Å² (Debye–Waller exponent 2W = ⟨u²⟩|Q|²).
    fwhm_meV : float or None
        FWHM of the line; None uses the instrument's elastic resolution (resins, E = 0).
    """

    name = "elastic"
    amplitude: float = 1.0
    u2_A2: float = 0.01
    fwhm_meV: float | None = None

    def __post_init__(self):
        _check(self.name, amplitude=self.amplitude, u2_A2=self.u2_A2, fwhm_meV=self.fwhm_meV)
        if self.fwhm_meV is not None and self.fwhm_meV <= 0:
            raise InsganInputError(f"background 'elastic': fwhm_meV must be > 0, got {self.fwhm_meV}")

    def intensity(self, q_invA, e_edges, settings) -> np.ndarray:
        sigma = self.fwhm_meV / SIGMA_TO_FWHM if self.fwhm_meV is not None else energy_sigma_meV(settings, 0.0)
        q = np.asarray(q_invA, dtype=np.float64)
        return self.amplitude * np.exp(-self.u2_A2 * q**2)[:, None] * _gaussian_bin_average(e_edges, 0.0, sigma)[None, :]


@dataclass(frozen=True, kw_only=True)
class PhononBackground:
    """Incoherent one-phonon background ∝ |Q|² with the Bose factor, Debye density of states.

    S_ph(|Q|, E) = A |Q|² exp(−⟨u²⟩|Q|²) f(E) / N(T),  f(E) = E [n(E) + 1] = E / (1 − exp(−E/k_BT))
    for |E| ≤ E_D and 0 beyond; N(T) = ∫ f dE over [−E_D, E_D], so ∫ S_ph dE = A |Q|² exp(−⟨u²⟩|Q|²).

    Parameters
    ----------
    amplitude : float
        A, energy-integrated intensity per Å⁻² (intensity × meV × Å²).
    temperature_K : float
        Sample temperature for the Bose factor.
    debye_energy_meV : float
        Debye cut-off E_D.
    u2_A2 : float
        Debye–Waller ⟨u²⟩ in Å².

    Notes
    -----
    One-phonon incoherent scattering S(Q,E) ∝ Q² e^{−2W} g(E)/E [n(E)+1] (Squires ch. 3); a Debye density
    of states g(E) ∝ E² gives f(E) above.
    """

    name = "phonon"
    amplitude: float = 0.01
    temperature_K: float = 5.0
    debye_energy_meV: float = 30.0
    u2_A2: float = 0.0

    def __post_init__(self):
        _check(self.name, amplitude=self.amplitude, temperature_K=self.temperature_K, u2_A2=self.u2_A2)
        if not self.debye_energy_meV > 0:
            raise InsganInputError(f"background 'phonon': debye_energy_meV must be > 0, got {self.debye_energy_meV}")

    def energy_shape(self, e_meV) -> np.ndarray:
        """f(E)/N(T), the unit-area energy profile (meV⁻¹)."""
        e = np.asarray(e_meV, dtype=np.float64)
        return np.where(np.abs(e) <= self.debye_energy_meV, self._f(e), 0.0) / self._norm()

    def _f(self, e):
        t = self.temperature_K
        if t <= 0:
            return np.maximum(e, 0.0)
        kt = KB_MEV_PER_K * t
        small = np.abs(e) < 1e-9 * kt
        with np.errstate(divide="ignore", invalid="ignore"):
            val = e / -np.expm1(-e / kt)
        return np.where(small, kt, val)

    def _norm(self) -> float:
        ed = self.debye_energy_meV
        return quad(lambda x: float(self._f(np.array(x))), -ed, ed, points=[0.0], limit=200)[0]

    def intensity(self, q_invA, e_edges, settings) -> np.ndarray:
        q = np.asarray(q_invA, dtype=np.float64)
        ec = 0.5 * (e_edges[1:] + e_edges[:-1])
        return self.amplitude * (q**2 * np.exp(-self.u2_A2 * q**2))[:, None] * self.energy_shape(ec)[None, :]


@dataclass(frozen=True, kw_only=True)
class FlatBackground:
    """Flat, time-independent background: ``level`` intensity per meV in every bin."""

    name = "flat"
    level: float = 0.001

    def __post_init__(self):
        _check(self.name, level=self.level)

    def intensity(self, q_invA, e_edges, settings) -> np.ndarray:
        return np.full((np.asarray(q_invA).size, np.asarray(e_edges).size - 1), float(self.level))


@dataclass(frozen=True, kw_only=True)
class AluminiumCanLines:
    """Phonon lines of an aluminium sample can: peaks of the Al phonon density of states.

    S_Al(|Q|, E) = Σ_k a_k |Q|² exp(−⟨u²⟩|Q|²) [(n(E_k)+1) G(E − E_k) + n(E_k) G(E + E_k)], G a unit-area
    Gaussian of FWHM the instrument resolution at E_k (or ``fwhm_meV``).

    Parameters
    ----------
    amplitudes : tuple of float
        a_k, energy-integrated intensity per Å⁻² of each line at T = 0.
    energies_meV : tuple of float
        E_k; defaults are the transverse and longitudinal peaks of the Al density of states near 20 and
        36.5 meV (Stedman & Nilsson, Phys. Rev. 145, 492 (1966)).
    temperature_K, u2_A2, fwhm_meV : float
    """

    name = "aluminium"
    amplitudes: tuple = (0.002, 0.001)
    energies_meV: tuple = (20.0, 36.5)
    temperature_K: float = 5.0
    u2_A2: float = 0.0
    fwhm_meV: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "amplitudes", tuple(float(a) for a in self.amplitudes))
        object.__setattr__(self, "energies_meV", tuple(float(e) for e in self.energies_meV))
        _check(self.name, amplitudes=self.amplitudes, energies_meV=self.energies_meV, temperature_K=self.temperature_K)
        if not all(e > 0 for e in self.energies_meV):
            raise InsganInputError(
                f"background 'aluminium': phonon line energies must be > 0 meV, got {tuple(self.energies_meV)}"
            )
        if len(self.amplitudes) != len(self.energies_meV):
            raise InsganInputError(
                f"background 'aluminium': {len(self.amplitudes)} amplitudes for {len(self.energies_meV)} energies; give one each"
            )

    def intensity(self, q_invA, e_edges, settings) -> np.ndarray:
        q = np.asarray(q_invA, dtype=np.float64)
        e_edges = np.asarray(e_edges, dtype=np.float64)
        profile = np.zeros(e_edges.size - 1)
        for a, ek in zip(self.amplitudes, self.energies_meV):
            if self.fwhm_meV is not None:
                sigma = self.fwhm_meV / SIGMA_TO_FWHM
            elif ek < settings.ei_meV:
                sigma = energy_sigma_meV(settings, ek)
            else:
                continue  # line beyond Ei: never measured
            n1 = float(bose_factor(ek, temperature_K=self.temperature_K))
            n0 = n1 - 1.0
            profile += a * (n1 * _gaussian_bin_average(e_edges, ek, sigma) + n0 * _gaussian_bin_average(e_edges, -ek, sigma))
        return (q**2 * np.exp(-self.u2_A2 * q**2))[:, None] * profile[None, :]


#: step name -> class
BACKGROUND_STEPS = {cls.name: cls for cls in (IncoherentElastic, PhononBackground, FlatBackground, AluminiumCanLines)}


def background_to_dict(step) -> dict:
    return {"kind": step.name, **asdict(step)}


def background_from_dict(d: dict):
    """Build a background step from ``{"kind": name, **parameters}``; clear error for unknown names."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in BACKGROUND_STEPS:
        raise InsganInputError(f"background: unknown kind {kind!r}; choose one of {', '.join(BACKGROUND_STEPS)}")
    cls = BACKGROUND_STEPS[kind]
    allowed = set(cls.__dataclass_fields__)
    unknown = set(d) - allowed
    if unknown:
        raise InsganInputError(f"background '{kind}': unknown parameter(s) {sorted(unknown)}; expected {sorted(allowed)}")
    return cls(**d)
