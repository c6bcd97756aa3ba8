"""insgan in Mantid Workbench: reduce a measurement, simulate on its grid, train, apply, plot.

Run in Workbench's script window (or `python` in Mantid's conda environment) after
`pip install insgan` into that environment and adding insgan's `plugins/` folder to
`user.python.plugins.directories` (see `insgan mantid-setup`). Set DATA to the folder holding
bi2fe4o9_Ei62_5K.nxspe (in the insgan repository: ../shared/data/experimental).
"""

import os

import matplotlib.pyplot as plt
from mantid.simpleapi import (
    ApplyINSGAN,
    GroupWorkspaces,
    LoadNXSPE,
    SimulateINSSpinWave,
    SofQW,
    TrainINSGAN,
)

DATA = os.environ.get("INSGAN_DATA", os.path.join("..", "shared", "data", "experimental"))
OUT = os.environ.get("INSGAN_OUT", "insgan-workbench")
os.makedirs(OUT, exist_ok=True)

# 1. The measurement: MERLIN, Bi2Fe4O9 powder at 5 K, Ei = 62 meV, reduced to S(|Q|,E).
raw = LoadNXSPE(Filename=os.path.join(DATA, "bi2fe4o9_Ei62_5K.nxspe"), OutputWorkspace="bfo_5K")
measured = SofQW(
    InputWorkspace=raw, QAxisBinning="0.1,0.04,5.7", EMode="Direct", EFixed=62.0,
    Method="NormalisedPolygon", OutputWorkspace="bfo_5K_SQW",
)

# 2. Clean spin-wave simulations on exactly that grid, for a few values of the dominant exchange
#    J33 (meV; published value 24 meV, Beauvois et al. PRL 124, 127202 (2020)).
clean = []
for i, j33 in enumerate([20.0, 22.0, 24.0, 26.0, 28.0]):
    ws = SimulateINSSpinWave(
        Model="bi2fe4o9", ModelParameters=f"J33={j33}", InputWorkspace=measured,
        TemperatureInKelvin=5.0, Seed=i, OutputWorkspace=f"bfo_clean_{i}",
    )
    clean.append(ws.name())
GroupWorkspaces(InputWorkspaces=clean, OutputWorkspace="bfo_clean")

# 3. Unpaired GAN: clean simulations -> the measured map (patch-based, one measured map is enough).
losses = TrainINSGAN(
    SourceWorkspaces="bfo_clean", TargetWorkspaces="bfo_5K_SQW", Mode="unpaired", Steps=300,
    PatchSize=32, OutputModelFile=os.path.join(OUT, "bfo_unpaired.safetensors"), OutputTable="bfo_losses",
)

# 4. Apply to a new simulation: experiment-like in milliseconds.
new = SimulateINSSpinWave(
    Model="bi2fe4o9", InputWorkspace=measured, TemperatureInKelvin=5.0, Seed=99, OutputWorkspace="bfo_new_clean",
)
gan = ApplyINSGAN(
    InputWorkspace=new, ModelFile=os.path.join(OUT, "bfo_unpaired.safetensors"), OutputWorkspace="bfo_new_gan",
)

# 5. Plot measured, clean simulation and GAN output side by side.
fig, axes = plt.subplots(1, 3, figsize=(13, 4), subplot_kw={"projection": "mantid"})
for ax, ws, title in zip(axes, [measured, new, gan], ["Measured", "Clean simulation", "GAN output"]):
    ax.pcolormesh(ws, vmin=0)
    ax.set_title(title)
fig.savefig(os.path.join(OUT, "workbench_demo.png"))
