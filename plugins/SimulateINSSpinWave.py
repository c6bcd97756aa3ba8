# SPDX-License-Identifier: GPL-3.0-or-later
"""Mantid algorithm SimulateINSSpinWave: linear spin-wave S(|Q|,E) on a workspace's grid, optionally with
the instrument's artefacts (resolution, coverage and kinematic limit, backgrounds, counting noise).

A thin face over ``insgan_core.spinwave`` and ``insgan_core.instrument``: properties are checked in
``validateInputs`` (model, grid, instrument settings), the simulation is one call into the core, and the
output workspace is built by ``insgan_core.mantid_bridge`` (X ``DeltaE``, vertical ``MomentumTransfer`` bin
edges, distribution, sample logs ``Ei``, ``SampleTemperature``, ``Model``, ``ModelParameters``).
"""

from mantid.api import (
    AlgorithmFactory,
    FileAction,
    FileProperty,
    MatrixWorkspaceProperty,
    Progress,
    PropertyMode,
    PythonAlgorithm,
    WorkspaceProperty,
)
from mantid.kernel import (
    Direction,
    FloatBoundedValidator,
    IntBoundedValidator,
    StringArrayProperty,
    StringListValidator,
    StringMandatoryValidator,
    logger,
)

from insgan_core import mantid_bridge
from insgan_core.errors import InsganInputError

#: instruments offered in the dialog ("None": a clean simulation, no instrument model)
_INSTRUMENTS = ["None", "MAPS", "MERLIN", "MARI", "LET"]

#: InstrumentSettings field named in a core error message -> algorithm property
_SETTINGS_FIELDS = {
    "ei_meV": "IncidentEnergyInMeV",
    "chopper_package": "ChopperPackage",
    "chopper_frequency_hz": "ChopperFrequencyInHz",
    "instrument": "Instrument",
}


class SimulateINSSpinWave(PythonAlgorithm):
    def category(self):
        return "Inelastic\\Simulation"

    def summary(self):
        return (
            "Simulates linear spin-wave S(|Q|,E) (powder) or S(Q,E) along a reciprocal-space path for a "
            "magnetic model, on a workspace's grid or given binning, optionally with instrument artefacts."
        )

    def seeAlso(self):
        return ["TrainINSGAN", "ApplyINSGAN", "SofQW", "LoadNXSPE"]

    def version(self):
        return 1

    def PyInit(self):
        # --- model
        self.declareProperty(
            name="Model",
            defaultValue="",
            validator=StringMandatoryValidator(),
            doc="Spin-wave model: a library name (e.g. fm_chain, square_afm) or the path of a YAML model file.",
        )
        self.declareProperty(
            name="ModelParameters",
            defaultValue="",
            doc="Parameter overrides, e.g. 'J1=2.5, D=0.1' (meV); empty keeps the model's values.",
        )
        self.declareProperty(
            name="TemperatureInKelvin",
            defaultValue=0.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Sample temperature in K for the Bose factor (0: T = 0, no energy-loss side).",
        )
        # --- grid
        self.declareProperty(
            MatrixWorkspaceProperty("InputWorkspace", "", direction=Direction.Input, optional=PropertyMode.Optional),
            doc="Optional S(|Q|,E) workspace whose grid the simulation uses (DeltaE and MomentumTransfer axes in "
            "either orientation, e.g. SofQW output); its Ei log is the default IncidentEnergyInMeV.",
        )
        self.declareProperty(
            name="QBinning",
            defaultValue="",
            doc="|Q| bins 'start,step,end' in inverse angstrom, when there is no InputWorkspace (powder mode).",
        )
        self.declareProperty(
            name="EnergyBinning",
            defaultValue="",
            doc="Energy-transfer bins 'start,step,end' in meV, when there is no InputWorkspace.",
        )
        self.declareProperty(
            name="Mode",
            defaultValue="powder",
            validator=StringListValidator(["powder", "single-crystal"]),
            doc="powder: spherical average S(|Q|,E); single-crystal: S(Q,E) along QPath.",
        )
        self.declareProperty(
            name="QPath",
            defaultValue="",
            doc="Single-crystal path of labelled corners in r.l.u., e.g. 'G=0,0,0; X=0.5,0,0; M=0.5,0.5,0'.",
        )
        self.declareProperty(
            name="PointsPerSegment",
            defaultValue=50,
            validator=IntBoundedValidator(lower=2),
            doc="Q points between consecutive corners of QPath.",
        )
        # --- instrument
        self.declareProperty(
            name="EnergyResolutionFWHMInMeV",
            defaultValue=0.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Constant Gaussian energy resolution FWHM in meV for a clean map (0: none). With the 'resolution' "
            "artefact the instrument's resolution is used instead.",
        )
        self.declareProperty(
            name="Instrument",
            defaultValue="None",
            validator=StringListValidator(_INSTRUMENTS),
            doc="Spectrometer whose artefacts (resins PyChop resolution, detector coverage...) are simulated; "
            "None for a clean map.",
        )
        self.declareProperty(
            name="IncidentEnergyInMeV",
            defaultValue=0.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Incident energy Ei in meV (0: the Ei log of InputWorkspace).",
        )
        self.declareProperty(
            name="ChopperPackage",
            defaultValue="",
            doc="Fermi chopper package (MAPS A/B/S, MERLIN G/S, MARI A/B/C/G/R/S, LET configuration); empty: "
            "the instrument's default.",
        )
        self.declareProperty(
            name="ChopperFrequencyInHz",
            defaultValue=250.0,
            validator=FloatBoundedValidator(lower=0.0, exclusive=True),
            doc="Fermi chopper frequency in Hz (LET: resolution-disk frequency).",
        )
        # --- artefacts
        self.declareProperty(
            StringArrayProperty("Artefacts", values=[], direction=Direction.Input),
            doc="Instrument artefacts to add (needs an Instrument), comma separated, from resolution, background, "
            "coverage, noise (applied in that order); empty: a clean map.",
        )
        self.declareProperty(
            name="ResolutionMethod",
            defaultValue="analytic",
            validator=StringListValidator(["analytic", "montecarlo"]),
            doc="Resolution artefact by Gaussian broadening (fast) or Monte-Carlo neutron histories (slow, faithful).",
        )
        self.declareProperty(
            name="CountScale",
            defaultValue=0.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Expected counts per unit intensity for the Poisson noise artefact (0: the artefact model's default).",
        )
        self.declareProperty(
            FileProperty("DetectorFile", "", action=FileAction.OptionalLoad, extensions=[".nxspe"]),
            doc="Optional NXSPE file whose detector angles define coverage and masks (default: the "
            "instrument's built-in coverage).",
        )
        self.declareProperty(
            name="Seed",
            defaultValue=0,
            validator=IntBoundedValidator(lower=0),
            doc="Random seed (powder directions, noise); same seed, same map.",
        )
        self.declareProperty(
            WorkspaceProperty("OutputWorkspace", "", direction=Direction.Output),
            doc="Simulated S(|Q|,E): X energy transfer (meV), vertical |Q| bin edges (inverse angstrom), "
            "distribution, with sample logs.",
        )
        for name in ("Model", "ModelParameters", "TemperatureInKelvin"):
            self.setPropertyGroup(name, "Model")
        for name in ("InputWorkspace", "QBinning", "EnergyBinning", "Mode", "QPath", "PointsPerSegment"):
            self.setPropertyGroup(name, "Grid")
        for name in ("EnergyResolutionFWHMInMeV", "Instrument", "IncidentEnergyInMeV", "ChopperPackage", "ChopperFrequencyInHz"):
            self.setPropertyGroup(name, "Instrument")
        for name in ("Artefacts", "ResolutionMethod", "CountScale", "DetectorFile", "Seed"):
            self.setPropertyGroup(name, "Artefacts")

    # --- the request, built from the properties; problems raise _PropertyError naming the property ---
    def _model(self):
        from insgan_core.spinwave import load_model

        name = self.getProperty("Model").value.strip()
        overrides = self.getProperty("ModelParameters").value.strip() or None
        if not name:
            raise _PropertyError("Model", "Model: give a library model name (e.g. fm_chain) or a YAML model file")
        try:
            model = load_model(name)
        except InsganInputError as exc:
            raise _PropertyError("Model", f"Model: {exc}") from None
        except (UnicodeDecodeError, ValueError, OSError) as exc:  # e.g. a binary file (NXSPE, safetensors)
            raise _PropertyError(
                "Model", f"Model: '{name}' cannot be read as a YAML spin-wave model ({type(exc).__name__}: {exc})"
            ) from None
        if overrides is None:
            return model
        try:
            return load_model(name, overrides)
        except InsganInputError as exc:
            raise _PropertyError("ModelParameters", f"ModelParameters: {exc}") from None

    def _grid(self):
        """(q_edges or None, e_edges, reference map or None)."""
        from insgan_core.data.grid import parse_binning

        ws = self._input_workspace()
        if ws is not None:
            problem = mantid_bridge.workspace_problem(ws, property_name="InputWorkspace")
            if problem:
                raise _PropertyError("InputWorkspace", problem)
            try:
                ref = mantid_bridge.workspace_to_map(ws)
            except InsganInputError as exc:
                raise _PropertyError("InputWorkspace", str(exc)) from None
            if self.getProperty("Mode").value == "powder" and ref.x_axis.unit != "MomentumTransfer":
                raise _PropertyError("InputWorkspace", "InputWorkspace: powder mode needs a |Q| (MomentumTransfer) axis")
            return ref.x_axis.edges, ref.e_axis.edges, ref
        e_text = self.getProperty("EnergyBinning").value
        if not e_text.strip():
            raise _PropertyError("EnergyBinning", "EnergyBinning: give 'start,step,end' in meV or an InputWorkspace")
        try:
            e_edges = parse_binning(e_text, name="EnergyBinning")
        except InsganInputError as exc:
            raise _PropertyError("EnergyBinning", str(exc)) from None
        if self.getProperty("Mode").value == "single-crystal":
            return None, e_edges, None
        q_text = self.getProperty("QBinning").value
        if not q_text.strip():
            raise _PropertyError("QBinning", "QBinning: give 'start,step,end' in inverse angstrom or an InputWorkspace")
        try:
            q_edges = parse_binning(q_text, name="QBinning")
        except InsganInputError as exc:
            raise _PropertyError("QBinning", str(exc)) from None
        if q_edges[0] < 0:
            raise _PropertyError("QBinning", f"QBinning: |Q| cannot be negative (start {q_edges[0]:g})")
        return q_edges, e_edges, None

    def _input_workspace(self):
        """The InputWorkspace, or None. A WorkspaceGroup name (which Mantid runs member by member, so the
        property's value is None in a dialog) gives its first member, after checking every member."""
        ws = self.getProperty("InputWorkspace").value
        if ws is not None:
            return ws
        name = self.getPropertyValue("InputWorkspace")
        if not name:
            return None
        from mantid.api import AnalysisDataService, WorkspaceGroup

        group = AnalysisDataService.retrieve(name) if AnalysisDataService.doesExist(name) else None
        if not isinstance(group, WorkspaceGroup):
            return None
        members = [group.getItem(i) for i in range(group.getNumberOfEntries())]
        if not members:
            raise _PropertyError("InputWorkspace", f"InputWorkspace: the WorkspaceGroup '{name}' is empty")
        for member in members:
            problem = mantid_bridge.workspace_problem(member, property_name="InputWorkspace")
            if problem:
                raise _PropertyError("InputWorkspace", problem)
        return members[0]

    def _settings(self, reference):
        """InstrumentSettings, or None for Instrument=None."""
        from insgan_core.instrument.settings import InstrumentSettings

        name = self.getProperty("Instrument").value
        if name == "None":
            return None
        ei = self.getProperty("IncidentEnergyInMeV").value
        if ei == 0.0 and reference is not None and reference.metadata.ei_meV:
            ei = float(reference.metadata.ei_meV)
        if ei == 0.0:
            raise _PropertyError(
                "IncidentEnergyInMeV", "IncidentEnergyInMeV: give Ei in meV (InputWorkspace has no Ei log)"
            )
        try:
            return InstrumentSettings(
                instrument=name,
                ei_meV=ei,
                chopper_package=self.getProperty("ChopperPackage").value.strip() or None,
                chopper_frequency_hz=self.getProperty("ChopperFrequencyInHz").value,
            )
        except InsganInputError as exc:
            field = str(exc).split(":", 1)[0].strip()
            prop = _SETTINGS_FIELDS.get(field, "Instrument")
            raise _PropertyError(prop, f"{prop}: {exc}") from None

    def _artefacts(self, settings):
        """ArtefactConfig for the chosen artefacts, or None for a clean simulation."""
        names = [n.strip() for n in self.getProperty("Artefacts").value if n.strip()]
        if not names:
            return None
        if settings is None:
            raise _PropertyError("Artefacts", "Artefacts: instrument artefacts need an Instrument (not None)")
        if self.getProperty("Mode").value != "powder":
            raise _PropertyError("Artefacts", "Artefacts: instrument artefacts are simulated for powder maps only")
        from insgan_core.instrument.pipeline import ArtefactConfig, NoiseConfig

        count_scale = self.getProperty("CountScale").value
        try:
            if count_scale > 0:
                return ArtefactConfig(steps=names, noise=NoiseConfig(count_scale=count_scale))
            return ArtefactConfig(steps=names)
        except InsganInputError as exc:
            prop = "CountScale" if "count_scale" in str(exc) else "Artefacts"
            raise _PropertyError(prop, f"{prop}: {exc}") from None

    def _detectors(self, config):
        """DetectorData from DetectorFile for the coverage artefact, or None (built-in coverage)."""
        path = self.getProperty("DetectorFile").value
        if not path:
            return None
        if config is None or "coverage" not in config.steps:
            raise _PropertyError("DetectorFile", "DetectorFile: detector angles are used by the 'coverage' artefact only; "
                                 "add coverage to Artefacts or leave DetectorFile empty")
        from insgan_core.data.io import load_nxspe

        try:
            return load_nxspe(path)
        except InsganInputError as exc:
            raise _PropertyError("DetectorFile", f"DetectorFile: {exc}") from None

    def _guard(self, issues, prop, check):
        """Run a check; its _PropertyError, or any other exception, becomes a message (never raises)."""
        try:
            return check()
        except _PropertyError as exc:
            issues.setdefault(exc.prop, exc.message)
        except Exception as exc:  # noqa: BLE001 -- validateInputs must give messages, not exceptions
            mantid_bridge.guarded_issues(issues, prop, lambda: f"{type(exc).__name__}: {exc}")
        return None

    def validateInputs(self):
        # Called by Workbench's dialog on every edit, with properties half-filled: every problem becomes a
        # message on its property; nothing raises.
        issues = {}
        grid = self._guard(issues, "InputWorkspace", self._grid)
        self._guard(issues, "Model", self._model)
        self._guard(issues, "QPath", self._path_problem)
        reference = grid[2] if grid else None

        def instrument_checks():
            settings = self._settings(reference)
            config = self._artefacts(settings)
            self._detectors(config)
            if config is not None and self.getProperty("EnergyResolutionFWHMInMeV").value > 0:
                raise _PropertyError(
                    "EnergyResolutionFWHMInMeV",
                    "EnergyResolutionFWHMInMeV: artefacts are simulated with the instrument's own resolution; set 0 "
                    "(or use no Artefacts for a constant-width clean map)",
                )

        self._guard(issues, "Instrument", instrument_checks)
        return issues

    def _path_problem(self):
        if self.getProperty("Mode").value != "single-crystal":
            return None
        text = self.getProperty("QPath").value
        if not text.strip():
            raise _PropertyError("QPath", "QPath: single-crystal mode needs a path, e.g. 'G=0,0,0; X=0.5,0,0; M=0.5,0.5,0'")
        from insgan_core.spinwave.single_crystal import parse_q_path

        try:
            parse_q_path(text)
        except InsganInputError as exc:
            raise _PropertyError("QPath", str(exc)) from None
        return None

    def PyExec(self):
        with mantid_bridge.torch_threads_from_mantid():
            self._simulate()

    def _simulate(self):
        progress = Progress(self, start=0.0, end=1.0, nreports=4)
        q_edges, e_edges, reference = self._grid()
        model = self._model()
        settings = self._settings(reference)
        config = self._artefacts(settings)
        detectors = self._detectors(config)
        progress.report("Model and grid ready")
        temperature = self.getProperty("TemperatureInKelvin").value
        fwhm = self.getProperty("EnergyResolutionFWHMInMeV").value or None
        seed = self.getProperty("Seed").value
        mode = self.getProperty("Mode").value
        logger.information(f"SimulateINSSpinWave: {mode} simulation of {self.getProperty('Model').value}")
        if mode == "single-crystal":
            from insgan_core.spinwave import path_map
            from insgan_core.spinwave.single_crystal import parse_q_path

            result = path_map(
                model,
                path=parse_q_path(self.getProperty("QPath").value),
                e_edges=e_edges,
                points_per_segment=self.getProperty("PointsPerSegment").value,
                temperature_K=temperature,
                fwhm_meV=fwhm,
            )
        elif config is None:
            from insgan_core.spinwave import powder_map

            result = powder_map(
                model,
                q_edges=q_edges,
                e_edges=e_edges,
                temperature_K=temperature,
                fwhm_meV=fwhm,
                seed=seed,
            )
        else:
            from insgan_core.instrument.pipeline import simulate_with_artefacts

            _, result = simulate_with_artefacts(
                model,
                grid=(q_edges, e_edges),
                settings=settings,
                config=config,
                detectors=detectors,
                temperature_K=temperature,
                seed=seed,
                method=self.getProperty("ResolutionMethod").value,
            )
        progress.report("Simulated")
        md = result.metadata
        md.temperature_K = temperature
        if settings is not None:
            md.instrument, md.ei_meV = settings.instrument, settings.ei_meV
        logs = {
            "Model": self.getProperty("Model").value,
            "ModelParameters": dict(model.parameters),
            "Artefacts": ",".join(str(a) for a in self.getProperty("Artefacts").value),
            "Seed": seed,
        }
        ws = mantid_bridge.map_to_workspace(result, logs=logs)
        progress.report("Workspace built")
        self.setProperty("OutputWorkspace", ws)
        progress.report("Done")


class _PropertyError(Exception):
    """A validation problem of one property (message already names it)."""

    def __init__(self, prop, message):
        super().__init__(message)
        self.prop, self.message = prop, message


AlgorithmFactory.subscribe(SimulateINSSpinWave)
