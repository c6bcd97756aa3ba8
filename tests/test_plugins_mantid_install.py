"""The documented install into Mantid's environment changes none of the packages already there (issue 15).

docs/mantid.md: ``pip list --format=freeze > mantid-constraints.txt`` then ``pip install -c
mantid-constraints.txt insgan``. Run here against *this* environment as a stand-in for Mantid's, with pip's
``--dry-run`` and ``--no-index`` (nothing is installed, nothing downloaded): pip must plan to install insgan
and nothing else, and a requirement that needs a newer version of an installed package must be refused
(ResolutionImpossible naming the constraint), never met by an upgrade.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pip(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    version = _pip("--version", cwd=REPO)
    m = re.match(r"pip (\d+)\.(\d+)", version.stdout)
    if version.returncode != 0 or not m or (int(m.group(1)), int(m.group(2))) < (22, 2):
        pytest.skip("needs pip >= 22.2 (install --dry-run)")
    pytest.importorskip("setuptools")  # metadata of the source tree is prepared without build isolation
    folder = tmp_path_factory.mktemp("mantid_install")
    source = folder / "insgan"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("insgan_core", "plugins"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    freeze = _pip("list", "--format=freeze", cwd=folder)
    assert freeze.returncode == 0, freeze.stderr
    constraints = folder / "mantid-constraints.txt"
    # an installed insgan (editable, another checkout) is the package being (re)installed: not a constraint
    constraints.write_text("\n".join(line for line in freeze.stdout.splitlines() if not line.startswith("insgan=")))
    return folder, source, constraints


def test_constraints_install_adds_insgan_only(env):
    folder, source, constraints = env
    out = _pip("install", "--dry-run", "--no-index", "--no-build-isolation", "--no-cache-dir",
               "-c", str(constraints), str(source), cwd=folder)
    if out.returncode != 0 and "No matching distribution" in out.stderr:
        pytest.skip(f"this environment lacks one of insgan's requirements (offline): {out.stderr.splitlines()[-1]}")
    assert out.returncode == 0, out.stderr
    would = [line for line in out.stdout.splitlines() if line.startswith("Would install")]
    assert len(would) == 1 and would[0].split()[2:] and all(p.startswith("insgan-") for p in would[0].split()[2:])


def test_constraints_refuse_rather_than_upgrade(env):
    folder, _, constraints = env
    out = _pip("install", "--dry-run", "--no-index", "--no-cache-dir", "-c", str(constraints), "numpy>=999",
               cwd=folder)
    assert out.returncode != 0
    assert "ResolutionImpossible" in out.stderr and "(constraint) numpy==" in out.stdout + out.stderr
