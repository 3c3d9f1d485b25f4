"""``glonet cloud`` commands and settings files, as an operator uses them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.config import load_settings
from cloud.exceptions import ConfigurationError
from glonet.broker import MosquittoBroker, free_port
from glonet.cli import main
from tests.cloud.conftest import mqtt_settings, retained_coordinator_state
from tests.waiting import wait_until

STARTUP_S = 60.0
"""A coordinator process starts its ingest child and broker link before it answers, which takes
seconds on a loaded 2-core machine."""


def _write_config(path: Path, db_url: str, network: str = "clinet", **extra: object) -> Path:
    config = {"network": network, "database_url": db_url, **extra}
    path.write_text(json.dumps(config))  # JSON is valid YAML
    return path


def _worker_with_plant_a(
    tmp_path: Path,
    db_url: str,
    network: str,
    broker: MosquittoBroker,
    client_id: str,
    **extra: object,
) -> tuple[Path, Any]:
    """A worker's settings file on ``broker`` (with ``extra`` settings), and the migrated
    database with plant-a onboarded (its context, for the test's queries)."""
    from cloud.main import build_context
    from tests.cloud.conftest import onboard

    config = _write_config(
        tmp_path / f"{client_id}.yaml",
        db_url,
        network,
        mqtt=mqtt_settings(broker, client_id),
        **extra,
    )
    context = build_context(load_settings(config))
    onboard(context, "plant-a")
    return config, context


def test_settings_from_yaml_toml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("network: north\nmqtt:\n  port: 1999\ntelemetry:\n  sink: influxdb\n")
    settings = load_settings(yaml_file)
    assert (settings.network, settings.mqtt.port, settings.telemetry.sink) == (
        "north",
        1999,
        "influxdb",
    )
    toml_file = tmp_path / "c.toml"
    toml_file.write_text('network = "south"\n[ingest]\nbatch_size = 7\n')
    monkeypatch.setenv("GLONET_MQTT__PORT", "2001")
    settings = load_settings(toml_file)
    assert (settings.network, settings.ingest.batch_size, settings.mqtt.port) == ("south", 7, 2001)
    assert settings.resolved_database_url.endswith("coordinator.sqlite")
    (tmp_path / "bad.yaml").write_text("- a list")
    with pytest.raises(ConfigurationError):
        load_settings(tmp_path / "bad.yaml")


def test_create_key_and_broker_config(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path / "c.yaml", db_url, mqtt={"username": "coord", "password": "pw", "port": 1884}
    )
    assert main(["cloud", "create-key", "--config", str(config)]) == 0
    key = capsys.readouterr().out.split(": ")[1].split()[0]
    assert key.startswith("glo_")
    assert main(["cloud", "create-key", "--config", str(config), "--role", "plant"]) == 2
    assert "needs unit_id" in capsys.readouterr().out
    missing = ["cloud", "create-key", "--config", str(config), "--role", "plant", "--unit", "x"]
    assert main(missing) == 1
    assert main(["cloud", "broker-config", "--config", str(config), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "coordinator-passwd").read_text().startswith("coord:$7$101$")
    assert (tmp_path / "b" / "passwd").read_text() == ""  # no gateway has credentials yet
    assert "user coord" in (tmp_path / "b" / "acl").read_text()
    conf = (tmp_path / "b" / "glonet.conf").read_text()
    assert "listener 1883\n" in conf and "listener 1884 127.0.0.1\n" in conf
    assert "use_username_as_clientid true" in conf


@pytest.mark.integration
def test_serve_runs_the_coordinator_and_says_goodbye(
    tmp_path: Path, db_url: str, running_mosquitto: MosquittoBroker, network: str
) -> None:
    port = free_port()
    config = _write_config(
        tmp_path / "c.yaml",
        db_url,
        network,
        listen_port=port,
        mqtt=mqtt_settings(running_mosquitto, "cli"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "glonet", "cloud", "serve", "--config", str(config), "--json-logs"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        assert wait_until(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, STARTUP_S)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["checks"]["mqtt"] == "ok"
        assert retained_coordinator_state(running_mosquitto, network) == "online"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM)
    assert retained_coordinator_state(running_mosquitto, network) == "offline"
    first_log = json.loads(stderr.decode().splitlines()[0])
    assert {"time", "level", "logger", "message"} <= set(first_log)


@pytest.mark.integration
def test_ingest_command_runs_a_worker_until_terminated(
    tmp_path: Path, db_url: str, running_mosquitto: MosquittoBroker, network: str
) -> None:
    from cloud.network.models import UnitPresence
    from tests.cloud.conftest import Gateway

    config, context = _worker_with_plant_a(tmp_path, db_url, network, running_mosquitto, "w1")
    process = subprocess.Popen(
        [sys.executable, "-m", "glonet", "cloud", "ingest", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = Gateway(running_mosquitto, "plant-a", network=network)
    try:
        gateway.online()  # retained: the worker gets it whenever it subscribes

        def status() -> str | None:
            with context.session_factory() as session:
                row = session.get(UnitPresence, "plant-a")
                return row.status if row else None

        assert wait_until(lambda: status() == "online", STARTUP_S)
    finally:
        gateway.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        context.engine.dispose()
    assert process.returncode == 0
    assert retained_coordinator_state(running_mosquitto, network) == "offline"


@pytest.mark.integration
def test_an_ingest_worker_serves_its_metrics_and_health(
    tmp_path: Path, db_url: str, running_mosquitto: MosquittoBroker, network: str
) -> None:
    from tests.cloud.conftest import Gateway

    port = free_port()
    config, context = _worker_with_plant_a(tmp_path, db_url, network, running_mosquitto, "w-m")
    context.engine.dispose()
    command = [sys.executable, "-m", "glonet", "cloud", "ingest", "--config", str(config)]
    process = subprocess.Popen([*command, "--metrics-port", str(port)], stderr=subprocess.DEVNULL)
    gateway = Gateway(running_mosquitto, "plant-a", network=network)
    base_url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _get(f"{base_url}/healthz") == 200, STARTUP_S)
        health = httpx.get(f"{base_url}/healthz").json()
        assert health["checks"] == {
            "database": "ok",
            "mqtt": "ok",
            "ingest": "ok",
            "event_bus": "ok",
        }
        gateway.telemetry("m1", [1.0, 2.0])
        assert wait_until(
            lambda: "glonet_ingest_samples_total 2.0" in httpx.get(f"{base_url}/metrics").text,
            STARTUP_S,
        )
        # A second worker asked for the same port says so and starts nothing.
        taken = subprocess.run(
            [*command, "--metrics-port", str(port)], capture_output=True, text=True, timeout=60
        )
        assert taken.returncode == 2
        assert f"cannot serve metrics on 127.0.0.1:{port}" in taken.stderr
    finally:
        gateway.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0


def _get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


@pytest.mark.integration
def test_ingest_with_services_runs_the_dispatcher_beside_an_api_only_process(
    tmp_path: Path, db_url: str, running_mosquitto: MosquittoBroker, network: str
) -> None:
    """Beside an API-only ``serve`` nothing else dispatches: ``ingest --services`` does, and a
    plain ``ingest`` does not."""
    from cloud.dispatch.models import SchedulerState
    from cloud.main import build_context

    mqtt = {"host": running_mosquitto.host, "port": running_mosquitto.port}
    context = build_context(load_settings(_write_config(tmp_path / "c.yaml", db_url, network)))

    def planned_at() -> object:
        with context.session_factory() as session:
            state = session.get(SchedulerState, network)
            return state.planned_at if state is not None else None

    def run(client_id: str, *extra: str) -> subprocess.Popen[bytes]:
        orders = {"tick_interval_s": 0.2}
        config = _write_config(
            tmp_path / f"{client_id}.yaml",
            db_url,
            network,
            mqtt={**mqtt, "client_id": client_id},
            orders=orders,
        )
        command = [sys.executable, "-m", "glonet", "cloud", "ingest", "--config", str(config)]
        return subprocess.Popen([*command, *extra], stderr=subprocess.DEVNULL)

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        assert process.returncode == 0

    plain = run("plain")
    try:
        assert wait_until(
            lambda: retained_coordinator_state(running_mosquitto, network) == "online", STARTUP_S
        )
        # The wait is the scenario: nothing may plan during several ticks' worth of time.
        time.sleep(1.5)
        assert planned_at() is None
    finally:
        stop(plain)
    services = run("services", "--services")
    try:
        assert wait_until(lambda: planned_at() is not None, STARTUP_S)
    finally:
        stop(services)
        context.engine.dispose()
