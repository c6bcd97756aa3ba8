"""``insgan convert`` and ``insgan plot`` run in-process on the real files."""

import numpy as np
import pytest

from insgan_core.cli.main import main
from insgan_core.data import INSMap
from insgan_core.data.io import load, load_nxspe
from insgan_core.data.reduction import powder_map


def test_convert_to_nexus_matches_library_call(bi2fe4o9_5k, tmp_path):
    out = tmp_path / "bfo.nxs"
    code = main(["--quiet", "convert", str(bi2fe4o9_5k), "--q-bins", "0,0.05,7", "--e-bins=-10,0.5,55", "-o", str(out)])
    assert code == 0
    m = load(out)
    assert isinstance(m, INSMap) and m.shape == (140, 130)
    ref = powder_map(load_nxspe(bi2fe4o9_5k), q_edges="0,0.05,7", e_edges="-10,0.5,55")
    np.testing.assert_array_equal(m.signal, ref.signal)
    assert m.metadata.instrument == "MERLIN"
    assert m.metadata.provenance["reduction"]["method"] == "polygon"


def test_convert_centre_method_to_npz_and_rebin_a_map(bi2fe4o9_5k, tmp_path):
    out = tmp_path / "bfo.npz"
    assert main(["-q", "convert", str(bi2fe4o9_5k), "--q-bins", "0,0.1,6", "--method", "centre", "-o", str(out)]) == 0
    m = load(out)
    assert m.metadata.provenance["reduction"]["method"] == "centre"
    assert m.e_axis.size == 220  # input energy bins kept
    again = tmp_path / "coarse.nxs"
    assert main(["-q", "convert", str(out), "--q-bins", "0,0.5,6", "--e-bins=-15,5,50", "-o", str(again)]) == 0
    assert load(again).shape == (12, 13)


def test_plot_detector_space_and_map(bi2fe4o9_5k, experimental_dir, tmp_path):
    fig1 = tmp_path / "det.png"
    assert main(["-q", "plot", str(bi2fe4o9_5k), "-o", str(fig1), "--log"]) == 0
    assert fig1.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig2 = tmp_path / "al.svg"
    assert main(["-q", "plot", str(experimental_dir / "aluminium_Ei60.nxspe"), "-o", str(fig2), "--q-bins", "0,0.1,9"]) == 0
    assert b"<svg" in fig2.read_bytes()[:500]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["convert", "{bfo}", "--q-bins", "0,0,7", "-o", "{tmp}/x.nxs"], "step must be > 0"),
        (["convert", "{bfo}", "--q-bins", "0,0.1,7", "-o", "{tmp}/x.txt"], ".nxs"),
        (["convert", "{tmp}/missing.nxspe", "--q-bins", "0,0.1,7", "-o", "{tmp}/x.nxs"], "file not found"),
        (["convert", "{bfo}", "--q-bins", "0,0.1,7", "--e-bins", "70,1,80", "-o", "{tmp}/x.nxs"], ">= Ei"),
        (["plot", "{bfo}", "-o", "{tmp}/x.png", "--q-bins", "a,b,c"], "cannot read"),
        (["plot", "{bfo}", "-o", "{tmp}/nodir/x.png"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_message(bi2fe4o9_5k, tmp_path, capsys, argv, fragment):
    argv = [a.format(bfo=bi2fe4o9_5k, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert not (tmp_path / "x.nxs").exists()


def test_help_shows_example(capsys):
    assert main(["convert", "--help"]) == 0
    assert "example: insgan convert" in capsys.readouterr().out
