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

from glonet.demo_network import DemoSpec, gateway_machines, prepare_registry

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
    from cloud.auth.models import Actor, Role
    from cloud.brokerconfig import flows as broker_flows
    from cloud.brokerconfig import service as broker_service
    from cloud.config import load_settings
    from cloud.database import transaction
    from cloud.main import build_context
    from cloud.registry import service as registry_service
    from firmware_sim.plant import load_plant

    plants = [load_plant(path) for path in spec.plants]
    keys = prepare_registry(settings, plants, spec)
    coordinator_settings = load_settings(None, **settings)
    context = build_context(coordinator_settings)
    system = Actor(principal_id=0, name="setup", role=Role.COORDINATOR)
    broker_dir = out_dir / "mosquitto"
    try:
        with transaction(context.session_factory) as session:
            for plant in plants:
                password = broker_service.new_password()
                registry_service.set_mqtt_password_hash(
                    session=session,
                    actor=system,
                    unit_id=plant.unit,
                    password_hash=broker_service.hash_password(password),
                )
                gateway = {
                    "network": spec.network,
                    "unit": plant.unit,
                    "broker": {"url": broker_url, "username": plant.unit, "password": password},
                    "buffer": {"path": f"/var/lib/glonet/edge/{plant.unit}/outbox.sqlite"},
                    "health": {"host": "0.0.0.0", "port": 8470},
                    "machines": gateway_machines(plant),
                }
                _write(out_dir / "gateways" / f"{plant.unit}.yaml", yaml.safe_dump(gateway))
            for tech in spec.technicians:
                password = broker_service.new_password()
                registry_service.set_technician_mqtt_password_hash(
                    session=session,
                    actor=system,
                    technician_id=tech.id,
                    password_hash=broker_service.hash_password(password),
                )
                device = {
                    "network": spec.network,
                    "technician": tech.id,
                    "broker": {
                        "url": broker_url,
                        "username": broker_service.technician_user(tech.id),
                        "password": password,
                    },
                }
                _write(out_dir / "technicians" / f"{tech.id}.yaml", yaml.safe_dump(device))
            # Gateways on 1883, the coordinator on its own listener (mqtt.port, every interface).
            files = broker_flows.generate(
                session=session,
                settings=coordinator_settings,
                out_dir=broker_dir,
                members=broker_service.Listener(MEMBERS_PORT),
                coordinator=broker_service.Listener(coordinator_settings.mqtt.port),
            )
    finally:
        context.engine.dispose()
    _write(broker_dir / "mosquitto.conf", MOSQUITTO_CONF + files.conf.read_text())
    _write(out_dir / "coordinator.yaml", yaml.safe_dump(settings, sort_keys=False))
    _write(out_dir / "keys.txt", "".join(f"{name}: {key}\n" for name, key in keys.items()))
    _LOGGER.info("deployment prepared in %s", out_dir)
    return keys


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o640)
