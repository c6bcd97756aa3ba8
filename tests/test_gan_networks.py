"""Network registry and generator/discriminator contracts (any map size, mask channel, PatchNCE features)."""

import pytest
import torch

from insgan_core.errors import InsganInputError
from insgan_core.gan.networks import available_networks, build_network, count_parameters

GENERATOR_SPECS = [
    {"name": "unet"},
    {"name": "unet", "width": 4, "depth": 2, "norm": "instance"},
    {"name": "resnet", "width": 4, "n_blocks": 2},
    {"name": "resnet", "width": 4, "n_blocks": 1, "n_downsampling": 3, "norm": "batch"},
]


def test_registry_lists_all_networks():
    assert available_networks() == ["patchgan", "resnet", "unet"]


def test_unknown_name_lists_known_networks():
    with pytest.raises(InsganInputError, match="unknown network 'vgg'.*patchgan, resnet, unet"):
        build_network({"name": "vgg"})


def test_unknown_option_names_accepted_options():
    with pytest.raises(InsganInputError, match="unknown option.*colour.*accepted options:.*width"):
        build_network({"name": "unet", "colour": 3})


def test_spec_without_name_is_refused():
    with pytest.raises(InsganInputError, match="'name'"):
        build_network({"width": 8})


def test_bad_norm_is_refused():
    with pytest.raises(InsganInputError, match="norm"):
        build_network({"name": "unet", "norm": "layer"})


@pytest.mark.parametrize("spec", GENERATOR_SPECS, ids=lambda s: "-".join(f"{v}" for v in s.values()))
@pytest.mark.parametrize("hw", [(32, 32), (37, 45), (9, 70)])
def test_generator_any_size_in_two_channels_out_one(spec, hw):
    torch.manual_seed(0)
    g = build_network(spec)
    x = torch.randn(2, 2, *hw)
    y = g(x)
    assert y.shape == (2, 1, *hw)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("spec", GENERATOR_SPECS[:1] + GENERATOR_SPECS[2:3])
def test_residual_generator_starts_at_identity(spec):
    g = build_network(spec)
    x = torch.randn(1, 2, 20, 24)
    assert torch.equal(g(x), x[:, :1])


@pytest.mark.parametrize("spec", GENERATOR_SPECS[:1] + GENERATOR_SPECS[2:3])
def test_generator_reads_the_mask_channel(spec):
    torch.manual_seed(1)
    g = build_network({**spec, "residual": False})
    x = torch.randn(1, 2, 16, 16)
    x2 = x.clone()
    x2[:, 1] = 1 - x2[:, 1]
    assert not torch.allclose(g(x), g(x2))


@pytest.mark.parametrize("spec", GENERATOR_SPECS)
def test_encoder_features_for_patchnce(spec):
    g = build_network(spec)
    x, size = g.pad_input(torch.randn(2, 2, 30, 41))
    assert size == (30, 41)
    layers = g.default_feature_layers()
    feats = g.encode_features(x, layers=layers)
    assert len(feats) == len(layers) >= 2
    for f, layer in zip(feats, layers):
        assert f.shape[0] == 2 and f.shape[1] == g.feature_channels[layer]
    assert feats[0].shape[-2:] == x.shape[-2:]  # first feature map at full (padded) resolution


def test_backward_reaches_every_generator_parameter():
    g = build_network({"name": "unet", "width": 4, "depth": 2, "residual": False})
    g(torch.randn(2, 2, 16, 16)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())


def test_exp2simgan_sized_resnet_is_selectable():
    # Exp2SimGAN generators: ResNet 9 blocks, width 64, ~11.4 M parameters each (Anker et al. 2023)
    g = build_network({"name": "resnet", "width": 64, "n_blocks": 9})
    assert 11.0e6 < count_parameters(g) < 11.8e6


def test_default_generator_is_small():
    assert count_parameters(build_network({"name": "unet"})) < 300_000


@pytest.mark.parametrize("hw", [(16, 16), (32, 48), (70, 33)])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_patchgan_any_size(hw, in_channels):
    d = build_network({"name": "patchgan", "in_channels": in_channels, "width": 8})
    d.train()
    out = d(torch.randn(2, in_channels, *hw))
    assert out.ndim == 4 and out.shape[:2] == (2, 1) and min(out.shape[-2:]) >= 1
    assert torch.isfinite(out).all()


def test_patchgan_receptive_field_is_local():
    # a change in one corner must not affect the score of a patch far away (fully convolutional, 70-px RF)
    d = build_network({"name": "patchgan", "width": 8, "norm": "none"})
    x = torch.randn(1, 1, 128, 128)
    x2 = x.clone()
    x2[..., :4, :4] += 10
    o1, o2 = d(x), d(x2)
    assert not torch.allclose(o1[..., :2, :2], o2[..., :2, :2])
    assert torch.allclose(o1[..., -3:, -3:], o2[..., -3:, -3:])
