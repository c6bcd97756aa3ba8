"""insgan from plain Python (no Mantid): simulate, add instrument artefacts, train a GAN, apply it.

    python examples/plain_python.py [OUTPUT_DIR]

Runs in a few minutes on a laptop CPU. Every array is an INSMap: signal[i, j] at |Q| bin i (Å⁻¹)
and energy-transfer bin j (meV), NaN where the instrument has no coverage.
"""

import sys
from pathlib import Path

import numpy as np

from insgan_core.data import MapStack, parse_binning
from insgan_core.data.io import save
from insgan_core.gan import TrainConfig, evaluate, load_model, train
from insgan_core.instrument import ArtefactConfig, InstrumentSettings, apply_artefacts
from insgan_core.spinwave import load_model as load_spin_model
from insgan_core.spinwave import powder_map

out = Path(sys.argv[1] if len(sys.argv) > 1 else "insgan-example")
out.mkdir(parents=True, exist_ok=True)

# A MERLIN measurement at Ei = 62 meV, 250 Hz on chopper package G; grid in Mantid's start,step,end.
merlin = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
q_edges = parse_binning("0.1,0.05,5.5")  # |Q|, Å⁻¹
e_edges = parse_binning("-10,0.5,50")  # energy transfer, meV
artefacts = ArtefactConfig(steps=("resolution", "background", "coverage", "noise"))

# Clean powder spin-wave maps of a square-lattice antiferromagnet for a range of exchange J (meV),
# and the same maps through the physics model of MERLIN (resins resolution, backgrounds, detector
# coverage and kinematic limit, Poisson noise).
model = load_spin_model("square_afm")
clean, measured_like = [], []
for i, J in enumerate(np.linspace(1.5, 2.5, 12)):
    m = powder_map(model.with_parameters(J=J), q_edges=q_edges, e_edges=e_edges, temperature_K=5.0,
                   n_directions=300, seed=i)
    clean.append(m)
    measured_like.append(apply_artefacts(m, settings=merlin, config=artefacts, seed=i))

train_src, train_tgt = MapStack.from_maps(clean[:10]), MapStack.from_maps(measured_like[:10])
test_src, test_tgt = MapStack.from_maps(clean[10:]), MapStack.from_maps(measured_like[10:])

# Paired GAN (pix2pix): learns clean -> MERLIN-like. The model file is safetensors + JSON metadata.
config = TrainConfig(mode="paired", steps=300, batch_size=4, seed=0, device="auto")
train(train_src, train_tgt, config, output_path=out / "square_afm_merlin.safetensors", progress=True)

gan = load_model(out / "square_afm_merlin.safetensors")
translated = gan.apply(test_src)  # milliseconds per map
metrics = evaluate(translated, test_tgt, test_src)
print("relative L1 to the artefact simulation: GAN %.3f, clean %.3f" % (
    metrics["relative_l1"]["output"]["mean"], metrics["relative_l1"]["baseline"]["mean"]))
save(translated[0], out / "translated.nxs")  # Mantid: LoadNexusProcessed
