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
