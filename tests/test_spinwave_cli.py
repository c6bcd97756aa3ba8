"""``insgan simulate`` in-process: explicit binning, reference grids from real files, errors."""

import numpy as np

from insgan_core.cli.main import main
from insgan_core.data.io import load


def test_simulate_explicit_binning(tmp_path):
    out = tmp_path / "afm.nxs"
    code = main(["-q", "simulate", "afm_chain", "--set", "J=3.5", "--q-bins", "0,0.1,3", "--e-bins", "0,0.5,20",
                 "--fwhm", "1.0", "--directions", "100", "-o", str(out)])
    assert code == 0
    smap = load(out)
    assert smap.shape == (30, 40)
    assert smap.x_axis.unit == "MomentumTransfer" and smap.e_axis.unit == "DeltaE"
    assert smap.metadata.provenance["spinwave"]["parameters"]["J"] == 3.5
    # the band top is 2JS = 17.5 meV (S = 2.5): with a 1 meV FWHM nothing is left 2 meV above it
    above = smap.signal[:, smap.e_axis.centres > 19.5].sum()
    assert smap.signal[:, smap.e_axis.centres < 17].sum() > 0
    assert above < 1e-6 * smap.signal.sum()


def test_simulate_default_quadrature_and_accuracy_option(tmp_path, capsys):
    """Without --directions the deterministic powder plan is used (the README's commands give none)."""
    out = tmp_path / "plan.nxs"
    assert main(["-q", "simulate", "afm_chain", "--q-bins", "0.2,0.2,2", "--e-bins", "0,1,20", "--fwhm", "1.0",
                 "--accuracy", "0.1", "-o", str(out)]) == 0
    smap = load(out)
    assert np.isfinite(smap.signal).all() and smap.signal.sum() > 0
    # the band top is 2JS (library J, S = 2.5): nothing 2 meV above it with a 1 meV FWHM
    j = smap.metadata.provenance["spinwave"]["parameters"]["J"]
    assert smap.signal[:, smap.e_axis.centres > 5 * j + 2].sum() < 1e-6 * smap.signal.sum()
    assert main(["-q", "simulate", "afm_chain", "--q-bins", "0.2,0.2,2", "--e-bins", "0,1,20",
                 "--accuracy", "0", "-o", str(out)]) == 2
    assert "--accuracy" in capsys.readouterr().err


def test_simulate_zone_integrator(tmp_path):
    """--integrator zone: Brillouin-zone points sized by --accuracy. Its values are |Q|-bin averages: the
    weight above 3 meV per 0.25 Å⁻¹ bin matches the direction plan averaged over 10 sub-bins within 7 %
    (measured ≤ 6 %; below 3 meV the chain's Goldstone modes carry a 1/ω weight no finite sample converges)."""
    out = tmp_path / "zone.nxs"
    assert main(["-q", "simulate", "afm_chain", "--q-bins", "0.5,0.25,2.5", "--e-bins", "0,0.5,20", "--fwhm", "1.0",
                 "--accuracy", "0.05", "--integrator", "zone", "-o", str(out)]) == 0
    zone = load(out)
    prov = zone.metadata.provenance["spinwave"]
    assert prov["powder_zone"]["k_points"] == 999 and "quadrature_error" in prov  # (1.58/0.05)² points
    j = prov["parameters"]["J"]
    assert zone.signal[:, zone.e_axis.centres > 5 * j + 2].sum() < 1e-6 * zone.signal.sum()
    from insgan_core.spinwave import load_model, powder_map

    fine = powder_map(load_model("afm_chain"), q_edges=np.linspace(0.5, 2.5, 81), e_edges=zone.e_axis.edges,
                      fwhm_meV=1.0, method="plan", accuracy=0.05, error_estimate=False).signal
    keep = zone.e_axis.edges[:-1] >= 3.0
    binned = fine.reshape(8, 10, -1).mean(axis=1)[:, keep].sum(axis=1)
    np.testing.assert_allclose(zone.signal[:, keep].sum(axis=1), binned, rtol=0.07)


def test_simulate_on_the_grid_of_a_real_file(tmp_path, experimental_dir):
    ref = experimental_dir / "aluminium_Ei60.nxspe"  # processed NeXus (detector space): needs --q-bins
    out = tmp_path / "tri.nxs"
    assert main(["-q", "simulate", "triangular_afm", "--grid", str(ref), "--directions", "20", "-o", str(out)]) == 2
    assert main(["-q", "simulate", "triangular_afm", "--grid", str(ref), "--q-bins", "0.5,0.1,3", "--directions", "20",
                 "-o", str(out)]) == 0
    smap = load(out)
    det = load(ref)
    np.testing.assert_allclose(smap.e_axis.edges, det.energy_edges)
    assert smap.metadata.instrument == det.metadata.instrument
    # a simulated map as reference: same grid exactly
    out2 = tmp_path / "again.npz"
    assert main(["-q", "simulate", "fm_chain", "--grid", str(out), "--directions", "20", "-o", str(out2)]) == 0
    again = load(out2)
    assert again.same_grid(smap)


def test_simulate_errors(tmp_path, capsys):
    out = str(tmp_path / "x.nxs")
    assert main(["simulate", "no_such_model", "--q-bins", "0,0.1,1", "--e-bins", "0,1,10", "-o", out]) == 2
    assert "library models are" in capsys.readouterr().err
    assert main(["simulate", "afm_chain", "--set", "Jx=1", "--q-bins", "0,0.1,1", "--e-bins", "0,1,10", "-o", out]) == 2
    assert "unknown parameter" in capsys.readouterr().err
    assert main(["simulate", "afm_chain", "--q-bins", "0,0.1,1", "-o", out]) == 2
    assert main(["simulate", "afm_chain", "--q-bins", "1,0.1,0", "--e-bins", "0,1,10", "-o", out]) == 2
    assert "end (0.0) must be greater" in capsys.readouterr().err
    assert main(["simulate", "--list-models"]) == 0
    assert "triangular_afm" in capsys.readouterr().out
