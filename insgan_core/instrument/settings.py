"""Spectrometer settings (instrument, chopper package, chopper frequency, Ei) validated against resins.

The allowed chopper packages, Ei ranges and chopper frequencies are read from resins' instrument
descriptions (the PyChop models of MAPS, MERLIN, MARI and LET), never from tables written here. The only
numbers this module adds are the detector geometry resins does not carry (the angular coverage lives in
:mod:`insgan_core.instrument.coverage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import InsganInputError

__all__ = ["InstrumentSettings", "known_instruments", "instrument_options", "normalise_instrument_name"]

#: insgan name -> resins instrument name. All four are direct-geometry ISIS spectrometers.
_RESINS_NAMES = {"MAPS": "MAPS", "MERLIN": "MERLIN", "MARI": "MARI", "LET": "LET"}

#: resins model used for the energy resolution of every instrument
RESINS_MODEL = "PyChop_fit"


def known_instruments() -> list[str]:
    """Names accepted by :class:`InstrumentSettings` (upper case)."""
    return list(_RESINS_NAMES)


@lru_cache(maxsize=None)
def _resins_instrument(name: str):
    from resins import Instrument

    return Instrument.from_default(_RESINS_NAMES[name])


@lru_cache(maxsize=None)
def _model_data(name: str, package: str):
    return _resins_instrument(name).get_model_data(RESINS_MODEL, chopper_package=package)


def instrument_options(instrument: str) -> dict:
    """What resins allows for one instrument.

    Parameters
    ----------
    instrument : str
        One of :func:`known_instruments` (case-insensitive).

    Returns
    -------
    dict
        ``{"chopper_packages": [...], "default_package": str, "packages": {package: {"ei_range_meV":
        (lo, hi), "frequencies_hz": [...]}}}``.
    """
    name = normalise_instrument_name(instrument)
    inst = _resins_instrument(name)
    packages = inst.possible_options_for_model(RESINS_MODEL)["chopper_package"]
    default = inst.default_option_for_configuration(RESINS_MODEL, "chopper_package")
    out = {"chopper_packages": list(packages), "default_package": default, "packages": {}}
    for package in packages:
        restrictions = _model_data(name, package).restrictions
        freq_key = "chopper_frequency" if "chopper_frequency" in restrictions else "resolution_frequency"
        start, stop, step = restrictions[freq_key]
        out["packages"][package] = {
            "ei_range_meV": tuple(float(v) for v in restrictions["e_init"]),
            "frequencies_hz": [float(f) for f in range(int(start), int(stop), int(step))],
        }
    return out


def normalise_instrument_name(instrument) -> str:
    """Upper-case instrument name; raises :class:`InsganInputError` listing the known ones if unknown."""
    name = str(instrument).strip().upper()
    if name not in _RESINS_NAMES:
        raise InsganInputError(
            f"instrument: unknown instrument {instrument!r}; known instruments are {', '.join(known_instruments())}"
        )
    return name


@dataclass(frozen=True)
class InstrumentSettings:
    """One configuration of a direct-geometry spectrometer, checked on construction.

    Parameters
    ----------
    instrument : str
        ``"MAPS"``, ``"MERLIN"``, ``"MARI"`` or ``"LET"`` (case-insensitive; stored upper case).
    ei_meV : float
        Incident energy in meV, inside the range resins allows for the chopper package.
    chopper_package : str or None
        Fermi chopper package (MAPS ``A/B/S``, MERLIN ``G/S``, MARI ``A/B/C/G/R/S``) or LET chopper
        configuration (``"High Flux"``, ``"Intermediate"``, ``"High Resolution"``). None picks the
        instrument's default package.
    chopper_frequency_hz : float
        Fermi chopper frequency (LET: resolution-disk frequency) in Hz, one of the values resins allows.

    Raises
    ------
    InsganInputError
        Unknown instrument or package, Ei outside the package's range, a frequency the chopper cannot
        run, or a combination at which the Fermi chopper transmits no neutrons.
    """

    instrument: str = "MERLIN"
    ei_meV: float = 62.0
    chopper_package: str | None = "G"
    chopper_frequency_hz: float = 250.0

    def __post_init__(self):
        name = normalise_instrument_name(self.instrument)
        object.__setattr__(self, "instrument", name)
        options = instrument_options(name)
        package = options["default_package"] if self.chopper_package is None else str(self.chopper_package)
        matches = [p for p in options["chopper_packages"] if p.upper() == package.strip().upper()]
        if not matches:
            raise InsganInputError(
                f"chopper_package: {name} has no chopper package {self.chopper_package!r}; choose one of "
                f"{', '.join(options['chopper_packages'])}"
            )
        package = matches[0]
        object.__setattr__(self, "chopper_package", package)
        try:
            ei = float(self.ei_meV)
            freq = float(self.chopper_frequency_hz)
        except (TypeError, ValueError):
            raise InsganInputError(
                f"ei_meV / chopper_frequency_hz: expected numbers, got {self.ei_meV!r} and {self.chopper_frequency_hz!r}"
            ) from None
        allowed = options["packages"][package]
        lo, hi = allowed["ei_range_meV"]
        if not np.isfinite(ei) or not (lo <= ei <= hi) or ei <= 0:
            raise InsganInputError(
                f"ei_meV: {ei} meV is outside the range {lo:g}–{hi:g} meV that {name} chopper package "
                f"{package!r} allows; choose an incident energy in that range or another package"
            )
        if freq not in allowed["frequencies_hz"]:
            freqs = allowed["frequencies_hz"]
            raise InsganInputError(
                f"chopper_frequency_hz: {name} cannot run its chopper at {freq:g} Hz; allowed values are "
                f"{freqs[0]:g} to {freqs[-1]:g} Hz in steps of {freqs[1] - freqs[0]:g} Hz"
            )
        object.__setattr__(self, "ei_meV", ei)
        object.__setattr__(self, "chopper_frequency_hz", freq)
        self.resolution_model()  # raises for no-transmission combinations

    # --- resins access ------------------------------------------------------------------------------
    def resins_kwargs(self) -> dict:
        """Keyword arguments for resins' ``Instrument.get_resolution_function``."""
        return _resins_kwargs(self.instrument, self.chopper_package, self.ei_meV, self.chopper_frequency_hz)

    def resolution_model(self):
        """The resins PyChop resolution model for these settings (cached per settings)."""
        return _resolution_model(self.instrument, self.chopper_package, self.ei_meV, self.chopper_frequency_hz)

    def model_data(self):
        """resins' model data (distances, moderator, chopper and detector descriptions)."""
        return _model_data(self.instrument, self.chopper_package)

    # --- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "instrument": self.instrument,
            "ei_meV": self.ei_meV,
            "chopper_package": self.chopper_package,
            "chopper_frequency_hz": self.chopper_frequency_hz,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "InstrumentSettings":
        unknown = set(d) - {"instrument", "ei_meV", "chopper_package", "chopper_frequency_hz"}
        if unknown:
            raise InsganInputError(
                f"instrument settings: unknown field(s) {sorted(unknown)}; expected instrument, ei_meV, "
                f"chopper_package, chopper_frequency_hz"
            )
        return cls(**d)


def _resins_kwargs(instrument: str, package: str, ei: float, freq: float) -> dict:
    kw = {"chopper_package": package, "e_init": ei}
    if instrument == "LET":
        # LET: the user picks the resolution-disk frequency; the pulse remover runs at half of it,
        # rounded to the 10 Hz steps resins accepts.
        kw["resolution_frequency"] = int(freq)
        kw["pulse_remover_frequency"] = int(max(10, 10 * round(freq / 20)))
    else:
        kw["chopper_frequency"] = int(freq)
    return kw


@lru_cache(maxsize=64)
def _resolution_model(instrument: str, package: str, ei: float, freq: float):
    from resins.models.model_base import InvalidInputError
    from resins.models.pychop import NoTransmissionError

    try:
        return _resins_instrument(instrument).get_resolution_function(
            RESINS_MODEL, **_resins_kwargs(instrument, package, ei, freq)
        )
    except NoTransmissionError:
        raise InsganInputError(
            f"chopper_frequency_hz: at Ei = {ei} meV the {instrument} Fermi chopper package {package!r} "
            f"transmits no neutrons at {freq:g} Hz; choose another frequency or package"
        ) from None
    except InvalidInputError as exc:
        raise InsganInputError(f"instrument settings refused by resins: {exc}") from None
