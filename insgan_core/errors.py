"""Exceptions raised by insgan.

Every error a user can cause is an :class:`InsganInputError` (a ``ValueError``) whose message names the
file, property, field or model element that is wrong and what was expected.
"""


class InsganInputError(ValueError):
    """Bad input: the message names what was wrong, what was expected, and how to fix it."""


class InsganFileError(InsganInputError):
    """A file is missing, truncated, not HDF5, or lacks a field; the message names file and field."""


class SpinWaveInstabilityError(RuntimeError):
    """The magnetic structure is not a (local) classical ground state for the given Hamiltonian."""
