"""NXSPE files (Mantid ``SaveNXSPE``/``LoadNXSPE``; versions 1.0-1.3): detector-space INS data.

Layout (first NXentry of the file, any name)::

    definition = "NXSPE" (attr version)
    NXSPE_info/fixed_energy   Ei, meV (scalar or 1-element array)
    NXSPE_info/psi            degrees (optional)
    NXSPE_info/ki_over_kf_scaling  0/1 (optional, default 1)
    instrument/name           (optional)
    data/data, data/error     (ndet, ne)
    data/energy               energy-transfer bin edges (ne + 1) or centres (ne), meV
    data/polar, azimuthal, polar_width, azimuthal_width (degrees), distance (m)   (ndet,)
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ...errors import InsganFileError
from ..detector import DetectorData
from ..ins_map import MapMetadata
from ._atomic import atomic_path
from ._checks import MAX_EI_MEV, check_errors, check_increasing, check_per_detector, check_signal
from ._hdf5 import attr_text, hdf5_errors, open_hdf5, read_array, read_scalar, read_text, require, text_name

__all__ = ["load_nxspe", "save_nxspe", "first_entry", "is_nxspe"]

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def first_entry(f: h5py.File, *, path) -> h5py.Group:
    """The first group with NX_class NXentry (in HDF5 name order)."""
    for name in f:
        obj = f.get(name)
        if isinstance(obj, h5py.Group) and attr_text(obj, "NX_class") == "NXentry":
            return obj
    raise InsganFileError(f"{path}: no NXentry group at the top level of the file (found: {', '.join(text_name(n) for n in f)[:300] or 'nothing'})")


def is_nxspe(f: h5py.File) -> bool:
    """True when the first NXentry declares ``definition`` = NXSPE."""
    try:
        entry = first_entry(f, path="")
    except InsganFileError:
        return False
    return isinstance(entry.get("definition"), h5py.Dataset) and read_text(entry["definition"]).strip() == "NXSPE"


def _energy_edges(energy: np.ndarray, ne: int, *, path, field: str) -> np.ndarray:
    if energy.ndim != 1:
        raise InsganFileError(f"{path}: '{field}' must be 1-D, has shape {energy.shape}")
    if energy.size == ne + 1:
        edges = energy
    elif energy.size == ne:
        if ne < 2:
            raise InsganFileError(f"{path}: '{field}' holds {ne} bin centre(s); need at least 2 to build bin edges")
        mid = 0.5 * (energy[1:] + energy[:-1])
        edges = np.concatenate([[2 * energy[0] - mid[0]], mid, [2 * energy[-1] - mid[-1]]])
    else:
        raise InsganFileError(
            f"{path}: '{field}' has {energy.size} values but the data have {ne} energy bins "
            f"(expected {ne + 1} bin edges or {ne} bin centres)"
        )
    check_increasing(energy, path=path, field=field, unit="meV")
    check_increasing(edges, path=path, field=f"{field} (bin edges from the centres)", unit="meV")
    return edges


def _check_units(obj, *, path, expected: str = "mev"):
    units = attr_text(obj, "units")
    if units is not None and units.strip().lower() != expected:
        raise InsganFileError(
            f"{path}: field '{obj.name}' has units '{units}', expected meV; convert the file to meV "
            "(e.g. Mantid ConvertUnits Target=DeltaE) first"
        )


def load_nxspe(path: str | os.PathLike) -> DetectorData:
    """Read an NXSPE file into :class:`DetectorData`, checking every field against its physical meaning.

    Parameters
    ----------
    path : str or path-like
        NXSPE file (HDF5), versions 1.0 to 1.3.

    Returns
    -------
    DetectorData
        signal, error (ndet, ne); energy_edges (ne + 1,) in meV (built from midpoints when the file
        stores ne bin centres); polar/azimuthal angles and widths in degrees, distances in m;
        masked detectors are NaN rows (as in the file). ``metadata.provenance`` records the source
        file name, entry, NXSPE version and program.

    Raises
    ------
    InsganFileError
        One line naming the file and the field (HDF5 path) and what was expected: missing file or
        field, not HDF5/truncated/corrupt ("not a readable NXSPE/NeXus file"), ``definition`` not
        NXSPE, energy units not meV, Ei not in (0, 100000] meV, E >= Ei for every bin, energies not
        strictly increasing, empty or all-NaN data, ±inf intensities, negative or infinite errors, a
        non-numeric (text, compound, complex, boolean) field, mismatched lengths or orientation, 2θ
        outside 0-180°, non-finite azimuthal angles, negative or non-finite widths, distances <= 0.
    """
    path = Path(path)
    with open_hdf5(path) as f, hdf5_errors(path, kind="NXSPE"):
        return _read(f, path)


def _read(f: h5py.File, path: Path) -> DetectorData:
    entry = first_entry(f, path=path)
    definition = require(entry, "definition", path=path)
    text = read_text(definition).strip()
    if text != "NXSPE":
        raise InsganFileError(
            f"{path}: '{definition.name}' is '{text[:80]}', expected 'NXSPE' (is this a Mantid processed NeXus "
            "file? use insgan_core.data.io.load, which detects the format)"
        )
    version = attr_text(definition, "version", "") or ""
    version = version.strip()
    if version and version.split(".")[0] != "1":
        raise InsganFileError(f"{path}: NXSPE version '{version[:40]}' is not supported (expected 1.x)")
    info = require(entry, "NXSPE_info", path=path, what="group", kind=h5py.Group)
    fe = require(info, "fixed_energy", path=path)
    _check_units(fe, path=path)
    ei = read_scalar(fe, path=path)
    if not np.isfinite(ei) or ei <= 0 or ei > MAX_EI_MEV:
        raise InsganFileError(
            f"{path}: '{fe.name}' (incident energy Ei) is {ei:g} meV, expected > 0 (and finite, <= {MAX_EI_MEV:g} meV)"
        )
    psi = read_scalar(info["psi"], path=path) if isinstance(info.get("psi"), h5py.Dataset) else float("nan")
    if np.isinf(psi):
        raise InsganFileError(f"{path}: '{info.name}/psi' (sample rotation) is {psi}, expected a finite angle in degrees or NaN")
    ki_kf = True
    if isinstance(info.get("ki_over_kf_scaling"), h5py.Dataset):
        flag = read_scalar(info["ki_over_kf_scaling"], path=path)
        if flag not in (0.0, 1.0):
            raise InsganFileError(f"{path}: '{info.name}/ki_over_kf_scaling' is {flag:g}, expected 0 or 1")
        ki_kf = bool(flag)

    data_group = require(entry, "data", path=path, what="group", kind=h5py.Group)
    data_ds = require(data_group, "data", path=path)
    field = text_name(data_ds)
    if data_ds.ndim != 2:
        raise InsganFileError(f"{path}: '{field}' must be 2-D (ndet, ne), has shape {data_ds.shape}")
    data = read_array(data_ds, path=path, what="(ndet, ne) intensities")
    ndet, ne = data.shape
    if ndet == 0 or ne == 0:
        raise InsganFileError(f"{path}: '{field}' is empty (shape {data.shape})")
    _check_orientation(data_ds, path=path)
    check_signal(data, path=path, field=field)
    if np.isnan(data).all():
        raise InsganFileError(f"{path}: '{field}' is NaN everywhere (every detector masked)")
    error_ds = require(data_group, "error", path=path)
    if error_ds.shape != data.shape:
        raise InsganFileError(f"{path}: '{error_ds.name}' has shape {error_ds.shape}, expected {data.shape} like 'data'")
    error = read_array(error_ds, path=path, what="(ndet, ne) standard deviations")
    check_errors(error, path=path, field=text_name(error_ds))
    energy_ds = require(data_group, "energy", path=path)
    _check_units(energy_ds, path=path)
    if energy_ds.ndim != 1:
        raise InsganFileError(f"{path}: '{energy_ds.name}' must be 1-D, has shape {energy_ds.shape}")
    edges = _energy_edges(read_array(energy_ds, path=path, what="energy transfer, meV"), ne, path=path, field=text_name(energy_ds))
    if edges[0] >= ei:
        raise InsganFileError(
            f"{path}: every energy transfer in '{energy_ds.name}' ({edges[0]:g} to {edges[-1]:g} meV) is >= "
            f"Ei = {ei:g} meV: no kinematically allowed bin"
        )

    def per_detector(name, default=None, **limits):
        ds = data_group.get(name)
        if ds is None:
            if default is None:
                require(data_group, name, path=path)
            return np.full(ndet, default, dtype=np.float64)
        if not isinstance(ds, h5py.Dataset):
            raise InsganFileError(f"{path}: '{data_group.name}/{name}' is a group, expected a dataset of {ndet} values")
        if ds.size != ndet or (ds.ndim > 1 and max(ds.shape) != ds.size):
            raise InsganFileError(
                f"{path}: '{ds.name}' has shape {ds.shape}, expected {ndet} values (one per detector, the first "
                f"axis of 'data' {data.shape})"
            )
        value = read_array(ds, path=path).reshape(-1)
        check_per_detector(value, path=path, field=text_name(ds), **limits)
        return value

    # 2θ may exceed 180° by rounding only; widths are full widths (0: not given, see effective_polar_widths)
    polar = per_detector("polar", unit="degrees", lo=0.0, hi=180.0 + 1e-6, meaning="scattering angle 2θ")
    azimuthal = per_detector("azimuthal", 0.0, unit="degrees", meaning="azimuthal angle φ")
    polar_width = per_detector("polar_width", 0.0, unit="degrees", lo=0.0, hi=180.0, meaning="2θ width")
    azimuthal_width = per_detector("azimuthal_width", 0.0, unit="degrees", lo=0.0, hi=720.0, meaning="φ width")
    distance = per_detector("distance", float("nan"), unit="m", lo=0.0, hi=1000.0, lo_open=True,
                            meaning="sample-detector distance")
    polar = np.clip(polar, 0.0, 180.0)

    instrument = ""
    if isinstance(entry.get("instrument/name"), h5py.Dataset):
        instrument = read_text(entry["instrument/name"]).strip()
    sample = ""
    if isinstance(entry.get("sample/name"), h5py.Dataset):
        sample = read_text(entry["sample/name"]).strip()
    temperature = None
    if isinstance(entry.get("sample/temperature"), h5py.Dataset):
        temperature = read_scalar(entry["sample/temperature"], path=path)
        if not (np.isnan(temperature) or 0 <= temperature < 1e5):
            raise InsganFileError(
                f"{path}: '{entry.name}/sample/temperature' is {temperature:g} K, expected a finite value >= 0 K or NaN"
            )
        temperature = None if np.isnan(temperature) else temperature
    program = read_text(entry["program_name"]).strip() if isinstance(entry.get("program_name"), h5py.Dataset) else ""
    provenance = {
        "source_file": path.name,
        "format": "NXSPE",
        "nxspe_version": version,
        "entry": text_name(entry).lstrip("/"),
        "program": program,
        "energy_given_as": "edges" if energy_ds.shape[0] == ne + 1 else "centres",
    }
    return DetectorData(
        signal=data,
        error=error,
        energy_edges=edges,
        polar_deg=polar,
        azimuthal_deg=azimuthal,
        polar_width_deg=polar_width,
        azimuthal_width_deg=azimuthal_width,
        distance_m=distance,
        ei_meV=ei,
        psi_deg=psi,
        ki_over_kf_scaling=ki_kf,
        metadata=MapMetadata(instrument=instrument, ei_meV=ei, temperature_K=temperature, sample=sample, provenance=provenance),
    )


def _check_orientation(data_ds: h5py.Dataset, *, path) -> None:
    """Refuse data stored as (ne, ndet): NXSPE's ``axes`` attribute, when present, reads "polar:energy"."""
    axes = (attr_text(data_ds, "axes", "") or "").replace(",", ":").lower()
    names = [a.strip() for a in axes.split(":") if a.strip()]
    if len(names) == 2 and names[0] == "energy":
        raise InsganFileError(
            f"{path}: '{data_ds.name}' is stored as (energy, detector) (attribute axes = '{axes}'); "
            "expected (ndet, ne) with axes 'polar:energy' as Mantid's SaveNXSPE writes"
        )


def _bytes(text: str) -> np.bytes_:
    return np.bytes_(text.encode("utf-8"))


def save_nxspe(det: DetectorData, path: str | os.PathLike, *, entry_name: str = "insgan") -> None:
    """Write :class:`DetectorData` as an NXSPE 1.3 file (atomic: temporary file, then rename).

    Parameters
    ----------
    det : DetectorData
    path : str or path-like
        Output file (``.nxspe``).
    entry_name : str
        Name of the NXentry.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            e = f.create_group(entry_name)
            e.attrs["NX_class"] = _bytes("NXentry")
            d = e.create_dataset("definition", data=np.array([b"NXSPE"]))
            d.attrs["version"] = _bytes("1.3")
            e.create_dataset("program_name", data=np.array([b"insgan"]))
            info = e.create_group("NXSPE_info")
            info.attrs["NX_class"] = _bytes("NXcollection")
            info.create_dataset("fixed_energy", data=np.array([det.ei_meV])).attrs["units"] = _bytes("meV")
            info.create_dataset("psi", data=np.array([det.psi_deg])).attrs["units"] = _bytes("degrees")
            info.create_dataset("ki_over_kf_scaling", data=np.array([int(det.ki_over_kf_scaling)], dtype=np.int32))
            inst = e.create_group("instrument")
            inst.attrs["NX_class"] = _bytes("NXinstrument")
            inst.create_dataset("name", data=np.array([(det.metadata.instrument or "unknown").encode()]))
            sample = e.create_group("sample")
            sample.attrs["NX_class"] = _bytes("NXsample")
            g = e.create_group("data")
            g.attrs["NX_class"] = _bytes("NXdata")
            ds = g.create_dataset("data", data=det.signal)
            ds.attrs["signal"] = np.int32(1)
            ds.attrs["axes"] = _bytes("polar:energy")
            g.create_dataset("error", data=det.error)
            g.create_dataset("energy", data=det.energy_edges).attrs["units"] = _bytes("meV")
            for name, value in (
                ("polar", det.polar_deg),
                ("azimuthal", det.azimuthal_deg),
                ("polar_width", det.polar_width_deg),
                ("azimuthal_width", det.azimuthal_width_deg),
                ("distance", det.distance_m),
            ):
                g.create_dataset(name, data=value)
