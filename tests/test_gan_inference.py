"""TranslationModel.apply: normalisation round trip, coverage, grids and rebinning, batches, errors."""

import numpy as np
import pytest
import torch

from insgan_core.data import Axis, INSMap, MapMetadata, MapStack
from insgan_core.errors import InsganInputError
from insgan_core.data.counting import estimate_count_scale
from insgan_core.gan.inference import TranslationModel
from insgan_core.gan.model_file import load_model, save_model
from insgan_core.gan.networks import build_network
from insgan_core.gan.normalisation import Normaliser

Q_EDGES = np.linspace(0.0, 4.0, 21)
E_EDGES = np.linspace(-5.0, 45.0, 26)


def identity_generator(spec=None):
    """A residual U-Net whose correction layer is zero: output channel = input intensity channel."""
    spec = spec or {"name": "unet", "width": 4, "depth": 2}
    g = build_network(spec)
    with torch.no_grad():
        g.outc.weight.zero_()
        g.outc.bias.zero_()
    return g, spec


def make_model(*, normaliser=None, coverage_mask=None, count_scale=None, generator=None, spec=None):
    g, spec = (generator, spec) if generator is not None else identity_generator()
    md = {
        "network": spec,
        "normaliser": (normaliser or Normaliser(source_scale=2.0, target_scale=2.0)).to_dict(),
        "grid": {"x_edges": Q_EDGES.tolist(), "x_unit": "MomentumTransfer", "e_edges": E_EDGES.tolist(), "e_unit": "DeltaE"},
        "mode": "paired",
        "instrument": "MERLIN",
        "ei_meV": 62.0,
    }
    if coverage_mask is not None:
        md["coverage_mask"] = coverage_mask.tolist()
    if count_scale is not None:
        md["count_scale"] = count_scale
    return TranslationModel(g, md)


def make_map(seed=0, *, q_edges=Q_EDGES, e_edges=E_EDGES, nan_box=True):
    rng = np.random.default_rng(seed)
    q, e = 0.5 * (q_edges[1:] + q_edges[:-1]), 0.5 * (e_edges[1:] + e_edges[:-1])
    s = 5.0 * np.exp(-((e[None, :] - 20 - 3 * q[:, None]) ** 2) / 8.0) + rng.random((q.size, e.size))
    if nan_box:
        s[:3, -6:] = np.nan
    return INSMap(s, np.sqrt(np.abs(s)), Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"), MapMetadata(sample="test"))


def test_identity_generator_round_trips_through_normalisation():
    m = make_map()
    out = make_model().apply(m)
    assert isinstance(out, INSMap) and out.same_grid(m)
    np.testing.assert_allclose(out.signal, m.signal, rtol=1e-5, atol=1e-6)  # float32 network
    assert np.array_equal(np.isnan(out.signal), np.isnan(m.signal))


def test_output_takes_the_absolute_scale_of_the_targets():
    m = make_map()
    out = make_model(normaliser=Normaliser(transform="linear", source_scale=2.0, target_scale=6.0)).apply(m)
    np.testing.assert_allclose(out.signal, 3.0 * m.signal, rtol=1e-5, atol=1e-6)


def test_per_map_normalisation_scales_by_the_fitted_ratio():
    m = make_map()
    norm = Normaliser(transform="asinh", per_map=True, source_scale=1.0, target_scale=0.5)
    out = make_model(normaliser=norm).apply(m)
    np.testing.assert_allclose(out.signal, 0.5 * m.signal, rtol=1e-5, atol=1e-6)


def test_model_coverage_sets_nan_and_fills_inside_it():
    m = make_map()
    cover = np.ones(m.shape, bool)
    cover[-4:, -10:] = False  # e.g. the kinematic limit of the target instrument
    model = make_model(coverage_mask=cover)
    out = model.apply(m)
    assert np.array_equal(np.isnan(out.signal), ~cover)
    # where the input is NaN but the target domain has coverage, the generator fills the bin
    assert np.isfinite(out.signal[:3, -6:]).all()
    blanked = model.apply(m, keep_input_nan=True)
    assert np.array_equal(np.isnan(blanked.signal), ~cover | m.mask)


def test_errors_are_zero_without_a_count_scale_and_poisson_with_one():
    m = make_map()
    out = make_model().apply(m)
    assert np.all(out.error[~out.mask] == 0) and np.all(np.isnan(out.error[out.mask]))
    assert "no uncertainty" in out.metadata.provenance["gan"]["error_model"]
    out = make_model(count_scale=4.0).apply(m)
    np.testing.assert_allclose(out.error[~out.mask], np.sqrt(np.abs(out.signal[~out.mask]) / 4.0))


def test_estimate_count_scale_recovers_the_poisson_scale():
    rng = np.random.default_rng(3)
    counts = rng.poisson(30.0, (4, 20, 25)).astype(float)
    c = 7.5
    stack = MapStack(counts / c, np.sqrt(counts) / c, Axis(Q_EDGES, "MomentumTransfer"), Axis(E_EDGES, "DeltaE"))
    assert estimate_count_scale(stack) == pytest.approx(c)
    assert estimate_count_scale(MapStack(counts, np.zeros_like(counts), stack.x_axis, stack.e_axis)) is None


def test_provenance_and_metadata():
    m = make_map()
    out = make_model().apply(m)
    rec = out.metadata.provenance["gan"]
    assert rec["network"] == "unet" and rec["rebinned"] is False and len(rec["model_sha256"]) == 16
    assert out.metadata.sample == "test" and out.metadata.instrument == "MERLIN" and out.metadata.ei_meV == 62.0
    assert "gan" not in m.metadata.provenance  # the input is untouched


def test_grid_mismatch_is_refused_naming_both_grids():
    fine = make_map(q_edges=np.linspace(0.0, 4.0, 41))
    with pytest.raises(InsganInputError) as info:
        make_model().apply(fine)
    msg = str(info.value)
    assert "40 bins" in msg and "20 bins" in msg and "rebin" in msg


def test_rebin_to_model_grid_and_back_conserves_intensity():
    fine = make_map(q_edges=np.linspace(0.0, 4.0, 41), e_edges=np.linspace(-5.0, 45.0, 51), nan_box=False)
    out = make_model().apply(fine, rebin=True)
    assert out.same_grid(fine)
    assert out.metadata.provenance["gan"]["rebinned"] is True
    assert out.integrated_intensity()[0] == pytest.approx(fine.integrated_intensity()[0], rel=1e-5)
    # identity model + rebin = block average onto the coarse grid, spread back
    coarse = fine.rebin(x_edges=Q_EDGES, e_edges=E_EDGES)
    np.testing.assert_allclose(out.signal[::2, ::2], coarse.signal, rtol=1e-5)


def test_rebin_refuses_other_units():
    m = make_map()
    path_map = INSMap(m.signal, m.error, Axis(np.linspace(0, 2, 21), "rlu_path"), m.e_axis)
    with pytest.raises(InsganInputError, match="rlu_path"):
        make_model().apply(path_map, rebin=True)


def test_stack_in_batches_equals_single_maps():
    torch.manual_seed(0)
    spec = {"name": "unet", "width": 4, "depth": 2}
    g = build_network(spec)
    with torch.no_grad():  # the untrained U-Net starts as the identity; make it non-trivial
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model = make_model(generator=g, spec=spec)
    maps = [make_map(seed) for seed in range(5)]
    stack = MapStack.from_maps(maps)
    out = model.apply(stack, batch_size=2)
    assert isinstance(out, MapStack) and len(out) == 5
    for i, m in enumerate(maps):
        np.testing.assert_allclose(out.signal[i], model.apply(m).signal, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out.signal[0][~maps[0].mask], maps[0].signal[~maps[0].mask])


def test_bad_inputs():
    m = make_map()
    with pytest.raises(InsganInputError, match="NaN everywhere"):
        make_model().apply(m.with_data(np.full(m.shape, np.nan)))
    with pytest.raises(InsganInputError, match="batch_size"):
        make_model().apply(m, batch_size=0)
    with pytest.raises(InsganInputError, match="INSMap"):
        make_model().apply(m.signal)
    with pytest.raises(InsganInputError, match="coverage_mask"):
        make_model(coverage_mask=np.ones((3, 3), bool))


def test_saved_model_applies_like_the_in_memory_one(tmp_path):
    torch.manual_seed(2)
    spec = {"name": "resnet", "width": 4, "n_blocks": 1}
    g = build_network(spec)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model = make_model(generator=g, spec=spec)
    path = tmp_path / "m.safetensors"
    save_model(path, generator=g, metadata=model.metadata)
    loaded = load_model(path)
    m = make_map()
    np.testing.assert_allclose(loaded.apply(m).signal, model.apply(m).signal, rtol=1e-6, atol=1e-6)
    assert TranslationModel.load(path).weights_digest() == model.weights_digest()
    assert loaded.apply(m).metadata.provenance["gan"]["model_file"] == str(path)


def test_poisson_noise_has_the_count_statistics_of_the_model():
    m = make_map(nan_box=False)
    c = 50.0
    model = make_model(count_scale=c)
    mean = model.apply(m)
    noisy = model.apply(MapStack.from_maps([m] * 40), noise="poisson", seed=3)
    counts = noisy.signal * c
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)  # whole numbers of counts
    # Poisson: mean and variance of the counts both equal c·S in every bin
    lam = c * mean.signal
    assert np.mean(counts.mean(0) - lam) == pytest.approx(0.0, abs=0.02 * lam.mean())
    assert np.mean(counts.var(0, ddof=1)) / np.mean(lam) == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(noisy.error * c, np.sqrt(counts))
    assert "Poisson counting noise" in noisy.metadata[0].provenance["gan"]["error_model"]
    again = model.apply(MapStack.from_maps([m] * 40), noise="poisson", seed=3)
    assert np.array_equal(again.signal, noisy.signal)


def test_poisson_noise_needs_a_count_scale():
    with pytest.raises(InsganInputError, match="count_scale"):
        make_model().apply(make_map(), noise="poisson")
    with pytest.raises(InsganInputError, match="noise"):
        make_model(count_scale=1.0).apply(make_map(), noise="gaussian")
