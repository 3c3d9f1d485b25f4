import subprocess
import sys

from glonet.cli import build_parser, main


def test_help_lists_the_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("demo",):
        assert command in out


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "glonet", "--help"], capture_output=True, text=True, check=True
    )
    assert "COMMAND" in result.stdout


def test_all_packages_import():
    result = subprocess.run(
        [sys.executable, "-c", "import protocols, edge, cloud, firmware_sim"], check=False
    )
    assert result.returncode == 0


def test_parser_has_a_handler_for_every_subcommand():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert choices
    for name, sub in choices.items():
        assert sub.get_default("handler") is not None, name
