"""Prepare a production-like deployment (docker-compose.yml): registry, credentials, configs.

``glonet demo --prepare DIR`` onboards the plants into the coordinator's database (PostgreSQL in
the compose file), gives each gateway its own broker password, writes the Mosquitto password and
ACL files generated from the registry, one gateway configuration per plant, one broker login per
technician's device, the coordinator's settings file, and the API keys. The compose services
then only run ``glonet`` commands.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from glonet.demo_network import DemoSpec, gateway_machines, network_setup, prepare_network

_LOGGER = logging.getLogger(__name__)
MOSQUITTO_CONF = """\
persistence true
persistence_location /mosquitto/data/
"""
MEMBERS_PORT = 1883


def prepare(
    spec: DemoSpec, settings: dict[str, Any], out_dir: Path, broker_url: str
) -> dict[str, str]:
    """Write everything under ``out_dir``; return the API keys."""
    from cloud.bootstrap import Listener, write_broker_files
    from cloud.brokerconfig.service import technician_user
    from cloud.config import load_settings
    from firmware_sim.plant import load_plant

    plants = [load_plant(path) for path in spec.plants]
    credentials = prepare_network(settings, network_setup(spec, plants, broker_logins=True))
    for plant in plants:
        broker = {
            "url": broker_url,
            "username": plant.unit,
            "password": credentials.unit_broker_passwords[plant.unit],
        }
        gateway = {
            "network": spec.network,
            "unit": plant.unit,
            "broker": broker,
            "buffer": {"path": f"/var/lib/glonet/edge/{plant.unit}/outbox.sqlite"},
            "health": {"host": "0.0.0.0", "port": 8470},
            "machines": gateway_machines(plant),
        }
        _write(out_dir / "gateways" / f"{plant.unit}.yaml", yaml.safe_dump(gateway))
    for tech in spec.technicians:
        device = {
            "network": spec.network,
            "technician": tech.id,
            "broker": {
                "url": broker_url,
                "username": technician_user(tech.id),
                "password": credentials.technician_broker_passwords[tech.id],
            },
        }
        _write(out_dir / "technicians" / f"{tech.id}.yaml", yaml.safe_dump(device))
    # Gateways on 1883, the coordinator on its own listener (mqtt.port, every interface).
    coordinator_settings = load_settings(None, **settings)
    broker_dir = out_dir / "mosquitto"
    files = write_broker_files(
        coordinator_settings,
        broker_dir,
        members=Listener(MEMBERS_PORT),
        coordinator=Listener(coordinator_settings.mqtt.port),
    )
    _write(broker_dir / "mosquitto.conf", MOSQUITTO_CONF + files.conf.read_text())
    _write(out_dir / "coordinator.yaml", yaml.safe_dump(settings, sort_keys=False))
    keys = credentials.api_keys
    _write(out_dir / "keys.txt", "".join(f"{name}: {key}\n" for name, key in keys.items()))
    _LOGGER.info("deployment prepared in %s", out_dir)
    return keys


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o640)
