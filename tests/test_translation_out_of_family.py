"""Out-of-family training of the structured model over a large dynamic range (issue 16).

Training pairs from two library families (square_afm and afm_chain, whose zone-centre intensity is 10³–10⁵
× the band) with Monte-Carlo resolution targets and Poisson noise, on a coarse MERLIN grid; the model is
applied to a third family. With ``weighting="model"`` the fit must not blow up: scale near the truth,
background-only output for an all-zero input, linear ×10, and the issue's out-of-family bars on the
third family. (On these four maps ``weighting="errors"`` gives a = 0.89 and an all-zero output 0.40 from
the background in relative L1 -- the blow-up -- and ``"model"`` a = 0.98 and 0.06.) Simulations are
cached for the module only (fixtures), never on disk.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from insgan_core.errors import InsganInputError
from insgan_core.gan.metrics import relative_l1
from insgan_core.instrument import ArtefactConfig, InstrumentSettings, ResolutionConfig, add_poisson_noise, apply_artefacts
from insgan_core.instrument import builtin_detectors
from insgan_core.instrument.energy_resolution import energy_fwhm_meV
from insgan_core.spinwave import load_model, powder_map
from insgan_core.translation import fit_structured
from insgan_core.translation.fit_weights import check_weighting, model_variance, per_map_error_scale
from insgan_core.translation.signal_metrics import inelastic_cut_meV, signal_inelastic_ratio, signal_peak_shifts

Q_EDGES = np.arange(0.2, 5.0001, 0.1)
E_EDGES = np.arange(-10.0, 50.0001, 1.0)
SETTINGS = dict(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
STEPS = ("resolution", "background", "coverage")


@pytest.fixture(scope="module")
def setup():
    return InstrumentSettings(**SETTINGS), builtin_detectors("MERLIN", ei_meV=62.0, e_edges=E_EDGES)


def _simulate(name, scale, seed, setup, mc_samples=32):
    inst, det = setup
    m = load_model(name)
    params = {k: (v if k == "S" else v * scale) for k, v in m.parameters.items()}
    clean = powder_map(m.with_parameters(**params), q_edges=Q_EDGES, e_edges=E_EDGES, temperature_K=5.0,
                       n_directions=100, seed=seed)
    cfg = ArtefactConfig(steps=STEPS, resolution=ResolutionConfig(mc_samples=mc_samples))
    return clean, apply_artefacts(clean, settings=inst, config=cfg, detectors=det, seed=seed, method="montecarlo")


@pytest.fixture(scope="module")
def two_families(setup):
    inst, det = setup
    pairs = [_simulate(f, s, i, setup) for i, (f, s) in enumerate((("square_afm", 0.9), ("square_afm", 1.1),
                                                                   ("afm_chain", 0.9), ("afm_chain", 1.1)))]
    ec = 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
    targets = []
    for i, (_, t) in enumerate(pairs):  # ~500 counts in the median inelastic bin, as the measured MERLIN maps
        c = 500.0 / float(np.nanmedian(np.where(ec[None, :] > 3.0, t.signal, np.nan)))
        targets.append(add_poisson_noise(t, count_scale=c, seed=20 + i))
    model = fit_structured([c for c, _ in pairs], targets, temperatures_K=[5.0] * 4, settings=inst, detectors=det,
                           weighting="model")
    return model, pairs, targets


def test_weighting_helpers():
    mu = np.array([[[4.0, 0.0, -2.0]]])
    np.testing.assert_allclose(model_variance(mu, 2.0), [[[2.0, 0.25, 1.0]]])  # max(|μ|, 1/c)/c
    y = np.zeros((2, 1, 3))
    m = np.stack([np.full((1, 3), 0.5), np.full((1, 3), 3.0)])
    scale = per_map_error_scale(y, m, np.ones_like(y), np.ones_like(y, dtype=bool))
    np.testing.assert_allclose(scale, [1.0, 9.0])  # χ²/N = 0.25 → kept; 9 → errors × 3
    assert check_weighting("model", "x") == "model"
    with pytest.raises(InsganInputError, match="weighting must be one of errors, model"):
        check_weighting("poisson", "fit_structured")


def test_two_family_training_keeps_the_scale_and_the_background(two_families, setup):
    model, pairs, _ = two_families
    assert 0.9 <= float(model.a.detach()[0]) <= 1.1  # the targets are the pipeline at scale 1
    assert model.training_record["weighting"] == "model"
    clean = pairs[0][0]
    zero = model.predict(clean.with_data(np.zeros_like(clean.signal)), temperature_K=5.0)
    inst, det = setup
    bg = apply_artefacts(clean.with_data(np.zeros_like(clean.signal)), settings=inst,
                         config=ArtefactConfig(steps=("background", "coverage")), detectors=det)
    assert relative_l1(zero.signal, bg.signal) <= 0.1


@pytest.mark.parametrize("family,scale", [("triangular_afm", 1.0), ("afm_chain", 1.6)])
def test_two_family_model_out_of_family(two_families, setup, family, scale):
    model, _, _ = two_families
    inst, det = setup
    clean, target = _simulate(family, scale, 99, setup, mc_samples=256)
    null = model.predict(clean.with_data(np.zeros_like(clean.signal)), temperature_K=5.0)
    pred = model.predict(clean, temperature_K=5.0)
    blur = gaussian_filter(np.nan_to_num(clean.signal), (1.0, 1.5))
    ok = np.isfinite(target.signal)
    blur = np.where(ok, blur, np.nan)
    blur *= np.sum(blur[ok] * target.signal[ok]) / np.sum(blur[ok] ** 2)  # best possible scale for the baseline
    rl1 = relative_l1(pred.signal, target.signal)
    assert rl1 <= 0.3
    assert rl1 <= relative_l1(blur, target.signal)
    bg = apply_artefacts(clean.with_data(np.zeros_like(clean.signal)), settings=inst,
                         config=ArtefactConfig(steps=("background", "coverage")), detectors=det)
    ps, ts = pred.with_data(pred.signal - null.signal), target.with_data(target.signal - bg.signal)
    e_cut = inelastic_cut_meV(float(energy_fwhm_meV(inst, 0.0)))
    assert 0.9 <= signal_inelastic_ratio(ps, ts, e_cut_meV=e_cut, e_max_meV=48.0) <= 1.1
    shifts = signal_peak_shifts(ps, ts, q_windows=[(1.0, 2.0), (2.0, 3.0), (3.0, 4.0)], e_range=(e_cut, 48.0),
                                half_fwhm=lambda e: 0.5 * float(energy_fwhm_meV(inst, e)))
    judged = [r["shift_over_half_fwhm"] for r in shifts if np.isfinite(r["target_peak_meV"])]
    assert judged and max(judged) <= 1.0
    ten = model.predict(clean.with_data(10.0 * clean.signal), temperature_K=5.0)
    assert relative_l1(ten.signal - null.signal, 10.0 * ps.signal) <= 1e-9


def test_cli_train_with_model_weighting(two_families, tmp_path):
    """``insgan train --weighting model`` fits with the model's Poisson variances (recorded in the file);
    an unknown weighting is a usage error."""
    from insgan_core.cli.main import main
    from insgan_core.data import io
    from insgan_core.translation import load_translator

    _, pairs, targets = two_families
    src, tgt = tmp_path / "src", tmp_path / "tgt"
    src.mkdir()
    tgt.mkdir()
    for i in (1, 2):  # one map of each family
        io.save(pairs[i][0], src / f"m{i}.npz")
        io.save(targets[i], tgt / f"m{i}.npz")
    out = tmp_path / "model.safetensors"
    assert main(["-q", "train", "--source", str(src), "--target", str(tgt), "-o", str(out), "--temperature", "5", "5",
                 "--instrument", "MERLIN", "--ei", "62", "--chopper-package", "G", "--weighting", "model"]) == 0
    loaded = load_translator(out)
    assert loaded.training_record["weighting"] == "model"
    assert loaded.has_count_scale  # noisy targets: the model's Poisson variances were used
    assert 0.8 <= float(loaded.a.detach()[0]) <= 1.2
    assert main(["-q", "train", "--source", str(src), "--target", str(tgt), "-o", str(out), "--weighting", "poisson"]) == 2
