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
from ._hdf5 import attr_text, open_hdf5, read_scalar, read_text, require

__all__ = ["load_nxspe", "save_nxspe", "first_entry", "is_nxspe"]

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def first_entry(f: h5py.File, *, path) -> h5py.Group:
    """The first group with NX_class NXentry (in HDF5 name order)."""
    for name in f:
        obj = f.get(name)
        if isinstance(obj, h5py.Group) and attr_text(obj, "NX_class") == "NXentry":
            return obj
    raise InsganFileError(f"{path}: no NXentry group at the top level of the file (found: {', '.join(f) or 'nothing'})")


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
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise InsganFileError(f"{path}: '{field}' must be finite and strictly increasing")
    return edges


def _check_units(obj, *, path, expected: str = "mev"):
    units = attr_text(obj, "units")
    if units is not None and units.strip().lower() != expected:
        raise InsganFileError(
            f"{path}: field '{obj.name}' has units '{units}', expected meV; convert the file to meV "
            "(e.g. Mantid ConvertUnits Target=DeltaE) first"
        )


def load_nxspe(path: str | os.PathLike) -> DetectorData:
    """Read an NXSPE file into :class:`DetectorData`.

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
        Missing file or field, not HDF5/truncated, ``definition`` not NXSPE, energy units not meV,
        Ei <= 0, E >= Ei for every bin, empty or all-NaN data, mismatched shapes.
    """
    path = Path(path)
    with open_hdf5(path) as f:
        entry = first_entry(f, path=path)
        definition = require(entry, "definition", path=path)
        text = read_text(definition).strip()
        if text != "NXSPE":
            raise InsganFileError(
                f"{path}: '{definition.name}' is '{text}', expected 'NXSPE' (is this a Mantid processed NeXus "
                "file? use insgan_core.data.io.load, which detects the format)"
            )
        version = attr_text(definition, "version", "") or ""
        version = version.strip()
        if version and version.split(".")[0] != "1":
            raise InsganFileError(f"{path}: NXSPE version '{version}' is not supported (expected 1.x)")
        info = require(entry, "NXSPE_info", path=path, what="group", kind=h5py.Group)
        fe = require(info, "fixed_energy", path=path)
        _check_units(fe, path=path)
        ei = read_scalar(fe, path=path)
        if not np.isfinite(ei) or ei <= 0:
            raise InsganFileError(f"{path}: '{fe.name}' (incident energy Ei) is {ei} meV, expected > 0")
        psi = read_scalar(info["psi"], path=path) if "psi" in info else float("nan")
        ki_kf = bool(read_scalar(info["ki_over_kf_scaling"], path=path)) if "ki_over_kf_scaling" in info else True

        data_group = require(entry, "data", path=path, what="group", kind=h5py.Group)
        data = np.asarray(require(data_group, "data", path=path)[()], dtype=np.float64)
        if data.ndim != 2:
            raise InsganFileError(f"{path}: '{data_group.name}/data' must be 2-D (ndet, ne), has shape {data.shape}")
        ndet, ne = data.shape
        if ndet == 0 or ne == 0:
            raise InsganFileError(f"{path}: '{data_group.name}/data' is empty (shape {data.shape})")
        if np.isnan(data).all():
            raise InsganFileError(f"{path}: '{data_group.name}/data' is NaN everywhere (every detector masked)")
        error = np.asarray(require(data_group, "error", path=path)[()], dtype=np.float64)
        if error.shape != data.shape:
            raise InsganFileError(
                f"{path}: '{data_group.name}/error' has shape {error.shape}, expected {data.shape} like 'data'"
            )
        energy_ds = require(data_group, "energy", path=path)
        _check_units(energy_ds, path=path)
        edges = _energy_edges(np.asarray(energy_ds[()], dtype=np.float64), ne, path=path, field=energy_ds.name)
        if edges[0] >= ei:
            raise InsganFileError(
                f"{path}: every energy transfer in '{energy_ds.name}' ({edges[0]:g} to {edges[-1]:g} meV) is >= "
                f"Ei = {ei:g} meV: no kinematically allowed bin"
            )

        def per_detector(name, default=None, unit="deg"):
            if name not in data_group:
                if default is None:
                    require(data_group, name, path=path)
                return np.full(ndet, default, dtype=np.float64)
            value = np.asarray(data_group[name][()], dtype=np.float64).reshape(-1)
            if value.shape != (ndet,):
                raise InsganFileError(
                    f"{path}: '{data_group.name}/{name}' has {value.size} values, expected {ndet} (one per detector)"
                )
            return value

        polar = per_detector("polar")
        azimuthal = per_detector("azimuthal", 0.0)
        polar_width = per_detector("polar_width", 0.0)
        azimuthal_width = per_detector("azimuthal_width", 0.0)
        distance = per_detector("distance", float("nan"))
        if not np.all(np.isfinite(polar)):
            raise InsganFileError(f"{path}: '{data_group.name}/polar' contains NaN or inf")

        instrument = ""
        if isinstance(entry.get("instrument/name"), h5py.Dataset):
            instrument = read_text(entry["instrument/name"]).strip()
        sample = ""
        if isinstance(entry.get("sample/name"), h5py.Dataset):
            sample = read_text(entry["sample/name"]).strip()
        temperature = None
        if isinstance(entry.get("sample/temperature"), h5py.Dataset):
            temperature = read_scalar(entry["sample/temperature"], path=path)
        program = read_text(entry["program_name"]).strip() if isinstance(entry.get("program_name"), h5py.Dataset) else ""
        provenance = {
            "source_file": path.name,
            "format": "NXSPE",
            "nxspe_version": version,
            "entry": entry.name.lstrip("/"),
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
