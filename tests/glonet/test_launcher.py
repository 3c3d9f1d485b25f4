import socket
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


def test_demo_refuses_a_taken_port_before_starting_anything(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        workdir = tmp_path / "demo"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "glonet",
                "demo",
                "--port",
                str(port),
                "--workdir",
                str(workdir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert f"make demo PORT={port + 1}" in result.stderr
    assert not workdir.exists()  # nothing was started or wiped


def test_the_demo_banner_names_only_pages_the_coordinator_serves(tmp_path):
    from fastapi.testclient import TestClient

    from cloud.config import Settings
    from cloud.main import create_app
    from glonet.commands.demo import START_PAGES

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", ingest={"enabled": False})
    assert {role for role, _ in START_PAGES} == {"coordinator", "customer", "plant", "technician"}
    with TestClient(create_app(settings)) as client:
        for _role, pages in START_PAGES:
            for page in pages:
                answer = client.get(page)
                # Unsigned, a page answers 401 with its HTML sign-in form; an unknown path is a
                # JSON 404.
                assert answer.status_code == 401, (page, answer.status_code)
                assert answer.headers["content-type"].startswith("text/html"), page


def test_a_gateway_process_carries_no_coordinator_code():
    """Every ``glonet`` process builds the whole parser; ``glonet edge`` must not load the
    coordinator's database and web stack by doing so (it cost the gateway 40 MB of RSS)."""
    probe = (
        "import sys; from glonet.cli import build_parser; build_parser(); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'fastapi', 'alembic') or (m.startswith('cloud.') "
        "and not m.startswith('cloud.scheduling')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []
