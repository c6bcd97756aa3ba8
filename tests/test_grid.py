"""Bin-edge axes, Mantid binning strings and 1-D overlap matrices."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insgan_core.data.grid import Axis, parse_binning
from insgan_core.data.rebin import overlap_matrix
from insgan_core.errors import InsganInputError


def test_parse_binning_whole_number_of_steps():
    edges = parse_binning("0,0.5,2", name="q")
    np.testing.assert_allclose(edges, [0, 0.5, 1.0, 1.5, 2.0])


def test_parse_binning_last_bin_shortened_like_mantid():
    edges = parse_binning("-10,3,0")
    np.testing.assert_allclose(edges, [-10, -7, -4, -1, 0])


def test_parse_binning_accepts_sequence():
    np.testing.assert_allclose(parse_binning((1, 1, 3)), [1, 2, 3])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0,0.1", "three numbers"),
        ("0,a,1", "cannot read"),
        ("0,0,1", "step must be > 0"),
        ("0,-0.1,1", "step must be > 0"),
        ("1,0.1,0", "must be greater than start"),
        ("0,nan,1", "finite"),
        ("", "cannot read"),
    ],
)
def test_parse_binning_rejects_bad_strings_with_named_option(text, fragment):
    with pytest.raises(InsganInputError) as info:
        parse_binning(text, name="--q-bins")
    assert "--q-bins" in str(info.value)
    assert fragment in str(info.value)


def test_axis_properties_and_label():
    ax = Axis([0.0, 1.0, 3.0], "MomentumTransfer")
    np.testing.assert_allclose(ax.centres, [0.5, 2.0])
    np.testing.assert_allclose(ax.widths, [1.0, 2.0])
    assert ax.size == 2
    assert ax.label == "|Q| (Å⁻¹)"
    assert Axis([0, 1], "DeltaE").label == "Energy transfer (meV)"


def test_axis_equality_with_tolerance():
    a = Axis(np.linspace(0, 5, 11), "DeltaE")
    assert a.equals(Axis(np.linspace(0, 5, 11) + 1e-12, "DeltaE"))
    assert not a.equals(Axis(np.linspace(0, 5, 11) + 1e-3, "DeltaE"))
    assert not a.equals(Axis(np.linspace(0, 5, 11), "MomentumTransfer"))
    assert not a.equals(Axis(np.linspace(0, 5, 12), "DeltaE"))


@pytest.mark.parametrize("edges", [[1.0], [0, 0, 1], [0, 2, 1], [0, np.nan, 1]])
def test_axis_rejects_bad_edges(edges):
    with pytest.raises(InsganInputError):
        Axis(edges, "DeltaE")


def test_overlap_matrix_simple_case():
    w = overlap_matrix(np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5, 3.0]))
    np.testing.assert_allclose(w, [[0.5, 0.5], [0.0, 0.5]])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.01, 1.0), min_size=1, max_size=20),
    st.lists(st.floats(0.01, 1.0), min_size=1, max_size=20),
    st.floats(-0.5, 0.5),
)
def test_overlap_matrix_sums_to_the_covered_lengths(old_w, new_w, shift):
    old = np.concatenate([[0.0], np.cumsum(old_w)])
    new = shift + np.concatenate([[0.0], np.cumsum(new_w)])
    w = overlap_matrix(old, new)
    assert np.all(w >= 0)
    # each old bin's overlaps add up to the part of it inside the new range
    inside = np.clip(np.minimum(old[1:], new[-1]) - np.maximum(old[:-1], new[0]), 0, None)
    np.testing.assert_allclose(w.sum(axis=0), inside, atol=1e-12)
