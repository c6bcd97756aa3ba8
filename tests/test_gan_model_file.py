"""Model files: one .safetensors file, weights + JSON metadata; safe, validated loading."""

import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from insgan_core.errors import InsganFileError, InsganInputError
from insgan_core.gan.model_file import FORMAT_VERSION, METADATA_KEY, load_model, read_metadata, save_model
from insgan_core.gan.networks import build_network
from insgan_core.gan.normalisation import Normaliser

SPEC = {"name": "unet", "width": 4, "depth": 2}


def _metadata(**extra):
    md = {
        "network": dict(SPEC),
        "normaliser": Normaliser(source_scale=2.0, target_scale=3.0).to_dict(),
        "grid": {
            "x_edges": np.linspace(0.0, 4.0, 21),
            "x_unit": "MomentumTransfer",
            "e_edges": np.linspace(-5.0, 45.0, 26),
            "e_unit": "DeltaE",
        },
        "mode": "paired",
        "instrument": "MERLIN",
        "ei_meV": 62.0,
        "training": {"steps": 3, "data_manifest_sha256": "abc"},
        "metrics": {"relative_l1": 0.1},
    }
    md.update(extra)
    return md


@pytest.fixture()
def generator():
    torch.manual_seed(1)
    return build_network(SPEC)


@pytest.fixture()
def model_path(tmp_path, generator):
    path = tmp_path / "model.safetensors"
    save_model(path, generator=generator, metadata=_metadata())
    return path


class _Payload:
    """Unpickling this object calls open(flag, 'w'), i.e. creates the file ``flag``."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (open, (self.flag, "w"))


def test_round_trip_weights_and_metadata(model_path, generator):
    model = load_model(model_path)
    for name, tensor in generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[name], tensor), name
    md = model.metadata
    assert md["format_version"] == FORMAT_VERSION
    assert md["package_version"]
    assert md["network"] == SPEC
    assert md["instrument"] == "MERLIN" and md["ei_meV"] == 62.0
    np.testing.assert_allclose(md["grid"]["x_edges"], np.linspace(0.0, 4.0, 21))
    assert Normaliser.from_dict(md["normaliser"]).target_scale == 3.0
    assert read_metadata(model_path) == md


def test_file_is_plain_safetensors_with_one_json_string(model_path):
    from safetensors import safe_open

    with safe_open(str(model_path), framework="pt") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert set(meta) == {METADATA_KEY}
    assert json.loads(meta[METADATA_KEY])["mode"] == "paired"
    assert "outc.weight" in keys


def test_atomic_write_leaves_no_temporary_files_and_replaces(tmp_path, generator, model_path):
    save_model(model_path, generator=generator, metadata=_metadata(mode="unpaired"))
    assert read_metadata(model_path)["mode"] == "unpaired"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_save_refuses_incomplete_or_unserialisable_metadata(tmp_path, generator):
    md = _metadata()
    del md["grid"]
    with pytest.raises(InsganInputError, match="grid"):
        save_model(tmp_path / "m.safetensors", generator=generator, metadata=md)
    with pytest.raises(InsganInputError, match="JSON"):
        save_model(tmp_path / "m.safetensors", generator=generator, metadata=_metadata(extra=object()))
    assert not (tmp_path / "m.safetensors").exists()


def test_pickle_payload_renamed_is_refused_without_executing(tmp_path):
    # positive control: unpickling this payload really creates its flag file
    control_flag = tmp_path / "control_flag"
    pickle.loads(pickle.dumps(_Payload(control_flag)))
    assert control_flag.exists()

    flag = tmp_path / "pwned"
    for protocol in (2, 4, 5):
        bad = tmp_path / f"evil{protocol}.safetensors"
        bad.write_bytes(pickle.dumps({"state_dict": _Payload(flag)}, protocol=protocol))
        with pytest.raises(InsganFileError) as info:
            load_model(bad)
        assert str(bad) in str(info.value)
        with pytest.raises(InsganFileError):
            read_metadata(bad)
    assert not flag.exists()


def test_torch_save_zip_renamed_is_refused_without_executing(tmp_path):
    flag = tmp_path / "pwned_zip"
    bad = tmp_path / "evil_zip.safetensors"
    torch.save({"payload": _Payload(flag)}, bad)  # a zip archive holding a pickle
    assert not flag.exists()
    with pytest.raises(InsganFileError, match="pickle"):
        load_model(bad)
    assert not flag.exists()


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -1, -100])
def test_truncated_files_are_refused(tmp_path, model_path, keep):
    data = model_path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(InsganFileError) as info:
        load_model(cut)
    assert str(cut) in str(info.value)


def test_trailing_garbage_is_refused(tmp_path, model_path):
    bad = tmp_path / "trailing.safetensors"
    bad.write_bytes(model_path.read_bytes() + b"\x00" * 16)
    with pytest.raises(InsganFileError, match="trailing"):
        load_model(bad)


def test_corrupt_header_is_refused(tmp_path, model_path):
    data = bytearray(model_path.read_bytes())
    data[9:14] = b"\xff\xfe{{{"
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(InsganFileError, match="JSON"):
        load_model(bad)


def test_wrong_header_length_is_refused(tmp_path, model_path):
    data = bytearray(model_path.read_bytes())
    data[:8] = struct.pack("<Q", 2**40)
    bad = tmp_path / "length.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(InsganFileError, match="header length"):
        load_model(bad)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(InsganFileError, match="not written by insgan"):
        load_model(foreign)


def test_newer_format_version_is_refused(tmp_path, generator):
    from safetensors.torch import save as st_save

    md = _metadata()
    md["format_version"] = FORMAT_VERSION + 1
    md["grid"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in md["grid"].items()}
    tensors = {k: v.contiguous() for k, v in generator.state_dict().items()}
    newer = tmp_path / "newer.safetensors"
    newer.write_bytes(st_save(tensors, metadata={METADATA_KEY: json.dumps(md)}))
    with pytest.raises(InsganFileError, match="newer") as info:
        load_model(newer)
    assert "upgrade" in str(info.value)


def test_weights_not_matching_the_network_spec_are_refused(tmp_path):
    big = build_network({"name": "unet", "width": 8, "depth": 2})
    path = tmp_path / "mismatch.safetensors"
    save_model(path, generator=big, metadata=_metadata())  # metadata says width 4
    with pytest.raises(InsganFileError, match="do not match"):
        load_model(path)


def test_unknown_network_name_is_refused(tmp_path, generator):
    path = tmp_path / "unknown.safetensors"
    save_model(path, generator=generator, metadata=_metadata(network={"name": "transformer9000"}))
    with pytest.raises(InsganFileError, match="transformer9000"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(InsganFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    assert not os.path.exists(tmp_path / "nope.safetensors")
