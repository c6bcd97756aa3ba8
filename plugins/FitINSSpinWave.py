# SPDX-License-Identifier: GPL-3.0-or-later
"""Mantid algorithm FitINSSpinWave: fit spin-wave model parameters to a measured S(|Q|,E) workspace.

A thin face over ``insgan_core.fitting``: properties are checked in ``validateInputs`` (model, varied
parameter names, bounds, masks, workspace, instrument settings; never raises), the fit is one call into the
core, and the outputs are built by ``insgan_core.mantid_bridge``: the fitted model map as a ``Workspace2D``
on the input's grid (NaN where not fitted) and a parameter ``TableWorkspace`` with columns Name, Value,
Error whose last row is "Cost function value" (χ²/ν), as Mantid's Fit writes its parameter table.
"""

from mantid.api import (
    AlgorithmFactory,
    ITableWorkspaceProperty,
    MatrixWorkspaceProperty,
    Progress,
    PythonAlgorithm,
    WorkspaceProperty,
)
from mantid.kernel import (
    Direction,
    FloatBoundedValidator,
    IntBoundedValidator,
    StringListValidator,
    StringMandatoryValidator,
    logger,
)

from insgan_core import mantid_bridge
from insgan_core.errors import InsganInputError

_INSTRUMENTS = ["FromWorkspace", "MAPS", "MERLIN", "MARI", "LET"]
_SETTINGS_FIELDS = {
    "ei_meV": "IncidentEnergyInMeV",
    "chopper_package": "ChopperPackage",
    "chopper_frequency_hz": "ChopperFrequencyInHz",
    "instrument": "Instrument",
}


class FitINSSpinWave(PythonAlgorithm):
    def category(self):
        return "Inelastic\\Simulation"

    def summary(self):
        return ("Fits spin-wave model parameters (and intensity scale, backgrounds, elastic line, resolution width) "
                "to a measured powder S(|Q|,E) workspace, with uncertainties.")

    def seeAlso(self):
        return ["SimulateINSSpinWave", "SofQW", "LoadNXSPE"]

    def version(self):
        return 1

    def PyInit(self):
        self.declareProperty(
            MatrixWorkspaceProperty("InputWorkspace", "", direction=Direction.Input),
            doc="Measured S(|Q|,E) (DeltaE and MomentumTransfer axes in either orientation, e.g. SofQW output) with "
                "errors; NaN bins are not fitted.")
        self.declareProperty(name="Model", defaultValue="", validator=StringMandatoryValidator(),
                             doc="Spin-wave model: a library name (e.g. square_afm, bi2fe4o9) or a YAML model file.")
        self.declareProperty(name="ModelParameters", defaultValue="",
                             doc="Fixed and starting parameter values, e.g. 'J1=2.5, D=0.1' (meV).")
        self.declareProperty(name="VaryParameters", defaultValue="", validator=StringMandatoryValidator(),
                             doc="Model parameters to fit, comma separated (e.g. 'J1,J2'), or 'none' to fit only "
                                 "the scale, backgrounds and elastic line.")
        self.declareProperty(name="Bounds", defaultValue="",
                             doc="Bounds of fitted parameters, e.g. 'J1=0:10, J2=-1:1'; they also bound the "
                                 "multi-start global stage.")
        self.declareProperty(name="TemperatureInKelvin", defaultValue=-1.0,
                             validator=FloatBoundedValidator(lower=-1.0),
                             doc="Sample temperature in K for the Bose factor (-1: the workspace's SampleTemperature "
                                 "log).")
        self.declareProperty(name="Instrument", defaultValue="FromWorkspace",
                             validator=StringListValidator(_INSTRUMENTS),
                             doc="Spectrometer whose resolution is modelled (FromWorkspace: the workspace's).")
        self.declareProperty(name="IncidentEnergyInMeV", defaultValue=0.0, validator=FloatBoundedValidator(lower=0.0),
                             doc="Incident energy Ei in meV (0: the workspace's Ei log).")
        self.declareProperty(name="ChopperPackage", defaultValue="",
                             doc="Fermi chopper package; empty: the instrument's default.")
        self.declareProperty(name="ChopperFrequencyInHz", defaultValue=250.0,
                             validator=FloatBoundedValidator(lower=0.0, exclusive=True),
                             doc="Fermi chopper frequency in Hz (data files do not record it).")
        self.declareProperty(name="FitResolution", defaultValue=False,
                             doc="Also fit a factor on the width of the energy resolution.")
        self.declareProperty(name="ElasticMaskInMeV", defaultValue=0.0, validator=FloatBoundedValidator(lower=0.0),
                             doc="Remove |E| <= this from the fit (0: fit the elastic line with a Gaussian).")
        self.declareProperty(name="QMasks", defaultValue="",
                             doc="|Q| windows (inverse angstrom) removed from the fit, e.g. '1.1:1.3, 2.2:2.4'.")
        self.declareProperty(name="Statistic", defaultValue="chi2",
                             validator=StringListValidator(["chi2", "poisson", "auto"]),
                             doc="Error-weighted chi2 (reduced, normalised data) or Poisson deviance (raw counting "
                                 "data; auto: Poisson when all fitted data >= 0).")
        self.declareProperty(name="Starts", defaultValue=8, validator=IntBoundedValidator(lower=0),
                             doc="Latin-hypercube starts of the global stage.")
        self.declareProperty(name="Accuracy", defaultValue=0.05, validator=FloatBoundedValidator(lower=0.0, exclusive=True),
                             doc="Target relative error of the powder quadrature per |Q| shell.")
        self.declareProperty(name="CoarseAccuracy", defaultValue=0.0, validator=FloatBoundedValidator(lower=0.0),
                             doc="Coarse-to-fine schedule: global and first local stage at this coarser quadrature "
                                 "(e.g. 0.2), then a short refinement at Accuracy; 0: off.")
        self.declareProperty(WorkspaceProperty("OutputWorkspace", "", direction=Direction.Output),
                             doc="Fitted model map on the input's grid (NaN where not fitted), with sample logs.")
        self.declareProperty(ITableWorkspaceProperty("OutputParameterTable", "", direction=Direction.Output),
                             doc="Fitted parameters: Name, Value, Error; last row 'Cost function value' (chi2/dof).")

    # --- the request; problems raise _PropertyError naming the property --------------------------------
    def _model(self):
        from insgan_core.spinwave import load_model

        name = self.getProperty("Model").value.strip()
        if not name:
            raise _PropertyError("Model", "Model: give a library model name or a YAML model file")
        try:
            model = load_model(name)
        except InsganInputError as exc:
            raise _PropertyError("Model", f"Model: {exc}") from None
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            raise _PropertyError("Model", f"Model: '{name}' cannot be read as a YAML spin-wave model "
                                          f"({type(exc).__name__}: {exc})") from None
        text = self.getProperty("ModelParameters").value.strip()
        if not text:
            return model
        try:
            return load_model(name, text)
        except InsganInputError as exc:
            raise _PropertyError("ModelParameters", f"ModelParameters: {exc}") from None

    def _vary(self, model):
        text = self.getProperty("VaryParameters").value.strip()
        if not text:
            raise _PropertyError("VaryParameters", "VaryParameters: name the parameters to fit, or 'none'")
        if text.lower() == "none":
            return []
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in model.parameters]
        if unknown or len(set(names)) != len(names):
            raise _PropertyError("VaryParameters", f"VaryParameters: unknown or repeated parameter(s) "
                                                   f"{', '.join(unknown) or names}; model '{model.name}' has: "
                                                   f"{', '.join(sorted(model.parameters))}")
        return names

    def _bounds(self):
        from insgan_core.cli.fit import parse_bounds

        text = self.getProperty("Bounds").value.strip()
        try:
            return parse_bounds([text]) if text else {}
        except InsganInputError as exc:
            raise _PropertyError("Bounds", f"Bounds: {exc}") from None

    def _q_masks(self):
        from insgan_core.fitting.data import parse_window

        text = self.getProperty("QMasks").value.strip()
        try:
            return [parse_window(t.strip(), name="QMasks") for t in text.split(",") if t.strip()]
        except InsganInputError as exc:
            raise _PropertyError("QMasks", str(exc)) from None

    def _measured(self):
        ws = self.getProperty("InputWorkspace").value
        if ws is None:
            raise _PropertyError("InputWorkspace", "InputWorkspace: give a measured S(|Q|,E) MatrixWorkspace")
        problem = mantid_bridge.workspace_problem(ws, property_name="InputWorkspace")
        if problem:
            raise _PropertyError("InputWorkspace", problem)
        try:
            m = mantid_bridge.workspace_to_map(ws)
        except InsganInputError as exc:
            raise _PropertyError("InputWorkspace", str(exc)) from None
        if m.x_axis.unit != "MomentumTransfer":
            raise _PropertyError("InputWorkspace", "InputWorkspace: needs a |Q| (MomentumTransfer) axis: a powder map")
        return ws, m

    def _dataset(self, measured):
        from insgan_core.fitting import load_dataset

        inst = self.getProperty("Instrument").value
        ei = self.getProperty("IncidentEnergyInMeV").value
        T = self.getProperty("TemperatureInKelvin").value
        elastic = self.getProperty("ElasticMaskInMeV").value
        try:
            return load_dataset(measured, instrument=None if inst == "FromWorkspace" else inst,
                                ei_meV=ei or None, temperature_K=None if T < 0 else T,
                                chopper_frequency_hz=self.getProperty("ChopperFrequencyInHz").value,
                                chopper_package=self.getProperty("ChopperPackage").value.strip() or None,
                                mask_elastic_meV=elastic or None, mask_q=self._q_masks(),
                                name=self.getPropertyValue("InputWorkspace") or "data")
        except InsganInputError as exc:
            text = str(exc)
            field = text.split(":", 1)[0].strip()
            if field in _SETTINGS_FIELDS:
                prop = _SETTINGS_FIELDS[field]
            elif "temperature" in text:
                prop = "TemperatureInKelvin"
            elif "instrument/Ei" in text:
                prop = "Instrument"
            elif "mask-elastic" in text or "masks remove" in text:
                prop = "ElasticMaskInMeV"
            elif "--mask-q" in text:
                prop = "QMasks"
            else:
                prop = "InputWorkspace"
            raise _PropertyError(prop, f"{prop}: {text}") from None

    def _guard(self, issues, prop, check):
        try:
            return check()
        except _PropertyError as exc:
            issues.setdefault(exc.prop, exc.message)
        except Exception as exc:  # noqa: BLE001 -- validateInputs gives messages, not exceptions
            mantid_bridge.guarded_issues(issues, prop, lambda: f"{type(exc).__name__}: {exc}")
        return None

    def validateInputs(self):
        # Called by Workbench's dialog on every edit with half-filled properties: nothing raises.
        issues = {}
        model = self._guard(issues, "Model", self._model)
        if model is not None:
            self._guard(issues, "VaryParameters", lambda: self._vary(model))
        bounds = self._guard(issues, "Bounds", self._bounds)
        if model is not None and bounds:
            def bounds_check():
                vary = self._vary(model)
                for name, (lo, hi) in bounds.items():
                    if name in model.parameters and name not in vary:
                        raise _PropertyError("Bounds", f"Bounds: '{name}' is not in VaryParameters")
                    if name in model.parameters and not lo <= model.parameters[name] <= hi:
                        raise _PropertyError("Bounds", f"Bounds: the start {name}={model.parameters[name]:g} lies "
                                                       f"outside {lo:g}:{hi:g}; change Bounds or ModelParameters")
            self._guard(issues, "Bounds", bounds_check)
        self._guard(issues, "QMasks", self._q_masks)
        got = self._guard(issues, "InputWorkspace", self._measured)
        if got is not None:
            self._guard(issues, "InputWorkspace", lambda: self._dataset(got[1]))
        return issues

    def PyExec(self):
        with mantid_bridge.torch_threads_from_mantid():
            self._fit()

    def _fit(self):
        from insgan_core.fitting import FitProblem, fit

        progress = Progress(self, start=0.0, end=1.0, nreports=4)
        ws, measured = self._measured()
        model = self._model()
        vary = self._vary(model)
        dataset = self._dataset(measured)
        progress.report("Data and model ready")
        try:
            problem = FitProblem(model, [dataset], vary, bounds=self._bounds(),
                                 fit_resolution=self.getProperty("FitResolution").value,
                                 accuracy=self.getProperty("Accuracy").value,
                                 statistic=self.getProperty("Statistic").value,
                                 coarse_accuracy=self.getProperty("CoarseAccuracy").value or None)
        except InsganInputError as exc:
            raise RuntimeError(f"FitINSSpinWave: {exc}") from None
        progress.report("Forward model built")
        result = fit(problem, n_starts=self.getProperty("Starts").value)
        progress.report("Fitted")
        logger.notice("FitINSSpinWave: " + result.summary().replace("\n", "; "))
        fitted = result.fitted_maps()[0]
        logs = {"Model": self.getProperty("Model").value, "ModelParameters": result.hamiltonian(),
                "FitChi2PerDof": float(result.reduced_chi2)}
        out = mantid_bridge.map_to_workspace(fitted, parent=ws, logs=logs,
                                             orientation=mantid_bridge.workspace_orientation(ws))
        records = [{"Name": n, "Value": float(v), "Error": float(e)} for n, v, e in
                   zip(result.names, result.x, result.errors)]
        records.append({"Name": "Cost function value", "Value": float(result.reduced_chi2), "Error": 0.0})
        self.setProperty("OutputWorkspace", out)
        self.setProperty("OutputParameterTable", mantid_bridge.table_from_records(records))
        progress.report("Done")


class _PropertyError(Exception):
    """A validation problem of one property (message already names it)."""

    def __init__(self, prop, message):
        super().__init__(message)
        self.prop, self.message = prop, message


AlgorithmFactory.subscribe(FitINSSpinWave)
