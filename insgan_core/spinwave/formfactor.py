"""Magnetic form factor in the dipole approximation.

Coefficients: ``tables/dipole_formfactor.txt`` (copied from Mantid's ``MagneticIon.cpp``, which follows
P. J. Brown, International Tables for Crystallography Vol. C §4.4.5, and the ILL Neutron Data Booklet).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InsganInputError

__all__ = ["form_factor", "known_ions", "check_ion", "normalise_ion_name"]

_TABLE = Path(__file__).resolve().parent / "tables" / "dipole_formfactor.txt"


@lru_cache(maxsize=1)
def _coefficients() -> dict[str, np.ndarray]:
    table = {}
    for line in _TABLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        table[parts[0]] = np.array([float(v) for v in parts[1:15]]).reshape(2, 7)
    return table


def known_ions() -> list[str]:
    """Ions with tabulated coefficients, as ``"Fe3+"``-style names."""
    return [f"{k[:-1]}{k[-1]}+" if k[-1] != "0" else f"{k[:-1]}0" for k in _coefficients()]


def normalise_ion_name(ion: str) -> str:
    """``"Fe3+"``, ``"Fe+3"``, ``"fe3"``, ``"MFE3"`` -> table key ``"Fe3"``; ``"Fe"`` -> ``"Fe0"``."""
    text = str(ion).strip()
    spinw = re.fullmatch(r"M([A-Z]{1,2})(\d)", text)  # SpinW labels, e.g. MFE3
    if spinw:
        return f"{spinw.group(1).capitalize()}{spinw.group(2)}"
    m = re.fullmatch(r"([A-Za-z]{1,2})\s*(?:\+?(\d)\+?)?", text)
    if not m:
        return text
    return f"{m.group(1).capitalize()}{m.group(2) or '0'}"


def check_ion(ion: str, *, where: str = "ion") -> str:
    """Table key of ``ion``; raises :class:`InsganInputError` naming ``where`` for an unknown ion."""
    key = normalise_ion_name(ion)
    if key not in _coefficients():
        raise InsganInputError(
            f"{where}: no form-factor table for ion {ion!r}; known ions: {', '.join(known_ions())}. "
            "Use e.g. 'Fe3+', or leave 'ion' empty for no form factor."
        )
    return key


def form_factor(ion: str, q_invA, *, g: float = 2.0) -> np.ndarray:
    """Dipole-approximation magnetic form factor F(|Q|) (dimensionless, F(0) ≈ 1).

    Parameters
    ----------
    ion : str
        Ion name, e.g. ``"Fe3+"``, ``"Cr3+"``, ``"Ho3+"``.
    q_invA : array_like
        |Q| in Å⁻¹, any shape.
    g : float
        Landé g factor; the <j2> correction vanishes for g = 2 (spin-only).

    Returns
    -------
    ndarray, same shape as ``q_invA``

    Notes
    -----
    F(Q) = <j0(s)> + (2/g − 1) <j2(s)>, s = Q/4π, with
    <j0> = A e^{−a s²} + B e^{−b s²} + C e^{−c s²} + D and <j2> = s² (A' e^{−a' s²} + ... + D')
    (P. J. Brown, International Tables for Crystallography Vol. C, §4.4.5; the same expression as
    Mantid's ``MagneticIon::analyticalFormFactor``, Lovesey eq. 11.110).
    """
    key = check_ion(ion)
    c = _coefficients()[key]
    s2 = (np.asarray(q_invA, dtype=float) / (4.0 * np.pi)) ** 2
    j0 = c[0, 0] * np.exp(-c[0, 1] * s2) + c[0, 2] * np.exp(-c[0, 3] * s2) + c[0, 4] * np.exp(-c[0, 5] * s2) + c[0, 6]
    if abs(g - 2.0) < 1e-12:
        return j0
    j2 = s2 * (
        c[1, 0] * np.exp(-c[1, 1] * s2) + c[1, 2] * np.exp(-c[1, 3] * s2) + c[1, 4] * np.exp(-c[1, 5] * s2) + c[1, 6]
    )
    return j0 + (2.0 / g - 1.0) * j2
