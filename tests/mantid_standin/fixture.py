"""Fixtures that put the TEST-ONLY Mantid stand-in on ``sys.path`` for plugin tests only.

Use from a test module with ``from mantid_standin.fixture import mantid_standin, standin  # noqa: F401``.
``mantid_standin`` (module scope) inserts ``tests/mantid_standin`` at the front of ``sys.path``, imports
the stand-in ``mantid`` package, imports every algorithm file in ``plugins/`` as a top-level module (as
Mantid's plugin loader does, which registers them through ``AlgorithmFactory.subscribe``) and, on
teardown, removes the path and every ``mantid``/plugin module from ``sys.modules`` again, so no other
test (in particular ``tests/test_mantid_real.py``) can see the stand-in. ``standin`` (function scope)
clears the analysis data service and the logger between tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

STANDIN_DIR = Path(__file__).resolve().parent
PLUGINS_DIR = STANDIN_DIR.parents[1] / "plugins"


def _purge():
    for name in list(sys.modules):
        if name == "mantid" or name.startswith("mantid."):
            del sys.modules[name]
    for path in PLUGINS_DIR.glob("*.py"):
        sys.modules.pop(path.stem, None)


@pytest.fixture(scope="module")
def mantid_standin():
    existing = sys.modules.get("mantid")
    if existing is not None and not getattr(existing, "__insgan_test_standin__", False):
        pytest.skip("a real Mantid is already imported in this process; the stand-in plugin tests need a clean one")
    sys.path.insert(0, str(STANDIN_DIR))
    try:
        import mantid
        import mantid.simpleapi

        assert mantid.__insgan_test_standin__ is True
        plugins = {}
        for path in sorted(PLUGINS_DIR.glob("*.py")):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
            plugins[path.stem] = module
        yield SimpleNamespace(
            mantid=mantid, api=mantid.api, kernel=mantid.kernel, simpleapi=mantid.simpleapi, plugins=plugins
        )
    finally:
        sys.path.remove(str(STANDIN_DIR))
        _purge()


@pytest.fixture
def standin(mantid_standin):
    mantid_standin.api.AnalysisDataService.clear()
    mantid_standin.kernel.logger.messages.clear()
    saved = dict(mantid_standin.kernel.config._values)
    yield mantid_standin
    mantid_standin.api.AnalysisDataService.clear()
    mantid_standin.kernel.config._values = saved


def dialog_set_properties(alg, values: dict) -> dict:
    """What Workbench's algorithm dialog does when a field changes (qt/widgets/common/src/AlgorithmDialog.cpp,
    ``setPropertyValues``): every property is set from its text (``setPropertyValue``; an error is kept for
    that property's red star), and only when all are individually valid is ``validateInputs()`` called, whose
    messages are added to the named properties. A Python exception from validateInputs is NOT caught there: it
    escapes to Workbench as an error box; here it propagates to the test.

    Returns {property: message} for every property with a problem.
    """
    from mantid.api import validate_inputs_as_mantid

    errors = {}
    for prop in alg.getProperties():
        text = values.get(prop.name, _default_text(prop))
        try:
            alg.setPropertyValue(prop.name, text)
            message = prop.isValid()
        except (ValueError, TypeError, RuntimeError) as exc:
            message = str(exc)
        if message:
            errors[prop.name] = message
    if not errors:
        for name, message in validate_inputs_as_mantid(alg).items():
            if alg.existsProperty(name):
                errors[name] = message
    return errors


def _default_text(prop):
    default = getattr(prop, "default", "")
    if default is None:
        return ""
    if isinstance(default, (list, tuple)):
        return ",".join(str(v) for v in default)
    return str(default)


def make_map(nq=16, ne=16, *, seed=0, offset=0.0, ei_meV=20.0, q_range=(0.0, 3.0), e_range=(-2.0, 14.0)):
    """A small positive random S(|Q|,E) map for plugin tests (|Q| in Å⁻¹, E in meV)."""
    import numpy as np

    from insgan_core.data.grid import Axis
    from insgan_core.data.ins_map import INSMap, MapMetadata

    rng = np.random.default_rng(seed)
    signal = rng.random((nq, ne)) + offset
    return INSMap(
        signal,
        0.05 * signal,
        Axis(np.linspace(*q_range, nq + 1), "MomentumTransfer"),
        Axis(np.linspace(*e_range, ne + 1), "DeltaE"),
        MapMetadata(instrument="MERLIN", ei_meV=ei_meV, temperature_K=5.0, sample=f"map {seed}"),
    )


def property_table(alg):
    """{name: property} of an initialised algorithm."""
    return {p.name: p for p in alg.getProperties()}


def rebinned_copy(ws):
    """A RebinnedOutput with the data, axes, logs, sample and title of ``ws`` and fractional areas 1, as SofQW3
    (SofQWNormalisedPolygon) hands it over: finalised, Y already divided by F."""
    import copy

    from mantid.api import WorkspaceFactory

    out = WorkspaceFactory.create(ws)  # same type as ws...
    ro = WorkspaceFactory.create("RebinnedOutput", ws.getNumberHistograms(), ws.extractX().shape[1], ws.blocksize())
    ro._x[:], ro._y[:], ro._e[:] = ws.extractX(), ws.extractY(), ws.extractE()
    ro._axes = copy.deepcopy(ws._axes)
    ro._run, ro._sample, ro._instrument = out._run, out._sample, out._instrument
    ro.setTitle(ws.getTitle())
    ro.setDistribution(ws.isDistribution())
    ro._f[:] = 1.0
    return ro


def tiny_model(folder):
    """A paired insgan model on make_map's 16 x 16 grid, trained by the core for 2 steps (a few seconds)."""
    from insgan_core.data.ins_map import MapStack
    from insgan_core.gan.config import TrainConfig
    from insgan_core.gan.training import train

    sources = MapStack.from_maps([make_map(seed=i) for i in range(2)])
    targets = MapStack.from_maps([make_map(seed=i, offset=0.5) for i in range(2)])
    config = TrainConfig(mode="paired", steps=2, batch_size=2, device="cpu", checkpoint_every=0)
    return train(sources, targets, config, output_path=Path(folder) / "model.safetensors").model_path
