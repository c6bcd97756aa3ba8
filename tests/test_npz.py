"""The .npz interchange format: exact round trip, no pickle, clear errors."""

import numpy as np
import pytest

from insgan_core.data import Axis, INSMap, MapMetadata
from insgan_core.data.io import load, load_npz, save, save_npz
from insgan_core.errors import InsganFileError


def sample_map():
    rng = np.random.default_rng(0)
    s = rng.random((8, 9))
    s[0, :4] = np.nan
    md = MapMetadata(instrument="LET", ei_meV=3.7, temperature_K=1.5, sample="chain", provenance={"J1": -1.0, "tags": ["a"]})
    return INSMap(s, rng.random((8, 9)), Axis(np.linspace(0, 2, 9), "rlu_path", ((0.0, "Γ"), (2.0, "X"))), Axis(np.linspace(-1, 3, 10), "DeltaE"), md, distribution=False)


def test_round_trip_exact(tmp_path):
    m = sample_map()
    save(m, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.signal, m.signal)
    np.testing.assert_array_equal(back.error, m.error)
    np.testing.assert_array_equal(back.x_axis.edges, m.x_axis.edges)
    np.testing.assert_array_equal(back.e_axis.edges, m.e_axis.edges)
    assert back.x_axis.unit == "rlu_path" and back.x_axis.tick_labels == m.x_axis.tick_labels
    assert back.distribution is False
    assert back.metadata.to_dict() == m.metadata.to_dict()


def test_file_holds_no_pickled_objects(tmp_path):
    save_npz(sample_map(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["e_edges", "error", "header", "signal", "x_edges"]
        assert all(z[k].dtype != object for k in z.files)


def test_bad_npz_files(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(InsganFileError, match="missing array"):
        load_npz(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(InsganFileError, match="not a readable .npz"):
        load(tmp_path / "broken.npz")
    m = sample_map()
    np.savez(tmp_path / "shape.npz", signal=np.ones((2, 2)), error=np.ones((2, 2)), x_edges=m.x_axis.edges, e_edges=m.e_axis.edges,
             header=np.array('{"format": "insgan-map", "x_unit": "MomentumTransfer"}'))
    with pytest.raises(InsganFileError, match="shape"):
        load_npz(tmp_path / "shape.npz")
    with pytest.raises(InsganFileError, match="not found"):
        load_npz(tmp_path / "missing.npz")
