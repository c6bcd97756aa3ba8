"""The main job end to end (``insgan demo --quick``): files exist and load back, metrics are plausible,
the figure is a valid PNG of the expected size."""

import json
import struct

import numpy as np
import pytest

from insgan_core.cli.main import main
from insgan_core.data import INSMap
from insgan_core.data.io import load
from insgan_core.gan import load_model

pytestmark = pytest.mark.slow


def _png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _check_common(out, record, panels):
    for name in ("clean_simulation", "gan_paired", "artefact_simulation"):
        m = load(out / f"{name}.nxs")
        assert isinstance(m, INSMap)
        assert m.x_axis.unit == "MomentumTransfer" and m.e_axis.unit == "DeltaE"
    clean = load(out / "clean_simulation.nxs")
    gan = load(out / "gan_paired.nxs")
    art = load(out / "artefact_simulation.nxs")
    assert clean.same_grid(gan) and clean.same_grid(art)
    # the clean simulation covers the whole grid; the GAN output and the artefact simulation carry the
    # kinematic limit and detector coverage as NaN, and the GAN writes NaN where the targets had no data
    assert not clean.mask.any()
    assert art.mask.any()
    assert np.array_equal(gan.mask & art.mask, art.mask) or gan.mask.sum() >= 0.9 * art.mask.sum()
    model = load_model(out / "paired.safetensors")
    assert model.metadata["mode"] == "paired"
    width, height = _png_size(out / "demo.png")
    # panels of ~4.2 in at 110 dpi side by side, 8 in tall
    assert height == pytest.approx(8.0 * 110, abs=2)
    assert width == pytest.approx(4.2 * panels * 110, abs=2)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["files"]["figure"].endswith("demo.png")
    paired = record["metrics"]["paired"]
    assert paired["paired"] is True and paired["n_outputs"] == record["settings"]["n_test"]
    assert np.isfinite(paired["patch_distance"]["output"]) and paired["patch_distance"]["baseline"] > 0
    rl1 = paired["relative_l1"]
    assert 0.0 <= rl1["baseline"]["mean"] < 5.0 and 0.0 <= rl1["output"]["mean"] < 5.0
    assert -1.0 <= paired["ssim"]["output"]["mean"] <= 1.0


def test_quick_demo_builtin_default(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "-o", str(out), "--quiet"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    _check_common(out, record, panels=4)
    assert "unpaired" not in record["metrics"]
    # the default (structured) model: fitted to the same pairs, evaluated on the same held-out maps
    from insgan_core.translation import StructuredTranslator, load_translator

    assert isinstance(load_translator(out / "structured.safetensors"), StructuredTranslator)
    st = record["metrics"]["structured_vs_noise_free"]
    assert st["relative_l1_output"] < st["relative_l1_baseline"]
    assert st["training"]["chi2_per_bin_final"] <= st["training"]["chi2_per_bin_baseline_start"]
    assert record["timings_s"]["apply_paired_per_map"] < 60  # sanity, not a speed target


def test_quick_demo_with_measured_merlin_file(tmp_path, bi2fe4o9_5k):
    out = tmp_path / "demo_measured"
    assert main(["demo", "--quick", "-o", str(out), "--measured", str(bi2fe4o9_5k), "--quiet"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    _check_common(out, record, panels=7)
    measured = load(out / "measured.nxs")
    assert measured.metadata.instrument.upper() == "MERLIN"
    assert measured.metadata.ei_meV == pytest.approx(62.0, abs=0.5)
    unpaired = load_model(out / "unpaired.safetensors")
    assert unpaired.metadata["mode"] == "unpaired"
    gan_u = load(out / "gan_unpaired.nxs")
    assert gan_u.same_grid(measured)
    # the scale was fitted to the measured map and the noise level inferred from its errors
    assert record["intensity_scale_to_measured"] > 0
    assert record["count_scale"] > 0
    pd = record["metrics"]["unpaired"]["patch_distance"]
    assert pd["baseline"] > 0 and np.isfinite(pd["output"])
    # the structured model fitted to the measured map beats the best-scaled clean simulation there
    sm = record["metrics"]["structured_measured"]
    assert sm["inelastic_chi2_per_bin"] < sm["inelastic_chi2_per_bin_clean_scaled"]
    assert load(out / "structured_measured.nxs").same_grid(measured)
