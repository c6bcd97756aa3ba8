"""Mantid processed NeXus files (``SaveNexusProcessed`` / ``LoadNexusProcessed``), Workspace2D.

Layout read and written::

    /mantid_workspace_1                 NXentry: title, workspace_name, definition
        workspace                       NXdata
            values  (nspec, nbins)      attrs signal=1, axes="axis2,axis1", units, unit_label
            errors  (nspec, nbins)
            axis1   X values            attrs units (Mantid unit ID), distribution "0"/"1"
            axis2   vertical axis       attrs units ("MomentumTransfer", "spectraNumber", ...);
                                        nspec + 1 values = bin edges, nspec = points
        instrument                      NXinstrument: name, detector/ (grouping and detector angles)
        sample                          NXsample (name)
        process                         NXprocess (algorithm history; empty when written by insgan)
        logs                            NXgroup of NXlog groups (value), e.g. Ei

An S(|Q|,E) map is stored as Mantid's ``SofQW`` writes it: one spectrum per |Q| bin, X = energy
transfer (``DeltaE``) bin edges, vertical axis = |Q| (``MomentumTransfer``) bin edges. The transposed
orientation (X = |Q|) is recognised from the axis units on reading. insgan writes the full map
metadata as a JSON string log ``insgan_metadata`` so that a round trip is exact.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import h5py
import numpy as np

from ..._version import __version__
from ...errors import InsganFileError, InsganInputError
from ..detector import DetectorData
from ..grid import UNIT_LABELS, Axis
from ..ins_map import INSMap, MapMetadata
from ._atomic import atomic_path
from ._checks import MAX_EI_MEV, check_errors, check_increasing, check_signal
from ._hdf5 import attr_text, hdf5_errors, open_hdf5, read_array, read_text, require, text_name

__all__ = ["load_nexus_processed", "save_nexus_processed", "is_nexus_processed", "workspace_entry"]

#: Mantid unit IDs of the vertical axis that mean "detector space"
_SPECTRUM_UNITS = {"spectranumber", "spectrum", "empty", ""}
_UNIT_IDS = {"momentumtransfer": "MomentumTransfer", "deltae": "DeltaE", "degrees": "Degrees"}
METADATA_LOG = "insgan_metadata"


def workspace_entry(f: h5py.File, *, path) -> h5py.Group:
    """The first NXentry holding a ``workspace`` NXdata group (Mantid's ``mantid_workspace_<n>``)."""
    names = sorted(f, key=lambda n: (not text_name(n).startswith("mantid_workspace_"), text_name(n)))
    for name in names:
        obj = f.get(name)
        if isinstance(obj, h5py.Group) and isinstance(obj.get("workspace"), h5py.Group):
            return obj
    raise InsganFileError(
        f"{path}: no 'mantid_workspace_<n>/workspace' group found: not a Mantid processed NeXus Workspace2D file "
        f"(top-level groups: {', '.join(text_name(n) for n in f)[:300] or 'none'})"
    )


def is_nexus_processed(f: h5py.File) -> bool:
    try:
        workspace_entry(f, path="")
    except InsganFileError:
        return False
    return True


def _edges_from(values: np.ndarray, n: int, *, path, field: str, unit: str) -> tuple[np.ndarray, str]:
    """Bin edges from an axis of n + 1 edges or n points; returns (edges, 'edges'|'points')."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == n + 1:
        edges, kind = values, "edges"
    elif values.size == n:
        if n == 1:
            raise InsganFileError(f"{path}: '{field}' has a single point value; cannot infer a bin width")
        mid = 0.5 * (values[1:] + values[:-1])
        edges, kind = np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]]), "points"
    else:
        raise InsganFileError(
            f"{path}: '{field}' ({unit}) has {values.size} values, expected {n + 1} bin edges or {n} points"
        )
    check_increasing(values, path=path, field=field, unit=unit or "its unit")
    if kind == "points":
        check_increasing(edges, path=path, field=f"{field} (bin edges from the points)", unit=unit or "its unit")
    return edges, kind


def _logs(entry: h5py.Group) -> dict:
    """Single-valued sample logs: name -> float or str."""
    out = {}
    logs = entry.get("logs")
    if not isinstance(logs, h5py.Group):
        return out
    for name, grp in logs.items():
        if not isinstance(grp, h5py.Group) or not isinstance(grp.get("value"), h5py.Dataset):
            continue
        ds = grp["value"]
        if ds.dtype.kind in "SUO":
            out[name] = read_text(ds)
        elif ds.size >= 1 and ds.dtype.kind in "fiub" and not ds.dtype.names:
            out[name] = float(np.asarray(ds[(ds.size - 1,) if ds.ndim == 1 else ()]).reshape(-1)[-1])
    return out


def _masked_detector_ids(entry: h5py.Group) -> set[int]:
    ds = entry.get("instrument/instrument_parameter_map/data")
    if not isinstance(ds, h5py.Dataset):
        return set()
    return {int(m) for m in re.findall(r"detID:(\d+);bool;masked;1", read_text(ds))}


def _detector_geometry(entry: h5py.Group, nspec: int):
    """Per-spectrum (polar, azimuthal, distance, polar width, spectrum masked) from the instrument group,
    or None when the file does not hold detector positions for every spectrum."""
    det = entry.get("instrument/detector")
    if not isinstance(det, h5py.Group):
        return None
    needed = ("detector_index", "detector_count", "detector_list", "detector_positions")
    if not all(isinstance(det.get(n), h5py.Dataset) for n in needed):
        return None
    path = entry.file.filename
    arrays = {}
    for name in needed:
        values = read_array(det[name], path=path)
        if not np.all(np.isfinite(values)):
            raise InsganFileError(f"{path}: '{det[name].name}' holds NaN or infinite values; expected finite numbers")
        arrays[name] = values
    index = arrays["detector_index"].astype(np.int64).reshape(-1)
    count = arrays["detector_count"].astype(np.int64).reshape(-1)
    ids = arrays["detector_list"].astype(np.int64).reshape(-1)
    pos = arrays["detector_positions"]
    if index.size != nspec or count.size != nspec or pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != ids.size:
        return None
    if np.any(count < 1) or np.any(index < 0) or np.any(index + count > ids.size):
        return None
    masked_ids = _masked_detector_ids(entry)
    owner = np.repeat(np.arange(nspec), count)
    members = (np.arange(owner.size) - (np.cumsum(count) - count)[owner]) + index[owner]
    # detector_positions are spherical (r in m, 2θ in degrees, φ in degrees) per listed detector
    r, polar, phi = pos[members, 0], pos[members, 1], pos[members, 2]
    if np.any(polar < 0) or np.any(polar > 180.0 + 1e-6) or np.any(r <= 0):
        raise InsganFileError(
            f"{path}: '{det.name}/detector_positions' holds 2θ outside 0-180° or distances <= 0; expected (r > 0 m, "
            "2θ in 0-180°, φ in degrees) per detector"
        )
    n = count.astype(np.float64)
    polar_mean = np.bincount(owner, polar, nspec) / n
    dist_mean = np.bincount(owner, r, nspec) / n
    # circular mean of the azimuth
    az = np.degrees(
        np.arctan2(np.bincount(owner, np.sin(np.radians(phi)), nspec), np.bincount(owner, np.cos(np.radians(phi)), nspec))
    )
    spread = np.zeros(nspec)
    np.maximum.at(spread, owner, polar)
    lo = np.full(nspec, np.inf)
    np.minimum.at(lo, owner, polar)
    spread -= lo
    # width in 2θ: the cell between midpoints to the neighbouring spectra (sorted by 2θ), never less than
    # the spread of the group's own detectors. The file holds no detector shapes, so this is an estimate.
    order = np.argsort(polar_mean)
    p = polar_mean[order]
    if nspec > 1:
        mid = 0.5 * (p[1:] + p[:-1])
        lo_edge = np.concatenate([[p[0] - (mid[0] - p[0])], mid])
        hi_edge = np.concatenate([mid, [p[-1] + (p[-1] - mid[-1])]])
        cell = np.empty(nspec)
        cell[order] = hi_edge - lo_edge
    else:
        cell = np.zeros(nspec)
    width = np.maximum(cell, spread)
    if masked_ids:
        unmasked = ~np.isin(ids[members], np.fromiter(masked_ids, dtype=np.int64))
        masked = np.bincount(owner, unmasked, nspec) == 0
    else:
        masked = np.zeros(nspec, bool)
    return polar_mean, az, dist_mean, width, masked


def load_nexus_processed(path: str | os.PathLike) -> INSMap | DetectorData:
    """Read a Mantid processed NeXus Workspace2D.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    INSMap
        For maps with a ``MomentumTransfer`` (or other numeric) vertical axis and ``DeltaE`` X axis, or
        the transposed orientation (detected from the units): x axis |Q| in Å⁻¹, energy in meV.
        Detector-space files whose detector angles cannot be found give an INSMap with a
        ``SpectrumNumber`` x axis.
    DetectorData
        For detector-space files (vertical axis ``spectraNumber``) with detector positions in
        ``instrument/detector`` and an ``Ei`` sample log: per-spectrum 2θ and φ averaged over the
        grouped detectors, distance averaged, 2θ width estimated (see Notes).

    Notes
    -----
    Processed NeXus files store no detector shapes, so the 2θ width of a spectrum is the interval between
    the midpoints to its neighbours in 2θ (at least the spread of its own detectors); this is recorded in
    ``metadata.provenance["polar_width_source"]``. Spectra whose detectors are all flagged ``masked`` in
    the instrument parameter map become NaN rows.
    """
    path = Path(path)
    with open_hdf5(path) as f, hdf5_errors(path, kind="Mantid processed NeXus"):
        return _read(f, path)


def _read(f: h5py.File, path: Path) -> INSMap | DetectorData:
    entry = workspace_entry(f, path=path)
    ws = entry["workspace"]
    values_ds = require(ws, "values", path=path)
    if values_ds.ndim != 2:
        raise InsganFileError(f"{path}: '{values_ds.name}' must be 2-D (spectra, bins), has shape {values_ds.shape}")
    values = read_array(values_ds, path=path, what="(spectra, bins) intensities")
    if values.size == 0:
        raise InsganFileError(f"{path}: '{values_ds.name}' is empty (shape {values.shape})")
    check_signal(values, path=path, field=text_name(values_ds))
    if np.isnan(values).all():
        raise InsganFileError(f"{path}: '{values_ds.name}' is NaN everywhere")
    errors_ds = require(ws, "errors", path=path)
    if errors_ds.shape != values.shape:
        raise InsganFileError(f"{path}: '{errors_ds.name}' has shape {errors_ds.shape}, expected {values.shape}")
    errors = read_array(errors_ds, path=path, what="(spectra, bins) standard deviations")
    check_errors(errors, path=path, field=text_name(errors_ds))
    nspec, nbins = values.shape
    axis1 = require(ws, "axis1", path=path)
    if axis1.ndim not in (1, 2):
        raise InsganFileError(f"{path}: '{axis1.name}' must be 1-D (or one row per spectrum), has shape {axis1.shape}")
    x1 = read_array(axis1, path=path, what="X axis")
    if x1.ndim == 2:  # ragged X written per spectrum: accept only when all rows agree
        if not np.all(x1 == x1[:1]):
            raise InsganFileError(f"{path}: '{axis1.name}' differs between spectra (ragged X is not supported); rebin in Mantid first")
        x1 = x1[0] if x1.shape[0] else x1.reshape(-1)
    unit1 = (attr_text(axis1, "units", "") or "").strip()
    distribution = (attr_text(axis1, "distribution", "0") or "0").strip() in ("1", "true", "True")
    if isinstance(ws.get("axis2"), h5py.Dataset):
        axis2 = ws["axis2"]
        if axis2.dtype.kind in "SUO":
            raise InsganFileError(f"{path}: '{axis2.name}' is a text axis; expected a numeric vertical axis")
        if axis2.ndim != 1:
            raise InsganFileError(f"{path}: '{axis2.name}' must be 1-D, has shape {axis2.shape}")
        x2 = read_array(axis2, path=path, what="vertical axis")
        unit2 = (attr_text(axis2, "units", "") or "").strip()
        if unit2 == "Label":  # Mantid Label unit: the caption names the quantity (insgan writes its unit ID)
            unit2 = (attr_text(axis2, "caption", "") or "").strip() or "Label"
    else:
        x2, unit2 = np.arange(1, nspec + 1, dtype=np.float64), "spectraNumber"
    logs = _logs(entry)
    stored = None
    if METADATA_LOG in logs:
        try:
            stored = json.loads(logs[METADATA_LOG]) if isinstance(logs[METADATA_LOG], str) else None
        except json.JSONDecodeError:
            stored = None
    u1, u2 = unit1.lower(), unit2.lower()
    instrument = ""
    if isinstance(entry.get("instrument/name"), h5py.Dataset):
        instrument = read_text(entry["instrument/name"]).strip()
    title = read_text(entry["title"]).strip() if isinstance(entry.get("title"), h5py.Dataset) else ""
    ei = logs.get("Ei")
    if isinstance(ei, float) and not (np.isnan(ei) or 0 < ei <= MAX_EI_MEV):
        raise InsganFileError(
            f"{path}: sample log '{entry.name}/logs/Ei/value' (incident energy) is {ei:g} meV, expected > 0 "
            f"(and finite, <= {MAX_EI_MEV:g} meV)"
        )
    ei = float(ei) if isinstance(ei, float) and np.isfinite(ei) and ei > 0 else None
    provenance = {"source_file": path.name, "format": "Mantid processed NeXus", "entry": text_name(entry).lstrip("/"), "title": title}
    if isinstance(stored, dict) and isinstance(stored.get("metadata", {}), dict):
        metadata = _metadata_from_stored(stored.get("metadata", {}), path=path)
    else:
        metadata = MapMetadata(instrument=instrument, ei_meV=ei, provenance=provenance)

    if u1 == "deltae" and u2 in _SPECTRUM_UNITS:
        e_edges, _ = _edges_from(x1, nbins, path=path, field=text_name(axis1), unit=unit1)
        geometry = _detector_geometry(entry, nspec) if ei is not None else None
        if geometry is not None:
            polar, az, dist, width, masked = geometry
            signal, error = values.copy(), errors.copy()
            signal[masked] = np.nan
            error[masked] = np.nan
            if e_edges[0] >= ei:
                raise InsganFileError(f"{path}: every energy transfer in '{axis1.name}' is >= Ei = {ei:g} meV")
            metadata.provenance.update(
                polar_width_source="estimated from the 2θ spacing of neighbouring spectra",
                distribution=distribution,
            )
            return DetectorData(
                signal=signal,
                error=error,
                energy_edges=e_edges,
                polar_deg=polar,
                azimuthal_deg=az,
                polar_width_deg=width,
                azimuthal_width_deg=np.zeros(nspec),
                distance_m=dist,
                ei_meV=ei,
                psi_deg=float("nan"),
                ki_over_kf_scaling=True,
                metadata=metadata,
            )
        spec_edges, _ = _edges_from(x2, nspec, path=path, field=f"{ws.name}/axis2", unit=unit2) if x2.size > 1 else (
            np.array([x2[0] - 0.5, x2[0] + 0.5]), "points")
        return INSMap(values, errors, Axis(spec_edges, "SpectrumNumber"), Axis(e_edges, "DeltaE"), metadata, distribution)

    if u1 == "deltae" and u2 != "deltae":
        signal, error = values, errors
        e_vals, e_unit, x_vals, x_unit, x_field = x1, unit1, x2, unit2, f"{ws.name}/axis2"
        e_field = text_name(axis1)
    elif u2 == "deltae" and u1 != "deltae":
        signal, error = values.T, errors.T  # transposed producers (e.g. Abins2D): X = |Q|
        e_vals, e_unit, x_vals, x_unit, x_field = x2, unit2, x1, unit1, text_name(axis1)
        e_field = f"{ws.name}/axis2"
    else:
        raise InsganFileError(
            f"{path}: axis units are '{unit1}' (axis1) and '{unit2}' (axis2); expected one of them to be "
            "'DeltaE' (energy transfer, meV) and the other 'MomentumTransfer' or a spectrum axis"
        )
    nx, ne = signal.shape
    e_edges, _ = _edges_from(e_vals, ne, path=path, field=e_field, unit=e_unit)
    x_edges, x_kind = _edges_from(x_vals, nx, path=path, field=x_field, unit=x_unit)
    if x_unit.lower() == "momentumtransfer" and x_kind == "edges" and x_edges[0] < 0:
        raise InsganFileError(f"{path}: '{x_field}' (|Q| bin edges) starts at {x_edges[0]:g} Å⁻¹; expected |Q| >= 0")
    if ei is not None and e_edges[0] >= ei:
        raise InsganFileError(
            f"{path}: every energy transfer in '{e_field}' ({e_edges[0]:g} to {e_edges[-1]:g} meV) is >= Ei = {ei:g} meV"
        )
    unit_id = _UNIT_IDS.get(x_unit.lower(), x_unit or "unknown")
    tick_labels = ()
    if isinstance(stored, dict) and stored.get("x_tick_labels"):
        try:
            tick_labels = tuple((float(a), str(b)) for a, b in stored["x_tick_labels"])
        except (TypeError, ValueError):
            raise InsganFileError(
                f"{path}: log '{METADATA_LOG}' has malformed x_tick_labels; expected [[position, label], ...]"
            ) from None
    if not isinstance(stored, dict):
        metadata.provenance["x_axis_given_as"] = x_kind
    return INSMap(
        np.ascontiguousarray(signal),
        np.ascontiguousarray(error),
        Axis(x_edges, unit_id, tick_labels),
        Axis(e_edges, "DeltaE"),
        metadata,
        distribution,
    )


def _metadata_from_stored(d: dict, *, path) -> MapMetadata:
    """MapMetadata from the JSON log insgan writes, with its numbers checked."""
    try:
        md = MapMetadata.from_dict(d)
    except (TypeError, ValueError, AttributeError):
        raise InsganFileError(f"{path}: log '{METADATA_LOG}' holds malformed metadata (expected insgan's JSON)") from None
    for name, unit in (("ei_meV", "meV"), ("temperature_K", "K")):
        value = getattr(md, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isnan(value) or 0 <= value <= 1e6):
            raise InsganFileError(
                f"{path}: log '{METADATA_LOG}' gives {name} = {value!r:.40}; expected a number >= 0 in {unit} or null"
            )
    if not isinstance(md.instrument, str) or not isinstance(md.sample, str):
        raise InsganFileError(f"{path}: log '{METADATA_LOG}' gives a non-text instrument or sample name")
    return md


def _fixed(text: str) -> np.bytes_:
    """A fixed-length byte string (what Mantid's NeXus API writes for NX_CHAR attributes)."""
    return np.bytes_(text.encode("utf-8"))


def _text_dataset(group: h5py.Group, name: str, text: str) -> h5py.Dataset:
    data = text.encode("utf-8") or b" "
    return group.create_dataset(name, data=np.array([data], dtype=f"S{len(data)}"))


def _nxgroup(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    g = parent.create_group(name)
    g.attrs["NX_class"] = _fixed(nx_class)
    return g


_MANTID_X_UNITS = {"MomentumTransfer": "MomentumTransfer", "Degrees": "Degrees", "SpectrumNumber": "spectraNumber"}
_MANTID_UNIT_IDS = set(_MANTID_X_UNITS.values())


def save_nexus_processed(
    ins_map: INSMap, path: str | os.PathLike, *, workspace_name: str | None = None, title: str | None = None
) -> None:
    """Write an INS map as a Mantid processed NeXus Workspace2D (atomic write).

    Parameters
    ----------
    ins_map : INSMap
        The map; its x axis becomes the vertical axis (``axis2``, bin edges) and energy transfer the X
        axis (``axis1``, bin edges, unit ``DeltaE``), as ``SofQW`` output.
    path : str or path-like
        Output file (``.nxs``). An existing file is replaced only once the new one is complete.
    workspace_name, title : str, optional
        Stored as ``workspace_name`` and ``title`` (default: the file stem).

    Notes
    -----
    Every group carries ``NX_class`` and every text attribute is a fixed-length byte string, as
    Mantid's ``LoadNexusProcessed`` expects. Sample logs written: ``Ei`` (meV) when known, and
    ``insgan_metadata`` (JSON of the MapMetadata and path tick labels) which makes the round trip exact.
    """
    if not isinstance(ins_map, INSMap):
        raise InsganInputError(
            f"save_nexus_processed: expected an INSMap, got {type(ins_map).__name__} (reduce detector data with "
            "insgan_core.data.reduction.powder_map first)"
        )
    path = Path(path)
    name = workspace_name or path.stem
    x_unit = _MANTID_X_UNITS.get(ins_map.x_axis.unit, ins_map.x_axis.unit)
    metadata_json = json.dumps(
        {
            "metadata": ins_map.metadata.to_dict(),
            "x_unit": ins_map.x_axis.unit,
            "x_tick_labels": [[float(a), str(b)] for a, b in ins_map.x_axis.tick_labels],
            "insgan_version": __version__,
        },
        allow_nan=True,
    )
    with atomic_path(path, suffix=".nxs") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["NeXus_version"] = _fixed("4.4.3")
            f.attrs["file_name"] = _fixed(str(path.name))
            f.attrs["file_time"] = _fixed(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
            f.attrs["HDF5_Version"] = _fixed(h5py.version.hdf5_version)
            entry = _nxgroup(f, "mantid_workspace_1", "NXentry")
            _text_dataset(entry, "title", title if title is not None else name)
            _text_dataset(entry, "workspace_name", name)
            for field, url in (
                ("definition", "http://www.nexusformat.org/instruments/xml/NXprocessed.xml"),
                ("definition_local", "http://www.isis.rl.ac.uk/xml/IXmantid.xml"),
            ):
                d = _text_dataset(entry, field, "Mantid Processed Workspace")
                d.attrs["URL"] = _fixed(url)
                d.attrs["Version"] = _fixed("1.0")
            inst = _nxgroup(entry, "instrument", "NXinstrument")
            _text_dataset(inst, "name", ins_map.metadata.instrument or " ").attrs["short_name"] = _fixed(
                ins_map.metadata.instrument or " "
            )
            # version-0 sample layout (name as a dataset): Mantid's Sample::loadNexus needs nothing else
            _text_dataset(_nxgroup(entry, "sample", "NXsample"), "name", ins_map.metadata.sample or " ")
            _nxgroup(entry, "process", "NXprocess")  # empty algorithm history
            logs = _nxgroup(entry, "logs", "NXgroup")  # LogManager::loadNexus opens "logs" as NXgroup
            logs.attrs["version"] = np.int32(1)
            if ins_map.metadata.ei_meV is not None:
                log = _nxgroup(logs, "Ei", "NXlog")
                log.create_dataset("value", data=np.array([float(ins_map.metadata.ei_meV)])).attrs["units"] = _fixed("meV")
            if ins_map.metadata.temperature_K is not None:
                log = _nxgroup(logs, "SampleTemp", "NXlog")
                log.create_dataset("value", data=np.array([float(ins_map.metadata.temperature_K)])).attrs["units"] = _fixed("K")
            _text_dataset(_nxgroup(logs, METADATA_LOG, "NXlog"), "value", metadata_json)

            ws = _nxgroup(entry, "workspace", "NXdata")
            v = ws.create_dataset("values", data=ins_map.signal)
            v.attrs["signal"] = np.int32(1)
            v.attrs["axes"] = _fixed("axis2,axis1")
            v.attrs["units"] = _fixed("Counts")
            v.attrs["unit_label"] = _fixed("Intensity per meV" if ins_map.distribution else "Intensity")
            ws.create_dataset("errors", data=ins_map.error)
            a1 = ws.create_dataset("axis1", data=ins_map.e_axis.edges)
            a1.attrs["distribution"] = _fixed("1" if ins_map.distribution else "0")
            a1.attrs["units"] = _fixed("DeltaE")
            a2_values = ins_map.x_axis.centres if x_unit == "spectraNumber" else ins_map.x_axis.edges
            a2 = ws.create_dataset("axis2", data=a2_values)
            if x_unit in _MANTID_UNIT_IDS:
                a2.attrs["units"] = _fixed(x_unit)
            else:  # not a Mantid unit (e.g. rlu_path): a Label unit whose caption keeps the insgan unit
                _, label = UNIT_LABELS.get(x_unit, (x_unit, ""))
                a2.attrs["units"] = _fixed("Label")
                a2.attrs["caption"] = _fixed(x_unit)
                a2.attrs["label"] = _fixed(label or " ")
