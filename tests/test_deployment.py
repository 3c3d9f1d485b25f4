"""docker-compose.yml and the Dockerfile, checked without a Docker engine: structure, files, and
every ``glonet`` command against the real CLI; the setup step run for real on SQLite."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.config import load_settings
from edge.config import load_config
from glonet.cli import build_parser
from glonet.demo_network import load_spec
from glonet.deployment import prepare
from protocols import topics

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
REQUIRED = {"postgres", "influxdb", "grafana", "mosquitto", "setup", "coordinator"}


def _glonet_services() -> dict[str, list[str]]:
    """Command lines (after the ``glonet`` entrypoint) of the services built from this repo."""
    commands = {}
    for name, service in SERVICES.items():
        if service.get("image") != "glonet:latest":
            continue
        command = service["command"]
        if service.get("entrypoint") == ["sh", "-c"]:
            first = command[0].split("&&")[0]
            words = shlex.split(first)
            assert words[0] == "glonet"
            command = words[1:]
        commands[name] = command
    return commands


def test_every_part_of_the_deployment_is_there() -> None:
    assert set(SERVICES) >= REQUIRED
    plants = [name for name in SERVICES if name.startswith("plant-")]
    gateways = [name for name in SERVICES if name.startswith("gateway-")]
    spec = load_spec(ROOT / "deploy/compose/network.yaml")
    assert len(plants) == len(gateways) == len(spec.plants)
    for gateway in gateways:
        plant = SERVICES[gateway]["network_mode"].removeprefix("service:")
        assert plant in plants, f"{gateway} shares the namespace of a missing plant"
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"


@pytest.mark.parametrize(("service", "command"), sorted(_glonet_services().items()))
def test_every_glonet_command_parses_with_the_real_cli(service: str, command: list[str]) -> None:
    args = build_parser().parse_args(command)
    assert args.handler is not None
    for value in vars(args).values():
        paths = value if isinstance(value, list) else [value]
        for path in paths:
            if isinstance(path, Path) and str(path).startswith(("deploy/", "glonet/")):
                assert (ROOT / path).exists(), f"{service}: {path} is not in the repository"


def test_files_the_compose_file_and_dockerfile_use_exist() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/machine-telemetry.json").read_text())
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/influxdb.yaml").read_text()
    )
    uid = source["datasources"][0]["uid"]
    assert all(panel["datasource"]["uid"] == uid for panel in dashboard["panels"])


def test_the_setup_step_writes_consistent_configuration(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "deploy/compose/network.yaml")
    plant_services = {name.removeprefix("plant-") for name in SERVICES if name.startswith("plant-")}
    assert {path.stem for path in spec.plants} == plant_services
    settings = {
        **spec.coordinator,
        "network": spec.network,
        "database_url": f"sqlite:///{tmp_path / 'coordinator.sqlite'}",
        "mqtt": {**spec.coordinator["mqtt"], "password": "test-password"},
        "orders": {"time_scale": spec.time_scale},
    }
    keys = prepare(spec, settings, tmp_path, broker_url="mqtt://mosquitto:1883")
    assert "Network coordinator" in keys
    passwd = (tmp_path / "mosquitto/passwd").read_text()
    acl = (tmp_path / "mosquitto/acl").read_text()
    for unit in plant_services:
        assert passwd.count(f"{unit}:$7$") == 1
        assert f"user {unit}" in acl
        gateway = load_config(str(tmp_path / "gateways" / f"{unit}.yaml"))
        assert gateway.unit == unit and gateway.broker.username == unit
    assert spec.technicians
    for tech in spec.technicians:
        device = yaml.safe_load((tmp_path / "technicians" / f"{tech.id}.yaml").read_text())
        user = device["broker"]["username"]
        assert passwd.count(f"{user}:$7$") == 1
        assert f"user {user}\ntopic read {topics.technician_alerts(spec.network, tech.id)}" in acl
    coordinator = load_settings(tmp_path / "coordinator.yaml")
    assert coordinator.mqtt.host == "mosquitto" and coordinator.telemetry.sink == "influxdb"
    conf = (tmp_path / "mosquitto/mosquitto.conf").read_text()
    # Gateways on 1883 with client id = user name; the coordinator alone on its own listener.
    assert coordinator.mqtt.port == 1884 and "listener 1884\n" in conf
    assert "listener 1883\nallow_anonymous false\nuse_username_as_clientid true" in conf


def _compose_cli() -> list[str] | None:
    """``docker compose`` (the plugin) or ``docker-compose``, when installed."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_accepts_the_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose here: the structure tests above check the file without it")
    result = subprocess.run(
        [*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
