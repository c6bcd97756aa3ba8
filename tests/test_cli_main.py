"""The ``insgan`` entry point: help with examples, exit codes 0/1/2, --debug and --quiet."""

import pytest

from insgan_core.cli import main as cli_main
from insgan_core.cli.main import SUBCOMMANDS, get_parser, main

COMMANDS = [name.replace("_", "-") for name in SUBCOMMANDS]


def test_every_subcommand_is_registered():
    parser = get_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "example" in text.lower()
    assert f"insgan {command}" in text


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_input_exits_2_without_traceback(tmp_path, capsys):
    missing = tmp_path / "missing.nxspe"
    code = main(["convert", str(missing), "--q-bins", "0,0.1,3", "-o", str(tmp_path / "out.nxs")])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing.nxspe" in err and "not found" in err
    assert "Traceback" not in err


def test_runtime_error_exits_1_and_debug_reraises(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("solver exploded")

    parser = get_parser()
    monkeypatch.setattr(cli_main, "get_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["plot"].set_defaults(func=boom)
    assert main(["plot", "x.nxs", "-o", "x.png"]) == 1
    err = capsys.readouterr().err
    assert "solver exploded" in err and "--debug" in err
    with pytest.raises(RuntimeError, match="solver exploded"):
        main(["plot", "x.nxs", "-o", "x.png", "--debug"])


def test_quiet_accepted_before_or_after_the_command():
    parser = get_parser()
    assert parser.parse_args(["--quiet", "plot", "a", "-o", "b"]).quiet is True
    assert parser.parse_args(["plot", "a", "-o", "b", "--quiet"]).quiet is True
    assert parser.parse_args(["plot", "a", "-o", "b"]).quiet is False
