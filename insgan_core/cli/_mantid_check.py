"""``insgan mantid-setup --check``: does this Python (e.g. Mantid's conda environment) have what insgan needs?

Reports the Python version and each of insgan's requirements (numpy, scipy, h5py, torch, ...) as installed
and required, what is missing or outside the required range, whether Mantid is importable, and whether the
plugin folder is registered in ``user.python.plugins.directories``. Nothing is installed or changed: the
point is to install insgan into Mantid's environment without touching Mantid's own packages
(``pip install --no-deps insgan``, then only what this check lists as missing, with the environment's own
versions as pip constraints).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MANTID_ENVIRONMENTS", "registered_in_mantid_config", "Requirement", "parse_requirement", "requirements", "check_environment", "satisfies", "format_report"]

_SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"

#: Package versions of Mantid conda environments as Mantid publishes them (the source of each row is given;
#: None: not stated there). tests/test_plugins_mantid_setup.py checks insgan's requirements against them.
MANTID_ENVIRONMENTS = (
    dict(release="6.3", python="3.8", numpy="1.20.2", scipy="1.6.2", matplotlib=None, supported=False,
         source="mantid v6.3.0 mantid-developer-win.yml: python=3.8.*, numpy>=1.20.2, scipy>=1.6.2, h5py<3"),
    dict(release="numpy-1.24 series", python=None, numpy="1.24", scipy=None, matplotlib="3.7", supported=True,
         source="mantid-staging mantid-developer-osx.yml: numpy>=1.24,<1.27, matplotlib=3.7.*"),
    dict(release="6.15", python="3.11", numpy="2.1", scipy=None, matplotlib=None, supported=True,
         source="anaconda.org mantid/mantid-developer 6.15.0 build string np21py311"),
    dict(release="nightly (main)", python="3.13", numpy="2.1", scipy="1.16", matplotlib="3.10", supported=True,
         source="mantid conda/recipes/conda_build_config.yaml: python 3.13.*, numpy 2.1.*, scipy >=1.16,<1.17, "
                "matplotlib 3.10.*"),
)
_OPS = ("==", "!=", ">=", "<=", ">", "<", "~=")


@dataclass(frozen=True)
class Requirement:
    """A requirement line such as ``numpy>=1.24`` or ``torch>=2.1,<2.15`` (extras dropped)."""

    name: str
    specs: tuple  # ((op, version), ...)

    def __str__(self):
        return self.name + ",".join(op + v for op, v in self.specs)


def parse_requirement(line: str) -> Requirement | None:
    """``"dask[distributed]>=2023.1"`` -> Requirement("dask", ((">=", "2023.1"),)); None for markers/blank."""
    line = line.split("#", 1)[0].strip()
    if not line or ";" in line and "extra ==" in line:
        return None
    line = line.split(";", 1)[0].strip()
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", line)
    if not m:
        return None
    specs = []
    for part in filter(None, (p.strip() for p in m.group(3).split(","))):
        op = next((o for o in sorted(_OPS, key=len, reverse=True) if part.startswith(o)), None)
        if op is None:
            continue
        specs.append((op, part[len(op):].strip()))
    return Requirement(m.group(1), tuple(specs))


def _version_tuple(text: str) -> tuple:
    """'1.26.4' -> (1, 26, 4); '2.13.0+cpu' -> (2, 13, 0); '2023.1' -> (2023, 1); pre-releases count as lower."""
    parts = []
    for piece in re.split(r"[.+]", str(text)):
        m = re.match(r"^(\d+)", piece)
        if not m:
            break
        parts.append(int(m.group(1)))
        if m.group(1) != piece:
            break
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def satisfies(version: str, specs) -> bool:
    """Whether ``version`` meets every (op, bound) of ``specs`` (numeric comparison of release segments)."""
    v = _version_tuple(version)
    for op, bound in specs:
        b = _version_tuple(bound)
        ok = {
            "==": v == b, "!=": v != b, ">=": v >= b, "<=": v <= b, ">": v > b, "<": v < b,
            "~=": v >= b and v[: max(len(b) - 1, 1)] == b[: max(len(b) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


def requirements() -> tuple[str, list[Requirement]]:
    """(python_requires, install requirements) of insgan: from the installed distribution's metadata, else
    from ``setup.cfg`` of a source checkout."""
    try:
        dist = md.distribution("insgan")
        reqs = [parse_requirement(r) for r in (dist.requires or []) if "extra ==" not in r]
        python = dist.metadata.get("Requires-Python") or ""
        if reqs:
            return python, [r for r in reqs if r]
    except md.PackageNotFoundError:
        pass
    return _requirements_from_setup_cfg(_SETUP_CFG)


def _requirements_from_setup_cfg(path: Path) -> tuple[str, list[Requirement]]:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")
    python = cfg.get("options", "python_requires", fallback="")
    lines = cfg.get("options", "install_requires", fallback="").splitlines()
    return python, [r for r in (parse_requirement(x) for x in lines) if r]


def _installed_version(name: str) -> str | None:
    for candidate in (name, name.replace("-", "_"), name.replace("_", "-")):
        try:
            return md.version(candidate)
        except md.PackageNotFoundError:
            continue
    return None


def _mantid_version() -> str | None:
    """Mantid's version when ``mantid`` is importable (conda packages may carry no pip metadata)."""
    if importlib.util.find_spec("mantid") is None:
        return None
    version = _installed_version("mantid") or _installed_version("mantid-framework")
    if version:
        return version
    try:
        import mantid  # noqa: F401 -- slow (seconds) but only in --check

        return str(getattr(mantid, "__version__", "unknown"))
    except Exception as exc:  # noqa: BLE001 -- report, never fail the check on it
        return f"importable but failed to import ({type(exc).__name__}: {exc})"


def registered_in_mantid_config(folder) -> bool | None:
    """Whether Mantid's ConfigService (user and system properties together) lists ``folder`` under
    ``user.python.plugins.directories``; None when Mantid is not importable here."""
    if importlib.util.find_spec("mantid") is None:
        return None
    try:
        from mantid.kernel import config

        listed = [d.strip() for d in str(config["user.python.plugins.directories"]).split(";") if d.strip()]
    except Exception:  # noqa: BLE001 -- a check reports, it does not fail
        return None
    target = Path(folder).expanduser().resolve()
    return any(Path(d).expanduser().resolve() == target for d in listed)


def check_environment(*, plugins_registered: bool | None = None) -> dict:
    """What this Python has and lacks for insgan.

    Returns
    -------
    dict
        ``python`` (version, required, ok), ``packages`` (list of dicts: name, required, installed or None,
        status "ok" / "missing" / "mismatch"), ``mantid`` (version or None), ``plugins_registered``,
        ``ok`` (no missing or mismatched requirement and a suitable Python).
    """
    python_req, reqs = requirements()
    py_version = ".".join(str(x) for x in sys.version_info[:3])
    py_specs = parse_requirement("python" + python_req).specs if python_req else ()
    packages = []
    for req in reqs:
        installed = _installed_version(req.name)
        status = "missing" if installed is None else ("ok" if satisfies(installed, req.specs) else "mismatch")
        packages.append(dict(name=req.name, required=str(req)[len(req.name):] or "any", installed=installed, status=status))
    python_ok = satisfies(py_version, py_specs)
    return dict(
        python=dict(version=py_version, required=python_req or "any", ok=python_ok),
        packages=packages,
        mantid=_mantid_version(),
        plugins_registered=plugins_registered,
        ok=python_ok and all(p["status"] == "ok" for p in packages),
    )


def format_report(report: dict, *, properties_file=None, plugin_dir=None) -> str:
    """Human-readable lines for ``report`` (what is missing, what mismatches, and what to run)."""
    lines = [f"Python {report['python']['version']} (insgan needs {report['python']['required']}): "
             + ("ok" if report["python"]["ok"] else "TOO OLD/NEW -- use a Mantid release built for a supported Python")]
    mantid = report["mantid"]
    lines.append(f"Mantid: {mantid}" if mantid else "Mantid: not importable from this Python (run the check in "
                 "Mantid's conda environment: conda activate <env> && insgan mantid-setup --check)")
    width = max(len(p["name"]) for p in report["packages"]) if report["packages"] else 8
    lines.append("")
    lines.append(f"  {'package':<{width}}  {'installed':<14}  {'required':<14}  status")
    for p in report["packages"]:
        lines.append(f"  {p['name']:<{width}}  {p['installed'] or '-':<14}  {p['required']:<14}  {p['status']}")
    missing = [p["name"] for p in report["packages"] if p["status"] == "missing"]
    mismatch = [p for p in report["packages"] if p["status"] == "mismatch"]
    lines.append("")
    if missing:
        lines.append("Missing: " + ", ".join(missing) + ". Install them without changing any installed package:")
        lines.append("  python -m pip list --format=freeze > mantid-constraints.txt")
        lines.append("  python -m pip install -c mantid-constraints.txt " + " ".join(
            f'"{p["name"]}{"" if p["required"] == "any" else p["required"]}"' for p in report["packages"]
            if p["status"] == "missing"))
        lines.append("  (or install them with conda from conda-forge; pip then refuses rather than upgrades)")
    if mismatch:
        lines.append("Outside insgan's range (NOT changed -- Mantid's compiled parts depend on them): " + ", ".join(
            f"{p['name']} {p['installed']} (needs {p['required']})" for p in mismatch))
        lines.append("  use a Mantid release whose environment satisfies these (see docs/mantid.md), not pip -U")
    if not missing and not mismatch:
        lines.append("All of insgan's requirements are installed in a suitable version.")
    in_config = report.get("plugins_in_mantid_config")
    if in_config is not None:
        lines.append("Mantid's ConfigService lists the plugin folder: " + ("yes" if in_config else "no"))
    registered = report.get("plugins_registered")
    if registered is not None:
        where = f" in {properties_file}" if properties_file else ""
        lines.append(
            f"Plugin folder {plugin_dir} registered{where}: "
            + ("yes" if registered else "NO -- run 'insgan mantid-setup --write' (with Workbench closed)")
        )
    return "\n".join(lines)
