"""ArtefactConfig and apply_artefacts: steps, determinism, provenance, bad input; CLI option helpers."""

import argparse

import numpy as np
import pytest

from insgan_core.cli._artefact_args import add_artefact_arguments, artefacts_from_args
from insgan_core.data import Axis, INSMap
from insgan_core.errors import InsganInputError
from insgan_core.instrument import STEPS, ArtefactConfig, InstrumentSettings, apply_artefacts
from insgan_core.instrument.backgrounds import PhononBackground

S = InstrumentSettings()


def _clean():
    q_edges = np.arange(0.2, 5.0, 0.05)
    e_edges = np.arange(-10.0, 50.0, 0.5)
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    ec = 0.5 * (e_edges[1:] + e_edges[:-1])
    sig = np.exp(-((ec[None, :] - 15 - 5 * np.cos(3 * qc)[:, None]) ** 2) / 2)
    return INSMap(sig, None, Axis(q_edges, "MomentumTransfer"), Axis(e_edges, "DeltaE"))


def test_full_pipeline_is_deterministic_and_records_provenance():
    clean = _clean()
    a = apply_artefacts(clean, settings=S, seed=11)
    b = apply_artefacts(clean, settings=S, seed=11)
    c = apply_artefacts(clean, settings=S, seed=12)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert not np.array_equal(np.nan_to_num(a.signal), np.nan_to_num(c.signal))
    assert np.isnan(a.signal).any() and np.isfinite(a.signal).any()
    ok = np.isfinite(a.signal)
    assert (a.error[ok] >= 0).all() and a.error[ok].max() > 0  # Poisson errors
    prov = a.metadata.provenance["artefacts"]
    assert prov["settings"] == S.to_dict() and prov["seed"] == 11 and prov["config"]["steps"] == list(STEPS)
    assert a.metadata.instrument == "MERLIN" and a.metadata.ei_meV == 62.0
    assert not np.isnan(clean.signal).any()  # the input is not modified


def test_steps_are_applied_in_physical_order_and_validated():
    cfg = ArtefactConfig(steps="noise, resolution")
    assert cfg.steps == ("resolution", "noise")
    with pytest.raises(InsganInputError, match="unknown step"):
        ArtefactConfig(steps=("resolution", "smearing"))
    out = apply_artefacts(_clean(), settings=S, config=ArtefactConfig(steps=()))
    np.testing.assert_array_equal(out.signal, _clean().signal)
    with pytest.raises(InsganInputError, match="method"):
        apply_artefacts(_clean(), settings=S, method="tobyfit")
    path_map = INSMap(np.ones((3, 3)), None, Axis([0, 1, 2, 3], "rlu_path"), Axis([0, 1, 2, 3], "DeltaE"))
    with pytest.raises(InsganInputError, match="MomentumTransfer"):
        apply_artefacts(path_map, settings=S)


def test_config_round_trip_and_parameter_updates():
    cfg = ArtefactConfig(backgrounds=(PhononBackground(amplitude=0.05),))
    assert ArtefactConfig.from_dict(cfg.to_dict()) == cfg
    new = cfg.with_parameters({"noise.count_scale": 30, "backgrounds.phonon.amplitude": 0.2, "resolution.mc_samples": 8})
    assert new.noise.count_scale == 30 and new.backgrounds[0].amplitude == 0.2 and new.resolution.mc_samples == 8
    for bad in ("noise.counts", "backgrounds.flat.level", "backgrounds.phonon.kind", "colour"):
        with pytest.raises(InsganInputError, match="does not exist"):
            cfg.with_parameters({bad: 1})
    with pytest.raises(InsganInputError, match="unknown key"):
        ArtefactConfig.from_dict({"noize": {}})


def _parse(argv):
    p = argparse.ArgumentParser()
    add_artefact_arguments(p)
    return p.parse_args(argv)


def test_cli_artefact_options(bi2fe4o9_5k):
    settings, cfg, det = artefacts_from_args(_parse(["--instrument", "merlin", "--ei", "62", "--chopper-frequency", "250",
                                                     "--artefacts", "background,noise", "--count-scale", "50",
                                                     "--detectors", str(bi2fe4o9_5k)]))
    assert settings == S and cfg.steps == ("background", "noise") and cfg.noise.count_scale == 50
    assert det.polar_deg.size == 212
    _, cfg, det = artefacts_from_args(_parse(["--artefacts", "none"]))
    assert cfg.steps == () and det is None
    for argv, match in (
        (["--instrument", "HET"], "known instruments"),
        (["--chopper-package", "X"], "chopper package"),
        (["--ei", "400"], "outside the range"),
        (["--chopper-frequency", "123"], "cannot run"),
        (["--count-scale", "-3"], "count-scale"),
        (["--artefacts", "resolution,glitter"], "unknown step"),
    ):
        with pytest.raises(InsganInputError, match=match):
            artefacts_from_args(_parse(argv))


def test_cli_refuses_detector_table_at_another_ei(experimental_dir):
    # PdCrO2 was measured on MARI at Ei = 59.4 meV: not a table for MERLIN at 62 meV
    with pytest.raises(InsganInputError, match="same incident energy"):
        artefacts_from_args(_parse(["--detectors", str(experimental_dir / "pdcro2_Ei60_5K.nxspe")]))


def test_simulate_with_artefacts_from_a_spin_wave_model():
    from insgan_core.spinwave import load_model
    from insgan_core.instrument import simulate_with_artefacts

    model = load_model("afm_chain", {"J": 3.0})
    q_edges = np.arange(0.2, 4.0, 0.1)
    e_edges = np.arange(-5.0, 40.0, 0.5)
    cfg = ArtefactConfig(steps=("resolution", "coverage"))
    clean, art = simulate_with_artefacts(model, grid=(q_edges, e_edges), settings=S, config=cfg, n_directions=60)
    assert clean.same_grid(art) and not np.isnan(clean.signal).any() and np.isnan(art.signal).any()
    # the resolution step redistributes weight but conserves it (up to what leaves through the edges)
    _, res_only = simulate_with_artefacts(model, grid=(q_edges, e_edges), settings=S,
                                          config=ArtefactConfig(steps=("resolution",)), n_directions=60)
    area = np.diff(q_edges)[:, None] * np.diff(e_edges)[None, :]
    np.testing.assert_allclose(np.sum(res_only.signal * area), np.sum(clean.signal * area), rtol=0.03)
    clean2, _ = simulate_with_artefacts(model, grid=clean, settings=S, config=cfg, n_directions=60)
    np.testing.assert_array_equal(clean2.signal, clean.signal)
    with pytest.raises(InsganInputError, match="grid"):
        simulate_with_artefacts(model, grid=3, settings=S)
