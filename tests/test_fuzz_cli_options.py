"""Command-line hardening: Mantid-style negative binning, option checks, empty outputs, size limits,
and the top-level error messages (no internal exception text reaches a user)."""

import h5py
import numpy as np
import pytest

from insgan_core.cli import main as cli_main
from insgan_core.cli._argv import attach_negative_values, value_options
from insgan_core.cli.main import get_parser, main
from insgan_core.data.io import load


def err_of(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return err


def test_every_binning_option_accepts_a_negative_start_without_equals():
    parser = get_parser()
    options = value_options(parser)
    binning = {o for sub in parser._subparsers._group_actions[0].choices.values() for a in sub._actions
               if a.metavar == "START,STEP,END" for o in a.option_strings}
    assert {"--q-bins", "--e-bins"} <= binning <= options
    for command, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:  # parse the binning option alone: nothing else required
            action.required = False
            if not action.option_strings and action.nargs is None:
                action.nargs = "?"
        for action in sub._actions:
            if action.metavar != "START,STEP,END":
                continue
            argv = attach_negative_values([command, action.option_strings[0], "-10,0.5,50"], options)
            parsed, _ = sub.parse_known_args(argv[1:])
            assert getattr(parsed, action.dest) == "-10,0.5,50", (command, action.option_strings)
    assert attach_negative_values(["--e-bins", "-10,0.5,50", "--", "--e-bins", "-1"], options) == [
        "--e-bins=-10,0.5,50", "--", "--e-bins", "-1"]
    assert attach_negative_values(["--e-bins", "-o"], options) == ["--e-bins", "-o"]  # a flag stays a flag
    if "--mask-e" in options:  # ranges such as insgan fit --mask-e -5:5
        assert attach_negative_values(["--mask-e", "-5:5"], options) == ["--mask-e=-5:5"]


def test_negative_binning_runs_convert_plot_and_simulate(bi2fe4o9_5k, tmp_path):
    out = tmp_path / "a.nxs"
    assert main(["-q", "convert", str(bi2fe4o9_5k), "--q-bins", "0,0.1,6", "--e-bins", "-10,0.5,50", "-o", str(out)]) == 0
    assert load(out).e_axis.edges[0] == -10
    assert main(["-q", "plot", str(bi2fe4o9_5k), "-o", str(tmp_path / "a.png"), "--q-bins", "0,0.1,6",
                 "--e-bins", "-10,1,50", "--vmin", "-1e-3", "--vmax", "5"]) == 0
    sim = tmp_path / "s.nxs"
    assert main(["-q", "simulate", "afm_chain", "--directions", "5", "--q-bins", "0.1,0.2,3", "--e-bins", "-5,1,20",
                 "-o", str(sim)]) == 0
    assert load(sim).e_axis.edges[0] == -5


def test_bare_insgan_prints_usage_to_stderr(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("usage: insgan") and "COMMAND" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("opts, fragment", [
    (["--vmin", "5", "--vmax", "1"], "--vmin (5) must be smaller than --vmax (1)"),
    (["--vmin", "2", "--vmax", "2"], "must be smaller"),
    (["--vmin", "nan"], "--vmin: must be a finite number"),
    (["--vmax", "inf"], "--vmax: must be a finite number"),
    (["--log", "--vmin", "0"], "--vmin: must be > 0 with --log"),
    (["--log", "--vmin", "-1"], "--vmin: must be > 0 with --log"),
    (["--dpi", "100000"], "--dpi: must be between 1 and"),
    (["--e-bins", "0,1,10"], "only used with --q-bins"),
    (["--q-bins", "12,0.1,13"], "lies outside the kinematic range"),
])
def test_plot_options_are_checked(bi2fe4o9_5k, tmp_path, capsys, opts, fragment):
    fig = tmp_path / "x.png"
    assert main(["plot", str(bi2fe4o9_5k), "-o", str(fig), *opts]) == 2
    assert fragment in err_of(capsys)
    assert not fig.exists()


def test_convert_never_writes_an_empty_map(bi2fe4o9_5k, tmp_path, capsys):
    out = tmp_path / "x.nxs"
    assert main(["convert", str(bi2fe4o9_5k), "--q-bins", "12,0.1,13", "-o", str(out)]) == 2
    err = err_of(capsys)
    assert str(bi2fe4o9_5k) in err
    assert "the requested |Q| range 12–13 Å⁻¹ lies outside the kinematic range 0.38–11 Å⁻¹ of this file" in err
    assert main(["convert", str(bi2fe4o9_5k), "--q-bins", "0,0.1,6", "--e-bins", "-300,1,-200", "-o", str(out)]) == 2
    assert "the requested energy range -300–-200 meV lies outside the energy range -15.5–52.7 meV" in err_of(capsys)
    assert not out.exists()


@pytest.mark.parametrize("e_bins, fragment", [
    ("-10,1e298,1e300", "goes beyond Ei = 62.0967 meV"),
    ("-10,0.5,1e300", "more than the limit of 1,000,000"),
    ("0,0.5,62.5", "goes beyond Ei"),
    ("70,1,80", ">= Ei"),
])
def test_energy_range_beyond_ei_is_refused(bi2fe4o9_5k, tmp_path, capsys, e_bins, fragment):
    assert main(["convert", str(bi2fe4o9_5k), "--q-bins", "0,0.1,6", "--e-bins", e_bins, "-o", str(tmp_path / "x.nxs")]) == 2
    assert fragment in err_of(capsys)


def test_simulate_ei_below_the_energy_range_is_refused(tmp_path, capsys):
    argv = ["simulate", "afm_chain", "--directions", "5", "--q-bins", "0.1,0.2,3", "--e-bins", "0,1,20",
            "-o", str(tmp_path / "x.nxs")]
    assert main([*argv, "--ei", "5"]) == 2
    assert "--ei: the energy range 0–20 meV goes beyond Ei = 5 meV" in err_of(capsys)
    for opts, fragment in ((["--directions", "0"], "--directions"), (["--temperature", "nan"], "--temperature"),
                           (["--fwhm", "-1"], "--fwhm")):
        assert main([*argv, *opts]) == 2
        assert fragment in err_of(capsys)


def test_binning_and_memory_limits(bi2fe4o9_5k, tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.nxs"
    assert main(["convert", str(bi2fe4o9_5k), "--q-bins", "0,1e-9,6", "-o", str(out)]) == 2
    assert "--q-bins: '0,1e-9,6' makes 6e+09 bins, more than the limit of 1,000,000" in err_of(capsys)
    monkeypatch.setenv("INSGAN_MEMORY_LIMIT_GIB", "0.01")
    assert main(["convert", str(bi2fe4o9_5k), "--q-bins", "0,0.001,6", "--e-bins", "-10,0.01,50", "-o", str(out)]) == 2
    err = err_of(capsys)
    assert "q_bins x e_bins: 6000 x 6000 bins: needs about" in err and "INSGAN_MEMORY_LIMIT_GIB" in err
    assert not out.exists()


def test_wide_detectors_cannot_run_away(bi2fe4o9_5k, tmp_path, capsys, monkeypatch):
    """Every detector 180° wide (each pixel overlaps every |Q| bin): bounded by the memory estimate."""
    path = tmp_path / "wide.nxspe"
    path.write_bytes(bi2fe4o9_5k.read_bytes())
    with h5py.File(path, "r+") as f:
        entry = next(iter(f.values()))
        entry["data/polar_width"][...] = 180.0
    monkeypatch.setenv("INSGAN_MEMORY_LIMIT_GIB", "0.05")
    assert main(["convert", str(path), "--q-bins", "0,0.01,11", "-o", str(tmp_path / "x.nxs")]) == 2
    assert "powder reduction: pixel overlaps" in err_of(capsys)


def test_failures_become_named_one_line_messages(monkeypatch, capsys):
    parser = get_parser()
    monkeypatch.setattr(cli_main, "get_parser", lambda: parser)
    plot = parser._subparsers._group_actions[0].choices["plot"]

    def out_of_memory(args):
        np.zeros  # noqa: B018
        raise MemoryError("Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64")

    plot.set_defaults(func=out_of_memory)
    assert main(["plot", "x.nxs", "-o", "x.png"]) == 1
    err = capsys.readouterr().err
    assert "not enough memory" in err and "7.45 GiB" in err and "(1000000000,)" in err and "MemoryError" not in err

    def unreadable(args):
        raise PermissionError(13, "Permission denied", "/data/run.nxspe")

    plot.set_defaults(func=unreadable)
    assert main(["plot", "x.nxs", "-o", "x.png"]) == 1
    assert capsys.readouterr().err.strip() == "insgan plot: error: /data/run.nxspe: Permission denied"

    def bug(args):
        raise KeyError("unexpected\nsecond line")

    plot.set_defaults(func=bug)
    assert main(["plot", "x.nxs", "-o", "x.png"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("insgan plot: internal error (KeyError") and "--debug" in err
    assert len(err.strip().splitlines()) == 1


def test_mantid_setup_error_paths(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "Mantid.user.properties"
    for extra in ([], ["--write"]):
        assert main(["mantid-setup", "--properties-file", str(missing), *extra]) == 2
        assert "does not exist" in err_of(capsys)
    binary = tmp_path / "binary.properties"
    binary.write_bytes(b"\x00\x01user\xff\xfe=\x80")
    assert main(["mantid-setup", "--properties-file", str(binary)]) == 2
    assert "not a text file" in err_of(capsys)
    nul = tmp_path / "nul.properties"
    nul.write_bytes(b"user.python.plugins.directories=/a\x00b\n")
    assert main(["mantid-setup", "--properties-file", str(nul), "--write"]) == 2
    assert "binary file" in err_of(capsys)
    assert nul.read_bytes() == b"user.python.plugins.directories=/a\x00b\n"
