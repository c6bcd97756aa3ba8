"""Run exposure (insgan_core.data.exposure) and its use in the structured translator: counting noise and the
background fixed in counts move between runs of different exposure; exposure read from the shared MERLIN
Bi2Fe4O9 files' own errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insgan_core.data import Axis, INSMap
from insgan_core.data.exposure import check_exposure, exposure_map, relative_exposure, run_exposure
from insgan_core.errors import InsganInputError
from insgan_core.translation import StructuredTranslator, load_translator
from insgan_core.translation.exposure import AtExposure, count_prior_energy_bins, count_prior_rise
from mantid_standin.fixture import mantid_standin, standin  # noqa: F401  (plugin test)

Q_EDGES = np.arange(0.5, 3.0001, 0.25)
E_EDGES = np.arange(-5.0, 50.0001, 1.0)


def _map(signal, error=None):
    return INSMap(signal, error, Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))


def _poisson_run(mu, c, rng):
    """A measured-like map of expected intensity mu with counts per unit intensity c (array or scalar)."""
    n = rng.poisson(mu * c).astype(float)
    return _map(n / c, np.sqrt(n) / c)


def _model(**kw):
    nq, ne = Q_EDGES.size - 1, E_EDGES.size - 1
    return StructuredTranslator(Q_EDGES, E_EDGES, np.full(ne, 1.0), np.full((nq, ne), 0.05), ei_meV=62.0, **kw)


def test_poisson_maps_with_known_exposure_recover_it():
    rng = np.random.default_rng(1)
    shape = (Q_EDGES.size - 1, E_EDGES.size - 1)
    mu = 50.0 * np.exp(-np.linspace(0, 3, shape[1]))[None, :] * np.ones(shape) + 1.0
    c_bins = rng.uniform(0.5, 2.0, shape)  # detector efficiency, solid angle, ki/kf: varies bin to bin
    ref = _poisson_run(mu, 3.0 * c_bins, rng)
    for x in (0.05, 0.7, 17.5):
        run = _poisson_run(mu, 3.0 * x * c_bins, rng)
        assert relative_exposure(run, reference=ref) == pytest.approx(x, rel=1e-9)  # S/σ² = c exactly per bin
        # the ratio of medians is only approximate (different bins hold counts)
        assert relative_exposure(run, reference=run_exposure(ref)) == pytest.approx(x, rel=0.35)
    np.testing.assert_allclose(exposure_map(ref)[ref.signal > 0], 3.0 * c_bins[ref.signal > 0])


def test_exposure_of_the_shared_bi2fe4o9_runs(bi2fe4o9_5k, experimental_dir):
    from insgan_core.data.grid import parse_binning
    from insgan_core.data.io import load
    from insgan_core.data.reduction import powder_map

    f300 = experimental_dir / "bi2fe4o9_Ei62_300K.nxspe"
    if not (bi2fe4o9_5k.is_file() and f300.is_file()):
        pytest.skip("shared Bi2Fe4O9 files not found")
    raw5, raw300 = load(bi2fe4o9_5k), load(f300)
    # raw detector × energy data: one exposure ratio, the same in every energy bin
    assert relative_exposure(raw5, reference=raw300) == pytest.approx(17.5, abs=0.2)
    c5, c300 = exposure_map(raw5), exposure_map(raw300)
    for j in range(0, c5.shape[1], 20):
        both = (c5[:, j] > 0) & (c300[:, j] > 0)
        assert np.median(c5[both, j] / c300[both, j]) == pytest.approx(17.5, abs=0.6)
    q, e = parse_binning("0,0.05,6", name="q"), parse_binning("-15.5,0.5,52.5", name="e")
    m5, m300 = powder_map(raw5, q_edges=q, e_edges=e), powder_map(raw300, q_edges=q, e_edges=e)
    assert relative_exposure(m5, reference=m300) == pytest.approx(17.5, abs=0.2)
    assert relative_exposure(m300, reference=m5) == pytest.approx(1 / 17.5, rel=0.012)


def test_count_domain_background_scales_as_one_over_exposure():
    model = _model(count_background=True)
    with torch.no_grad():
        model.cnt_amp.fill_(40.0)
        model.nei_amp.fill_(7.0)
        model.h[0].fill_(3.0)
    sim = _map(np.zeros((Q_EDGES.size - 1, E_EDGES.size - 1)))
    p1 = model.predict(sim, temperature_K=5.0).signal
    comp = model.components(torch.zeros(1, *model.shape, dtype=torch.float64), torch.tensor([5.0], dtype=torch.float64))
    counts = comp["count_background"][0].detach().numpy()
    assert counts.max() > 1.0
    for x in (0.25, 4.0, 17.5):
        px = model.predict(sim, temperature_K=5.0, exposure=x).signal
        np.testing.assert_allclose(px - p1, counts * (1.0 / x - 1.0), rtol=1e-10, atol=1e-10)
    # the intensity-domain terms do not move: at a very large exposure only they remain
    np.testing.assert_allclose(model.predict(sim, temperature_K=5.0, exposure=1e12).signal, p1 - counts, rtol=1e-9)


def test_generated_noise_variance_to_mean_is_one_over_exposure_times_c():
    model = _model()
    c = 2.0
    with torch.no_grad():
        model.h[0].fill_(30.0)
        model.count_scale.fill_(c)
    sim = _map(np.zeros((Q_EDGES.size - 1, E_EDGES.size - 1)))
    rng = np.random.default_rng(3)
    for x in (1.0, 0.1, 8.0):
        draws = np.array([model.sample(sim, temperature_K=5.0, rng=rng, exposure=x).signal for _ in range(200)])
        mean, var = draws.mean(0), draws.var(0)
        ratio = np.median(var / mean)
        assert ratio == pytest.approx(1.0 / (x * c), rel=0.05)
        # the errors the sample carries are its own Poisson errors: S/σ² = x c
        one = model.sample(sim, temperature_K=5.0, rng=rng, exposure=x)
        assert run_exposure(one) == pytest.approx(x * c, rel=1e-9)
        pred = model.predict(sim, temperature_K=5.0, exposure=x)
        np.testing.assert_allclose(pred.error, np.sqrt(30.0 / (x * c)))


def test_baseline_sampling_at_an_exposure():
    class Flat:
        name = "flat"
        count_scale = 4.0

        def predict(self, sim, *, temperature_K, detectors=None):
            return sim.with_data(np.full(sim.shape, 25.0))

        def sample(self, sim, *, temperature_K, rng, detectors=None):
            raise AssertionError("AtExposure draws the noise itself for translators without an exposure")

    sim = _map(np.zeros((Q_EDGES.size - 1, E_EDGES.size - 1)))
    out = AtExposure(Flat(), 0.5).sample(sim, temperature_K=5.0, rng=np.random.default_rng(0))
    assert run_exposure(out) == pytest.approx(2.0)
    assert AtExposure(Flat(), 0.5).parameters()["exposure_relative"] == 0.5


def test_model_file_keeps_the_training_exposure(tmp_path):
    model = _model(count_background=True)
    rng = np.random.default_rng(5)
    with torch.no_grad():
        model.cnt_amp.uniform_(1.0, 2.0)
        model.count_scale.fill_(3.0)
        model.exposure_map.copy_(torch.from_numpy(rng.uniform(2.0, 4.0, model.shape)))
    model.training_exposure = 3.1
    path = model.save(tmp_path / "m.safetensors")
    back = load_translator(path)
    assert back.training_exposure == 3.1 and back.count_background
    np.testing.assert_array_equal(back.exposure_map.numpy(), model.exposure_map.numpy())
    np.testing.assert_array_equal(back.cnt_amp.detach().numpy(), model.cnt_amp.detach().numpy())
    # a measured run of 5× the training exposure, read from its errors against the stored per-bin map
    mu = np.full(model.shape, 40.0)
    run = _poisson_run(mu, 5.0 * model.exposure_map.numpy(), rng)
    assert back.exposure_of(run) == pytest.approx(5.0, rel=1e-9)
    sim = _map(np.zeros(model.shape))
    assert back.apply(sim, exposure=5.0, temperature_K=5.0).metadata.provenance["translation"]["exposure_relative"] == 5.0


def test_bad_exposure_input_gives_clear_errors():
    shape = (Q_EDGES.size - 1, E_EDGES.size - 1)
    with pytest.raises(InsganInputError, match="errors all zero or NaN"):
        run_exposure(_map(np.ones(shape), np.zeros(shape)), where="run.nxspe")
    with pytest.raises(InsganInputError, match="run.nxspe"):
        run_exposure(_map(np.ones(shape), np.full(shape, np.nan)), where="run.nxspe")
    for bad in (-1.0, 0.0, float("nan"), float("inf"), "a lot"):
        with pytest.raises(InsganInputError, match="--exposure: expected a number > 0"):
            check_exposure(bad, name="--exposure")
    model = _model()
    sim = _map(np.zeros(shape))
    with pytest.raises(InsganInputError, match="exposure"):
        model.predict(sim, temperature_K=5.0, exposure=-2.0)
    good = _map(np.full(shape, 4.0), np.full(shape, 1.0))
    with pytest.raises(InsganInputError, match="one grid"):
        relative_exposure(good, reference=np.ones((2, 2)))


def test_prior_ties_the_profiles_in_the_rise_region_only():
    e = np.arange(40.0, 53.0001, 0.5)
    ec = 0.5 * (e[1:] + e[:-1])
    jt = count_prior_energy_bins(e, 62.0, 53.0)  # onset 0.75·62 = 46.5 meV; edge: the last 0.5 meV stays free
    rise = count_prior_rise(e, 62.0, 53.0)
    np.testing.assert_array_equal(rise, (ec > 46.5) & (ec < 52.5))
    last_below = np.flatnonzero(ec <= 46.5)[-1]
    assert np.all(jt[rise] == last_below)
    assert np.all(jt[~rise] == np.flatnonzero(~rise))
    # the count-domain term of a model lives in the rise region only
    model = _model(count_background=True)
    shape = model.count_shape().detach().numpy()
    assert np.all(shape[~model._rise().numpy()] == 0) and np.all(shape[model._rise().numpy()] > 0)


def _saved_model(tmp_path):
    model = _model(count_background=True)
    rng = np.random.default_rng(11)
    with torch.no_grad():
        model.cnt_amp.uniform_(5.0, 9.0)
        model.h[0].fill_(10.0)
        model.count_scale.fill_(2.0)
        model.exposure_map.copy_(torch.from_numpy(rng.uniform(1.5, 2.5, model.shape)))
    model.training_exposure = 2.0
    return model, model.save(tmp_path / "exp.safetensors")


def test_cli_apply_takes_an_exposure_or_a_measured_run(tmp_path):
    from insgan_core.cli.main import main
    from insgan_core.data import io

    model, path = _saved_model(tmp_path)
    rng = np.random.default_rng(2)
    sim = _map(rng.uniform(0.0, 1.0, model.shape))
    io.save(sim, tmp_path / "sim.npz")
    like = _poisson_run(np.full(model.shape, 30.0), 0.25 * model.exposure_map.numpy(), rng)
    io.save(like, tmp_path / "like.npz")
    assert main(["-q", "apply", str(path), str(tmp_path / "sim.npz"), "-o", str(tmp_path / "a.npz"), "--exposure", "0.25",
                 "--temperature", "5"]) == 0
    assert main(["-q", "apply", str(path), str(tmp_path / "sim.npz"), "-o", str(tmp_path / "b.npz"), "--like-run",
                 str(tmp_path / "like.npz"), "--temperature", "5"]) == 0
    expected = model.predict(sim, temperature_K=5.0, exposure=0.25).signal
    np.testing.assert_allclose(io.load(tmp_path / "a.npz").signal, expected, rtol=1e-10)
    np.testing.assert_allclose(io.load(tmp_path / "b.npz").signal, expected, rtol=1e-9)
    assert not np.allclose(model.predict(sim, temperature_K=5.0).signal, expected)
    assert main(["-q", "apply", str(path), str(tmp_path / "sim.npz"), "-o", str(tmp_path / "c.npz"), "--exposure", "-1"]) == 2


def test_apply_algorithm_exposure_property(standin, tmp_path):  # noqa: F811
    from insgan_core import mantid_bridge

    model, path = _saved_model(tmp_path)
    sim = _map(np.random.default_rng(4).uniform(0.0, 1.0, model.shape))
    sim.metadata.temperature_K = 5.0
    mantid_bridge.map_to_workspace(sim, name="sim")
    out = standin.simpleapi.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(path), ExposureRelative=4.0, OutputWorkspace="o")
    got = mantid_bridge.workspace_to_map(out)
    np.testing.assert_allclose(got.signal, model.predict(sim, temperature_K=5.0, exposure=4.0).signal, rtol=1e-9, equal_nan=True)
    with pytest.raises(Exception, match="ExposureRelative"):
        standin.simpleapi.ApplyINSGAN(InputWorkspace="sim", ModelFile=str(path), ExposureRelative=-1.0, OutputWorkspace="o2")


def test_two_runs_of_different_exposure_identify_the_count_domain_background():
    """Jointly fitted on two Poisson runs (exposures 1 and 0.1) of a known model, the split between the
    background fixed in counts and the intensity terms is recovered, and so is a third run's map."""
    from insgan_core.instrument import InstrumentSettings
    from insgan_core.translation import fit_structured

    q_edges, e_edges = np.arange(0.5, 3.0001, 0.25), np.arange(-5.0, 56.0001, 1.0)
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_frequency_hz=250.0)
    # the model family joint training fits: runs of different exposure set no intensity-only edge apart
    truth = StructuredTranslator.from_settings(settings, q_edges, e_edges, count_background=True, count_edge_meV=0.0)
    qc, ec = 0.5 * (q_edges[1:] + q_edges[:-1]), 0.5 * (e_edges[1:] + e_edges[:-1])
    with torch.no_grad():
        truth.nei_log_lambda.fill_(np.log(0.3))
        truth.h[0].fill_(8.0)
        truth.nei_amp.copy_(torch.from_numpy(400.0 * np.ones(qc.size)))
        truth.cnt_amp.copy_(torch.from_numpy(60.0 + 20.0 * qc))
    band = 30.0 * np.exp(-0.5 * ((ec[None, :] - 20.0 - 5.0 * qc[:, None]) / 2.0) ** 2)
    ax_q, ax_e = Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE")
    sim = INSMap(band, None, ax_q, ax_e)
    rng = np.random.default_rng(8)
    runs = []
    for x in (1.0, 0.1):
        mu = truth.predict(sim, temperature_K=5.0, exposure=x).signal
        n = rng.poisson(np.clip(mu, 0, None) * 200.0 * x).astype(float)
        runs.append(INSMap(n / (200.0 * x), np.sqrt(n) / (200.0 * x), ax_q, ax_e))
    model = fit_structured([sim, sim], runs, temperatures_K=[5.0, 5.0], settings=settings, count_background=True,
                           rounds=1, adam_steps=5)
    assert model.count_edge_meV == 0.0
    xs = model.training_record["exposures_relative"]
    assert xs[0] / xs[1] == pytest.approx(10.0, rel=1e-6)
    # the model's reference is the geometric mean of the runs: compare each term at the run's own exposure
    zero = torch.zeros(1, *truth.shape, dtype=torch.float64)
    t5 = torch.tensor([5.0], dtype=torch.float64)
    top = ec > 47.0
    for x_true, x_model in ((1.0, xs[0]), (0.1, xs[1])):
        c_true = truth.components(zero, t5, exposure=[x_true])["count_background"][0].detach().numpy()[:, top].sum()
        c_fit = model.components(zero, t5, exposure=[x_model])["count_background"][0].detach().numpy()[:, top].sum()
        assert c_fit == pytest.approx(c_true, rel=0.1)
    # a third run, 0.3 × the first exposure: the model's map at x = 0.3·xs[0]
    want = truth.predict(sim, temperature_K=5.0, exposure=0.3).signal
    got = model.predict(sim, temperature_K=5.0, exposure=0.3 * xs[0]).signal
    assert np.nansum(np.abs(got - want)) <= 0.05 * np.nansum(np.abs(want))
