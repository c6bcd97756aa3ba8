"""FitINSSpinWave through the test-only Mantid stand-in: declaration, a fit equal to the core's, the
parameter TableWorkspace, validation messages on the right property, and validateInputs never raising."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest
from mantid_standin.fixture import (  # noqa: F401
    dialog_set_properties,
    mantid_standin,
    property_table,
    standin,
)

from insgan_core import mantid_bridge
from insgan_core.fitting import FitProblem, ForwardModel, fit, load_dataset
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model

PROPERTIES = [
    "InputWorkspace", "Model", "ModelParameters", "VaryParameters", "Bounds", "TemperatureInKelvin", "Instrument",
    "IncidentEnergyInMeV", "ChopperPackage", "ChopperFrequencyInHz", "FitResolution", "ElasticMaskInMeV", "QMasks",
    "Statistic", "Starts", "Accuracy", "CoarseAccuracy", "OutputWorkspace", "OutputParameterTable",
]
Q = np.round(np.arange(0.3, 3.0001, 0.1), 10)
E = np.round(np.arange(-4.0, 20.0001, 1.0), 10)


@pytest.fixture(scope="module")
def measured():
    st = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)
    base = empty_dataset(st, Q, E, temperature_K=5.0)
    fw = ForwardModel(load_model("square_afm"), base, accuracy=0.2)
    nu = {"scale": 2.0, "bg_flat": 0.05, "bg_q2": 0.01, "elastic_amp": 1.0, "elastic_fwhm": 1.0}
    return noisy_map(fw, {"J": 2.3}, nu, count_scale=50.0, rng=np.random.default_rng(4))


def test_declaration(standin):
    alg = standin.api.AlgorithmManager.create("FitINSSpinWave")
    props = property_table(alg)
    assert list(props) == PROPERTIES
    assert all(p.documentation.strip() for p in props.values())
    assert props["Statistic"].validator.allowedValues() == ["chi2", "poisson", "auto"]
    assert props["Instrument"].validator.allowedValues() == ["FromWorkspace", "MAPS", "MERLIN", "MARI", "LET"]
    assert alg.category() == "Inelastic\\Simulation"


def test_fit_equals_the_core_and_table(standin, measured):
    ws = mantid_bridge.map_to_workspace(measured, name="measured")
    out, table = standin.simpleapi.FitINSSpinWave(
        InputWorkspace="measured", Model="square_afm", VaryParameters="J", Bounds="J=1:4", Statistic="poisson",
        Starts=0, Accuracy=0.2, OutputWorkspace="fitted", OutputParameterTable="params")
    assert out.id() == "Workspace2D" and table.id() == "TableWorkspace"
    assert table.getColumnNames() == ["Name", "Value", "Error"]
    names = [table.cell(i, 0) for i in range(table.rowCount())]
    assert names == ["J", "scale", "bg_flat", "bg_q2", "elastic_amp", "elastic_fwhm", "Cost function value"]
    ds = load_dataset(measured)
    core = fit(FitProblem(load_model("square_afm"), [ds], ["J"], bounds={"J": (1, 4)}, accuracy=0.2,
                          statistic="poisson"), n_starts=0)
    np.testing.assert_allclose([table.cell(i, 1) for i in range(6)], core.x, rtol=1e-6)
    np.testing.assert_allclose([table.cell(i, 2) for i in range(6)], core.errors, rtol=1e-4)
    assert table.cell(6, 1) == pytest.approx(core.reduced_chi2, rel=1e-6)
    assert abs(table.cell(0, 1) - 2.3) < 3 * table.cell(0, 2)
    fitted = mantid_bridge.workspace_to_map(out)
    np.testing.assert_allclose(fitted.signal, core.fitted_maps()[0].signal, rtol=1e-6, equal_nan=True)
    assert np.array_equal(np.isfinite(fitted.signal), ds.mask)
    assert ws.getNumberHistograms() == out.getNumberHistograms()


def test_validation_messages(standin, measured):
    mantid_bridge.map_to_workspace(measured, name="measured")
    mantid_bridge.map_to_workspace(measured.with_data(np.full(measured.shape, np.nan), measured.error), name="nan")
    api = standin.api

    def issues(**values):
        alg = api.AlgorithmManager.create("FitINSSpinWave")
        base = dict(InputWorkspace="measured", Model="square_afm", VaryParameters="J", OutputWorkspace="o",
                    OutputParameterTable="t")
        base.update(values)
        for k, v in base.items():
            alg.setPropertyValue(k, v)
        return api.validate_inputs_as_mantid(alg)

    assert issues() == {}
    assert "J2" in issues(VaryParameters="J,J2")["VaryParameters"]
    assert "outside 2.5:4" in issues(Bounds="J=2.5:4")["Bounds"]
    assert "Bounds" in issues(Bounds="J=4:1")
    assert "QMasks" in issues(QMasks="9:10")
    assert "no finite bin" in issues(InputWorkspace="nan")["InputWorkspace"]
    assert "masks remove every" in issues(ElasticMaskInMeV="50")["ElasticMaskInMeV"]


def _fuzz_helpers():
    path = Path(__file__).with_name("test_plugins_validate_fuzz.py")
    spec = importlib.util.spec_from_file_location("_fuzz_helpers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_validate_inputs_never_raises(standin, tmp_path, monkeypatch, measured):
    """520 random dialog states (as for the other three algorithms): no exception, messages on properties."""
    fz = _fuzz_helpers()
    api = standin.api
    monkeypatch.chdir(tmp_path)
    fz.fill_ads(standin)
    mantid_bridge.map_to_workspace(measured, name="measured")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    files = [str(binary), str(tmp_path), "missing.yaml", ""]
    extra = {"VaryParameters": ["", "J", "J,S", "none", "J2", "J,J", ",", "NONE"],
             "Bounds": ["", "J=1:4", "J=4:1", "J=a:b", "S=1:3", "J", "J=2.5:4", "=:"],
             "QMasks": ["", "1:2", "9:10", "a:b", "2:1", "0:100", "1:2,2.5:2.7"],
             "InputWorkspace": fz.WORKSPACES + ["measured"],
             "Model": ["square_afm", "fm_chain", "no_such_model", "", "  "] + files}
    props = api.AlgorithmManager.create("FitINSSpinWave").getProperties()
    names = [p.name for p in props]
    pools = {p.name: extra.get(p.name) or fz.value_pool(p, files) for p in props}
    base = dict(InputWorkspace="measured", Model="square_afm", VaryParameters="J", OutputWorkspace="o",
                OutputParameterTable="t")
    rng = random.Random("issue11-fit")
    raised, with_messages = [], 0
    for i in range(520):
        if i % 2:
            values = dict(base)
            for n in rng.sample(names, rng.randint(1, 3)):
                values[n] = rng.choice(pools[n])
        else:
            fill = rng.choice([0.2, 0.5, 0.8, 1.0])
            values = {n: rng.choice(pools[n]) for n in names if rng.random() < fill}
        alg = api.AlgorithmManager.create("FitINSSpinWave")
        for key, text in values.items():
            try:
                alg.setPropertyValue(key, text)
            except (ValueError, TypeError, RuntimeError):
                pass
        try:
            issues = api.validate_inputs_as_mantid(alg)
            assert set(issues) <= set(names), issues
            with_messages += bool(issues)
            dialog_set_properties(api.AlgorithmManager.create("FitINSSpinWave"), values)
        except Exception as exc:  # noqa: BLE001
            raised.append((values, f"{type(exc).__name__}: {exc}"))
    assert not raised, f"{len(raised)} states raised, e.g. {raised[:3]}"
    assert with_messages > 520 // 4
