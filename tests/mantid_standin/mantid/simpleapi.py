"""TEST-ONLY STAND-IN for ``mantid.simpleapi``: one function per registered algorithm.

This is NOT Mantid. Like Mantid's simpleapi, ``SomeAlgorithm(Prop=value, ..., StoreInADS=True)`` creates
the algorithm, sets each property (a value its validator refuses raises ``ValueError``), executes it
(``validateInputs`` problems raise ``RuntimeError``) and returns the output property value(s). Algorithms
are looked up in ``mantid.api.AlgorithmFactory`` at call time, so plugin modules imported after this one
(which call ``AlgorithmFactory.subscribe``) are reachable as ``mantid.simpleapi.<Name>``.

Built-in algorithms, reduced to what insgan's code and tests use: ``CreateWorkspace`` (incl.
``ParentWorkspace``, bin-edge/point numeric vertical axes, ``Label`` units), ``CloneWorkspace``,
``CopyLogs``, ``CopySample``, ``GroupWorkspaces``, ``DeleteWorkspace``, ``CreateEmptyTableWorkspace``.

``CreateWorkspace(ParentWorkspace=p)`` follows Framework/Algorithms/src/CreateWorkspace.cpp: the output
comes from ``WorkspaceFactory::create(p, ...)`` and so has the *parent's type* -- a ``RebinnedOutput`` parent
(SofQW3 / SofQWNormalisedPolygon output) gives a ``RebinnedOutput`` whose fractional areas are zero.
"""

from __future__ import annotations

import copy

import numpy as np

from .api import (
    AlgorithmFactory,
    AlgorithmManager,
    AnalysisDataService,
    BinEdgeAxis,
    NumericAxis,
    PropertyMode,
    RefAxis,
    SpectraAxis,
    PythonAlgorithm,
    WorkspaceFactory,
    WorkspaceGroup,
    WorkspaceProperty,
    MatrixWorkspaceProperty,
    ITableWorkspaceProperty,
    Workspace2D,
    mtd,
)
from .kernel import Direction, FloatArrayProperty, StringArrayProperty, StringListValidator

_KNOWN_UNITS = ["DeltaE", "MomentumTransfer", "TOF", "Wavelength", "Degrees", "Empty", "Label", "Energy"]


def _run_algorithm(name, *args, **kwargs):
    if args:
        raise TypeError(f"{name}: the test stand-in accepts keyword arguments only")
    store = bool(kwargs.pop("StoreInADS", True))
    alg = AlgorithmManager.create(name)
    alg.setChild(not store)
    for key, value in kwargs.items():
        alg.setProperty(key, value)
    for prop in alg.getProperties():
        if isinstance(prop, WorkspaceProperty) and prop.direction == Direction.Output and not prop.valueAsStr():
            if store and prop.optional != PropertyMode.Optional:
                raise RuntimeError(f"{name}: set {prop.name} (the stand-in cannot infer names from the assignment)")
            if not store:
                prop._ws_name = "__unused_for_child"
    alg.execute()
    outputs = [p.value for p in alg.getProperties() if p.direction == Direction.Output]
    if not outputs:
        return None
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def __getattr__(name):  # PEP 562: algorithms registered after import are still found
    if AlgorithmFactory.exists(name):
        def call(*args, **kwargs):
            return _run_algorithm(name, *args, **kwargs)

        call.__name__ = name
        return call
    raise AttributeError(f"module 'mantid.simpleapi' has no attribute '{name}'")


# --- built-in algorithms ------------------------------------------------------------------------
class _CreateWorkspace(PythonAlgorithm):
    def name(self):
        return "CreateWorkspace"

    def PyInit(self):  # noqa: N802
        self.declareProperty(WorkspaceProperty("OutputWorkspace", "", Direction.Output))
        self.declareProperty(FloatArrayProperty("DataX"))
        self.declareProperty(FloatArrayProperty("DataY"))
        self.declareProperty(FloatArrayProperty("DataE"))
        self.declareProperty("NSpec", 1)
        self.declareProperty("UnitX", "")
        self.declareProperty("VerticalAxisUnit", "SpectraNumber", StringListValidator(_KNOWN_UNITS + ["SpectraNumber"]))
        self.declareProperty(StringArrayProperty("VerticalAxisValues"))
        self.declareProperty("Distribution", False)
        self.declareProperty("YUnitLabel", "")
        self.declareProperty("WorkspaceTitle", "")
        self.declareProperty(MatrixWorkspaceProperty("ParentWorkspace", "", Direction.Input, PropertyMode.Optional))

    def validateInputs(self):  # noqa: N802
        if self.getProperty("VerticalAxisUnit").value == "SpectraNumber" and len(self.getProperty("VerticalAxisValues").value):
            return {"VerticalAxisValues": "Axis values cannot be provided when using a spectra axis"}
        return {}

    def PyExec(self):  # noqa: N802
        x = self.getProperty("DataX").value
        y = self.getProperty("DataY").value
        e = self.getProperty("DataE").value
        nspec = self.getProperty("NSpec").value
        if y.size % nspec:
            raise ValueError("Length of DataY must be divisible by NSpec")
        ny = y.size // nspec
        if x.size in (ny, ny + 1):
            xs = np.tile(x, (nspec, 1))
        elif x.size % nspec == 0 and x.size // nspec in (ny, ny + 1):
            xs = x.reshape(nspec, -1)
        else:
            raise RuntimeError("DataX width must be as DataY or +1")
        if e.size and e.size != y.size:
            raise RuntimeError("DataE (if provided) must be the same size as DataY")
        es = e.reshape(nspec, ny) if e.size else np.zeros((nspec, ny))
        v_unit = self.getProperty("VerticalAxisUnit").value
        v_values = self.getProperty("VerticalAxisValues").value
        axis = None
        if v_unit != "SpectraNumber":
            values = [float(v) for v in v_values]
            if len(values) == nspec:
                axis = NumericAxis(values, v_unit)
            elif len(values) == nspec + 1:
                axis = BinEdgeAxis(values, v_unit)
            else:
                raise ValueError("Invalid vertical axis length. It must be the same length as NSpec or 1 longer.")
        parent = self.getProperty("ParentWorkspace").value
        if parent is not None:
            ws = WorkspaceFactory.create(parent, nspec, xs.shape[1], ny)  # the parent's type, run, sample, ...
        else:
            ws = WorkspaceFactory.create("Workspace2D", nspec, xs.shape[1], ny)
        ws._x[:], ws._y[:], ws._e[:] = xs, y.reshape(nspec, ny), es
        ws._axes = [RefAxis(self.getProperty("UnitX").value or "Empty"), axis if axis is not None else SpectraAxis(nspec)]
        if self.getProperty("WorkspaceTitle").value or parent is None:
            ws.setTitle(self.getProperty("WorkspaceTitle").value)
        if self.getProperty("YUnitLabel").value or parent is None:
            ws.setYUnitLabel(self.getProperty("YUnitLabel").value)
        ws.setDistribution(self.getProperty("Distribution").value)
        self.setProperty("OutputWorkspace", ws)


class _CloneWorkspace(PythonAlgorithm):
    def name(self):
        return "CloneWorkspace"

    def PyInit(self):  # noqa: N802
        self.declareProperty(WorkspaceProperty("InputWorkspace", "", Direction.Input))
        self.declareProperty(WorkspaceProperty("OutputWorkspace", "", Direction.Output))

    def PyExec(self):  # noqa: N802
        ws = copy.deepcopy(self.getProperty("InputWorkspace").value)
        ws._name = ""
        self.setProperty("OutputWorkspace", ws)


class _CopyLogs(PythonAlgorithm):
    def name(self):
        return "CopyLogs"

    def PyInit(self):  # noqa: N802
        self.declareProperty(MatrixWorkspaceProperty("InputWorkspace", "", Direction.Input))
        self.declareProperty(MatrixWorkspaceProperty("OutputWorkspace", "", Direction.InOut))
        self.declareProperty(
            "MergeStrategy", "MergeReplaceExisting", StringListValidator(["WipeExisting", "MergeKeepExisting", "MergeReplaceExisting"])
        )

    def PyExec(self):  # noqa: N802
        src = self.getProperty("InputWorkspace").value.run()
        out = self.getProperty("OutputWorkspace").value
        strategy = self.getProperty("MergeStrategy").value
        run = out.mutableRun()
        if strategy == "WipeExisting":
            for k in run.keys():
                run.removeProperty(k)
        for p in src.getProperties():
            if strategy == "MergeKeepExisting" and run.hasProperty(p.name):
                continue
            run._add_log_copy(p)
        self.setProperty("OutputWorkspace", out)


class _CopySample(PythonAlgorithm):
    """CopySample (Framework/Algorithms/src/CopySample.cpp): name, material, environment, shape, lattice."""

    def name(self):
        return "CopySample"

    def PyInit(self):  # noqa: N802
        self.declareProperty(WorkspaceProperty("InputWorkspace", "", Direction.Input))
        self.declareProperty(WorkspaceProperty("OutputWorkspace", "", Direction.InOut))
        for flag in ("CopyName", "CopyMaterial", "CopyEnvironment", "CopyShape", "CopyLattice"):
            self.declareProperty(flag, True)
        self.declareProperty("CopyOrientationOnly", False)
        self.declareProperty("MDInputSampleNumber", 0)
        self.declareProperty("MDOutputSampleNumber", -1)

    def PyExec(self):  # noqa: N802
        src = self.getProperty("InputWorkspace").value.sample()
        out = self.getProperty("OutputWorkspace").value
        dst = out.mutableSample()
        if self.getProperty("CopyName").value:
            dst._name = src._name
        if self.getProperty("CopyMaterial").value:
            dst._material = src._material
        if self.getProperty("CopyLattice").value:
            dst._lattice = copy.deepcopy(src._lattice)
        self.setProperty("OutputWorkspace", out)


class _GroupWorkspaces(PythonAlgorithm):
    def name(self):
        return "GroupWorkspaces"

    def PyInit(self):  # noqa: N802
        self.declareProperty(StringArrayProperty("InputWorkspaces"))
        self.declareProperty(WorkspaceProperty("OutputWorkspace", "", Direction.Output))

    def PyExec(self):  # noqa: N802
        group = WorkspaceGroup([AnalysisDataService.retrieve(n) for n in self.getProperty("InputWorkspaces").value])
        self.setProperty("OutputWorkspace", group)


class _DeleteWorkspace(PythonAlgorithm):
    def name(self):
        return "DeleteWorkspace"

    def PyInit(self):  # noqa: N802
        self.declareProperty("Workspace", "")

    def PyExec(self):  # noqa: N802
        AnalysisDataService.remove(self.getProperty("Workspace").value)


class _CreateEmptyTableWorkspace(PythonAlgorithm):
    def name(self):
        return "CreateEmptyTableWorkspace"

    def PyInit(self):  # noqa: N802
        self.declareProperty(ITableWorkspaceProperty("OutputWorkspace", "", Direction.Output))

    def PyExec(self):  # noqa: N802
        self.setProperty("OutputWorkspace", WorkspaceFactory.createTable())


_BUILTINS = (_CreateWorkspace, _CloneWorkspace, _CopyLogs, _CopySample, _GroupWorkspaces, _DeleteWorkspace, _CreateEmptyTableWorkspace)
for _cls in _BUILTINS:
    AlgorithmFactory.subscribe(_cls)

__all__ = ["mtd", "AnalysisDataService"]  # algorithm functions are provided by __getattr__
