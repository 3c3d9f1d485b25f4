"""Generate the broker's password and ACL files from the registry and the settings."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.brokerconfig import service
from cloud.config import Settings
from cloud.exceptions import ConfigurationError
from cloud.registry import service as registry_service
from cloud.registry.models import Technician, Unit

_LOGGER = logging.getLogger(__name__)
MEMBERS_LISTENER = service.Listener(service.DEFAULT_MEMBERS_PORT)


def generate(
    *,
    session: Session,
    settings: Settings,
    out_dir: Path,
    members: service.Listener = MEMBERS_LISTENER,
    coordinator: service.Listener | None = None,
) -> service.BrokerFiles:
    """The broker's files for ``settings.network``: the members' listener is ``members``, the
    coordinator's by default where its settings connect (``mqtt.host``/``mqtt.port``)."""
    mqtt = settings.mqtt
    coordinator = coordinator or service.Listener(mqtt.port, mqtt.host)
    if not mqtt.username or not mqtt.password:
        raise ConfigurationError("set mqtt.username and mqtt.password for the coordinator first")
    if members.port == coordinator.port:
        raise ConfigurationError(
            f"the coordinator needs a listener of its own: set mqtt.port to another port than"
            f" the gateways' {members.port} (e.g. {members.port + 1})"
        )
    units = registry_service.network_units(session=session, network_id=settings.network)
    with_credentials = [unit for unit in units if unit.mqtt_password_hash]
    for unit in units:
        if not unit.mqtt_password_hash:
            _LOGGER.warning("unit %s has no broker credentials yet; it cannot connect", unit.id)
    spelling = [unit.id for unit in with_credentials if unit.id.startswith(mqtt.client_id)]
    if spelling:
        # Its client id would be the coordinator's, and the broker would hand it that session.
        raise ConfigurationError(
            f"unit {spelling[0]!r} spells the coordinator's client id {mqtt.client_id!r}:"
            " give the coordinator another mqtt.client_id"
        )
    technicians = session.execute(
        select(Technician.id, Technician.mqtt_password_hash)
        .join(Unit, Unit.id == Technician.employer_unit_id)
        .where(Unit.network_id == settings.network)
        .order_by(Technician.id)
    ).all()
    technician_credentials = [
        service.TechnicianCredential(tech_id, password_hash)
        for tech_id, password_hash in technicians
        if password_hash
    ]
    texts = {
        service.PASSWORD_FILE: service.password_file(
            gateways=[
                service.GatewayCredential(unit.id, unit.mqtt_password_hash or "")
                for unit in with_credentials
            ],
            technicians=technician_credentials,
        ),
        service.COORDINATOR_PASSWORD_FILE: service.coordinator_password_file(
            coordinator_user=mqtt.username,
            coordinator_hash=service.hash_password(mqtt.password.get_secret_value()),
        ),
        service.ACL_FILE: service.acl_file(
            network=settings.network,
            coordinator_user=mqtt.username,
            unit_ids=[unit.id for unit in with_credentials],
            technician_ids=[tech_id for tech_id, _hash in technicians],
            technician_users=[c.technician_id for c in technician_credentials],
        ),
        service.CONF_FILE: service.listener_config(
            members=members,
            coordinator=coordinator,
            directory=out_dir,
        ),
    }
    return service.write_files(out_dir, texts=texts)
