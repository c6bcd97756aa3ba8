"""Hostile model and config files are refused cleanly: nothing executed, no large allocation.

Pickle payloads renamed .safetensors, a giant safetensors header length, absurd tensor shapes, YAML
Python tags, alias bombs ("billion laughs"), very deep nesting and oversized YAML files.
"""

import pickle
import struct
import tracemalloc

import pytest

from insgan_core.cli.main import main
from insgan_core.data.io.yaml_file import MAX_YAML_BYTES, load_yaml
from insgan_core.errors import InsganFileError
from insgan_core.gan.model_file import load_model, read_metadata
from insgan_core.spinwave import load_model as load_spinwave_model

BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    + ["lattice: {a: 1, b: 1, c: 1}", "sites: *i", "bonds: *i", ""]
)


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # creating the marker file would prove execution


def _peak_mib(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def _refused(fn, match):
    def call():
        with pytest.raises(InsganFileError, match=match):
            fn()
    return call


def test_pickle_payload_renamed_safetensors_is_not_unpickled(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Payload(marker)))
    for fn in (read_metadata, load_model):
        with pytest.raises(InsganFileError, match="model.safetensors") as info:
            fn(path)
        assert "header length" in str(info.value) or "too short" in str(info.value)
    assert not marker.exists()
    # a torch.save zip file (pickle inside) renamed .safetensors
    import torch

    zipped = tmp_path / "torch.safetensors"
    torch.save({"w": torch.zeros(2)}, zipped)
    with pytest.raises(InsganFileError, match="torch.safetensors"):
        load_model(zipped)


def test_giant_header_length_allocates_nothing(tmp_path):
    path = tmp_path / "giant.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}" + b"\0" * 64)
    assert _peak_mib(_refused(lambda: load_model(path), "header length")) < 20


def test_absurd_tensor_shapes_are_refused_before_reading(tmp_path):
    import json

    md = {"format_version": 1, "network": {"name": "unet"}, "normaliser": {}, "grid": {"x_edges": [0, 1], "x_unit": "MomentumTransfer", "e_edges": [0, 1], "e_unit": "DeltaE"}}
    for shape in ([10**9, 10**9], [-1, 4], [2**62, 2**62, 2**62]):
        header = json.dumps({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 16]},
                             "__metadata__": {"insgan": json.dumps(md)}}).encode()
        path = tmp_path / "absurd.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
        assert _peak_mib(_refused(lambda: load_model(path), "inconsistent offsets|malformed")) < 20


def test_yaml_python_tags_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    for tag in ("!!python/object/apply:os.system", "!!python/object/new:os.system", "!!python/name:os.system"):
        path = tmp_path / "model.yaml"
        path.write_text(f"lattice: {tag} ['touch {marker}']\nsites: []\nbonds: []\n")
        with pytest.raises(InsganFileError, match="model.yaml.*not valid YAML"):
            load_spinwave_model(path)
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly_and_without_memory(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    assert _peak_mib(_refused(lambda: load_spinwave_model(path), "bomb.yaml.*expands to more than")) < 20
    assert _peak_mib(_refused(lambda: load_yaml(path, what="dataset config"), "dataset config")) < 20


def test_deep_nesting_and_oversized_yaml_are_refused(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(InsganFileError, match="deep.yaml.*nested"):
        load_spinwave_model(deep)
    huge = tmp_path / "huge.yaml"
    huge.write_text("x: [" + "1," * (MAX_YAML_BYTES // 2) + "1]\n")
    with pytest.raises(InsganFileError, match="huge.yaml.*bytes"):
        load_spinwave_model(huge)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\xff\xfe lattice")
    with pytest.raises(InsganFileError, match="binary.yaml"):
        load_spinwave_model(binary)


def test_ordinary_anchors_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("common: &c {a: 1, b: [1, 2]}\nfirst: *c\nsecond: *c\n")
    assert load_yaml(path) == {"common": {"a": 1, "b": [1, 2]}, "first": {"a": 1, "b": [1, 2]},
                               "second": {"a": 1, "b": [1, 2]}}


@pytest.mark.parametrize("command", ["simulate", "make-dataset"])
def test_cli_refuses_hostile_yaml_with_exit_2(tmp_path, capsys, command):
    marker = tmp_path / "pwned"
    bomb, tag = tmp_path / "bomb.yaml", tmp_path / "tag.yaml"
    bomb.write_text(BILLION_LAUGHS)
    tag.write_text(f"seed: !!python/object/apply:os.system ['touch {marker}']\n")
    for path in (bomb, tag):
        if command == "simulate":
            argv = ["simulate", str(path), "--q-bins", "0.1,0.1,2", "--e-bins", "0,1,10", "-o", str(tmp_path / "o.nxs")]
        else:
            argv = ["make-dataset", str(path), "-o", str(tmp_path / "set")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "internal error" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "o.nxs").exists()
