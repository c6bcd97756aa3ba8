"""Coverage-edge scatter of the structured translator's noise model (insgan_core.translation.noise_model): the
classes, the estimate from a training map with a known injected scatter or offset, that it vanishes without one,
that samples keep the expectation, model files with and without it, and the residual training's exposures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insgan_core.data import Axis, INSMap
from insgan_core.translation import StructuredTranslator, load_translator
from insgan_core.translation.noise_model import coverage_edge_classes, estimate_edge_scatter, sample_counts

Q_EDGES = np.linspace(0.0, 4.0, 81)  # 80 |Q| bins
E_EDGES = np.linspace(0.0, 40.0, 81)  # 80 energy bins


def _grid():
    nq, ne = Q_EDGES.size - 1, E_EDGES.size - 1
    iq, ie = np.meshgrid(np.arange(nq), np.arange(ne), indexing="ij")
    covered = iq >= 10 + ie // 2  # a low-|Q| kinematic edge rising with energy
    mu = 200.0 * (1.0 + 0.5 * np.sin(iq / 9.0) * np.cos(ie / 13.0))  # smooth, 100–300
    return covered, mu


def _measured(mu, covered, c, rng, factor=1.0):
    n = rng.poisson(mu * factor * c).astype(float)
    return np.where(covered, n / c, np.nan), np.where(covered, np.sqrt(n) / c, np.nan)


def test_coverage_edge_classes():
    covered = np.ones((6, 7), bool)
    assert not coverage_edge_classes(covered).any()  # the grid border is not an edge
    covered[0, :] = False
    cls = coverage_edge_classes(covered)
    np.testing.assert_array_equal(cls[:, 3], [0, 1, 2, 0, 0, 0])
    covered, _ = _grid()
    cls = coverage_edge_classes(covered)
    assert set(np.unique(cls[covered])) == {0, 1, 2} and not cls[~covered].any()
    assert (cls == 1).sum() >= 80 and (cls == 2).sum() >= 80  # one bin of each class per energy, at least


def test_injected_scatter_is_recovered_within_its_uncertainty():
    """Relative scatter ±ε (ε² = 0.25 and 0.09) in the two edge classes on top of counting noise (c = 20, so
    σ² ≈ 10 ≪ ε²μ²): the direct estimate is identified and within 3 of its standard errors of the truth."""
    covered, mu = _grid()
    cls = coverage_edge_classes(covered)
    rng = np.random.default_rng(3)
    truth = {1: 0.25, 2: 0.09}
    eps = np.where(cls == 1, np.sqrt(truth[1]), np.where(cls == 2, np.sqrt(truth[2]), 0.0))
    factor = 1.0 + eps * np.where(rng.random(mu.shape) < 0.5, -1.0, 1.0)
    y, e = _measured(mu, covered, 20.0, rng, factor)
    est = estimate_edge_scatter([y], [e], [mu], cls)
    for k, got in zip((1, 2), est):
        assert got["method"] == "direct"
        assert abs(got["eps2"] - truth[k]) <= 3.0 * got["direct_se"], (k, got)
        assert got["direct_se"] < 0.3 * truth[k]  # a real measurement, not a wide error bar
        assert abs(got["offset"]) <= 3.0 * got["offset_se"] + 0.1  # a scatter of mean zero: no offset


def test_low_exposure_falls_back_to_the_edge_offset():
    """At low exposure (c = 0.02: σ² ≈ 10⁴ ≫ ε²μ²) the direct estimate is not identified; a systematic offset of the
    edge bins (×1.8 and ×1.4) is, through the class means, within 3 standard errors."""
    covered, mu = _grid()
    cls = coverage_edge_classes(covered)
    rng = np.random.default_rng(4)
    factor = np.where(cls == 1, 1.8, np.where(cls == 2, 1.4, 1.0))
    y, e = _measured(mu, covered, 0.02, rng, factor)
    est = estimate_edge_scatter([y], [e], [mu], cls)
    for got, delta in zip(est, (0.8, 0.4)):
        assert got["method"] == "offset"
        assert abs(got["offset"] - delta) <= 3.0 * got["offset_se"], got
        assert got["eps2"] == pytest.approx(got["offset_eps2"]) and 0 < got["eps2"] < delta**2


def test_no_scatter_gives_none():
    covered, mu = _grid()
    cls = coverage_edge_classes(covered)
    rng = np.random.default_rng(5)
    y, e = _measured(mu, covered, 20.0, rng)
    for got in estimate_edge_scatter([y], [e], [mu], cls):
        assert abs(got["direct"]) <= 3.0 * got["direct_se"]
        assert got["eps2"] < 1e-3  # offset ≈ 0 ± 0.005: its small-scale footprint is ~1e-5
    # a map without an edge: no class, nothing estimated
    full = np.ones_like(covered)
    y, e = _measured(mu, full, 20.0, rng)
    assert all(g["eps2"] == 0.0 and g["n_bins"] == 0 for g in estimate_edge_scatter([y], [e], [mu], coverage_edge_classes(full)))
    # no scatter: exactly the plain Poisson sample (same random numbers)
    a = sample_counts(mu, 3.0, rng=np.random.default_rng(9))
    b = sample_counts(mu, 3.0, rng=np.random.default_rng(9), relative_scatter=np.zeros(mu.shape))
    np.testing.assert_array_equal(a[0], b[0])


def _model(covered, eps2=(0.25, 0.09)):
    nq, ne = Q_EDGES.size - 1, E_EDGES.size - 1
    m = StructuredTranslator(Q_EDGES, E_EDGES, np.full(ne, 0.5), np.full((nq, ne), 0.05), ei_meV=60.0)
    with torch.no_grad():
        m.coverage.copy_(torch.from_numpy(covered.astype(float)))
        m.count_scale.fill_(50.0)
        m.h[0].fill_(200.0)  # flat background μ = 200 (k = 0 term)
        m.edge_scatter.copy_(torch.tensor(eps2, dtype=torch.float64))
    m.invalidate()
    return m


def test_samples_keep_the_expectation_and_have_the_stated_variance():
    covered, _ = _grid()
    model = _model(covered)
    sim = INSMap(np.zeros(covered.shape), None, Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))
    mu = model.predict(sim, temperature_K=5.0).signal
    plain = _model(covered, eps2=(0.0, 0.0))
    np.testing.assert_array_equal(plain.predict(sim, temperature_K=5.0).signal, mu)  # the expectation does not move
    rng = np.random.default_rng(11)
    x = 0.5
    draws = np.array([model.sample(sim, temperature_K=5.0, rng=rng, exposure=x).signal for _ in range(200)])
    cls = coverage_edge_classes(covered)
    for k, eps2 in ((0, 0.0), (1, 0.25), (2, 0.09)):
        sel = covered & (cls == k)
        mean = draws[:, sel].mean()
        assert mean == pytest.approx(200.0, rel=0.01)  # mean of many bins × 200 draws: ≤ 1 % statistically
        var = draws[:, sel].var(axis=0).mean()
        assert var == pytest.approx(200.0 / (x * 50.0) + eps2 * 200.0**2, rel=0.15)
    assert plain.relative_scatter_map() is None


def test_model_files_with_and_without_edge_scatter(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save

    covered, _ = _grid()
    model = _model(covered)
    path = model.save(tmp_path / "m.safetensors")
    back = load_translator(path)
    np.testing.assert_array_equal(back.edge_scatter.numpy(), [0.25, 0.09])
    np.testing.assert_array_equal(back.relative_scatter_map(), model.relative_scatter_map())
    # a file written before the edge scatter existed: no such tensor; it loads with none (plain Poisson samples)
    with safe_open(str(path), "pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys() if k != "edge_scatter"}
        meta = fh.metadata()
    old = tmp_path / "old.safetensors"
    old.write_bytes(save(tensors, metadata=meta))
    legacy = load_translator(old)
    assert not legacy.edge_scatter.numpy().any() and legacy.relative_scatter_map() is None
    sim = INSMap(np.zeros(covered.shape), None, Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))
    mu = legacy.predict(sim, temperature_K=5.0).signal
    expected = sample_counts(mu, 50.0, rng=np.random.default_rng(2))[0]
    np.testing.assert_array_equal(legacy.sample(sim, temperature_K=5.0, rng=np.random.default_rng(2)).signal, expected)


def test_residual_training_evaluates_each_target_at_its_exposure():
    from insgan_core.translation.adversarial import train_residual
    from insgan_core.translation.structured import _Problem

    nq, ne = 12, 40
    q, e = np.linspace(0.5, 3.0, nq + 1), np.linspace(0.0, 50.0, ne + 1)
    model = StructuredTranslator(q, e, np.full(ne, 0.5), np.full((nq, ne), 0.05), ei_meV=62.0, count_background=True)
    with torch.no_grad():
        model.count_scale.fill_(5.0)
        model.h[0].fill_(10.0)
        model.cnt_amp.fill_(30.0)
    ax = (Axis(q, "MomentumTransfer"), Axis(e, "DeltaE"))
    sims = [INSMap(np.zeros((nq, ne)), None, *ax) for _ in range(2)]
    targets = [INSMap(np.full((nq, ne), 12.0), np.full((nq, ne), 1.0), *ax) for _ in range(2)]
    prob = _Problem(model, sims, targets, [5.0, 300.0], [2.0, 0.1])
    seen = []
    inner = model.expectation

    def spy(s, t, kernels=None, exposure=None):
        seen.append(None if exposure is None else exposure.detach().numpy().copy())
        return inner(s, t, kernels, exposure)

    model.expectation = spy
    train_residual(model, prob, fraction=0.05, steps=1)
    assert seen and all(x is not None and np.array_equal(x, [2.0, 0.1]) for x in seen)
    # the count-domain term at x = 0.1 is 20× the one at x = 2 in what the residual training sees
    with torch.no_grad():
        mu = inner(prob.s, prob.t, exposure=prob.x)
        base = inner(prob.s, prob.t, exposure=torch.ones(2, dtype=torch.float64))
    near = (mu[0] - base[0]).abs().sum()
    assert float((mu[1] - base[1]).abs().sum()) > 5.0 * float(near)
