"""The algorithm docs (docs/<Name>-v1.rst): Mantid's format, every property documented, examples run.

The ``.. testcode::`` examples are executed through the test-only Mantid stand-in and their printed
output is compared with the ``.. testoutput::`` blocks, as Mantid's documentation tests do.
"""

import contextlib
import io
import re
import textwrap
from pathlib import Path

import pytest
from mantid_standin.fixture import mantid_standin, property_table, standin  # noqa: F401

DOCS = Path(__file__).resolve().parents[1] / "docs"
ALGORITHMS = ["SimulateINSSpinWave", "TrainINSGAN", "ApplyINSGAN", "FitINSSpinWave"]
DIRECTIVES = [".. algorithm::", ".. summary::", ".. relatedalgorithms::", ".. properties::", ".. categories::"]


def blocks(text, directive):
    """{label: dedented body} of every ``.. <directive>:: label`` block."""
    found = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(rf"\.\. {directive}::\s*(\S*)", line)
        if not m:
            continue
        body = []
        for nxt in lines[i + 1:]:
            if nxt.strip() and not nxt.startswith(" "):
                break
            body.append(nxt)
        found[m.group(1)] = textwrap.dedent("\n".join(body)).strip("\n")
    return found


@pytest.mark.parametrize("name", ALGORITHMS)
def test_doc_format_and_every_property_documented(standin, name):
    text = (DOCS / f"{name}-v1.rst").read_text(encoding="utf-8")
    for directive in DIRECTIVES:
        assert directive in text, f"{name}-v1.rst lacks {directive}"
    assert "Description\n-----------" in text and "Usage\n-----" in text
    assert blocks(text, "testcode"), f"{name}-v1.rst has no runnable example"
    alg = standin.api.AlgorithmManager.create(name)
    for prop in property_table(alg):
        assert f"``{prop}``" in text, f"{name}-v1.rst does not describe property {prop}"
    for related in alg.seeAlso():
        assert related in ALGORITHMS or related in ("SofQW", "LoadNXSPE")


def _needs_spinwave(name):
    if name == "SimulateINSSpinWave":
        spinwave = pytest.importorskip("insgan_core.spinwave")
        if not hasattr(spinwave, "powder_map"):
            pytest.skip("insgan_core.spinwave.powder_map is not available")


@pytest.mark.parametrize("name", ALGORITHMS)
def test_usage_examples_run(standin, name, tmp_path, monkeypatch):
    _needs_spinwave(name)
    monkeypatch.chdir(tmp_path)
    text = (DOCS / f"{name}-v1.rst").read_text(encoding="utf-8")
    outputs = blocks(text, "testoutput")
    for label, code in blocks(text, "testcode").items():
        standin.api.AnalysisDataService.clear()
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, f"{name}-v1.rst:{label}", "exec"), {"__name__": "__doc_example__"})
        if label in outputs:
            assert buffer.getvalue().strip() == outputs[label].strip(), f"{label} printed something else"
