"""Baseline translators (insgan_core.translation.baselines): exact recovery on synthetic maps, a dense
least-squares peer for the structured fit, and the structured baseline on the shared MERLIN Bi2Fe4O9 maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap
from insgan_core.errors import InsganInputError
from insgan_core.instrument import InstrumentSettings
from insgan_core.instrument.broadening import broaden_energy, broaden_q
from insgan_core.translation.baselines import (
    AnalyticPipeline,
    BlurMask,
    CleanInput,
    StructuredLSQ,
    Translator,
    fit_baseline,
    structured_lsq,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "experimental"
Q_EDGES = np.linspace(0.5, 4.5, 33)  # 0.125 Å⁻¹ bins
E_EDGES = np.linspace(-6.0, 42.0, 33)  # 1.5 meV bins
SETTINGS = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_frequency_hz=350)


def _grid_map(signal, error=None):
    return INSMap(signal, np.zeros_like(signal) if error is None else error, Axis(Q_EDGES, "MomentumTransfer"),
                  Axis(E_EDGES, "DeltaE"))


def _band(centre_meV, slope, *, width=1.5):
    """A dispersive Gaussian band E(Q) = centre + slope·|Q| (clean S, arbitrary units)."""
    q = 0.5 * (Q_EDGES[1:] + Q_EDGES[:-1])
    e = 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
    return _grid_map(5.0 * np.exp(-0.5 * ((e[None, :] - centre_meV - slope * q[:, None]) / width) ** 2) / (1 + q[:, None]))


def _profiles(ne, rng):
    e = 0.5 * (E_EDGES[1:] + E_EDGES[:-1])
    h0 = 0.5 + 3.0 * np.exp(-0.5 * (e / 1.2) ** 2)  # flat + elastic line
    h1 = 0.2 * np.exp(-e / 15.0)
    h2 = 0.05 + 0.01 * rng.standard_normal(ne)
    h3 = -0.02 * np.ones(ne)
    return np.stack([h0, h1, h2, h3], axis=1)


@pytest.fixture(scope="module")
def synthetic():
    """Two clean maps, their physics maps P (resolution + built-in coverage) and the true a, h_k."""
    model = StructuredLSQ(settings=SETTINGS, scale=1.0, profiles=np.zeros((E_EDGES.size - 1, 4)), e_edges=E_EDGES,
                          q_range=np.full((E_EDGES.size - 1, 2), np.nan))
    sims = [_band(12.0, 4.0), _band(20.0, -2.0)]
    phys = [model.physics(s) for s in sims]
    a_true = 3.7
    h_true = _profiles(E_EDGES.size - 1, np.random.default_rng(1))
    q = sims[0].x_axis.centres
    x = (q / 6.0) ** 2
    bg = np.einsum("qk,ek->qe", np.stack([x**k for k in range(4)], 1), h_true)
    targets = [p.with_data(a_true * p.signal + bg) for p in phys]
    return sims, phys, targets, a_true, h_true, bg


def test_structured_recovers_a_and_profiles_exactly(synthetic):
    sims, phys, targets, a_true, h_true, bg = synthetic
    assert np.isnan(phys[0].signal).any() and np.isfinite(phys[0].signal).sum() > 200  # coverage step ran
    fit = StructuredLSQ.fit(sims[:1], targets[:1], temperatures_K=[5.0], settings=SETTINGS)
    assert isinstance(fit, Translator)
    assert fit.scale == pytest.approx(a_true, rel=1e-9)
    covered = np.isfinite(fit.profiles).all(axis=1)
    # energy bins with >= 4 distinct |Q| bins determine all four h_k
    n_rows = np.isfinite(phys[0].signal).sum(axis=0)
    enough = covered & (n_rows >= 6)
    assert enough.sum() > 20
    np.testing.assert_allclose(fit.profiles[enough], h_true[enough], rtol=1e-6, atol=1e-8)
    # applied unchanged to the second map: the exact truth on every covered bin
    pred = fit.predict(sims[1], temperature_K=5.0)
    ok = np.isfinite(targets[1].signal)
    np.testing.assert_array_equal(np.isfinite(pred.signal), ok)
    np.testing.assert_allclose(pred.signal[ok], targets[1].signal[ok], rtol=1e-7, atol=1e-7)


def _dense_fit(q_list, phys, ys, ws, n_terms=4):
    """Independent peer: one dense weighted least-squares problem in (a, h_00 … h_{ne-1,K-1})."""
    ne = phys[0].shape[1]
    rows, rhs = [], []
    for q, P, y, w in zip(q_list, phys, ys, ws):
        x = (q / 6.0) ** 2
        for i in range(P.shape[0]):
            for j in range(ne):
                if np.isfinite(P[i, j]) and np.isfinite(y[i, j]) and w[i, j] > 0:
                    r = np.zeros(1 + ne * n_terms)
                    r[0] = P[i, j]
                    r[1 + j * n_terms: 1 + (j + 1) * n_terms] = [x[i] ** k for k in range(n_terms)]
                    rows.append(r * np.sqrt(w[i, j]))
                    rhs.append(y[i, j] * np.sqrt(w[i, j]))
    A, b = np.array(rows), np.array(rhs)
    used = np.abs(A).sum(0) > 0
    sol = np.zeros(A.shape[1])
    sol[used] = np.linalg.lstsq(A[:, used], b, rcond=None)[0]
    cov_a = np.linalg.pinv(A[:, used].T @ A[:, used])[0, 0]
    return sol, np.sqrt(cov_a)


def test_structured_noisy_fit_matches_dense_peer_and_truth_within_errors(synthetic):
    sims, phys, targets, a_true, h_true, bg = synthetic
    rng = np.random.default_rng(7)
    noisy, weights = [], []
    for t in targets:
        sigma = 0.05 + 0.05 * np.abs(np.nan_to_num(t.signal))
        noisy.append(t.with_data(t.signal + sigma * rng.standard_normal(t.shape), np.where(np.isnan(t.signal), np.nan, sigma)))
        weights.append(1.0 / sigma**2)
    q = sims[0].x_axis.centres
    a, profiles, _ = structured_lsq([q, q], [p.signal for p in phys], [n.signal for n in noisy], weights)
    sol, sigma_a = _dense_fit([q, q], [p.signal for p in phys], [n.signal for n in noisy], weights)
    assert a == pytest.approx(sol[0], rel=1e-8)
    assert abs(a - a_true) < 4 * sigma_a and sigma_a < 0.05 * a_true
    fit = StructuredLSQ.fit(sims, noisy, temperatures_K=[5.0, 5.0], settings=SETTINGS)
    assert fit.scale == pytest.approx(a, rel=1e-10)
    # the fitted background is within the noise of the truth: chi2/N of the prediction against the noise-free maps
    for s, t, n in zip(sims, targets, noisy):
        pred = fit.predict(s, temperature_K=5.0)
        ok = np.isfinite(t.signal)
        chi2 = np.mean(((pred.signal[ok] - t.signal[ok]) / n.error[ok]) ** 2)
        assert chi2 < 0.3  # a fit to N noisy bins with ~130 parameters: well under 1 against the truth


def test_clean_blur_analytic_recover_their_parameters(synthetic):
    sims, phys, *_ = synthetic
    sim = sims[0]
    mask = np.isfinite(phys[0].signal)
    target = sim.with_data(np.where(mask, 2.5 * sim.signal, np.nan))
    clean = CleanInput.fit([sim], [target], temperatures_K=[5.0])
    assert clean.scale == pytest.approx(2.5, rel=1e-12)
    pred = clean.predict(sims[1], temperature_K=5.0)
    np.testing.assert_array_equal(np.isfinite(pred.signal), mask)  # the training coverage is kept

    blurred = broaden_q(broaden_energy(sim.signal, E_EDGES, np.full(E_EDGES.size - 1, 1.5)), Q_EDGES,
                        np.full(sim.shape, 0.1))
    target = sim.with_data(np.where(mask, 0.8 * blurred, np.nan))
    blur = BlurMask.fit([sim], [target], temperatures_K=[5.0])
    assert (blur.sigma_e_meV, blur.sigma_q_invA) == (1.5, 0.1)
    assert blur.scale == pytest.approx(0.8, rel=1e-10)

    analytic = AnalyticPipeline(settings=SETTINGS, scale=1.0)
    target = analytic.predict(sim, temperature_K=5.0) * 0.3
    fitted = fit_baseline("analytic", [sim], [target], temperatures_K=[5.0], settings=SETTINGS)
    assert fitted.scale == pytest.approx(0.3, rel=1e-10)
    elastic = fitted.predict(sim, temperature_K=5.0).cut(axis="e", window=(1.0, 2.0), average=True).signal
    # default backgrounds: an elastic line at E = 0 (bins at ±0.75 meV) far above the bins at ±3.75 meV
    assert min(elastic[3], elastic[4]) > 10 * max(elastic[1], elastic[6])


def test_sample_is_poisson_with_the_training_count_scale(synthetic):
    sims, phys, targets, *_ = synthetic
    c = 40.0
    t = targets[0]
    measured = t.with_data(t.signal, np.sqrt(np.abs(t.signal) / c))
    fit = CleanInput.fit([sims[0]], [measured], temperatures_K=[5.0])
    assert fit.count_scale == pytest.approx(c, rel=1e-9)
    pred = fit.predict(sims[0], temperature_K=5.0)
    draws = np.stack([fit.sample(sims[0], temperature_K=5.0, rng=np.random.default_rng(i)).signal for i in range(200)])
    ok = np.isfinite(pred.signal) & (pred.signal > 1.0)
    np.testing.assert_allclose(draws.mean(0)[ok].mean(), pred.signal[ok].mean(), rtol=0.01)
    ratio = (draws.var(0)[ok] / (pred.signal[ok] / c)).mean()
    assert 0.9 < ratio < 1.1


def test_bad_training_input_is_one_line_and_named(synthetic):
    sims, _, targets, *_ = synthetic
    with pytest.raises(InsganInputError, match="2 simulations, 1 targets"):
        CleanInput.fit(sims, targets[:1], temperatures_K=[5.0, 5.0])
    other = INSMap(np.ones((4, 4)), None, Axis(np.linspace(0, 1, 5), "MomentumTransfer"), Axis(np.linspace(0, 4, 5), "DeltaE"))
    with pytest.raises(InsganInputError, match="different grids"):
        StructuredLSQ.fit([sims[0]], [other], temperatures_K=[5.0], settings=SETTINGS)
    with pytest.raises(InsganInputError, match="unknown baseline 'gan'"):
        fit_baseline("gan", sims, targets, temperatures_K=[5.0, 5.0])
    with pytest.raises(InsganInputError, match="needs instrument settings"):
        fit_baseline("structured", sims, targets, temperatures_K=[5.0, 5.0])
    fit = StructuredLSQ.fit(sims[:1], targets[:1], temperatures_K=[5.0], settings=SETTINGS)
    with pytest.raises(InsganInputError, match="energy bins"):
        fit.predict(other, temperature_K=5.0)
    zero = sims[0].with_data(np.zeros(sims[0].shape))
    with pytest.raises(InsganInputError, match="undetermined"):
        StructuredLSQ.fit([zero], targets[:1], temperatures_K=[5.0], settings=SETTINGS)


@pytest.fixture(scope="module")
def bi2fe4o9_real():
    """The shared MERLIN Bi2Fe4O9 maps at 5 K and 300 K on the issue's 0.05 Å⁻¹ × 0.5 meV grid, and clean
    library simulations at both temperatures (200 directions per shell to keep the test short)."""
    f5, f300 = DATA / "bi2fe4o9_Ei62_5K.nxspe", DATA / "bi2fe4o9_Ei62_300K.nxspe"
    if not (f5.is_file() and f300.is_file()):
        pytest.skip(f"shared MERLIN Bi2Fe4O9 files not found in {DATA}")
    from insgan_core.data.io import load
    from insgan_core.data.reduction import powder_map as reduce
    from insgan_core.spinwave import load_model, powder_map

    q = np.round(np.arange(0, 121) * 0.05, 10)
    e = np.arange(-15.5, 52.5 + 1e-9, 0.5)
    det5, det300 = load(f5), load(f300)
    model = load_model("bi2fe4o9")
    sims = {T: powder_map(model, q_edges=q, e_edges=e, temperature_K=T, n_directions=200) for T in (5.0, 300.0)}
    return {"det": {5.0: det5, 300.0: det300}, "map": {5.0: reduce(det5, q_edges=q, e_edges=e), 300.0: reduce(det300, q_edges=q, e_edges=e)},
            "sim": sims}


def _chi2(pred, target, e_min=3.0):
    ok = np.isfinite(pred.signal) & np.isfinite(target.signal) & (target.error > 0) & (target.e_axis.centres > e_min)[None, :]
    return float(np.mean(((pred.signal[ok] - target.signal[ok]) / target.error[ok]) ** 2))


def test_real_data_structured_beats_scaled_clean_on_300K(bi2fe4o9_real):
    r = bi2fe4o9_real
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=r["det"][5.0].ei_meV, chopper_frequency_hz=350)
    train = dict(temperatures_K=[5.0], settings=settings, detectors=r["det"][5.0])
    structured = fit_baseline("structured", [r["sim"][5.0]], [r["map"][5.0]], **train)
    clean = fit_baseline("clean", [r["sim"][5.0]], [r["map"][5.0]], **train)
    test = dict(temperature_K=300.0, detectors=r["det"][300.0])
    chi_s = _chi2(structured.predict(r["sim"][300.0], **test), r["map"][300.0])
    chi_c = _chi2(clean.predict(r["sim"][300.0], **test), r["map"][300.0])
    assert chi_s / chi_c < 0.5, (chi_s, chi_c)
    assert 50 < chi_s < 100  # the issue measured 68–75 with the full powder average
