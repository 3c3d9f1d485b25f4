"""The product as a user installs it: the wheel, built from the sources with its compiled core,
installed into a fresh virtual environment, runs outside the checkout.

The fresh environment gets the wheel alone (``--no-deps``); its dependencies come from this
project's environment through a ``.pth`` line, which adds that site-packages to the path
without running its ``.pth`` files, so the editable install of the checkout stays out of
reach. Every command runs from an empty directory: what it finds (the product families, the demo
network, the templates, the migrations) comes from the wheel or not at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from glonet.broker import free_port, wait_for_port
from tests.waiting import wait_until

# Building the wheel compiles the Cython core: minutes on a loaded machine, in the first test.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocols", "firmware_sim", "edge", "cloud", "glonet")
BUILD_FILES = ("pyproject.toml", "setup.py", "README.md")
# Built files of the checkout's editable install, which the wheel must make itself.
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.egg-info")
# A plant loads the OPC UA NodeSets before it listens: 20 s alone on a loaded 2-core machine.
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Installed:
    """A virtual environment with the wheel installed, and an empty working directory."""

    venv: Path
    cwd: Path

    def command(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "glonet"), *args]

    def python(self, code: str) -> str:
        result = self.run([str(self.venv / "bin" / "python"), "-c", code])
        return result.stdout

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, cwd=self.cwd, env=_env(), capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                args,
                cwd=self.cwd,
                env=_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def _env() -> dict[str, str]:
    """This process's environment without anything that points Python at the checkout."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel once for the module (compiling the Cython core takes a minute or two) from
    a copy of the sources, so that the build leaves nothing in the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=NOT_SOURCES)
    for name in BUILD_FILES:
        shutil.copy(ROOT / name, source / name)
    dist = root / "dist"
    # Without build isolation: setuptools, wheel and Cython are dev dependencies, so the build
    # needs no index.
    build = ["wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(dist)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build, str(source)],
        cwd=root,
        check=True,
        timeout=900,
    )
    (wheel,) = dist.glob("glonet-*.whl")
    venv = root / "venv"
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    found = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True)
    dependencies = Path(found.stdout.strip()) / "project-dependencies.pth"
    dependencies.write_text(sysconfig.get_path("purelib") + "\n")
    install = ["install", "--no-deps", "--no-index", "--quiet", str(wheel)]
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, *install],
        check=True,
        timeout=300,
    )
    cwd = root / "elsewhere"
    cwd.mkdir()
    return Installed(venv, cwd)


def test_the_wheel_is_what_runs(installed: Installed) -> None:
    """The packages, their compiled core and the shipped data all come from the wheel."""
    found = yaml.safe_load(
        installed.python(
            "import json, sys, cloud, glonet, cloud.scheduling._core as core\n"
            "from cloud.config import DEFAULT_FAMILIES_DIR\n"
            "from glonet.demo import DEMO_SPEC\n"
            "from glonet.demo_network import load_spec\n"
            "spec = load_spec(DEMO_SPEC)\n"
            "print(json.dumps({'modules': [cloud.__file__, glonet.__file__, core.__file__],"
            " 'path': sys.path, 'families': sorted(p.name for p in"
            " DEFAULT_FAMILIES_DIR.glob('*.yaml')), 'plants': [str(p) for p in spec.plants]}))"
        )
    )
    venv = str(installed.venv)
    assert all(module.startswith(venv) for module in found["modules"]), found["modules"]
    assert found["modules"][2].endswith(".so")
    # The checkout's own directories are not on the path (its .venv's site-packages is, for the
    # dependencies; "" is the empty working directory).
    checkout = [entry for entry in found["path"] if entry.startswith(str(ROOT))]
    assert checkout == [sysconfig.get_path("purelib")], found["path"]
    assert len(found["families"]) >= 3
    assert found["plants"] and all(plant.startswith(venv) for plant in found["plants"])
    assert all(Path(plant).is_file() for plant in found["plants"])


def test_glonet_help_lists_the_commands(installed: Installed) -> None:
    output = installed.run(installed.command("--help")).stdout
    for command in ("demo", "sim", "edge", "cloud", "schedule"):
        assert command in output


def test_glonet_sim_runs_a_plant_of_the_demo_network(installed: Installed) -> None:
    plant = installed.python(
        "from glonet.demo import NETWORK_DIR; print(NETWORK_DIR / 'ferrara-controls.yaml')"
    ).strip()
    assert plant.startswith(str(installed.venv))
    port = free_port()
    log = installed.cwd / "sim.log"
    process = installed.start(installed.command("sim", plant, "--port", str(port)), log)
    try:
        assert wait_for_port("127.0.0.1", port, START_TIMEOUT), log.read_text()
    finally:
        process.terminate()
    assert process.wait(timeout=30) == 0, log.read_text()
    assert f"opc.tcp://127.0.0.1:{port}/glonet/ferrara-controls" in log.read_text()


@pytest.fixture
def coordinator(installed: Installed, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``glonet cloud serve`` from the wheel (API only: no broker here), and a coordinator key
    made with ``glonet cloud create-key``."""
    port = free_port()
    config = tmp_path / "coordinator.yaml"
    settings = {
        "network": "wheel",
        "data_dir": str(tmp_path / "data"),
        "listen_host": "127.0.0.1",
        "listen_port": port,
        "ingest": {"enabled": False},
    }
    config.write_text(yaml.safe_dump(settings))
    created = installed.run(installed.command("cloud", "create-key", "--config", str(config)))
    key = created.stdout.split(": ", 1)[1].split()[0]
    log = tmp_path / "coordinator.log"
    process = installed.start(installed.command("cloud", "serve", "--config", str(config)), log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: process.poll() is not None or wait_for_port("127.0.0.1", port, 0.5),
            START_TIMEOUT,
            "the coordinator listening",
        )
        assert process.poll() is None, log.read_text()
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_glonet_cloud_serve_finds_the_families_it_ships_with(
    coordinator: tuple[str, str],
) -> None:
    url, key = coordinator
    auth = {"Authorization": f"Bearer {key}"}
    families = httpx.get(f"{url}/api/families", headers=auth)
    assert families.status_code == 200, families.text
    assert {"robotic-cell", "solar-kit", "modular-kitchen"} <= {f["id"] for f in families.json()}
    sign_in = httpx.get(f"{url}/")  # a page without a session: the templates are in the wheel
    assert sign_in.status_code == 401 and "<form" in sign_in.text, sign_in.text
