"""The physics-structured translation model (insgan_core.translation.structured).

Synthetic tests train on (clean, artefact-pipeline) pairs of one library family on a coarse MERLIN grid
and check what the structure guarantees (linearity, null input, no moving of features, conservation)
and how it does out of family. The real-data test trains on the shared MERLIN Bi2Fe4O9 5 K map and
tests on the 300 K map. Simulations are cached for the session only (fixtures), never on disk.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from insgan_core.data import Axis, INSMap, MapMetadata
from insgan_core.errors import InsganFileError
from insgan_core.gan.metrics import noise_variance_to_mean, peak_energy, relative_l1
from insgan_core.instrument import (
    ArtefactConfig,
    InstrumentSettings,
    add_poisson_noise,
    apply_artefacts,
    builtin_detectors,
)
from insgan_core.instrument.energy_resolution import energy_fwhm_meV
from insgan_core.spinwave import load_model, powder_map
from insgan_core.translation import StructuredTranslator, fit_structured, load_translator
from mantid_standin.fixture import mantid_standin, standin  # noqa: F401  (plugin test at the end)

Q_EDGES = np.arange(0.2, 5.0001, 0.1)
E_EDGES = np.arange(-10.0, 50.0001, 1.0)
SETTINGS = dict(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
NO_NOISE = ArtefactConfig(steps=("resolution", "background", "coverage"))


@pytest.fixture(scope="module")
def setup():
    inst = InstrumentSettings(**SETTINGS)
    return inst, builtin_detectors("MERLIN", ei_meV=62.0, e_edges=E_EDGES)


def _simulate(name, scale, seed, setup):
    inst, det = setup
    m = load_model(name)
    params = {k: (v if k == "S" else v * scale) for k, v in m.parameters.items()}
    clean = powder_map(m.with_parameters(**params), q_edges=Q_EDGES, e_edges=E_EDGES, temperature_K=5.0,
                       n_directions=100, seed=seed)
    clean.metadata.temperature_K = 5.0
    return clean, apply_artefacts(clean, settings=inst, config=NO_NOISE, detectors=det)


def _background_only(clean, setup):
    inst, det = setup
    return apply_artefacts(clean.with_data(np.zeros_like(clean.signal)), settings=inst, config=NO_NOISE, detectors=det)


@pytest.fixture(scope="module")
def trained(setup):
    """Paired fit on two square_afm variants (exchange ×0.85, ×1.15) with Poisson noise."""
    inst, det = setup
    pairs = [_simulate("square_afm", s, i, setup) for i, s in enumerate((0.85, 1.15))]
    count_scale = 200.0 / np.nanpercentile(pairs[0][1].signal, 99)
    targets = [add_poisson_noise(a, count_scale=count_scale, seed=10 + i) for i, (_, a) in enumerate(pairs)]
    model = fit_structured([c for c, _ in pairs], targets, temperatures_K=[5.0, 5.0], settings=inst, detectors=det)
    return model, pairs, targets


def test_null_input_gives_the_background(trained, setup):
    model, pairs, _ = trained
    clean = pairs[0][0]
    zero = model.predict(clean.with_data(np.zeros_like(clean.signal)), temperature_K=5.0)
    target = _background_only(clean, setup)
    assert relative_l1(zero.signal, target.signal) <= 0.1
    assert np.all(np.isnan(zero.signal) == ~(model.coverage.numpy() > 0.5))


def test_signal_path_is_linear(trained):
    model, pairs, _ = trained
    clean = pairs[1][0]
    bg = model.predict(clean.with_data(np.zeros_like(clean.signal)), temperature_K=5.0).signal
    one = model.predict(clean, temperature_K=5.0).signal - bg
    ten = model.predict(clean * 10.0, temperature_K=5.0).signal - bg
    ok = np.isfinite(one) & (np.abs(one) > 1e-6 * np.nanmax(np.abs(one)))
    np.testing.assert_allclose(ten[ok], 10.0 * one[ok], rtol=0.05)
    assert np.nansum(np.abs(ten - 10 * one)) <= 0.05 * np.nansum(np.abs(10 * one))


def test_sharp_line_stays_in_place_and_intensity_is_conserved(trained):
    model, pairs, _ = trained
    import torch

    e_line = 20.5  # centre of an energy bin
    s = np.zeros((Q_EDGES.size - 1, E_EDGES.size - 1))
    j = int(np.argmin(np.abs(0.5 * (E_EDGES[1:] + E_EDGES[:-1]) - e_line)))
    s[:, j] = 1.0
    line = pairs[0][0].with_data(s)
    bg = model.predict(line.with_data(np.zeros_like(s)), temperature_K=5.0)
    out = model.predict(line, temperature_K=5.0) - bg
    fwhm = float(energy_fwhm_meV(InstrumentSettings(**SETTINGS), e_line))
    for window in ((1.0, 2.0), (2.5, 3.5)):
        assert abs(peak_energy(out, q_window=window, e_range=(5.0, 45.0)) - e_line) <= 0.5 * fwhm
    # every kernel column sums to one: the signal path conserves Σ S·ΔQ·ΔE (before the scale a)
    with torch.no_grad():
        ks = model.signal_path(torch.from_numpy(s[None] * 3.7)).numpy()[0]
    area = np.diff(Q_EDGES)[:, None] * np.diff(E_EDGES)[None, :]
    assert np.sum(ks * area) == pytest.approx(np.sum(3.7 * s * area), rel=1e-9)
    assert float(model.a.detach()[0]) > 0


@pytest.mark.parametrize("family,scale", [("afm_chain", 1.0), ("fm_chain", 1.0), ("j1j2_chain", 1.0), ("helix_chain", 1.0),
                                          ("triangular_afm", 1.0), ("kagome_q0", 1.0), ("square_afm", 0.5),
                                          ("square_afm", 1.6)])
def test_out_of_family(trained, setup, family, scale):
    model, _, _ = trained
    clean, target = _simulate(family, scale, 99, setup)
    pred = model.predict(clean, temperature_K=5.0)
    blur = gaussian_filter(np.nan_to_num(clean.signal), (1.0, 1.5))
    blur = np.where(np.isfinite(target.signal), blur, np.nan)
    ok = np.isfinite(target.signal)
    blur *= np.sum(blur[ok] * target.signal[ok]) / np.sum(blur[ok] ** 2)  # best possible scale for the baseline
    rl1 = relative_l1(pred.signal, target.signal)
    assert rl1 <= 0.3
    assert rl1 <= relative_l1(blur, target.signal)
    inel = (0.5 * (E_EDGES[1:] + E_EDGES[:-1]) > 3.0)[None, :]
    bg_pred = model.predict(clean.with_data(np.zeros_like(clean.signal)), temperature_K=5.0).signal
    bg_true = _background_only(clean, setup).signal
    ratio = np.nansum(np.where(inel, pred.signal - bg_pred, 0)) / np.nansum(np.where(inel, target.signal - bg_true, 0))
    assert 0.9 <= ratio <= 1.1


def test_save_load_round_trip_and_bad_files(trained, tmp_path):
    model, pairs, _ = trained
    path = tmp_path / "structured.safetensors"
    model.save(path)
    loaded = load_translator(path)
    assert isinstance(loaded, StructuredTranslator)
    a = model.predict(pairs[0][0], temperature_K=5.0).signal
    b = loaded.predict(pairs[0][0], temperature_K=5.0).signal
    np.testing.assert_array_equal(a, b)
    s1 = model.sample(pairs[0][0], temperature_K=5.0, rng=np.random.default_rng(4))
    s2 = loaded.sample(pairs[0][0], temperature_K=5.0, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(s1.signal, s2.signal)
    data = path.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[:-100])
    with pytest.raises(InsganFileError, match="truncated"):
        load_translator(tmp_path / "truncated.safetensors")
    bad = data.replace(b'\\"q_powers\\": [0, 1, 2, 3]', b'\\"q_powers\\": [0, 1, 2]   ')  # same length
    assert bad != data
    (tmp_path / "tampered.safetensors").write_bytes(bad)
    with pytest.raises(InsganFileError, match="tampered.safetensors"):
        load_translator(tmp_path / "tampered.safetensors")
    from insgan_core.gan.model_file import load_model

    with pytest.raises(InsganFileError, match="structured translation model"):
        load_model(path)


def test_adversarial_residual_is_bounded(trained):
    model, pairs, targets = trained
    import copy

    from insgan_core.translation.adversarial import train_residual
    from insgan_core.translation.structured import _Problem

    m = copy.deepcopy(model)
    before = m.predict(pairs[0][0], temperature_K=5.0).signal
    prob = _Problem(m, [c for c, _ in pairs], targets, [5.0, 5.0])
    train_residual(m, prob, fraction=0.05, steps=0)
    # zero at init: the torch path equals the numpy one to round-off (atol: bins where terms cancel)
    np.testing.assert_allclose(m.predict(pairs[0][0], temperature_K=5.0).signal, before, rtol=1e-12,
                               atol=1e-12 * np.nanmax(np.abs(before)))
    train_residual(m, prob, fraction=0.05, steps=5)
    after = m.predict(pairs[0][0], temperature_K=5.0).signal
    ok = np.isfinite(before) & (np.abs(before) > 0)
    assert np.max(np.abs(after[ok] / before[ok] - 1.0)) <= 0.05 + 1e-9


# --- real data: MERLIN Bi2Fe4O9, Ei = 62 meV, 5 K (training) and 300 K (test) ------------------------------
REAL_Q = np.arange(0.3, 5.0001, 0.1)
REAL_E = np.arange(-8.0, 52.0001, 1.0)


@pytest.fixture(scope="module")
def bfo(experimental_dir):
    from insgan_core.data.io import load
    from insgan_core.data.reduction import powder_map as reduce

    files = {t: experimental_dir / f"bi2fe4o9_Ei62_{t}K.nxspe" for t in (5, 300)}
    det = {t: load(f) for t, f in files.items()}
    measured = {t: reduce(d, q_edges=REAL_Q, e_edges=REAL_E) for t, d in det.items()}
    model = load_model("bi2fe4o9")
    clean = {}
    for t in (5, 300):
        c = powder_map(model, q_edges=REAL_Q, e_edges=REAL_E, temperature_K=float(t), n_directions=300)
        c.metadata.temperature_K = float(t)
        clean[t] = c
    inst = InstrumentSettings(instrument="MERLIN", ei_meV=float(det[5].ei_meV), chopper_package="G",
                              chopper_frequency_hz=350.0)
    return inst, det, measured, clean


def _inelastic_chi2(pred, measured, e_min=3.0):
    ok = np.isfinite(pred) & np.isfinite(measured.signal) & (measured.error > 0)
    ok &= (measured.e_axis.centres > e_min)[None, :]
    return float(np.mean(((pred[ok] - measured.signal[ok]) / measured.error[ok]) ** 2)), ok


def test_real_data_5k_to_300k(bfo):
    inst, det, measured, clean = bfo
    model = fit_structured([clean[5]], [measured[5]], temperatures_K=[5.0], settings=inst, detectors=det[5])
    pred = model.predict(clean[300], temperature_K=300.0)
    chi2, ok = _inelastic_chi2(pred.signal, measured[300])
    # the clean simulation through the analytic resolution and coverage, best-scaled on the test map itself
    p = apply_artefacts(clean[300], settings=inst, config=ArtefactConfig(steps=("resolution", "coverage")),
                        detectors=det[300]).signal
    w = 1.0 / measured[300].error[ok] ** 2
    k = np.sum(w * p[ok] * measured[300].signal[ok]) / np.sum(w * p[ok] ** 2)
    chi2_clean, _ = _inelastic_chi2(k * p, measured[300])
    assert chi2 <= 0.5 * chi2_clean
    # elastic-line integral (|E| <= 3 meV, bins covered in both)
    el = (np.abs(measured[300].e_axis.centres) <= 3.0)[None, :]
    both = el & np.isfinite(pred.signal) & np.isfinite(measured[300].signal)
    assert np.sum(pred.signal[both]) == pytest.approx(np.sum(measured[300].signal[both]), rel=0.2)
    # magnon band: the translated signal peaks where the resolution-broadened simulation does
    bg = model.predict(clean[300].with_data(np.zeros_like(clean[300].signal)), temperature_K=300.0)
    signal_part = pred - bg
    ref = INSMap(p, np.zeros_like(p), clean[300].x_axis, clean[300].e_axis, MapMetadata())
    for window in ((1.0, 2.0), (2.0, 3.0)):
        assert abs(peak_energy(signal_part, q_window=window, e_range=(8.0, 40.0))
                   - peak_energy(ref, q_window=window, e_range=(8.0, 40.0))) <= 0.5
    # counting noise: a fresh sample of the 5 K expectation against the 5 K measurement, inelastic window
    window = ((measured[5].e_axis.centres < 3.0) | (measured[5].e_axis.centres > 0.8 * inst.ei_meV))[None, :]
    sample = model.sample(clean[5], temperature_K=5.0, rng=np.random.default_rng(123))
    ratio = noise_variance_to_mean(np.where(window, np.nan, sample.signal)) / noise_variance_to_mean(
        np.where(window, np.nan, measured[5].signal))
    assert 0.8 <= ratio <= 1.25
    assert np.all(np.isnan(sample.signal) == np.isnan(pred.signal))


def test_cli_train_and_apply_default_to_the_structured_model(trained, tmp_path):
    from insgan_core.cli.main import main
    from insgan_core.data import io

    _, pairs, targets = trained
    src, tgt = tmp_path / "src", tmp_path / "tgt"
    src.mkdir()
    tgt.mkdir()
    for i, ((clean, _), target) in enumerate(zip(pairs, targets)):
        io.save(clean, src / f"m{i}.npz")
        io.save(target, tgt / f"m{i}.npz")
    out = tmp_path / "model.safetensors"
    assert main(["-q", "train", "--source", str(src), "--target", str(tgt), "-o", str(out)]) == 0
    model = load_translator(out)
    assert isinstance(model, StructuredTranslator)
    assert model.training_record["chi2_per_bin_final"] <= model.training_record["chi2_per_bin_baseline_start"]
    res = tmp_path / "translated.npz"
    assert main(["-q", "apply", str(out), str(src / "m0.npz"), "-o", str(res)]) == 0
    got = io.load(res)
    np.testing.assert_allclose(got.signal, model.predict(pairs[0][0], temperature_K=5.0).signal, rtol=1e-12)
    assert got.metadata.provenance["gan"]["kind"] == "structured"
    # pairs must match up
    assert main(["-q", "train", "--source", str(src / "m0.npz"), "--target", str(tgt), "-o", str(out)]) == 2


def _pairs_in_ads(trained):
    """Put the trained fixture's clean maps (clean0, clean1) and targets (meas0, meas1) in the ADS; its pairs."""
    from insgan_core import mantid_bridge

    _, pairs, targets = trained
    for i, ((clean, _), target) in enumerate(zip(pairs, targets)):
        mantid_bridge.map_to_workspace(clean, name=f"clean{i}")
        mantid_bridge.map_to_workspace(target, name=f"meas{i}")
    return pairs


def test_mantid_algorithms_default_to_the_structured_model(trained, standin, tmp_path):
    from insgan_core import mantid_bridge

    pairs = _pairs_in_ads(trained)
    path = str(tmp_path / "st.safetensors")
    table = standin.simpleapi.TrainINSGAN(SourceWorkspaces="clean0,clean1", TargetWorkspaces="meas0,meas1",
                                          Temperatures=[5.0], OutputModelFile=path, OutputTable="fit")
    assert "chi2_per_bin" in table.getColumnNames()
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="clean0", ModelFile=path, OutputWorkspace="translated")
    got = mantid_bridge.workspace_to_map(out)
    expected = load_translator(path).predict(pairs[0][0], temperature_K=5.0)
    np.testing.assert_allclose(got.signal, expected.signal, rtol=1e-9, equal_nan=True)


def test_train_algorithm_weighting_equals_the_core(trained, standin, tmp_path):
    """TrainINSGAN Weighting="model" fits exactly what fit_structured(weighting="model") fits."""
    pairs = _pairs_in_ads(trained)
    path = str(tmp_path / "w.safetensors")
    standin.simpleapi.TrainINSGAN(SourceWorkspaces="clean0,clean1", TargetWorkspaces="meas0,meas1",
                                  Temperatures=[5.0], Weighting="model", OutputModelFile=path, OutputTable="fitw")
    from_alg = load_translator(path)
    assert from_alg.training_record["weighting"] == "model"
    core = fit_structured([c for c, _ in pairs], trained[2], temperatures_K=[5.0, 5.0], count_background=True,
                          weighting="model")
    np.testing.assert_allclose(from_alg.predict(pairs[0][0], temperature_K=5.0).signal,
                               core.predict(pairs[0][0], temperature_K=5.0).signal, rtol=1e-6, equal_nan=True)
    with pytest.raises(ValueError, match="Weighting"):
        standin.simpleapi.TrainINSGAN(SourceWorkspaces="clean0,clean1", TargetWorkspaces="meas0,meas1",
                                      Weighting="robust", OutputModelFile=path, OutputTable="fitx")

