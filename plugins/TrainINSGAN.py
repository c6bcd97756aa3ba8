# SPDX-License-Identifier: GPL-3.0-or-later
"""Mantid algorithm TrainINSGAN: learn clean-simulation -> experiment-like S(|Q|,E) with a GAN.

A thin face over ``insgan_core.gan.training.train``: it collects the source and target workspaces (names
or WorkspaceGroups) through ``insgan_core.mantid_bridge``, builds a ``TrainConfig`` from the properties,
makes one call into the core and returns the per-step losses as a TableWorkspace.
"""

import sys

from mantid.api import (
    AlgorithmFactory,
    FileAction,
    FileProperty,
    ITableWorkspaceProperty,
    Progress,
    PythonAlgorithm,
)
from mantid.kernel import (
    Direction,
    FloatArrayProperty,
    FloatBoundedValidator,
    IntBoundedValidator,
    StringArrayProperty,
    StringListValidator,
    logger,
)

from insgan_core import mantid_bridge
from insgan_core.errors import InsganInputError

#: TrainConfig field named in a core error message -> algorithm property
_FIELD_TO_PROPERTY = {
    "'mode'": "Mode",
    "'steps'": "Steps",
    "'batch_size'": "BatchSize",
    "'lr'": "LearningRate",
    "'patch_size'": "PatchSize",
    "'device'": "Device",
    "'generator'": "Generator",
    "'checkpoint_every'": "CheckpointEvery",
    "'lambda_l1'": "LambdaL1",
    "'lambda_nce'": "LambdaNCE",
}


class TrainINSGAN(PythonAlgorithm):
    def category(self):
        return "Inelastic\\Simulation;MachineLearning"

    def summary(self):
        return (
            "Trains a GAN that turns clean simulated S(|Q|,E) maps into experiment-like ones "
            "(paired pix2pix or unpaired CUT) and writes an insgan model file."
        )

    def seeAlso(self):
        return ["ApplyINSGAN", "SimulateINSSpinWave", "SofQW", "LoadNXSPE"]

    def version(self):
        return 1

    def checkGroups(self):
        # Workspace lists are given by name (WorkspaceGroups expanded here), never group-processed.
        return False

    def PyInit(self):
        self.declareProperty(
            StringArrayProperty("SourceWorkspaces", values=[], direction=Direction.Input),
            doc="Clean simulated S(|Q|,E) workspaces: a list of names and/or WorkspaceGroup names, all on one grid.",
        )
        self.declareProperty(
            StringArrayProperty("TargetWorkspaces", values=[], direction=Direction.Input),
            doc="Experiment-like targets: paired mode, one per source in the same order and on the same grid; "
            "unpaired mode, any number of measured maps (one is enough).",
        )
        self.declareProperty(
            name="Mode",
            defaultValue="structured",
            validator=StringListValidator(["structured", "paired", "unpaired"]),
            doc="structured (default): the physics-structured model (one scale on a learnt resolution kernel, "
            "elastic line, backgrounds, coverage, counting noise) fitted by weighted least squares to (source, "
            "target) pairs; paired: pix2pix GAN (adversarial + L1); unpaired: CUT GAN (adversarial + PatchNCE).",
        )
        self.declareProperty(
            FloatArrayProperty("Temperatures", values=[], direction=Direction.Input),
            doc="Structured mode: sample temperature (K) of each source/target pair (one value for all); empty: "
            "from the targets' temperature logs.",
        )
        self.declareProperty(
            name="Weighting",
            defaultValue="errors",
            validator=StringListValidator(["errors", "model"]),
            doc="Structured mode: fit weights from the targets' errors (default), or from the Poisson variance of "
            "the model's own expectation with each pair scaled by its Birge ratio (for pairs spanning a large "
            "dynamic range, e.g. several spin-wave families with intense zone-centre bins).",
        )
        self.declareProperty(
            name="Steps", defaultValue=1000, validator=IntBoundedValidator(lower=1), doc="Optimisation steps."
        )
        self.declareProperty(
            name="BatchSize",
            defaultValue=4,
            validator=IntBoundedValidator(lower=1),
            doc="Maps (paired) or patches (unpaired) per step; paired needs at least this many sources.",
        )
        self.declareProperty(
            name="LearningRate",
            defaultValue=2e-4,
            validator=FloatBoundedValidator(lower=0.0, exclusive=True),
            doc="Adam learning rate of generator and discriminator.",
        )
        self.declareProperty(
            name="PatchSize",
            defaultValue=0,
            validator=IntBoundedValidator(lower=0),
            doc="Training crop in bins (square). 0: whole maps in paired mode, 32 (or the map size if smaller) "
            "in unpaired mode.",
        )
        self.declareProperty(
            name="LambdaL1",
            defaultValue=100.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Weight of the L1 term on covered bins (paired mode).",
        )
        self.declareProperty(
            name="LambdaNCE",
            defaultValue=1.0,
            validator=FloatBoundedValidator(lower=0.0),
            doc="Weight of the PatchNCE content term (unpaired mode); raise it if output content drifts.",
        )
        self.declareProperty(
            name="Seed", defaultValue=0, validator=IntBoundedValidator(lower=0), doc="Random seed (same seed, same weights)."
        )
        self.declareProperty(
            name="Generator",
            defaultValue="unet",
            validator=StringListValidator(["unet", "resnet"]),
            doc="Generator network: unet (small, fast default) or resnet (ResNet blocks, Exp2SimGAN-like).",
        )
        self.declareProperty(
            name="Device",
            defaultValue="auto",
            validator=StringListValidator(["auto", "cpu", "cuda"]),
            doc="Torch device: auto (cuda when available), cpu or cuda.",
        )
        self.declareProperty(
            FileProperty("OutputModelFile", "", action=FileAction.Save, extensions=[".safetensors"]),
            doc="Model file to write (.safetensors; weights + JSON metadata; for ApplyINSGAN).",
        )
        self.declareProperty(
            FileProperty("CheckpointDirectory", "", action=FileAction.OptionalDirectory),
            doc="Folder for checkpoints (safetensors + JSON); needed for Resume.",
        )
        self.declareProperty(
            name="CheckpointEvery",
            defaultValue=200,
            validator=IntBoundedValidator(lower=0),
            doc="Steps between checkpoints (0: none).",
        )
        self.declareProperty(
            name="Resume",
            defaultValue=False,
            doc="Continue the run from the latest checkpoint in CheckpointDirectory.",
        )
        self.declareProperty(
            ITableWorkspaceProperty("OutputTable", "", direction=Direction.Output),
            doc="Table of losses and metrics per logged step.",
        )
        for name in ("SourceWorkspaces", "TargetWorkspaces", "Mode"):
            self.setPropertyGroup(name, "Data")
        for name in ("Temperatures", "Weighting", "Steps", "BatchSize", "LearningRate", "PatchSize", "LambdaL1", "LambdaNCE", "Seed",
                     "Generator", "Device"):
            self.setPropertyGroup(name, "Training")
        for name in ("OutputModelFile", "CheckpointDirectory", "CheckpointEvery", "Resume", "OutputTable"):
            self.setPropertyGroup(name, "Output")

    # --- helpers ---------------------------------------------------------------------------------
    def _stack(self, prop):
        from insgan_core.data.ins_map import MapStack

        members = mantid_bridge.expand_workspace_names(self.getProperty(prop).value, property_name=prop)
        for ws in members:
            problem = mantid_bridge.workspace_problem(ws, property_name=prop)
            if problem:
                raise InsganInputError(problem)
        maps = [mantid_bridge.workspace_to_map(ws, property_name=prop) for ws in members]
        try:
            return MapStack.from_maps(maps)
        except InsganInputError as exc:
            raise InsganInputError(f"{prop}: all workspaces must share one grid ({exc})") from None

    def _config(self, *stacks):
        from insgan_core.gan.config import TrainConfig, default_generator

        mode = self.getProperty("Mode").value
        patch = self.getProperty("PatchSize").value
        if patch == 0 and mode == "unpaired":
            patch = [min([32] + [s.x_axis.size for s in stacks]), min([32] + [s.e_axis.size for s in stacks])]
        generator = default_generator() if self.getProperty("Generator").value == "unet" else {"name": "resnet"}
        return TrainConfig(
            mode=mode,
            steps=self.getProperty("Steps").value,
            batch_size=self.getProperty("BatchSize").value,
            lr=self.getProperty("LearningRate").value,
            seed=self.getProperty("Seed").value,
            device=self.getProperty("Device").value,
            generator=generator,
            checkpoint_every=self.getProperty("CheckpointEvery").value,
            lambda_l1=self.getProperty("LambdaL1").value,
            lambda_nce=self.getProperty("LambdaNCE").value,
            patch_size=patch or None,
        )

    @staticmethod
    def _property_for(message):
        """Algorithm property that a core validation message is about."""
        for field, prop in _FIELD_TO_PROPERTY.items():
            if field in message:
                return prop
        if message.startswith("device"):
            return "Device"
        if message.startswith(("resume", "checkpoint")):
            return "CheckpointDirectory"
        if "training targets" in message or "targets" in message:
            return "TargetWorkspaces"
        return "SourceWorkspaces"

    def validateInputs(self):
        # Called by Workbench's dialog on every edit, with properties half-filled: every problem becomes a
        # message on its property (mantid_bridge.guarded_issues); nothing raises.
        issues = {}
        stacks = {}
        for prop in ("SourceWorkspaces", "TargetWorkspaces"):

            def collect(prop=prop):
                stacks[prop] = self._stack(prop)

            mantid_bridge.guarded_issues(issues, prop, collect)
        sources, targets = stacks.get("SourceWorkspaces"), stacks.get("TargetWorkspaces")
        if self.getProperty("Mode").value == "structured":
            if sources is not None and targets is not None and len(sources) != len(targets):
                issues["TargetWorkspaces"] = (
                    f"TargetWorkspaces: structured mode needs one target per source ({len(sources)}), got {len(targets)}"
                )
            sources = None  # the GAN configuration checks below do not apply
        if sources is not None:
            found = {}
            try:
                found["config"] = self._config(*[st for st in (sources, targets) if st is not None])
            except InsganInputError as exc:
                prop = self._property_for(str(exc))
                issues.setdefault(prop, f"{prop}: {exc}")
            except Exception as exc:  # noqa: BLE001 -- a message, never an exception
                issues.setdefault("SourceWorkspaces", f"SourceWorkspaces: {type(exc).__name__}: {exc}")
            if "config" in found and targets is not None:
                try:
                    from insgan_core.gan.training import validate_training_data

                    validate_training_data(sources, targets, found["config"])
                except InsganInputError as exc:
                    issues.setdefault(self._property_for(str(exc)), str(exc))
                except Exception as exc:  # noqa: BLE001
                    issues.setdefault("SourceWorkspaces", f"SourceWorkspaces: {type(exc).__name__}: {exc}")
        mantid_bridge.guarded_issues(issues, "OutputModelFile", self._output_problem)
        if self.getProperty("Resume").value and not self.getProperty("CheckpointDirectory").value:
            issues["CheckpointDirectory"] = "CheckpointDirectory: Resume needs the folder of the run's checkpoints"
        mantid_bridge.guarded_issues(issues, "Device", self._device_problem)
        return issues

    def _output_problem(self):
        path = self.getProperty("OutputModelFile").value
        if not path:
            return "OutputModelFile: give the model file to write (.safetensors)"
        if not path.endswith(".safetensors"):
            return f"OutputModelFile: '{path}' must end in .safetensors (insgan model files are safetensors)"
        return None

    def _device_problem(self):
        """Device=cuda without CUDA. Never imports torch here (a dialog calls this on every edit, and importing
        torch takes seconds): the check runs when torch is already loaded, else at execution."""
        if self.getProperty("Device").value != "cuda":
            return None
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        if not torch.cuda.is_available():
            return "Device: cuda requested but no CUDA device is available to torch; use cpu or auto"
        return None

    def PyExec(self):
        with mantid_bridge.torch_threads_from_mantid():
            self._train()

    def _exec_structured(self):
        from insgan_core.translation import fit_structured

        progress = Progress(self, start=0.0, end=1.0, nreports=3)
        sources = list(self._stack("SourceWorkspaces"))
        targets = list(self._stack("TargetWorkspaces"))
        temps = list(self.getProperty("Temperatures").value)
        if len(temps) == 1:
            temps = temps * len(sources)
        if not temps:
            temps = [t.metadata.temperature_K for t in targets]
        if len(temps) != len(sources) or any(t is None for t in temps):
            raise InsganInputError(
                f"Temperatures: give one temperature (K) per pair ({len(sources)}) or targets with temperature logs"
            )
        progress.report("Data collected")
        model = fit_structured(sources, targets, temperatures_K=[float(t) for t in temps], seed=self.getProperty("Seed").value,
                               count_background=True, weighting=self.getProperty("Weighting").value)
        model.save(self.getProperty("OutputModelFile").value)
        progress.report("Model fitted")
        self.setProperty("OutputTable", mantid_bridge.table_from_records(model.training_record["history"]))
        progress.report("Model written")
        logger.notice(f"TrainINSGAN: structured model written to {self.getProperty('OutputModelFile').value}")

    def _train(self):
        if self.getProperty("Mode").value == "structured":
            return self._exec_structured()
        from insgan_core.gan.training import train

        steps = self.getProperty("Steps").value
        progress = Progress(self, start=0.0, end=1.0, nreports=int(steps) + 2)
        sources = self._stack("SourceWorkspaces")
        targets = self._stack("TargetWorkspaces")
        config = self._config(sources, targets)
        progress.report("Data collected")
        logger.notice(
            f"TrainINSGAN: {config.mode} training, {len(sources)} source / {len(targets)} target maps, {steps} steps"
        )

        records = []

        def on_step(record):
            # Progress.report is Mantid's interruption point: after Workbench's Cancel it raises, which stops
            # training between two steps; the checkpoints written so far stay complete (atomic writes), so
            # Resume=True continues from the last one.
            records.append(dict(record))
            progress.report(f"step {record.get('step', '?')}")

        checkpoint_dir = self.getProperty("CheckpointDirectory").value or None
        try:
            result = train(
                sources,
                targets,
                config,
                output_path=self.getProperty("OutputModelFile").value,
                checkpoint_dir=checkpoint_dir,
                resume=bool(self.getProperty("Resume").value),
                callback=on_step,
            )
        except InsganInputError as exc:
            prop = self._property_for(str(exc))
            raise RuntimeError(f"{prop}: {exc}") from None
        # Every step of this run; on resume, the logged history of the earlier steps comes first.
        first = records[0].get("step", 0) if records else float("inf")
        earlier = [r for r in result.history if r.get("step", 0) < first]
        self.setProperty("OutputTable", mantid_bridge.table_from_records(earlier + records))
        progress.report("Model written")
        logger.notice(f"TrainINSGAN: model written to {result.model_path}")


AlgorithmFactory.subscribe(TrainINSGAN)
