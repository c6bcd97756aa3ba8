"""Normaliser: exact inversion, absolute scale, NaN handling, serialisation."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from insgan_core.data import Axis, MapStack
from insgan_core.errors import InsganInputError
from insgan_core.gan.normalisation import Normaliser, coverage


def _maps(seed=0, n=4, shape=(10, 12)):
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.7, 3.0, (n, *shape))
    x[:, 0, :4] = np.nan
    x[0, 3, 3] = -2.5  # background-subtracted data can be negative
    return x


@pytest.mark.parametrize("transform", ["asinh", "log1p", "linear"])
@pytest.mark.parametrize("per_map", [False, True])
@pytest.mark.parametrize("quantile", [None, 0.9])
def test_round_trip_numpy_and_torch(transform, per_map, quantile):
    x = _maps()
    n = Normaliser(transform=transform, per_map=per_map, quantile=quantile).fit(x, 5 * x)
    for dom in ("source", "target"):
        y = n.forward(x, domain=dom, reference=x)
        back = n.inverse(y, domain=dom, reference=x)
        ok = ~np.isnan(x)
        np.testing.assert_allclose(back[ok], x[ok], rtol=1e-12, atol=1e-12)
        yt = n.forward(torch.as_tensor(x), domain=dom, reference=torch.as_tensor(x))
        assert isinstance(yt, torch.Tensor)
        np.testing.assert_allclose(yt.numpy(), y, rtol=1e-12, atol=1e-12)


def test_nan_becomes_zero_and_mask_channel_zero():
    x = _maps()
    n = Normaliser().fit(x)
    enc = n.encode(x)
    assert enc.shape == (4, 2, 10, 12) and enc.dtype == np.float32
    assert np.all(enc[:, 0][np.isnan(x)] == 0)
    np.testing.assert_array_equal(enc[:, 1], (~np.isnan(x)).astype(np.float32))
    assert np.isfinite(enc).all()
    enc_t = n.encode(torch.as_tensor(x))
    np.testing.assert_allclose(enc_t.numpy(), enc, rtol=1e-6)
    np.testing.assert_array_equal(coverage(x), enc[:, 1])


def test_fitted_scales_carry_absolute_units():
    x = _maps()
    n = Normaliser().fit(MapStack(x, None, Axis(np.arange(11.0), "MomentumTransfer"), Axis(np.arange(13.0), "DeltaE")), 7.0 * x)
    assert n.target_scale == pytest.approx(7.0 * n.source_scale, rel=1e-12)
    # the same normalised map decodes to 7x the intensity in target units: absolute scale is kept
    y = n.forward(x)
    np.testing.assert_allclose(n.inverse(y, domain="target"), 7.0 * np.nan_to_num(x), rtol=1e-12, atol=1e-12)
    # global scale: a brighter map looks brighter to the network
    assert np.nanmean(n.forward(3 * x)) > np.nanmean(n.forward(x))


def test_per_map_scale_follows_the_source_map():
    x = _maps()
    n = Normaliser(per_map=True).fit(x, 2.0 * x)
    # a map 10x brighter normalises to the same network input ...
    np.testing.assert_allclose(n.forward(10 * x), n.forward(x), rtol=1e-12, atol=1e-12)
    # ... and its output comes back 10x brighter, times the fitted target/source ratio 2
    y = n.forward(x)
    np.testing.assert_allclose(n.inverse(y, reference=10 * x), 20 * np.nan_to_num(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(InsganInputError, match="reference"):
        n.inverse(y)


def test_asinh_compresses_dynamic_range():
    n = Normaliser(source_scale=1.0)
    y = n.forward(np.array([[0.01, 1.0, 1e4]]))
    assert y[0, 0] == pytest.approx(0.01, rel=1e-4)  # linear near zero
    assert y[0, 2] == pytest.approx(np.log(2e4), rel=1e-6)  # logarithmic for |x| >> s
    log1p = Normaliser(transform="log1p").forward(np.array([[-1e4, 1e4]]))
    np.testing.assert_allclose(log1p, [[-np.log1p(1e4), np.log1p(1e4)]])


def test_all_zero_map_gets_a_usable_scale():
    n = Normaliser(per_map=True)
    assert n.map_scale(np.zeros((2, 5, 5))).tolist() == [1.0, 1.0]
    assert n.map_scale(torch.zeros(5, 5)).item() == 1.0


def test_dict_round_trip_is_json():
    n = Normaliser(transform="log1p", per_map=True, quantile=0.95).fit(_maps(), 3 * _maps())
    d = json.loads(json.dumps(n.to_dict()))
    assert Normaliser.from_dict(d) == n


def test_bad_parameters_are_refused():
    with pytest.raises(InsganInputError, match="transform"):
        Normaliser(transform="sqrt")
    with pytest.raises(InsganInputError, match="quantile"):
        Normaliser(quantile=1.5)
    with pytest.raises(InsganInputError, match="source_scale"):
        Normaliser(source_scale=0.0)
    with pytest.raises(InsganInputError, match="unknown field"):
        Normaliser.from_dict({"transform": "asinh", "gamma": 2})
    with pytest.raises(InsganInputError, match="domain"):
        Normaliser().forward(np.ones((3, 3)), domain="sample")


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (3, 4, 5), elements=st.floats(-1e6, 1e6, allow_nan=False)),
    st.sampled_from(["asinh", "log1p"]),
    st.floats(1e-3, 1e3),
)
def test_inverse_is_exact_for_any_values(x, transform, scale):
    n = Normaliser(transform=transform, source_scale=scale, target_scale=scale)
    np.testing.assert_allclose(n.inverse(n.forward(x)), x, rtol=1e-9, atol=1e-9 * scale)


def test_shared_scale_makes_identity_the_physical_identity():
    x = _maps()
    n = Normaliser(shared_scale=True).fit(x, 4.0 * x)
    assert n.source_scale == n.target_scale == pytest.approx(Normaliser().fit(4.0 * x).source_scale)
    ok = ~np.isnan(x)
    np.testing.assert_allclose(n.inverse(n.forward(x), domain="target")[ok], x[ok], rtol=1e-12)
