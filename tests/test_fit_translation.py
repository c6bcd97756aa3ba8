"""Fit with a learned (structured) translation as the instrument part of the forward model."""

import numpy as np
import pytest
import torch

from insgan_core.errors import InsganInputError
from insgan_core.fitting import FitProblem, ForwardModel, fit, load_dataset
from insgan_core.fitting.synthetic import empty_dataset, noisy_map
from insgan_core.instrument import InstrumentSettings
from insgan_core.spinwave import load_model
from insgan_core.translation.model_io import load_translator
from insgan_core.translation.structured import StructuredTranslator

Q = np.round(np.arange(0.3, 3.0001, 0.15), 10)
E = np.round(np.arange(2.0, 20.0001, 1.0), 10)
ST = InstrumentSettings(instrument="MERLIN", ei_meV=25.0, chopper_frequency_hz=250.0)


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """A known structured translator (scale a = 3, flat + |Q|² background terms), saved and loaded back."""
    tr = StructuredTranslator.from_settings(ST, Q, E)
    with torch.no_grad():
        tr.a.fill_(3.0)
        tr.h[0].fill_(0.2)
        tr.h[1].fill_(0.5)
    tr.invalidate()
    path = tmp_path_factory.mktemp("tr") / "known.safetensors"
    tr.save(path)
    loaded = load_translator(path)
    loaded.path = path
    return loaded


def test_fit_recovers_parameters_through_a_known_translator(translator):
    base = empty_dataset(ST, Q, E, temperature_K=5.0)
    model = load_model("square_afm")
    fw = ForwardModel(model, base, accuracy=0.2, translator=translator)
    assert fw.check_translator_linear({"J": 2.3}) < 1e-9
    nu = dict(fw.default_nuisance(), scale=1.5)
    meas = load_dataset(noisy_map(fw, {"J": 2.3}, nu, count_scale=100.0, rng=np.random.default_rng(7)))
    fw.dataset = meas  # same grid and coverage
    start = model.with_parameters(J=2.1)
    p = FitProblem(start, [meas], ["J"], forwards=[fw], statistic="chi2", bounds={"J": (1.0, 4.0)})
    r = fit(p, n_starts=0, tol=1e-8)
    j, s = r.names.index("J"), r.names.index("scale")
    assert abs(r.x[j] - 2.3) < 3 * r.errors[j] and r.errors[j] < 0.05, (r.x, r.errors)
    assert abs(r.x[s] - 1.5) < 3 * r.errors[s], (r.x, r.errors)
    assert r.reduced_chi2 < 1.3
    # the same data without the translator (built-in resolution) are described worse
    plain = FitProblem(start, [meas], ["J"], statistic="chi2", bounds={"J": (1.0, 4.0)}, accuracy=0.2)
    assert fit(plain, n_starts=0, tol=1e-6).reduced_chi2 > 1.25 * r.reduced_chi2


def test_nonlinear_translator_is_refused(translator):
    class Squared:
        source = "squared"

        def apply(self, m, **kw):
            return translator.apply(m.with_data(m.signal ** 2, m.error), **kw)

    base = empty_dataset(ST, Q, E, temperature_K=5.0)
    with pytest.raises(InsganInputError, match="not linear"):
        FitProblem(load_model("square_afm"), [base], ["J"], accuracy=0.2, translator=Squared())


def test_fit_cli_translation(translator, tmp_path):
    import json

    from insgan_core.cli.main import main
    from insgan_core.data.io import save

    fw = ForwardModel(load_model("square_afm"), empty_dataset(ST, Q, E, temperature_K=5.0), accuracy=0.2,
                      translator=translator)
    meas = tmp_path / "m.nxs"
    save(noisy_map(fw, {"J": 2.5}, dict(fw.default_nuisance(), scale=0.8), count_scale=100.0,
                   rng=np.random.default_rng(1)), meas)
    out = tmp_path / "fit"
    assert main(["fit", "square_afm", str(meas), "--vary", "J", "--set", "J=2.3", "--bounds", "J=1:4",
                 "--accuracy", "0.2", "--starts", "0", "--translation", str(translator.path), "--out", str(out),
                 "--no-figure"]) == 0
    d = json.loads((out / "parameters.json").read_text())
    j = d["parameters"][0]
    assert abs(j["value"] - 2.5) < 3 * j["error"] and j["error"] < 0.05, j
    assert d["translation_model"] == str(translator.path) and d["chi2_per_dof"] < 1.3
