"""``insgan mantid-setup``: prints the plugin-folder entry, writes it only with --write (backup, atomic)."""

from insgan_core.cli import mantid_setup
from insgan_core.cli.main import main
from insgan_core.mantid_bridge import mantid_plugins_dir

FOLDER = mantid_plugins_dir().as_posix()


def test_prints_entry_and_changes_nothing(tmp_path, capsys):
    props = tmp_path / "Mantid.user.properties"
    props.write_text("datasearch.directories=/data\n")
    assert main(["mantid-setup", "--properties-file", str(props)]) == 0
    out = capsys.readouterr().out
    assert f"user.python.plugins.directories={FOLDER}" in out
    assert "pip install" in out and "conda" in out  # explains the conda-environment step
    assert props.read_text() == "datasearch.directories=/data\n"
    assert not list(tmp_path.glob("*.insgan-backup"))


def test_write_creates_file_when_missing(tmp_path):
    props = tmp_path / "mantid" / "Mantid.user.properties"
    assert main(["mantid-setup", "--properties-file", str(props), "--write"]) == 0
    assert mantid_setup.read_plugin_dirs(props.read_text()) == [FOLDER]


def test_write_extends_existing_entry_with_backup(tmp_path):
    props = tmp_path / "Mantid.user.properties"
    original = "# my settings\nuser.python.plugins.directories=/opt/other;\\\n/opt/more\nlogging.loggers.root.level=notice\n"
    props.write_text(original)
    assert main(["-q", "mantid-setup", "--properties-file", str(props), "--write"]) == 0
    text = props.read_text()
    assert mantid_setup.read_plugin_dirs(text) == ["/opt/other", "/opt/more", FOLDER]
    assert "# my settings" in text and "logging.loggers.root.level=notice" in text
    assert text.count(mantid_setup.KEY) == 1
    assert (tmp_path / "Mantid.user.properties.insgan-backup").read_text() == original
    # a second run finds it and leaves the file alone
    assert main(["mantid-setup", "--properties-file", str(props), "--write"]) == 0
    assert props.read_text() == text


def test_properties_path_that_is_a_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["mantid-setup", "--properties-file", str(tmp_path)]) == 2
    assert "--properties-file" in capsys.readouterr().err


def test_default_properties_file_is_in_the_mantid_user_folder():
    path = mantid_setup.default_properties_file()
    assert path.name == "Mantid.user.properties"


# --- issue 15: the Extensions tab, the Workbench warning, --check, requirement bounds vs Mantid's environments
def test_points_at_the_extensions_tab_and_warns_about_workbench(tmp_path, capsys):
    props = tmp_path / "Mantid.user.properties"
    assert main(["mantid-setup", "--properties-file", str(props)]) == 0
    out = capsys.readouterr().out
    assert "Extensions tab" in out and "Python Directories" not in out
    assert "rewrites" in out and "Workbench" in out  # --write while Workbench runs may be lost
    assert "--no-deps" in out and "--check" in out  # the install that changes none of Mantid's packages
    assert main(["mantid-setup", "--properties-file", str(props), "--write"]) == 0
    assert "overwrite the file when it exits" in capsys.readouterr().out


def test_check_reports_missing_and_mismatched(tmp_path, capsys, monkeypatch):
    from insgan_core.cli import _mantid_check

    installed = {"numpy": "1.21.0", "scipy": "1.11.0", "h5py": "3.9.0", "torch": None}

    def fake_version(name):
        if name in installed:
            return installed[name]
        return "99.0"

    monkeypatch.setattr(_mantid_check, "_installed_version", fake_version)
    monkeypatch.setattr(_mantid_check, "_mantid_version", lambda: "6.15.0")
    props = tmp_path / "Mantid.user.properties"
    assert main(["mantid-setup", "--check", "--properties-file", str(props)]) == 1
    out = capsys.readouterr().out
    assert "Mantid: 6.15.0" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ") and len(line.split()) >= 4}
    assert rows["numpy"][1] == "1.21.0" and rows["numpy"][-1] == "mismatch"
    assert rows["scipy"][-1] == "ok" and rows["torch"][1] == "-" and rows["torch"][-1] == "missing"
    assert "pip install -c mantid-constraints.txt" in out and '"torch' in out
    assert "NOT changed" in out and "registered" in out and "NO" in out
    assert not props.exists()  # --check changes nothing
    # everything present and the folder registered: exit status 0
    monkeypatch.setattr(_mantid_check, "_installed_version", lambda name: "2.5" if name == "torch" else "99.0")
    monkeypatch.setattr(_mantid_check, "satisfies", lambda v, specs: True)
    props.write_text(f"user.python.plugins.directories={FOLDER}\n")
    assert main(["-q", "mantid-setup", "--check", "--properties-file", str(props)]) == 0


def test_version_comparison():
    from insgan_core.cli._mantid_check import parse_requirement, satisfies

    req = parse_requirement("torch>=2.1,<2.15")
    assert req.name == "torch" and satisfies("2.13.0+cpu", req.specs) and not satisfies("2.15.0", req.specs)
    assert not satisfies("2.0.1", req.specs)
    assert parse_requirement("dask[distributed]>=2023.1").name == "dask"
    assert satisfies("1.26.4", parse_requirement("numpy>=1.24").specs)
    assert not satisfies("1.23.5", parse_requirement("numpy>=1.24").specs)
    assert satisfies("3.10.12", parse_requirement("python>=3.10").specs)
    assert not satisfies("3.8.18", parse_requirement("python>=3.10").specs)


def test_requirements_do_not_force_upgrades_in_supported_mantid_environments():
    """setup.cfg's bounds accept the versions Mantid's supported conda environments ship, and the Python bound
    excludes the Python 3.8 releases (listed as unsupported)."""
    from insgan_core.cli._mantid_check import MANTID_ENVIRONMENTS, _requirements_from_setup_cfg, satisfies

    python_req, reqs = _requirements_from_setup_cfg(mantid_setup_path().parents[2] / "setup.cfg")
    specs = {r.name: r.specs for r in reqs}
    py_specs = [(">=", python_req.replace(">=", "").strip())]
    for env in MANTID_ENVIRONMENTS:
        checks = {name: env[name] for name in ("numpy", "scipy", "matplotlib") if env.get(name)}
        accepted = all(satisfies(version, specs[name]) for name, version in checks.items())
        if env["python"]:
            accepted = accepted and satisfies(env["python"], py_specs)
        assert accepted == env["supported"], env


def mantid_setup_path():
    from pathlib import Path

    return Path(mantid_setup.__file__).resolve()
