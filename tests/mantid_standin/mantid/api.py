"""TEST-ONLY STAND-IN for the subset of ``mantid.api`` that insgan's plugins and bridge use.

This is NOT Mantid. It models, in plain Python/numpy, only: ``PythonAlgorithm`` (property declaration,
groups, ``validateInputs``, ``PyInit``/``PyExec``, child algorithms), the algorithm runner that Mantid's
``Algorithm::execute`` performs (property validity -> ``validateInputs`` -> ``RuntimeError`` listing the
problems -> ``PyExec`` -> outputs into the ADS), ``AlgorithmFactory``/``AlgorithmManager``, ``Progress``,
workspace / file properties, a ``Workspace2D`` with X/Y/E, a unit-bearing X axis and a vertical axis
(spectra, numeric points or bin edges), ``Run`` logs, ``WorkspaceGroup``, a table workspace, and the
``AnalysisDataService`` (``mtd``). Names and signatures follow Mantid's Python API so the same plugin code
runs unchanged in real Mantid.

Where Mantid refuses something, the stand-in refuses it too (see docs/mantid-standin.md for each behaviour
and the Mantid source file it follows): ``Run.addProperty`` value types and its required ``replace``
argument, ``Progress(alg, start, end, nreports)`` arguments, read-only ``readX/readY/readE`` views, the
parent's workspace type in ``CreateWorkspace(ParentWorkspace=...)`` (``RebinnedOutput`` stays
``RebinnedOutput``), ``FileProperty`` path resolution, group processing (``checkGroups``), and
cancellation (``alg.cancel()`` makes the next ``Progress.report`` raise ``RuntimeError("Algorithm
terminated")``, as Mantid's ``CancelException`` reaches Python).
"""

from __future__ import annotations

import copy
import os

import numpy as np

from .kernel import Direction, Property, logger

__all__ = [
    "AlgorithmFactory",
    "AlgorithmManager",
    "AnalysisDataService",
    "mtd",
    "PythonAlgorithm",
    "Progress",
    "PropertyMode",
    "FileAction",
    "FileProperty",
    "WorkspaceProperty",
    "MatrixWorkspaceProperty",
    "WorkspaceGroupProperty",
    "ITableWorkspaceProperty",
    "Workspace",
    "MatrixWorkspace",
    "Workspace2D",
    "RebinnedOutput",
    "WorkspaceGroup",
    "ITableWorkspace",
    "WorkspaceFactory",
    "Run",
    "Sample",
]


# --- units, axes, logs --------------------------------------------------------------------------
_UNIT_CAPTIONS = {
    "DeltaE": ("Energy transfer", "meV"),
    "MomentumTransfer": ("q", "Angstrom^-1"),
    "TOF": ("Time-of-flight", "microsecond"),
    "Degrees": ("Scattering angle", "degrees"),
    "Wavelength": ("Wavelength", "Angstrom"),
    "Empty": ("", ""),
    "Label": ("", ""),
}


class Unit:
    def __init__(self, unit_id: str):
        self._id = unit_id
        self._caption, self._label = _UNIT_CAPTIONS.get(unit_id, (unit_id, ""))

    def unitID(self):  # noqa: N802
        return self._id

    def caption(self):
        return self._caption

    def label(self):
        return self._label

    def setLabel(self, caption, label=""):  # noqa: N802 (only meaningful for the Label unit)
        self._caption, self._label = caption, label
        return self


class Axis:
    def __init__(self, unit_id="Empty"):
        self._unit = Unit(unit_id)

    def getUnit(self):  # noqa: N802
        return self._unit

    def setUnit(self, unit_id):  # noqa: N802
        self._unit = Unit(unit_id)
        return self._unit

    def isSpectra(self):  # noqa: N802
        return False

    def isNumeric(self):  # noqa: N802
        return False

    def isText(self):  # noqa: N802
        return False


class RefAxis(Axis):
    """Axis 0 of a MatrixWorkspace: its values are the X arrays."""


class NumericAxis(Axis):
    def __init__(self, values, unit_id="Empty"):
        super().__init__(unit_id)
        self._values = np.array(values, dtype=float)

    def isNumeric(self):  # noqa: N802
        return True

    def length(self):
        return self._values.size

    def extractValues(self):  # noqa: N802
        return self._values.copy()

    def getValue(self, i):  # noqa: N802
        return float(self._values[i])


class BinEdgeAxis(NumericAxis):
    pass


class SpectraAxis(Axis):
    def __init__(self, n):
        super().__init__("Label")
        self._unit.setLabel("Spectrum", "")
        self._values = np.arange(1, n + 1, dtype=float)

    def isSpectra(self):  # noqa: N802
        return True

    def length(self):
        return self._values.size

    def extractValues(self):  # noqa: N802
        return self._values.copy()


class LogProperty:
    """One sample log: ``name``, ``value``, ``units``."""

    def __init__(self, name, value, units=""):
        self.name, self._value, self.units = name, value, units

    @property
    def value(self):
        # a list log is an ArrayProperty in Mantid: its value comes back as a numpy array
        if isinstance(self._value, (list, tuple)):
            return np.asarray(self._value, dtype=float if not isinstance(self._value[0], str) else str)
        return self._value

    def valueAsStr(self):  # noqa: N802
        return str(self.value)


_LOG_SCALAR_TYPES = (float, int, bool, str)


def _check_log_value_type(value):
    """PropertyWithValueFactory::lookup (Framework/PythonInterface/mantid/kernel/src/Registry/)."""
    if type(value) in _LOG_SCALAR_TYPES:
        return
    if type(value) in (list, tuple):
        if not value:
            raise ValueError("Cannot create PropertyWithValue from an empty sequence")
        first = value[0]
        if type(first) is bool:
            raise RuntimeError("Unable to support extracting arrays of booleans.")
        if type(first) in (float, int, str) and all(type(v) is type(first) for v in value):
            return
        raise ValueError(
            f"Cannot create PropertyWithValue from Python type {type(value).__name__} containing items of type "
            f"{type(first).__name__}. No converter registered in PropertyWithValueFactory."
        )
    raise ValueError(
        f"Cannot create PropertyWithValue from Python type {type(value).__name__}. "
        "No converter registered in PropertyWithValueFactory."
    )


class Run:
    def __init__(self):
        self._logs: dict[str, LogProperty] = {}

    def addProperty(self, name, value, *args):  # noqa: N802
        """``addProperty(name, value, replace)`` or ``addProperty(name, value, units, replace)``.

        As Mantid (Framework/PythonInterface/mantid/api/src/Exports/Run.cpp): ``replace`` has no default,
        and the value goes through ``PropertyWithValueFactory``, which looks its *exact* Python type up
        (float, int, bool, str, or a non-empty list/tuple of float, int or str): numpy scalars, None, dicts,
        numpy arrays and subclasses are refused with ``ValueError``.
        """
        if len(args) == 1 and isinstance(args[0], bool):
            units, replace = "", args[0]
        elif len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], bool):
            units, replace = args
        else:
            raise TypeError(
                "Python argument types in Run.addProperty did not match C++ signature: "
                "addProperty(name, value, replace: bool) or addProperty(name, value, units: str, replace: bool)"
            )
        if not isinstance(name, str):
            raise TypeError(f"Run.addProperty: name must be a str, got {type(name).__name__}")
        _check_log_value_type(value)
        if name in self._logs and not replace:
            raise RuntimeError(f"Property '{name}' already exists in the run")
        self._logs[name] = LogProperty(name, copy.deepcopy(value), units)

    def _add_log_copy(self, log):
        """Copy of a LogProperty (CopyLogs copies the Property objects, whatever their type)."""
        self._logs[log.name] = LogProperty(log.name, copy.deepcopy(log._value), log.units)

    def hasProperty(self, name):  # noqa: N802
        return name in self._logs

    def getProperty(self, name):  # noqa: N802
        try:
            return self._logs[name]
        except KeyError:
            raise RuntimeError(f"Unknown property search object {name}") from None

    getLogData = getProperty

    def getProperties(self):  # noqa: N802
        return list(self._logs.values())

    def keys(self):
        return list(self._logs)

    def removeProperty(self, name):  # noqa: N802
        self._logs.pop(name, None)


# --- workspaces ---------------------------------------------------------------------------------
class Workspace:
    def __init__(self):
        self._name = ""

    def name(self):
        return self._name

    def getName(self):  # noqa: N802
        return self._name


class _Instrument:
    def __init__(self, name=""):
        self._name = name

    def getName(self):  # noqa: N802
        return self._name


class Sample:
    """The sample of an ExperimentInfo: name, material formula and lattice (what CopySample copies)."""

    def __init__(self):
        self._name = ""
        self._material = ""
        self._lattice = None

    def getName(self):  # noqa: N802
        return self._name

    def setName(self, name):  # noqa: N802
        self._name = str(name)

    def getMaterialFormula(self):  # noqa: N802 (stand-in accessor)
        return self._material

    def setMaterialFormula(self, formula):  # noqa: N802 (stand-in accessor)
        self._material = str(formula)

    def hasOrientedLattice(self):  # noqa: N802
        return self._lattice is not None


class MatrixWorkspace(Workspace):
    pass


class Workspace2D(MatrixWorkspace):
    """Histogram data: ``X`` (nhist, nbins+1) or points (nhist, nbins), ``Y``/``E`` (nhist, nbins)."""

    def __init__(self, x, y, e, *, unit_x="Empty", vertical_axis=None, distribution=False, title=""):
        super().__init__()
        self._x = np.array(x, dtype=float)
        self._y = np.array(y, dtype=float)
        self._e = np.array(e, dtype=float)
        if self._y.ndim != 2 or self._e.shape != self._y.shape or self._x.shape[0] != self._y.shape[0]:
            raise ValueError("Workspace2D: inconsistent X/Y/E shapes")
        self._axes = [RefAxis(unit_x), vertical_axis if vertical_axis is not None else SpectraAxis(self._y.shape[0])]
        self._distribution = bool(distribution)
        self._run = Run()
        self._title = title
        self._instrument = _Instrument()
        self._sample = Sample()
        self._y_unit_label = ""

    def id(self):
        return "Workspace2D"

    def sample(self):
        return self._sample

    def mutableSample(self):  # noqa: N802
        return self._sample

    def getNumberHistograms(self):  # noqa: N802
        return self._y.shape[0]

    def blocksize(self):
        return self._y.shape[1]

    def getAxis(self, i):  # noqa: N802
        return self._axes[i]

    def replaceAxis(self, i, axis):  # noqa: N802
        self._axes[i] = axis

    # readX/Y/E: read-only numpy views into the workspace (MatrixWorkspace.cpp export, WrapReadOnly):
    # writing raises ValueError, and a later change of the workspace shows through: keep copies.
    @staticmethod
    def _read_only(row):
        view = row.view()
        view.flags.writeable = False
        return view

    def readX(self, i):  # noqa: N802
        return self._read_only(self._x[i])

    def readY(self, i):  # noqa: N802
        return self._read_only(self._y[i])

    def readE(self, i):  # noqa: N802
        return self._read_only(self._e[i])

    def dataX(self, i):  # noqa: N802
        return self._x[i]

    def dataY(self, i):  # noqa: N802
        return self._y[i]

    def dataE(self, i):  # noqa: N802
        return self._e[i]

    def setY(self, i, values):  # noqa: N802
        self._y[i] = values

    def setE(self, i, values):  # noqa: N802
        self._e[i] = values

    def extractX(self):  # noqa: N802
        return self._x.copy()

    def extractY(self):  # noqa: N802
        return self._y.copy()

    def extractE(self):  # noqa: N802
        return self._e.copy()

    def isHistogramData(self):  # noqa: N802
        return self._x.shape[1] == self._y.shape[1] + 1

    def isCommonBins(self):  # noqa: N802
        return bool(np.all(self._x == self._x[0]))

    def isDistribution(self):  # noqa: N802
        return self._distribution

    def setDistribution(self, flag):  # noqa: N802
        self._distribution = bool(flag)

    def run(self):
        return self._run

    def mutableRun(self):  # noqa: N802
        return self._run

    def getRun(self):  # noqa: N802
        return self._run

    def getTitle(self):  # noqa: N802
        return self._title

    def setTitle(self, title):  # noqa: N802
        self._title = title

    def getInstrument(self):  # noqa: N802
        return self._instrument

    def YUnitLabel(self):  # noqa: N802
        return self._y_unit_label

    def setYUnitLabel(self, label):  # noqa: N802
        self._y_unit_label = label

    def clone(self):
        new = copy.deepcopy(self)
        new._name = ""
        return new


class RebinnedOutput(Workspace2D):
    """Workspace2D plus the fractional-area array F (SofQWNormalisedPolygon/SofQW3, Rebin2D output).

    As Mantid's DataObjects/RebinnedOutput: Y and E are stored finalised (divided by F) once
    ``isFinalized()``; a RebinnedOutput made from a parent by ``WorkspaceFactory::create`` starts with F = 0.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._f = np.zeros_like(self._y)
        self._finalized = True

    def id(self):
        return "RebinnedOutput"

    def readF(self, i):  # noqa: N802
        return self._read_only(self._f[i])

    def dataF(self, i):  # noqa: N802
        return self._f[i]

    def setF(self, i, values):  # noqa: N802
        self._f[i] = values

    def isFinalized(self):  # noqa: N802
        return self._finalized

    def setFinalized(self, flag):  # noqa: N802
        self._finalized = bool(flag)


class WorkspaceGroup(Workspace):
    def __init__(self, items=()):
        super().__init__()
        self._items = list(items)

    def id(self):
        return "WorkspaceGroup"

    def addWorkspace(self, ws):  # noqa: N802
        self._items.append(ws)

    def getNumberOfEntries(self):  # noqa: N802
        return len(self._items)

    size = getNumberOfEntries

    def getItem(self, i):  # noqa: N802
        return self._items[i]

    def getNames(self):  # noqa: N802
        return [w.name() for w in self._items]

    def __len__(self):
        return len(self._items)

    def __getitem__(self, i):
        return self._items[i]

    def __iter__(self):
        return iter(self._items)


class ITableWorkspace(Workspace):
    _TYPES = {"int": int, "float": float, "double": float, "str": str, "bool": bool}

    def __init__(self):
        super().__init__()
        self._columns: dict[str, list] = {}
        self._types: dict[str, type] = {}

    def id(self):
        return "TableWorkspace"

    def addColumn(self, type, name):  # noqa: A002,N802 (Mantid's argument names)
        if type not in self._TYPES:
            raise ValueError(f"unknown column type {type!r}")
        if name in self._columns:
            return False
        self._columns[name] = [None] * self.rowCount()
        self._types[name] = self._TYPES[type]
        return True

    def addRow(self, row):  # noqa: N802
        if isinstance(row, dict):
            if set(row) != set(self._columns):
                raise ValueError(f"row keys {sorted(row)} do not match the columns {list(self._columns)}")
            values = [row[c] for c in self._columns]
        else:
            values = list(row)
            if len(values) != len(self._columns):
                raise ValueError(f"row has {len(values)} values for {len(self._columns)} columns")
        for (name, col), v in zip(self._columns.items(), values):
            col.append(self._types[name](v))

    def rowCount(self):  # noqa: N802
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def columnCount(self):  # noqa: N802
        return len(self._columns)

    def getColumnNames(self):  # noqa: N802
        return list(self._columns)

    def column(self, key):
        name = list(self._columns)[key] if isinstance(key, int) else key
        return list(self._columns[name])

    def row(self, i):
        return {k: v[i] for k, v in self._columns.items()}

    def cell(self, value, row_or_column):
        """Mantid's ``cell``: ``cell(row, column_index)``, or ``cell(column_name, row)`` when the first
        argument is not a number (ITableWorkspace.cpp, ``cell``)."""
        if isinstance(value, str):
            name, row = value, row_or_column
        else:
            row, col = int(value), int(row_or_column)
            name = list(self._columns)[col]
        if name not in self._columns:
            raise ValueError(f"column {name!r} does not exist")
        column = self._columns[name]
        if not 0 <= int(row) < len(column):
            raise IndexError(f"row {row} out of range (0-{len(column) - 1})")
        return column[int(row)]


class WorkspaceFactory:
    @staticmethod
    def createTable(tableType="TableWorkspace"):  # noqa: N802,N803
        return ITableWorkspace()

    @staticmethod
    def create(parent, NVectors=-1, XLength=-1, YLength=-1):  # noqa: N803
        """From a parent (Framework/API/src/WorkspaceFactory.cpp): the parent's *type* (``parent.id()``),
        its run, sample, instrument and title; new data zero (and a RebinnedOutput's F zero).
        ``create("Workspace2D", n, x, y)`` makes a plain one."""
        if isinstance(parent, str):
            types = {"Workspace2D": Workspace2D, "RebinnedOutput": RebinnedOutput}
            if parent not in types:
                raise RuntimeError(f"WorkspaceFactory: unknown workspace type '{parent}'")
            n, nx, ny = NVectors, XLength, YLength
            return types[parent](np.zeros((n, nx)), np.zeros((n, ny)), np.zeros((n, ny)))
        n = parent.getNumberHistograms() if NVectors == -1 else NVectors
        nx = parent.extractX().shape[1] if XLength == -1 else XLength
        ny = parent.blocksize() if YLength == -1 else YLength
        ws = type(parent)(np.zeros((n, nx)), np.zeros((n, ny)), np.zeros((n, ny)))
        ws._run = copy.deepcopy(parent.run())
        ws._sample = copy.deepcopy(parent.sample())
        ws._instrument = copy.deepcopy(parent.getInstrument())
        ws.setTitle(parent.getTitle())
        ws.setYUnitLabel(parent.YUnitLabel())
        ws.setDistribution(parent.isDistribution())
        return ws


# --- analysis data service ----------------------------------------------------------------------
class _AnalysisDataService:
    def __init__(self):
        self._store: dict[str, Workspace] = {}

    def add(self, name, ws):
        if name in self._store:
            raise RuntimeError(f"AnalysisDataService: a workspace called '{name}' already exists")
        self.addOrReplace(name, ws)

    def addOrReplace(self, name, ws):  # noqa: N802
        if not name:
            raise ValueError("AnalysisDataService: empty workspace name")
        ws._name = name
        self._store[name] = ws
        if isinstance(ws, WorkspaceGroup):  # as Mantid: unnamed members are added as <group>_<n>
            for i, member in enumerate(ws):
                if not member.name():
                    self.addOrReplace(f"{name}_{i + 1}", member)

    def retrieve(self, name):
        try:
            return self._store[name]
        except KeyError:
            raise KeyError(f"'{name}' does not exist.") from None

    __getitem__ = retrieve

    def doesExist(self, name):  # noqa: N802
        return name in self._store

    __contains__ = doesExist

    def remove(self, name):
        self._store.pop(name, None)

    def clear(self):
        self._store.clear()

    def getObjectNames(self):  # noqa: N802
        return list(self._store)

    def size(self):
        return len(self._store)


AnalysisDataService = _AnalysisDataService()
mtd = AnalysisDataService


# --- workspace and file properties --------------------------------------------------------------
class PropertyMode:
    Mandatory = 0
    Optional = 1


class WorkspaceProperty(Property):
    """Value: a workspace (input: given by name from the ADS or as an object); ``valueAsStr``: its name."""

    ws_type = Workspace
    type_label = "Workspace"

    def __init__(self, name, defaultValue="", direction=Direction.Input, optional=PropertyMode.Mandatory, validator=None):  # noqa: N803
        super().__init__(name, None, validator, direction, "", type_=object)
        self.optional = optional
        self._ws_name = defaultValue or ""

    def setValue(self, value):  # noqa: N802
        if isinstance(value, Workspace):
            self._check_type(value)
            self._value = self._typed(value)
            if self.direction != Direction.Output or not self._ws_name:
                self._ws_name = value.name()
        elif isinstance(value, str):
            value = value.strip()
            self._ws_name = value
            self._value = None
            if value and self.direction in (Direction.Input, Direction.InOut):
                if not AnalysisDataService.doesExist(value):
                    raise ValueError(f'Invalid value for property {self.name}: Workspace "{value}" was not found in the Analysis Data Service')
                ws = AnalysisDataService.retrieve(value)
                self._check_type(ws)
                self._value = self._typed(ws)
        else:
            raise TypeError(f"Property '{self.name}' expects a workspace or a workspace name, got {value!r}")
        self.isDefault = False

    def _typed(self, ws):
        # A group given to a MatrixWorkspaceProperty is accepted when all its members are MatrixWorkspaces
        # (WorkspaceProperty::isValidGroup) but the property's value is then None: the algorithm is run once
        # per member by group processing (Algorithm::processGroups), never with the group itself.
        if isinstance(ws, WorkspaceGroup) and not isinstance(ws, self.ws_type):
            return None
        return ws

    def _check_type(self, ws):
        if isinstance(ws, WorkspaceGroup) and not issubclass(WorkspaceGroup, self.ws_type):
            for member in ws:
                self._check_type(member)
            return
        if not isinstance(ws, self.ws_type):
            raise ValueError(f"Invalid value for property {self.name}: workspace '{ws.name()}' is not a {self.type_label}")
        msg = self.validator.isValid(ws) if self.validator is not None else ""
        if msg:
            raise ValueError(f"Invalid value for property {self.name}: {msg}")

    def isValid(self):  # noqa: N802
        if self.direction == Direction.Output:
            return "" if (self._ws_name or self.optional == PropertyMode.Optional) else "Enter a name for the Output workspace"
        if self._value is None and not self._ws_name and self.optional != PropertyMode.Optional:
            return "Enter a name for the Input/InOut workspace"
        return ""

    def valueAsStr(self):  # noqa: N802
        return self._ws_name


class MatrixWorkspaceProperty(WorkspaceProperty):
    ws_type = MatrixWorkspace
    type_label = "MatrixWorkspace"


class WorkspaceGroupProperty(WorkspaceProperty):
    ws_type = WorkspaceGroup
    type_label = "WorkspaceGroup"


class ITableWorkspaceProperty(WorkspaceProperty):
    ws_type = ITableWorkspace
    type_label = "TableWorkspace"


class FileAction:
    Save = 0
    OptionalSave = 1
    Load = 2
    OptionalLoad = 3
    Directory = 4
    OptionalDirectory = 5


class FileProperty(Property):
    """Path resolution as Framework/API/src/FileProperty.cpp: the value is stripped and ``~`` expanded; an
    absolute path is kept (a Save property creates the missing parent folders); a relative Load path is
    searched in ``datasearch.directories`` (kept as given when not found, then refused as not found); a
    relative Save or Directory path is put under ``defaultsave.directory`` (or the current folder). So
    ``.value`` is an absolute path whenever the file was found or is to be written."""

    def __init__(self, name, defaultValue="", action=FileAction.Load, extensions=(), direction=Direction.Input):  # noqa: N803
        super().__init__(name, defaultValue, None, direction, "", type_=str)
        self.action = action
        self.extensions = list(extensions)

    def _resolve(self, value: str) -> str:
        from .kernel import config

        value = value.strip()
        if not value:
            return ""
        if value.startswith("~") and (len(value) == 1 or value[1] in "/\\"):
            value = os.path.expanduser("~") + value[1:]
        load = self.action in (FileAction.Load, FileAction.OptionalLoad)
        save = self.action in (FileAction.Save, FileAction.OptionalSave)
        if os.path.isabs(value):
            if save:
                os.makedirs(os.path.dirname(value) or os.sep, exist_ok=True)
            return value
        if load:
            for folder in config.getDataSearchDirs():
                candidate = os.path.join(folder, value)
                if os.path.isfile(candidate):
                    return os.path.abspath(candidate)
            return value  # not found: kept as given; the validator refuses it
        base = config.getString("defaultsave.directory") or os.getcwd()
        os.makedirs(base, exist_ok=True)
        return os.path.abspath(os.path.join(base, value))

    def setValue(self, value):  # noqa: N802
        if not isinstance(value, str):
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            else:
                raise TypeError(f"Property '{self.name}' expects a str path, got {type(value).__name__}")
        super().setValue(self._resolve(value))
        msg = self.isValid()
        if msg:
            raise ValueError(f'Invalid value for property {self.name} (file) from "{value}": {msg}')

    def isValid(self):  # noqa: N802
        v = self._value or ""
        optional = self.action in (FileAction.OptionalSave, FileAction.OptionalLoad, FileAction.OptionalDirectory)
        if not v:
            return "" if optional else "No file specified."
        if self.action in (FileAction.Load, FileAction.OptionalLoad) and not os.path.isfile(v):
            return f'File "{v}" not found'
        if self.action == FileAction.Directory and not os.path.isdir(v):
            return f'Directory "{v}" not found'
        if self.action == FileAction.OptionalDirectory and os.path.exists(v) and not os.path.isdir(v):
            return f'"{v}" is not a directory'
        if self.action in (FileAction.Save, FileAction.OptionalSave):
            parent = os.path.dirname(os.path.abspath(v))
            if not os.path.isdir(parent):
                return f'Directory "{parent}" not found'
        return ""


# --- progress ------------------------------------------------------------------------------------
class Progress:
    """``Progress(alg, start, end, nreports)`` (Framework/PythonInterface/mantid/api/src/Exports/Progress.cpp):
    all four arguments required, ``alg`` an algorithm, ``start``/``end`` numbers, ``nreports`` a
    non-negative int. ``report()``, ``report(msg)``, ``report(i, msg)`` (ProgressBase.cpp export). Every
    report is an interruption point (Framework/API/src/Progress.cpp -> Algorithm::interruption_point): after
    ``alg.cancel()`` it raises ``RuntimeError("Algorithm terminated")`` (Mantid's CancelException as Python
    sees it)."""

    def __init__(self, alg, start, end, nreports):
        if not isinstance(alg, PythonAlgorithm):
            raise TypeError(f"Progress: alg must be an Algorithm, got {type(alg).__name__}")
        for label, v in (("start", start), ("end", end)):
            if type(v) not in (int, float) or isinstance(v, bool):
                raise TypeError(f"Progress: {label} must be a float, got {type(v).__name__}")
        if type(nreports) is not int:
            raise TypeError(f"Progress: nreports must be an int (size_t), got {type(nreports).__name__}")
        if nreports < 0:
            raise OverflowError("Progress: nreports must be >= 0 (size_t)")
        self._alg, self._start, self._end = alg, float(start), float(end)
        self._n = max(nreports, 1)
        self._i = 0

    def report(self, *args):
        if len(args) == 0:
            message = ""
        elif len(args) == 1 and isinstance(args[0], str):
            message = args[0]
        elif len(args) == 2 and type(args[0]) is int and isinstance(args[1], str):
            self._i = args[0] - 1
            message = args[1]
        else:
            raise TypeError("Progress.report: expected report(), report(msg: str) or report(i: int, msg: str)")
        self._i += 1
        fraction = self._start + (self._end - self._start) * min(self._i, self._n) / self._n
        self._alg._progress_reports.append((fraction, message))
        if self._alg._progress_observer is not None:  # e.g. a test playing Workbench's Cancel button
            self._alg._progress_observer(self._alg, fraction, message)
        self._alg._interruption_point()


# --- algorithms ----------------------------------------------------------------------------------
class _AlgorithmFactory:
    def __init__(self):
        self._registry: dict[str, type] = {}

    def subscribe(self, cls):
        self._registry[cls().name()] = cls

    def exists(self, name):
        return name in self._registry

    def getRegisteredAlgorithms(self, include_hidden=False):  # noqa: N802
        return {k: [1] for k in self._registry}

    def _create(self, name):
        try:
            return self._registry[name]()
        except KeyError:
            raise RuntimeError(f"Algorithm not registered {name}") from None


AlgorithmFactory = _AlgorithmFactory()


class AlgorithmManager:
    @staticmethod
    def create(name, version=-1):
        alg = AlgorithmFactory._create(name)
        alg.initialize()
        return alg

    @staticmethod
    def createUnmanaged(name, version=-1):  # noqa: N802
        return AlgorithmFactory._create(name)


class PythonAlgorithm:
    """Base class of Python algorithms; ``execute`` follows Mantid's ``Algorithm::execute`` sequence."""

    def __init__(self):
        self._props: dict[str, Property] = {}
        self._progress_reports: list[tuple[float, str]] = []
        self._child = False
        self._initialized = False
        self._executed = False
        self._always_store = True
        self._cancel = False
        self._progress_observer = None

    # metadata defaults
    def name(self):
        return type(self).__name__

    def version(self):
        return 1

    def category(self):
        return "PythonAlgorithms"

    def summary(self):
        return ""

    def seeAlso(self):  # noqa: N802
        return []

    def checkGroups(self):  # noqa: N802
        return True

    def validateInputs(self):  # noqa: N802
        return {}

    def log(self):
        return logger

    # properties
    def declareProperty(self, *args, **kwargs):  # noqa: N802
        if args and isinstance(args[0], Property):
            prop = args[0]
            doc = args[1] if len(args) > 1 else kwargs.get("doc", "")
        else:
            names = ["name", "defaultValue", "validator", "doc", "direction"]
            values = dict(zip(names, args))
            values.update(kwargs)
            prop = Property(
                values["name"],
                values.get("defaultValue"),
                values.get("validator"),
                values.get("direction", Direction.Input),
            )
            doc = values.get("doc", "")
        if prop.name in self._props:
            raise RuntimeError(f"Property with given name already exists: {prop.name}")
        prop.documentation = doc
        self._props[prop.name] = prop

    def getProperty(self, name):  # noqa: N802
        try:
            return self._props[name]
        except KeyError:
            raise RuntimeError(f"Unknown property search object {name}") from None

    def getPropertyValue(self, name):  # noqa: N802
        return self.getProperty(name).valueAsStr()

    def setProperty(self, name, value):  # noqa: N802
        self.getProperty(name).setValue(value)

    setPropertyValue = setProperty

    def existsProperty(self, name):  # noqa: N802
        return name in self._props

    def getProperties(self):  # noqa: N802
        return list(self._props.values())

    def propertyCount(self):  # noqa: N802
        return len(self._props)

    def setPropertyGroup(self, name, group):  # noqa: N802
        self.getProperty(name).group = group

    # running
    def initialize(self):
        if not self._initialized:
            self.PyInit()
            self._initialized = True

    def setChild(self, child):  # noqa: N802
        self._child = bool(child)

    def isChild(self):  # noqa: N802
        return self._child

    def setAlwaysStoreInADS(self, flag):  # noqa: N802
        self._always_store = bool(flag)

    def setLogging(self, flag):  # noqa: N802
        pass

    def setRethrows(self, flag):  # noqa: N802
        pass

    def isExecuted(self):  # noqa: N802
        return self._executed

    # cancellation (Framework/API/src/Algorithm.cpp: cancel() sets a flag that interruption_point() checks)
    def cancel(self):
        self._cancel = True

    def getCancel(self):  # noqa: N802
        return self._cancel

    def _interruption_point(self):
        if self._cancel:
            raise RuntimeError("Algorithm terminated")

    def createChildAlgorithm(self, name, startProgress=0.0, endProgress=1.0, enableLogging=True, version=-1):  # noqa: N802,N803
        alg = AlgorithmManager.create(name)
        alg.setChild(True)
        return alg

    def execute(self):
        """Algorithm::executeInternal (Framework/API/src/Algorithm.cpp): property validity, then group
        processing when ``checkGroups()`` and an input names a WorkspaceGroup (validateInputs is then called
        per member, never with the group), else validateInputs, then PyExec."""
        self.initialize()
        errors = {}
        for prop in self._props.values():
            msg = prop.isValid()
            if msg:
                errors[prop.name] = msg
        if errors:
            raise RuntimeError(self._format_errors(errors))
        groups = self._group_inputs() if self.checkGroups() else {}
        if groups:
            self._process_groups(groups)
            self._executed = True
            return True
        issues = validate_inputs_as_mantid(self)
        if issues:
            raise RuntimeError(self._format_errors(dict(issues)))
        self._cancel = False
        self.PyExec()
        if not self._child:
            self._store_outputs()
        self._executed = True
        return True

    def _group_inputs(self):
        found = {}
        for prop in self._props.values():
            if isinstance(prop, WorkspaceProperty) and prop.direction in (Direction.Input, Direction.InOut):
                name = prop.valueAsStr()
                if name and AnalysisDataService.doesExist(name):
                    ws = AnalysisDataService.retrieve(name)
                    if isinstance(ws, WorkspaceGroup):
                        found[prop.name] = ws
        return found

    def _process_groups(self, groups):
        """Algorithm::processGroups: one run per member; outputs named <out>_<i+1> and grouped as <out>."""
        sizes = {len(g) for g in groups.values()}
        if len(sizes) != 1:
            raise RuntimeError(f"{self.name()}: input WorkspaceGroups must have the same number of members")
        outputs = [p for p in self._props.values() if isinstance(p, WorkspaceProperty) and p.direction == Direction.Output]
        results = {p.name: [] for p in outputs}
        for i in range(sizes.pop()):
            child = AlgorithmManager.create(self.name())
            for prop in self._props.values():
                if prop.name in groups:
                    member = groups[prop.name][i]
                    child.setProperty(prop.name, member.name() or member)
                elif prop in outputs:
                    child.setProperty(prop.name, f"{prop.valueAsStr()}_{i + 1}")
                elif not prop.isDefault:
                    child.setProperty(prop.name, prop.value if not isinstance(prop, WorkspaceProperty) else prop.valueAsStr())
            child.execute()
            for p in outputs:
                results[p.name].append(child.getProperty(p.name).value)
        for p in outputs:
            group = WorkspaceGroup(results[p.name])
            p._value = group
            AnalysisDataService.addOrReplace(p.valueAsStr(), group)

    def _store_outputs(self):
        for prop in self._props.values():
            if isinstance(prop, WorkspaceProperty) and prop.direction in (Direction.Output, Direction.InOut):
                name = prop.valueAsStr()
                if prop.value is not None and name:
                    AnalysisDataService.addOrReplace(name, prop.value)

    def _format_errors(self, errors):  # noqa: D401
        lines = "\n".join(f"  {k}: {v}" for k, v in errors.items())
        return f"Some invalid Properties found: \n{lines}\n({self.name()}-v{self.version()})"


def validate_inputs_as_mantid(alg) -> dict:
    """``alg.validateInputs()`` seen through AlgorithmAdapter::validateInputs
    (Framework/PythonInterface/mantid/api/src/PythonAlgorithm/AlgorithmAdapter.cpp): a Python exception
    propagates (Workbench shows it as an error box, not as a red star); keys and values must be str (real
    Mantid drops other pairs with a logged error: the stand-in refuses them so tests see it)."""
    issues = alg.validateInputs()
    if issues is None:
        return {}
    if not isinstance(issues, dict):
        raise TypeError(f"{alg.name()}.validateInputs must return a dict, got {type(issues).__name__}")
    for key, value in issues.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"{alg.name()}.validateInputs: keys and values must be str (got {key!r}: {value!r}); "
                "Mantid drops such entries"
            )
    return {k: v for k, v in issues.items() if v}
