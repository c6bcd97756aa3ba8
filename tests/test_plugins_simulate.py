"""SimulateINSSpinWave through the test-only Mantid stand-in: declarations, grids in either orientation,
validation messages naming the property, and outputs equal to the core's results."""

import json

import numpy as np
import pytest
from mantid_standin.fixture import make_map, mantid_standin, property_table, standin  # noqa: F401

from insgan_core import mantid_bridge
from insgan_core.spinwave.single_crystal import parse_q_path

spinwave = pytest.importorskip("insgan_core.spinwave")
if not hasattr(spinwave, "powder_map"):
    pytest.skip("insgan_core.spinwave.powder_map is not available yet", allow_module_level=True)

from insgan_core.data.grid import parse_binning  # noqa: E402

MODEL = "fm_chain"
PARAMS = "J=-1.5"
PROPERTIES = [
    "Model", "ModelParameters", "TemperatureInKelvin", "InputWorkspace", "QBinning", "EnergyBinning", "Mode", "QPath",
    "PointsPerSegment", "EnergyResolutionFWHMInMeV", "Instrument", "IncidentEnergyInMeV", "ChopperPackage",
    "ChopperFrequencyInHz", "Artefacts", "ResolutionMethod", "CountScale", "DetectorFile", "Seed", "OutputWorkspace",
]
Q_BINS, E_BINS = "0.1,0.1,3.1", "-2,0.5,10"


def simulate(sa, **kwargs):
    args = dict(Model=MODEL, ModelParameters=PARAMS, QBinning=Q_BINS, EnergyBinning=E_BINS, OutputWorkspace="sim")
    args.update(kwargs)
    return sa.SimulateINSSpinWave(**args)


def nan_equal(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def test_declaration(standin):
    alg = standin.api.AlgorithmManager.create("SimulateINSSpinWave")
    props = property_table(alg)
    assert list(props) == PROPERTIES
    for p in props.values():
        assert p.documentation.strip(), f"{p.name} has no documentation"
        if p.name != "OutputWorkspace":
            assert p.group in ("Model", "Grid", "Instrument", "Artefacts"), f"{p.name} is in no group"
    assert alg.category() == "Inelastic\\Simulation"
    assert {"TrainINSGAN", "ApplyINSGAN", "SofQW", "LoadNXSPE"} <= set(alg.seeAlso())
    assert props["Mode"].validator.allowedValues() == ["powder", "single-crystal"]
    assert props["Instrument"].validator.allowedValues() == ["None", "MAPS", "MERLIN", "MARI", "LET"]
    assert props["ResolutionMethod"].validator.allowedValues() == ["analytic", "montecarlo"]
    assert props["InputWorkspace"].optional == standin.api.PropertyMode.Optional


def test_powder_from_binning_equals_the_core(standin):
    ws = simulate(standin.simpleapi, TemperatureInKelvin=10.0, EnergyResolutionFWHMInMeV=0.8, Seed=2)
    model = spinwave.load_model(MODEL, PARAMS)
    core = spinwave.powder_map(model, q_edges=parse_binning(Q_BINS), e_edges=parse_binning(E_BINS),
                               temperature_K=10.0, fwhm_meV=0.8, seed=2)
    nan_equal(ws.extractY(), core.signal)
    assert ws.getAxis(0).getUnit().unitID() == "DeltaE" and ws.getAxis(1).getUnit().unitID() == "MomentumTransfer"
    np.testing.assert_allclose(ws.getAxis(1).extractValues(), parse_binning(Q_BINS))
    np.testing.assert_allclose(ws.readX(0), parse_binning(E_BINS))
    assert ws.isDistribution()
    run = ws.run()
    assert run.getProperty("Model").value == MODEL
    assert json.loads(run.getProperty("ModelParameters").value) == pytest.approx(model.parameters)
    assert run.getProperty("SampleTemperature").value == 10.0
    assert standin.api.mtd.doesExist("sim")


@pytest.mark.parametrize("orientation", ["q_spectra", "e_spectra"])
def test_grid_from_input_workspace_in_either_orientation(standin, orientation):
    ref = make_map(12, 10, q_range=(0.2, 2.6), e_range=(0.0, 10.0))
    mantid_bridge.map_to_workspace(ref, name="ref", orientation=orientation)
    ws = simulate(standin.simpleapi, QBinning="", EnergyBinning="", InputWorkspace="ref")
    out = mantid_bridge.workspace_to_map(ws)
    assert out.same_grid(ref)
    core = spinwave.powder_map(spinwave.load_model(MODEL, PARAMS), q_edges=ref.x_axis.edges, e_edges=ref.e_axis.edges)
    nan_equal(out.signal, core.signal)


def test_single_crystal_path_equals_the_core(standin):
    path = "G=0,0,0; X=0.5,0,0"
    ws = simulate(standin.simpleapi, Mode="single-crystal", QBinning="", QPath=path, PointsPerSegment=20)
    corners = [("G", (0.0, 0.0, 0.0)), ("X", (0.5, 0.0, 0.0))]
    assert parse_q_path(path) == corners
    core = spinwave.path_map(spinwave.load_model(MODEL, PARAMS), path=corners, e_edges=parse_binning(E_BINS),
                             points_per_segment=20)
    out = mantid_bridge.workspace_to_map(ws)
    assert ws.getAxis(1).getUnit().unitID() == "Label"
    assert out.x_axis.unit == core.x_axis.unit and out.x_axis.tick_labels == core.x_axis.tick_labels
    nan_equal(out.signal, core.signal)


def test_artefacts_equal_the_core(standin):
    from insgan_core.instrument.pipeline import ArtefactConfig, NoiseConfig, simulate_with_artefacts
    from insgan_core.instrument.settings import InstrumentSettings

    ws = simulate(standin.simpleapi, QBinning="0.2,0.1,4", EnergyBinning="-5,1,50", Instrument="MERLIN",
                  IncidentEnergyInMeV=62.0, ChopperPackage="G", ChopperFrequencyInHz=250.0,
                  Artefacts="resolution,coverage,noise", CountScale=50.0, Seed=3, TemperatureInKelvin=5.0)
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package="G", chopper_frequency_hz=250.0)
    config = ArtefactConfig(steps=("resolution", "coverage", "noise"), noise=NoiseConfig(count_scale=50.0))
    _, core = simulate_with_artefacts(spinwave.load_model(MODEL, PARAMS),
                                      grid=(parse_binning("0.2,0.1,4"), parse_binning("-5,1,50")),
                                      settings=settings, config=config, seed=3, temperature_K=5.0)
    nan_equal(ws.extractY(), core.signal)
    nan_equal(ws.extractE(), core.error)
    assert np.isnan(ws.extractY()).any()  # the kinematic limit / coverage
    assert ws.run().getProperty("Ei").value == 62.0
    assert ws.run().getProperty("Artefacts").value == "resolution,coverage,noise"


def test_detector_file_and_ei_from_the_input_workspace(standin, bi2fe4o9_5k):
    from insgan_core.data.io import load_nxspe
    from insgan_core.instrument.pipeline import ArtefactConfig, simulate_with_artefacts
    from insgan_core.instrument.settings import InstrumentSettings

    ref = make_map(20, 25, q_range=(0.3, 4.3), e_range=(-5.0, 45.0), ei_meV=62.0)
    mantid_bridge.map_to_workspace(ref, name="ref")
    ws = simulate(standin.simpleapi, QBinning="", EnergyBinning="", InputWorkspace="ref", Instrument="MERLIN",
                  Artefacts="coverage", DetectorFile=str(bi2fe4o9_5k), ResolutionMethod="analytic")
    settings = InstrumentSettings(instrument="MERLIN", ei_meV=62.0, chopper_package=None, chopper_frequency_hz=250.0)
    _, core = simulate_with_artefacts(spinwave.load_model(MODEL, PARAMS), grid=ref, settings=settings,
                                      config=ArtefactConfig(steps=("coverage",)), detectors=load_nxspe(bi2fe4o9_5k),
                                      temperature_K=0.0)
    nan_equal(ws.extractY(), core.signal)


@pytest.mark.parametrize(
    "kwargs, prop, text",
    [
        (dict(EnergyBinning=""), "EnergyBinning", "start,step,end"),
        (dict(QBinning=""), "QBinning", "start,step,end"),
        (dict(QBinning="1,0,2"), "QBinning", "step must be > 0"),
        (dict(QBinning="-1,0.1,2"), "QBinning", "cannot be negative"),
        (dict(Model="no_such_model_xyz"), "Model", ""),
        (dict(ModelParameters="NotAParameter=1"), "ModelParameters", ""),
        (dict(Mode="single-crystal", QPath=""), "QPath", "needs a path"),
        (dict(Mode="single-crystal", QPath="G=0,0; X=1,0,0"), "QPath", "three numbers"),
        (dict(Mode="single-crystal", QPath="G=0,0,0"), "QPath", "at least two corners"),
        (dict(Instrument="MERLIN"), "IncidentEnergyInMeV", "give Ei"),
        (dict(Instrument="MERLIN", IncidentEnergyInMeV=5000.0), "IncidentEnergyInMeV", "outside the range"),
        (dict(Instrument="MERLIN", IncidentEnergyInMeV=62.0, ChopperPackage="Z"), "ChopperPackage", "no chopper package"),
        (dict(Instrument="MERLIN", IncidentEnergyInMeV=62.0, ChopperFrequencyInHz=33.0), "ChopperFrequencyInHz", "33"),
        (dict(Artefacts="noise"), "Artefacts", "need an Instrument"),
        (dict(Instrument="MERLIN", IncidentEnergyInMeV=62.0, Artefacts="sparkle"), "Artefacts", "unknown step"),
        (dict(Instrument="MERLIN", IncidentEnergyInMeV=62.0, Artefacts="resolution", EnergyResolutionFWHMInMeV=1.0),
         "EnergyResolutionFWHMInMeV", "own resolution"),
        (dict(Mode="single-crystal", QPath="G=0,0,0; X=0.5,0,0", Instrument="MERLIN", IncidentEnergyInMeV=62.0,
              Artefacts="noise"), "Artefacts", "powder maps only"),
    ],
)
def test_validation_messages_name_the_property(standin, kwargs, prop, text):
    with pytest.raises(RuntimeError, match=rf"{prop}: .*{text}"):
        simulate(standin.simpleapi, **kwargs)
    assert not standin.api.mtd.doesExist("sim")


def test_bad_workspaces_and_files(standin, tmp_path):
    sa = standin.simpleapi
    sa.CreateWorkspace(DataX=np.arange(6.0), DataY=np.ones(10), NSpec=2, UnitX="TOF", OutputWorkspace="tof")
    with pytest.raises(RuntimeError, match="InputWorkspace: .*time of flight"):
        simulate(sa, QBinning="", EnergyBinning="", InputWorkspace="tof")
    not_nxspe = tmp_path / "detectors.nxspe"
    not_nxspe.write_text("not an HDF5 file")
    with pytest.raises(RuntimeError, match="DetectorFile: "):
        simulate(sa, Instrument="MERLIN", IncidentEnergyInMeV=62.0, Artefacts="coverage", DetectorFile=str(not_nxspe))
    with pytest.raises(ValueError, match="DetectorFile"):
        simulate(sa, DetectorFile=str(tmp_path / "missing.nxspe"))
    with pytest.raises(RuntimeError, match="DetectorFile: .*'coverage' artefact only"):
        simulate(sa, Instrument="MERLIN", IncidentEnergyInMeV=62.0, Artefacts="noise", DetectorFile=str(not_nxspe))
    with pytest.raises(ValueError, match="Model"):  # mandatory: an empty name is refused on setting
        simulate(sa, Model="")
    alg = standin.api.AlgorithmManager.create("SimulateINSSpinWave")
    alg.setProperty("QBinning", Q_BINS)
    alg.setProperty("EnergyBinning", E_BINS)
    alg.setProperty("OutputWorkspace", "sim")
    with pytest.raises(RuntimeError, match="Model: A value must be entered"):  # and when never set
        alg.execute()


def test_validators_refuse_bad_values(standin):
    for kwargs in (dict(TemperatureInKelvin=-1.0), dict(PointsPerSegment=1), dict(Seed=-1), dict(CountScale=-1.0),
                   dict(Mode="bogus"), dict(Instrument="ISIS"), dict(ResolutionMethod="guess"),
                   dict(ChopperFrequencyInHz=0.0), dict(IncidentEnergyInMeV=-5.0),
                   dict(EnergyResolutionFWHMInMeV=-0.1)):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            simulate(standin.simpleapi, **kwargs)
