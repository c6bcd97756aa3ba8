"""Mantid workspaces ⇄ insgan maps, for the Mantid algorithms in ``plugins/``.

This is the only module of ``insgan_core`` that talks to Mantid, and it imports ``mantid`` lazily inside
the functions that need it, so ``import insgan_core`` never requires Mantid.

Orientation. insgan's :class:`~insgan_core.data.ins_map.INSMap` is ``signal[x, E]``: one row per |Q| (or
path) bin, as Mantid's ``SofQW`` output has one spectrum per |Q| bin with X = energy transfer. Some
producers (e.g. Abins2D) write the transpose (X = |Q|, vertical axis = energy transfer). The orientation
is detected from the axis unit IDs, never assumed:

=====================  ======================  ===========================
X axis unit            vertical axis unit      read as
=====================  ======================  ===========================
``DeltaE``             ``MomentumTransfer``    spectra = |Q| bins ("q_spectra")
``MomentumTransfer``   ``DeltaE``              transposed ("e_spectra")
``DeltaE``             ``Label`` + insgan log  path map (``rlu_path``) etc.
=====================  ======================  ===========================

A vertical axis with one value more than spectra holds bin edges; with as many values as spectra it holds
bin centres, and edges are placed half-way between centres (ends extrapolated by half a bin).

Sample logs written by :func:`map_to_workspace`: ``Ei`` (meV), ``SampleTemperature`` (K),
``insgan_metadata`` (the full :class:`~insgan_core.data.ins_map.MapMetadata` as JSON, so a round trip is
exact), ``insgan_x_unit`` and ``insgan_tick_labels`` for path maps, plus any extra logs the caller passes
(strings and numbers as they are, dicts and lists as JSON strings).

Output type. Every workspace written here is a ``Workspace2D``, whatever the parent's type: Mantid's
``CreateWorkspace(ParentWorkspace=p)`` builds its output with ``WorkspaceFactory::create(p)``, i.e. of the
*parent's* type, so a ``RebinnedOutput`` parent (SofQW3 / SofQWNormalisedPolygon) would give a
``RebinnedOutput`` with zero fractional areas. The output is therefore created without a parent and the
parent's sample logs, sample and title are copied with the ``CopyLogs`` and ``CopySample`` child algorithms
and ``setTitle``; a ``Workspace2D`` parent is still passed as ``ParentWorkspace`` so its instrument comes
along too (Mantid's Python API has no other way to copy an instrument onto another workspace).

Arrays read from a workspace are copied: ``readX`` returns a read-only view into the workspace's memory.
"""

from __future__ import annotations

import json
import site
import sys
from pathlib import Path

import numpy as np

from .data.grid import UNIT_LABELS, Axis
from .data.ins_map import INSMap, MapMetadata
from .errors import InsganFileError, InsganInputError

__all__ = [
    "ALGORITHM_FILES",
    "workspace_problem",
    "workspace_orientation",
    "workspace_to_map",
    "map_to_workspace",
    "expand_workspace_names",
    "table_from_records",
    "mantid_plugins_dir",
    "guarded_issues",
    "mantid_max_cores",
    "torch_threads_from_mantid",
]

#: the algorithm files shipped for Mantid's plugin loader
ALGORITHM_FILES = ("SimulateINSSpinWave.py", "TrainINSGAN.py", "ApplyINSGAN.py", "FitINSSpinWave.py")

#: Mantid unit IDs insgan writes as a real unit on a numeric axis; other x units go on a Label axis
_NATIVE_X_UNITS = ("MomentumTransfer", "Degrees")

_HOW_TO_CONVERT = (
    "convert it to S(|Q|,E) first, e.g. SofQW(InputWorkspace=ws, QAxisBinning='0,0.05,8', EMode='Direct', "
    "OutputWorkspace='sqw')"
)


# --- reading ---------------------------------------------------------------------------------------
def _label(ws) -> str:
    name = ws.name() if hasattr(ws, "name") else ""
    return f"'{name}'" if name else "(unnamed)"


def _vertical_unit(ws) -> str | None:
    """Unit ID of the vertical axis; None for a spectrum-number axis, 'Text' for a text axis."""
    axis = ws.getAxis(1)
    if axis.isSpectra():
        return None
    if axis.isText():
        return "Text"
    return axis.getUnit().unitID()


def _log_value(run, name):
    if not run.hasProperty(name):
        return None
    value = run.getProperty(name).value
    if isinstance(value, np.ndarray):  # a time series: take its mean
        return float(np.mean(value)) if value.size else None
    return value


def _custom_x_unit(ws) -> str | None:
    value = _log_value(ws.run(), "insgan_x_unit")
    return str(value) if value else None


def workspace_orientation(ws, *, property_name: str = "InputWorkspace") -> str:
    """``"q_spectra"`` (X = energy transfer, one spectrum per x bin) or ``"e_spectra"`` (transposed).

    Raises
    ------
    InsganInputError
        Naming ``property_name`` and the workspace, when the axes are not (|Q| or path, energy transfer):
        time of flight, detector space (spectrum-number axis), a text axis, or unknown units.
    """
    problem = workspace_problem(ws, property_name=property_name, check_bins=False)
    if problem:
        raise InsganInputError(problem)
    return "q_spectra" if ws.getAxis(0).getUnit().unitID() == "DeltaE" else "e_spectra"


def workspace_problem(ws, *, property_name: str = "InputWorkspace", check_bins: bool = True) -> str | None:
    """Why ``ws`` cannot be read as an S(|Q|,E) map, or None when it can (for ``validateInputs``).

    Parameters
    ----------
    ws : mantid MatrixWorkspace
    property_name : str
        Algorithm property (or option) the workspace came from; the message starts with it.
    check_bins : bool
        Also check that the X bins are common to all spectra (not ragged).
    """
    who = f"{property_name}: workspace {_label(ws)}"
    if not hasattr(ws, "getAxis") or not hasattr(ws, "extractY"):
        return f"{who} is not a MatrixWorkspace (got {type(ws).__name__}); give a 2-D S(|Q|,E) workspace"
    x_unit = ws.getAxis(0).getUnit().unitID()
    v_unit = _vertical_unit(ws)
    if x_unit == "TOF":
        return (
            f"{who} is in time of flight (X unit 'TOF'); reduce it to energy transfer (e.g. the ISIS direct "
            f"reduction or ConvertUnits(Target='DeltaE', EMode='Direct')) and {_HOW_TO_CONVERT}"
        )
    found = f"X axis '{x_unit}', vertical axis '{v_unit or 'spectrum number'}'"
    if x_unit == "DeltaE" and v_unit is None:
        return f"{who} has energy transfer but no |Q| axis ({found}: detector space); {_HOW_TO_CONVERT}"
    standard = x_unit == "DeltaE" and v_unit == "MomentumTransfer"
    transposed = x_unit == "MomentumTransfer" and v_unit == "DeltaE"
    custom = x_unit == "DeltaE" and v_unit in ("Label", "Degrees") and (v_unit == "Degrees" or _custom_x_unit(ws))
    if not (standard or transposed or custom):
        return (
            f"{who} has {found}; expected energy transfer 'DeltaE' on one axis and |Q| 'MomentumTransfer' on "
            f"the other (either orientation); {_HOW_TO_CONVERT}"
        )
    if ws.getNumberHistograms() < 1 or ws.blocksize() < 1:
        return f"{who} is empty ({ws.getNumberHistograms()} spectra x {ws.blocksize()} bins)"
    if check_bins:
        x = ws.extractX()
        if x.shape[0] > 1 and not np.array_equal(x, np.broadcast_to(x[0], x.shape)):
            return (
                f"{who} has ragged bins (X differs between spectra); rebin it to common bins first, e.g. "
                f"Rebin(InputWorkspace=ws, Params='start,step,end') or SofQW with EnergyBinning"
            )
        v_len = ws.getAxis(1).length()
        expected = (ws.getNumberHistograms(), ws.getNumberHistograms() + 1)
        if v_len not in expected:
            return f"{who}: vertical axis has {v_len} values for {expected[0]} spectra (expected {expected[0]} or {expected[1]})"
        if v_len == 1 or x.shape[1] == 1:
            return f"{who} has a single bin on one axis; at least 2 points are needed to build bin edges"
    return None


def _edges_from(values: np.ndarray, n_bins: int, what: str, who: str) -> np.ndarray:
    """Bin edges (n_bins+1,) from edges (returned as they are) or from n_bins bin centres."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == n_bins + 1:
        edges = values
    elif values.size == n_bins and n_bins >= 2:
        mid = 0.5 * (values[1:] + values[:-1])
        edges = np.concatenate([[values[0] - (mid[0] - values[0])], mid, [values[-1] + (values[-1] - mid[-1])]])
    else:
        raise InsganInputError(f"{who}: {what} axis has {values.size} values for {n_bins} bins")
    if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise InsganInputError(f"{who}: {what} axis values must be finite and strictly increasing")
    return edges


def _metadata_from_workspace(ws) -> MapMetadata:
    run = ws.run()
    stored = _log_value(run, "insgan_metadata")
    if stored:
        try:
            md = MapMetadata.from_dict(json.loads(stored))
        except (ValueError, TypeError, AttributeError):
            md = MapMetadata()
    else:
        md = MapMetadata()
        ei = _log_value(run, "Ei")
        md.ei_meV = float(ei) if ei is not None else None
        for name in ("SampleTemperature", "SampleTemp", "sample_temperature", "temperature_K", "Temperature"):
            t = _log_value(run, name)
            if t is not None:
                try:
                    md.temperature_K = float(t)
                    break
                except (TypeError, ValueError):
                    continue
        try:
            md.instrument = str(ws.getInstrument().getName() or "")
        except (AttributeError, RuntimeError):
            md.instrument = ""
        md.sample = str(ws.getTitle() or "")
    if ws.name():
        md.provenance = dict(md.provenance, workspace=ws.name())
    return md


def workspace_to_map(ws, *, property_name: str = "InputWorkspace") -> INSMap:
    """Read a Mantid MatrixWorkspace holding S(|Q|,E) (either orientation) as an :class:`INSMap`.

    Parameters
    ----------
    ws : mantid MatrixWorkspace
        X energy transfer (``DeltaE``, meV) with a ``MomentumTransfer`` (Å⁻¹) vertical axis, or the
        transpose; histogram or point data; vertical axis bin edges or points.
    property_name : str
        Name used in error messages (the algorithm property the workspace came from).

    Returns
    -------
    INSMap
        ``signal``/``error`` shape (n_x, n_E); NaN bins stay NaN (masked); ``distribution`` from the
        workspace's flag; metadata from the insgan logs when present, else from ``Ei``, the sample
        temperature log, the instrument name and the title.

    Raises
    ------
    InsganInputError
        For time-of-flight or detector-space workspaces, unknown units, ragged bins or bad axes; the
        message names ``property_name`` and the workspace and says how to convert it.
    """
    problem = workspace_problem(ws, property_name=property_name)
    if problem:
        raise InsganInputError(problem)
    who = f"{property_name}: workspace {_label(ws)}"
    y = ws.extractY()
    e = ws.extractE()
    x_values = np.array(ws.readX(0), dtype=np.float64, copy=True)  # readX: a read-only view into ws
    v_values = np.array(ws.getAxis(1).extractValues(), dtype=np.float64, copy=True)
    x_unit = ws.getAxis(0).getUnit().unitID()
    if x_unit == "DeltaE":
        e_edges = _edges_from(x_values, y.shape[1], "energy-transfer (X)", who)
        v_unit = ws.getAxis(1).getUnit().unitID()
        unit = (_custom_x_unit(ws) or v_unit) if v_unit == "Label" else v_unit
        x_edges = _edges_from(v_values, y.shape[0], f"vertical ({unit})", who)
        signal, error = y, e
    else:  # transposed: X = |Q|, one spectrum per energy bin
        unit = "MomentumTransfer"
        x_edges = _edges_from(x_values, y.shape[1], "|Q| (X)", who)
        e_edges = _edges_from(v_values, y.shape[0], "energy-transfer (vertical)", who)
        signal, error = y.T, e.T
    if np.isinf(signal).any():
        raise InsganInputError(f"{who} contains infinite values; mask them as NaN (e.g. ReplaceSpecialValues)")
    ticks = ()
    raw_ticks = _log_value(ws.run(), "insgan_tick_labels")
    if raw_ticks:
        try:
            ticks = tuple((float(p), str(s)) for p, s in json.loads(raw_ticks))
        except (ValueError, TypeError):
            ticks = ()
    error = np.where(np.isnan(signal), np.nan, error)
    return INSMap(
        signal=np.ascontiguousarray(signal, dtype=np.float64),
        error=np.ascontiguousarray(error, dtype=np.float64),
        x_axis=Axis(x_edges, unit, tick_labels=ticks),
        e_axis=Axis(e_edges, "DeltaE"),
        metadata=_metadata_from_workspace(ws),
        distribution=bool(ws.isDistribution()),
    )


# --- writing ---------------------------------------------------------------------------------------
def _edge_strings(edges: np.ndarray) -> list[str]:
    # CreateWorkspace's VerticalAxisValues is a string array; 17 significant digits round-trip a double.
    return [format(float(v), ".17g") for v in edges]


def _add_log(run, name: str, value, units: str = "") -> None:
    """Add a sample log of a type Mantid's ``Run.addProperty`` accepts (its PropertyWithValueFactory looks the
    *exact* Python type up: float, int, bool, str). Containers go in as JSON text, booleans as "True"/"False"
    (as before), numpy scalars as Python numbers, anything else as its ``str``."""
    if value is None:
        return
    if isinstance(value, (dict, list, tuple, np.ndarray)):
        value = json.dumps(value, default=_json_default)
    elif isinstance(value, (bool, np.bool_)):
        value = str(bool(value))
    elif isinstance(value, (int, np.integer)):
        value = int(value)
    elif isinstance(value, (float, np.floating)):
        value = float(value)
    elif isinstance(value, str):
        value = str(value)  # a str subclass becomes a plain str
    else:
        value = str(value)
    run.addProperty(str(name), value, str(units), True)


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    return str(obj)


def map_to_workspace(
    insmap: INSMap,
    *,
    name: str | None = None,
    parent=None,
    orientation: str = "q_spectra",
    logs: dict | None = None,
):
    """Build a Mantid Workspace2D from an :class:`INSMap`.

    Parameters
    ----------
    insmap : INSMap
        ``signal``/``error`` shape (n_x, n_E).
    name : str, optional
        When given, the workspace is also put into the analysis data service under this name.
    parent : mantid MatrixWorkspace, optional
        Workspace whose sample logs, sample and title (and, for a ``Workspace2D`` parent, instrument) the
        new workspace takes over (the insgan logs are then written on top). Any parent type works
        (``Workspace2D``, ``RebinnedOutput``, ...): the output is a ``Workspace2D`` in every case.
    orientation : {"q_spectra", "e_spectra"}
        ``"q_spectra"`` (default; SofQW's layout): X = energy-transfer bin edges (``DeltaE``), vertical
        axis = |Q| bin edges (``MomentumTransfer``). ``"e_spectra"``: the transpose (|Q| maps only).
    logs : dict, optional
        Extra sample logs ``{name: value}``; dicts/lists are stored as JSON strings.

    Returns
    -------
    mantid Workspace2D
        Histogram data, bin-edge vertical axis, distribution flag as ``insmap.distribution``. Path maps
        (``rlu_path``) and other non-|Q| x axes go on a numeric bin-edge axis with the ``Label`` unit
        (caption and label from the axis) plus the ``insgan_x_unit`` / ``insgan_tick_labels`` logs.
    """
    from mantid.simpleapi import CreateWorkspace  # lazy: Mantid is optional for insgan_core

    if orientation not in ("q_spectra", "e_spectra"):
        raise InsganInputError(f"map_to_workspace: orientation must be 'q_spectra' or 'e_spectra', got {orientation!r}")
    x_unit = insmap.x_axis.unit
    native = x_unit in _NATIVE_X_UNITS
    if orientation == "e_spectra" and x_unit != "MomentumTransfer":
        orientation = "q_spectra"  # only |Q| maps are written transposed; others keep one spectrum per x bin
    kwargs = dict(Distribution=bool(insmap.distribution), WorkspaceTitle=insmap.metadata.sample or "", StoreInADS=False)
    if parent is not None:
        if _workspace_type(parent) == "Workspace2D":
            kwargs["ParentWorkspace"] = parent  # same type: CreateWorkspace keeps instrument, logs, sample, title
        if not insmap.metadata.sample:
            kwargs.pop("WorkspaceTitle")
    if orientation == "q_spectra":
        ws = CreateWorkspace(
            DataX=np.asarray(insmap.e_axis.edges),
            DataY=np.ascontiguousarray(insmap.signal).ravel(),
            DataE=np.ascontiguousarray(insmap.error).ravel(),
            NSpec=insmap.x_axis.size,
            UnitX="DeltaE",
            VerticalAxisUnit=x_unit if native else "Label",
            VerticalAxisValues=_edge_strings(insmap.x_axis.edges),
            **kwargs,
        )
        if not native:
            caption, unit_label = UNIT_LABELS.get(x_unit, (x_unit, ""))
            ws.getAxis(1).setUnit("Label").setLabel(caption, unit_label)
    else:
        ws = CreateWorkspace(
            DataX=np.asarray(insmap.x_axis.edges),
            DataY=np.ascontiguousarray(insmap.signal.T).ravel(),
            DataE=np.ascontiguousarray(insmap.error.T).ravel(),
            NSpec=insmap.e_axis.size,
            UnitX="MomentumTransfer",
            VerticalAxisUnit="DeltaE",
            VerticalAxisValues=_edge_strings(insmap.e_axis.edges),
            **kwargs,
        )
    if parent is not None and "ParentWorkspace" not in kwargs:
        _copy_experiment_info(parent, ws, keep_title=bool(insmap.metadata.sample))
    run = ws.mutableRun()
    md = insmap.metadata
    _add_log(run, "Ei", md.ei_meV, "meV")
    _add_log(run, "SampleTemperature", md.temperature_K, "K")
    _add_log(run, "insgan_metadata", md.to_dict())
    if not native:
        _add_log(run, "insgan_x_unit", x_unit)
        if insmap.x_axis.tick_labels:
            _add_log(run, "insgan_tick_labels", [[float(p), str(s)] for p, s in insmap.x_axis.tick_labels])
    for key, value in (logs or {}).items():
        _add_log(run, key, value)
    if name:
        from mantid.api import AnalysisDataService

        AnalysisDataService.addOrReplace(name, ws)
    return ws


def _workspace_type(ws) -> str:
    try:
        return str(ws.id())
    except (AttributeError, RuntimeError):
        return type(ws).__name__


def _run_child(name: str, **properties):
    """Run a Mantid algorithm as an unmanaged child (works on workspaces that are not in the ADS)."""
    from mantid.api import AlgorithmManager

    alg = AlgorithmManager.createUnmanaged(name)
    alg.initialize()
    alg.setChild(True)
    for key, value in properties.items():
        alg.setProperty(key, value)
    alg.execute()
    return alg


def _copy_experiment_info(parent, ws, *, keep_title: bool) -> None:
    """Sample logs (CopyLogs), sample (CopySample) and title of ``parent`` onto the Workspace2D ``ws``."""
    _run_child("CopyLogs", InputWorkspace=parent, OutputWorkspace=ws, MergeStrategy="MergeReplaceExisting")
    _run_child("CopySample", InputWorkspace=parent, OutputWorkspace=ws)
    if not keep_title:
        ws.setTitle(parent.getTitle())


# --- validation, threads ------------------------------------------------------------------------------
def guarded_issues(issues: dict, prop: str, check) -> None:
    """Run ``check()`` (returns a message, or None when fine) for ``validateInputs``; never raises.

    Workbench calls ``validateInputs`` while a dialog is being filled in; an exception there is shown as an
    error box instead of a red star next to the property. Any exception from ``check`` therefore becomes
    the message of ``prop`` (prefixed with the property name, the exception type kept for unexpected ones).
    An existing message for ``prop`` is kept.
    """
    try:
        message = check()
    except InsganInputError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 -- the dialog must get a message, never an exception
        message = f"{type(exc).__name__}: {exc}"
    if message:
        message = str(message)
        if not message.startswith(f"{prop}:") and not message.startswith(f"{prop} "):
            message = f"{prop}: {message}"
        issues.setdefault(prop, message)


def mantid_max_cores() -> int | None:
    """Mantid's ``MultiThreaded.MaxCores`` setting (ConfigService), or None when unset, 0 or unreadable."""
    try:
        from mantid.kernel import config

        value = int(str(config["MultiThreaded.MaxCores"]).strip() or 0)
    except Exception:  # noqa: BLE001 -- no Mantid, no key, or not a number: no limit
        return None
    return value if value > 0 else None


class torch_threads_from_mantid:  # noqa: N801 (used as a context manager, like a function)
    """``with torch_threads_from_mantid():`` torch's intra-op threads follow ``MultiThreaded.MaxCores``.

    Inside Workbench torch would otherwise start one thread per core whatever the user set for Mantid.
    The previous torch setting is restored on exit. Imports torch only when a limit is set.
    """

    def __enter__(self):
        self._previous = None
        cores = mantid_max_cores()
        if cores is not None:
            import torch

            self._previous = torch.get_num_threads()
            torch.set_num_threads(min(cores, self._previous) if self._previous > 0 else cores)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            import torch

            torch.set_num_threads(self._previous)
        return False


# --- groups, tables, installation -------------------------------------------------------------------
def expand_workspace_names(names, *, property_name: str) -> list:
    """MatrixWorkspaces named in ``names`` (list of ADS names), each WorkspaceGroup replaced by its members.

    Raises
    ------
    InsganInputError
        When the list is empty or a name is not in the analysis data service.
    """
    from mantid.api import AnalysisDataService, WorkspaceGroup

    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise InsganInputError(f"{property_name}: no workspaces given; list workspace names or a WorkspaceGroup name")
    result = []

    def add(ws):
        if isinstance(ws, WorkspaceGroup):
            for i in range(ws.getNumberOfEntries()):
                add(ws.getItem(i))
        else:
            result.append(ws)

    for n in names:
        if not AnalysisDataService.doesExist(n):
            raise InsganInputError(f"{property_name}: workspace '{n}' is not in the analysis data service (mtd)")
        add(AnalysisDataService.retrieve(n))
    if not result:
        raise InsganInputError(f"{property_name}: the workspace groups given are empty")
    return result


def table_from_records(records: list[dict]):
    """A Mantid TableWorkspace with one row per record; ``step`` is an int column, numbers are doubles.

    Columns are the union of the records' keys in first-seen order; a missing or None value is NaN.
    Non-numeric values go into string columns.
    """
    from mantid.api import WorkspaceFactory

    table = WorkspaceFactory.createTable()
    columns: list[str] = []
    for rec in records:
        for key in rec:
            if key not in columns:
                columns.append(key)
    kinds = {}
    for c in columns:
        values = [r.get(c) for r in records if r.get(c) is not None]
        if c == "step" and all(isinstance(v, (int, np.integer)) for v in values):
            kinds[c] = "int"
        elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
            kinds[c] = "double"
        else:
            kinds[c] = "str"
        table.addColumn(kinds[c], c)
    for rec in records:
        row = []
        for c in columns:
            v = rec.get(c)
            if kinds[c] == "int":
                row.append(int(v) if v is not None else 0)
            elif kinds[c] == "double":
                row.append(float(v) if v is not None else float("nan"))
            else:
                row.append("" if v is None else str(v))
        table.addRow(row)
    return table


def mantid_plugins_dir() -> Path:
    """Folder holding insgan's Mantid algorithm files, for ``user.python.plugins.directories``.

    Looks, in order, at ``plugins/`` next to the package (a source checkout or an editable install) and at
    ``<prefix>/share/insgan/mantid_plugins`` (where a regular ``pip install`` puts them through the
    package's ``data_files``; ``<prefix>`` is ``sys.prefix`` or the user base for ``--user`` installs).

    Raises
    ------
    InsganFileError
        When no folder holding all of :data:`ALGORITHM_FILES` is found.
    """
    candidates = [Path(__file__).resolve().parents[1] / "plugins"]
    for prefix in (sys.prefix, getattr(site, "USER_BASE", None) or ""):
        if prefix:
            candidates.append(Path(prefix) / "share" / "insgan" / "mantid_plugins")
    for folder in candidates:
        if all((folder / f).is_file() for f in ALGORITHM_FILES):
            return folder
    raise InsganFileError(
        "insgan's Mantid algorithm files (" + ", ".join(ALGORITHM_FILES) + ") were not found in "
        + " or ".join(str(c) for c in candidates)
        + "; reinstall insgan into Mantid's Python environment (pip install insgan) or use a source checkout"
    )
