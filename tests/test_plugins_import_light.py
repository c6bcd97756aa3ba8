"""Workbench imports every plugin file at start-up: the algorithm modules must stay light to import.

Each plugin is imported in a fresh subprocess (with the test-only stand-in as ``mantid``), the way Mantid's
plugin loader does, and must load neither torch, dask nor matplotlib (checked in ``sys.modules``); the heavy
packages are imported inside ``PyExec``/``validateInputs`` only. The import time is printed for the record
(measured, not asserted: the machine may be busy).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mantid_standin.fixture import PLUGINS_DIR, STANDIN_DIR

HEAVY = ("torch", "dask", "matplotlib")
PLUGINS = sorted(p.stem for p in PLUGINS_DIR.glob("*.py"))

CODE = """
import importlib.util, json, sys, time
sys.path.insert(0, {standin!r})
import mantid.simpleapi  # the stand-in; Workbench has Mantid loaded before the plugins
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location({name!r}, {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules[{name!r}] = module
spec.loader.exec_module(module)
seconds = time.perf_counter() - t0
assert mantid.api.AlgorithmFactory.exists({name!r})
print(json.dumps({{"seconds": seconds, "loaded": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def test_there_are_four_plugins():
    assert PLUGINS == ["ApplyINSGAN", "FitINSSpinWave", "SimulateINSSpinWave", "TrainINSGAN"]


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_import_loads_no_heavy_package(name):
    code = CODE.format(standin=str(STANDIN_DIR), name=name, path=str(PLUGINS_DIR / f"{name}.py"), heavy=HEAVY)
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(repo)))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name}: imported in {result['seconds']:.3f} s")
    assert result["loaded"] == [], f"importing {name} loaded {result['loaded']}"
