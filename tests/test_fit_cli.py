"""``insgan fit`` end to end on a small synthetic measurement, and its one-line errors."""

import json

import numpy as np
import pytest

from insgan_core.cli.main import main
from insgan_core.data.io import load, save
from insgan_core.fitting import ForwardModel
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model


@pytest.fixture(scope="module")
def measured_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fitcli")
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
    e = np.round(np.arange(-4.0, 20.0001, 1.0), 10)
    fw = ForwardModel(load_model("square_afm"), empty_dataset(st, q, e, temperature_K=5.0), accuracy=0.2)
    nu = {"scale": 2.0, "bg_flat": 0.05, "bg_q2": 0.01, "elastic_amp": 1.0, "elastic_fwhm": 1.0}
    m = noisy_map(fw, {"J": 2.3}, nu, count_scale=50.0, rng=np.random.default_rng(2))
    path = folder / "measured.nxs"
    save(m, path)
    return path


def test_fit_cli_writes_outputs(measured_file, tmp_path, capsys):
    out = tmp_path / "fit"
    rc = main(["fit", "square_afm", str(measured_file), "--vary", "J", "--bounds", "J=1:4", "--starts", "2",
               "--accuracy", "0.2", "--statistic", "poisson", "--out", str(out)])
    assert rc == 0
    d = json.loads((out / "parameters.json").read_text())
    j = d["parameters"][0]
    assert j["name"] == "J" and abs(j["value"] - 2.3) < 3 * j["error"]
    assert d["statistic"] == "poisson" and d["datasets"][0]["temperature_K"] == 5.0
    assert load(out / "fitted_0.nxs").signal.shape == load(measured_file).signal.shape
    assert "J =" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--vary", "J2"], "unknown parameter(s) J2 for model 'square_afm'; its parameters are: J, S"),
    (["--vary", "J", "--set", "K=1"], "unknown parameter(s) K in --set"),
    (["--vary", "J", "--mask-q", "7:8"], "--mask-q 7:8: the window contains no |Q| bin"),
    (["--vary", "J", "--mask-e=-100:100"], "the masks remove every finite bin"),
    (["--vary", "J", "--bounds", "J=3:4"], "the start lies outside the bounds: J=2 outside [3, 4]"),
    (["--vary", "J", "--bounds", "J=4:3"], "--bounds J: expected LOW:HIGH with LOW < HIGH"),
    (["--vary", "J", "--mask-q", "x"], "--mask-q: expected LOW:HIGH"),
    (["--vary", "J", "--fit-chopper"], "fewer than 7 energy bins within"),  # 1 meV bins: too coarse
])
def test_fit_cli_bad_input_one_line(measured_file, tmp_path, capsys, extra, message):
    rc = main(["fit", "square_afm", str(measured_file), "--accuracy", "0.2", "--out", str(tmp_path / "x")] + extra)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert message in err, err
    assert len(err.splitlines()) == 1, err


def test_fit_cli_no_finite_bins(measured_file, tmp_path, capsys):
    m = load(measured_file)
    bad = tmp_path / "nan.nxs"
    save(m, bad)  # insgan refuses to write an all-NaN map, so blank a valid file's values afterwards
    import h5py

    with h5py.File(bad, "r+") as h5:
        (entry,) = [h5[name] for name in h5 if "workspace" in h5[name]]
        entry["workspace/values"][...] = np.nan
    rc = main(["fit", "square_afm", str(bad), "--vary", "J", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    # the reader refuses an all-NaN file; a map whose finite bins all lack errors reaches the fit check
    assert rc != 0 and ("no finite bin" in err or "NaN everywhere" in err) and len(err.splitlines()) == 1


def test_fit_cli_compare(measured_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["fit", "square_afm", str(measured_file), "--vary", "none", "--set", "J=2.3", "--accuracy", "0.2",
               "--compare", "square_afm", "--compare-set", "J=2.0", "--no-figure", "--out", str(out)])
    assert rc == 0
    table = json.loads((out / "comparison.json").read_text())
    assert table["preferred"] == "square_afm J=2.3"
    assert table["ranking"][1]["delta_aic"] > 10
    assert (out / "compare_model" / "parameters.json").is_file()
    assert "preferred: square_afm J=2.3" in capsys.readouterr().out
