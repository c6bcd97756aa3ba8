"""TEST-ONLY STAND-IN for the subset of ``mantid.api`` that insgan's plugins and bridge use.

This is NOT Mantid. It models, in plain Python/numpy, only: ``PythonAlgorithm`` (property declaration,
groups, ``validateInputs``, ``PyInit``/``PyExec``, child algorithms), the algorithm runner that Mantid's
``Algorithm::execute`` performs (property validity -> ``validateInputs`` -> ``RuntimeError`` listing the
problems -> ``PyExec`` -> outputs into the ADS), ``AlgorithmFactory``/``AlgorithmManager``, ``Progress``,
workspace / file properties, a ``Workspace2D`` with X/Y/E, a unit-bearing X axis and a vertical axis
(spectra, numeric points or bin edges), ``Run`` logs, ``WorkspaceGroup``, a table workspace, and the
``AnalysisDataService`` (``mtd``). Names and signatures follow Mantid's Python API so the same plugin code
runs unchanged in real Mantid.
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
    "WorkspaceGroup",
    "ITableWorkspace",
    "WorkspaceFactory",
    "Run",
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
        self.name, self.value, self.units = name, value, units

    def valueAsStr(self):  # noqa: N802
        return str(self.value)


class Run:
    def __init__(self):
        self._logs: dict[str, LogProperty] = {}

    def addProperty(self, name, value, units="", replace=False):  # noqa: N802
        if isinstance(units, bool):  # overload addProperty(name, value, replace)
            units, replace = "", units
        if name in self._logs and not replace:
            raise RuntimeError(f"Property '{name}' already exists in the run")
        self._logs[name] = LogProperty(name, value, units)

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
        self._y_unit_label = ""

    def id(self):
        return "Workspace2D"

    def getNumberHistograms(self):  # noqa: N802
        return self._y.shape[0]

    def blocksize(self):
        return self._y.shape[1]

    def getAxis(self, i):  # noqa: N802
        return self._axes[i]

    def replaceAxis(self, i, axis):  # noqa: N802
        self._axes[i] = axis

    def readX(self, i):  # noqa: N802
        return self._x[i].copy()

    def readY(self, i):  # noqa: N802
        return self._y[i].copy()

    def readE(self, i):  # noqa: N802
        return self._e[i].copy()

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


class WorkspaceFactory:
    @staticmethod
    def createTable(tableType="TableWorkspace"):  # noqa: N802,N803
        return ITableWorkspace()


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
            self._value = value
            if self.direction != Direction.Output or not self._ws_name:
                self._ws_name = value.name()
        elif isinstance(value, str):
            self._ws_name = value
            self._value = None
            if value and self.direction in (Direction.Input, Direction.InOut):
                if not AnalysisDataService.doesExist(value):
                    raise ValueError(f'Invalid value for property {self.name}: Workspace "{value}" was not found in the Analysis Data Service')
                ws = AnalysisDataService.retrieve(value)
                self._check_type(ws)
                self._value = ws
        else:
            raise TypeError(f"Property '{self.name}' expects a workspace or a workspace name, got {value!r}")
        self.isDefault = False

    def _check_type(self, ws):
        if not isinstance(ws, self.ws_type):
            raise ValueError(f"Invalid value for property {self.name}: workspace '{ws.name()}' is not a {self.type_label}")
        msg = self.validator.isValid(ws) if self.validator is not None else ""
        if msg:
            raise ValueError(f"Invalid value for property {self.name}: {msg}")

    def isValid(self):  # noqa: N802
        if self.direction == Direction.Output:
            return "" if (self._ws_name or self.optional == PropertyMode.Optional) else "Enter a name for the Output workspace"
        if self._value is None and self.optional != PropertyMode.Optional:
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
    def __init__(self, name, defaultValue="", action=FileAction.Load, extensions=(), direction=Direction.Input):  # noqa: N803
        super().__init__(name, defaultValue, None, direction, "", type_=str)
        self.action = action
        self.extensions = list(extensions)

    def setValue(self, value):  # noqa: N802
        value = os.fspath(value) if not isinstance(value, str) else value
        super().setValue(value)
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
        if self.action in (FileAction.Save, FileAction.OptionalSave):
            parent = os.path.dirname(os.path.abspath(v))
            if not os.path.isdir(parent):
                return f'Directory "{parent}" not found'
        return ""


# --- progress ------------------------------------------------------------------------------------
class Progress:
    def __init__(self, alg, start=0.0, end=1.0, nreports=1):
        self._alg, self._start, self._end = alg, float(start), float(end)
        self._n = max(int(nreports), 1)
        self._i = 0

    def report(self, message="", *args):
        self._i += 1
        fraction = self._start + (self._end - self._start) * min(self._i, self._n) / self._n
        self._alg._progress_reports.append((fraction, str(message)))


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

    def createChildAlgorithm(self, name, startProgress=0.0, endProgress=1.0, enableLogging=True, version=-1):  # noqa: N802,N803
        alg = AlgorithmManager.create(name)
        alg.setChild(True)
        return alg

    def execute(self):
        self.initialize()
        errors = {}
        for prop in self._props.values():
            msg = prop.isValid()
            if msg:
                errors[prop.name] = msg
        if errors:
            raise RuntimeError(self._format_errors(errors))
        issues = self.validateInputs() or {}
        if issues:
            raise RuntimeError(self._format_errors(dict(issues)))
        self.PyExec()
        if not self._child:
            self._store_outputs()
        self._executed = True
        return True

    def _store_outputs(self):
        for prop in self._props.values():
            if isinstance(prop, WorkspaceProperty) and prop.direction in (Direction.Output, Direction.InOut):
                name = prop.valueAsStr()
                if prop.value is not None and name:
                    AnalysisDataService.addOrReplace(name, prop.value)

    def _format_errors(self, errors):
        lines = "\n".join(f"  {k}: {v}" for k, v in errors.items())
        return f"Some invalid Properties found: \n{lines}\n({self.name()}-v{self.version()})"
