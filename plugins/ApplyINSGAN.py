# SPDX-License-Identifier: GPL-3.0-or-later
"""Mantid algorithm ApplyINSGAN: make simulated S(|Q|,E) workspaces look like measured data with a GAN.

A thin face over ``insgan_core.gan`` (model file + ``TranslationModel.apply``): it reads the workspace(s)
through ``insgan_core.mantid_bridge``, makes one call into the core and builds the output workspace(s)
with the input's orientation, sample logs and instrument, plus the model's provenance.
"""

from mantid.api import (
    AlgorithmFactory,
    FileAction,
    FileProperty,
    Progress,
    PythonAlgorithm,
    WorkspaceGroup,
    WorkspaceProperty,
)
from mantid.kernel import Direction, FloatBoundedValidator, StringListValidator, logger

from insgan_core import mantid_bridge


class ApplyINSGAN(PythonAlgorithm):
    def category(self):
        return "Inelastic\\Simulation;MachineLearning"

    def summary(self):
        return "Turns simulated S(|Q|,E) workspaces into experiment-like ones with a trained insgan GAN model."

    def seeAlso(self):
        return ["TrainINSGAN", "SimulateINSSpinWave", "SofQW", "LoadNXSPE"]

    def version(self):
        return 1

    def checkGroups(self):
        # A WorkspaceGroup is applied here as one batch, not by Mantid's per-member group processing.
        return False

    def PyInit(self):
        self.declareProperty(
            WorkspaceProperty("InputWorkspace", "", direction=Direction.Input),
            doc="S(|Q|,E) workspace (DeltaE and MomentumTransfer axes, either orientation) or a WorkspaceGroup "
            "of them, e.g. from SimulateINSSpinWave or SofQW.",
        )
        self.declareProperty(
            FileProperty("ModelFile", "", action=FileAction.Load, extensions=[".safetensors"]),
            doc="insgan model file (.safetensors) written by TrainINSGAN or 'insgan train'.",
        )
        self.declareProperty(
            name="RebinToModelGrid",
            defaultValue=False,
            doc="If the input grid differs from the model's, rebin to the model grid (conserving intensity), "
            "apply, and rebin back; if False such input is refused.",
        )
        self.declareProperty(
            name="Device",
            defaultValue="cpu",
            validator=StringListValidator(["auto", "cpu", "cuda"]),
            doc="Torch device for the generator: cpu, cuda, or auto (cuda when available).",
        )
        self.declareProperty(
            name="ExposureRelative",
            defaultValue=1.0,
            validator=FloatBoundedValidator(lower=0.0, exclusive=True),
            doc="Structured models: exposure of the run to imitate relative to the model's training run (counts per "
            "unit intensity ratio, e.g. the proton-charge ratio; 1 = the training run's). Scales the counting noise and "
            "the background fixed in counts.",
        )
        self.declareProperty(
            WorkspaceProperty("OutputWorkspace", "", direction=Direction.Output),
            doc="Experiment-like output: a workspace on the input's grid and in its orientation (a group for a "
            "group input), with the input's sample logs and the model's provenance.",
        )
        for name in ("InputWorkspace", "OutputWorkspace"):
            self.setPropertyGroup(name, "Workspaces")
        for name in ("ModelFile", "RebinToModelGrid", "Device", "ExposureRelative"):
            self.setPropertyGroup(name, "Model")

    def _input_members(self):
        ws = self.getProperty("InputWorkspace").value
        if isinstance(ws, WorkspaceGroup):
            return [ws.getItem(i) for i in range(ws.getNumberOfEntries())], True
        return ([] if ws is None else [ws]), False

    def validateInputs(self):
        # Called by Workbench's dialog on every edit: every problem becomes a message on its property,
        # nothing raises (mantid_bridge.guarded_issues turns exceptions into messages).
        issues = {}
        mantid_bridge.guarded_issues(issues, "InputWorkspace", self._input_problem)
        found = {}

        def model_problem():
            from insgan_core.gan.model_file import read_metadata

            path = self.getProperty("ModelFile").value
            if not path:
                return "ModelFile: give an insgan model file (.safetensors)"
            found["metadata"] = read_metadata(path)
            return None

        mantid_bridge.guarded_issues(issues, "ModelFile", model_problem)
        if "InputWorkspace" not in issues and "metadata" in found:
            mantid_bridge.guarded_issues(issues, "InputWorkspace", lambda: self._grid_issues(found["metadata"]))
        return issues

    def _input_problem(self):
        """Why InputWorkspace cannot be used (message), or None."""
        members, is_group = self._input_members()
        if not members:
            if is_group:
                return "InputWorkspace: the WorkspaceGroup is empty"
            return "InputWorkspace: give an S(|Q|,E) workspace or a WorkspaceGroup of them"
        for ws in members:
            problem = mantid_bridge.workspace_problem(ws, property_name="InputWorkspace")
            if problem:
                return problem
        return None

    def _grid_issues(self, metadata):
        """The core's grid-compatibility rule (ModelGrid.mismatch, as TranslationModel.apply uses it):
        a message for the first member whose grid the model cannot take, or None."""
        from insgan_core.gan.inference import ModelGrid

        model_grid = ModelGrid.from_metadata(metadata)
        rebin = self.getProperty("RebinToModelGrid").value
        members, _ = self._input_members()
        for ws in members:
            m = mantid_bridge.workspace_to_map(ws)
            _, problem = model_grid.mismatch(m.x_axis, m.e_axis, rebin=rebin)
            if problem:
                return f"InputWorkspace: workspace '{ws.name()}' {problem}"
        return None

    def PyExec(self):
        with mantid_bridge.torch_threads_from_mantid():
            self._apply()

    def _apply(self):
        from insgan_core.data.ins_map import MapStack
        from insgan_core.translation import load_translator

        progress = Progress(self, start=0.0, end=1.0, nreports=4)
        members, is_group = self._input_members()
        maps = [mantid_bridge.workspace_to_map(ws) for ws in members]
        progress.report("Loading the model")
        path = self.getProperty("ModelFile").value
        model = load_translator(path, device=self.getProperty("Device").value)
        progress.report("Applying the generator")
        rebin = bool(self.getProperty("RebinToModelGrid").value)
        exposure = float(self.getProperty("ExposureRelative").value)
        kw = {"exposure": exposure} if getattr(model, "name", "") == "structured" else {}
        if exposure != 1.0 and not kw:
            logger.warning("ApplyINSGAN: ExposureRelative is used by structured models only; ignored for this GAN model")
        if len(maps) > 1 and all(maps[0].same_grid(m) for m in maps[1:]):
            outputs = list(model.apply(MapStack.from_maps(maps), rebin=rebin, **kw))
        else:
            outputs = [model.apply(m, rebin=rebin, **kw) for m in maps]
        progress.report("Building the output workspaces")
        md = model.metadata
        logs = {
            "insgan_model_file": str(path),
            "insgan_model": {
                key: md.get(key)
                for key in ("format_version", "package_version", "mode", "instrument", "ei_meV", "network")
                if key in md
            },
        }
        results = [
            mantid_bridge.map_to_workspace(
                out, parent=ws, orientation=mantid_bridge.workspace_orientation(ws), logs=logs
            )
            for out, ws in zip(outputs, members)
        ]
        if is_group:
            group = WorkspaceGroup()
            for ws in results:
                group.addWorkspace(ws)
            self.setProperty("OutputWorkspace", group)
        else:
            self.setProperty("OutputWorkspace", results[0])
        progress.report("Done")
        logger.information(f"ApplyINSGAN: applied {path} to {len(results)} workspace(s)")


AlgorithmFactory.subscribe(ApplyINSGAN)
