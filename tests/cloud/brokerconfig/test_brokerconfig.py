"""Broker credentials from the registry, enforced by a real Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest

from cloud.brokerconfig import flows
from cloud.brokerconfig.service import (
    Listener,
    hash_password,
    technician_user,
    verify_password,
)
from cloud.config import Settings
from cloud.database import transaction
from cloud.exceptions import ConfigurationError
from cloud.main import build_context, create_app
from cloud.registry import service as registry_service
from cloud.registry.models import TechnicianCreate
from glonet.broker import MosquittoBroker, free_port
from protocols import topics
from tests.cloud.conftest import Gateway, coordinator, make_key, onboard
from tests.cloud.serving import serve
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


class Client:
    """A paho client that records what it receives and whether it was let in."""

    def __init__(
        self,
        broker: MosquittoBroker,
        user: str,
        password: str,
        *,
        port: int | None = None,
        client_id: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.connected = threading.Event()
        self.refused = threading.Event()
        self.dropped = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"c-{user}",
            clean_session=clean_session,
        )
        self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect(broker.host, port or broker.port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        (self.refused if reason.is_failure else self.connected).set()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self.dropped.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.received.append((message.topic, message.payload))
            self.arrived.notify_all()

    def subscribe(self, topic: str) -> int:
        granted: list[int] = []
        done = threading.Event()

        def on_subscribe(client, userdata, mid, reasons, properties) -> None:
            granted.extend(r.value for r in reasons)
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe(topic, qos=1)
        assert done.wait(5)
        return granted[0]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def wait_for(self, payload: bytes) -> list[bytes]:
        with self.arrived:
            assert self.arrived.wait_for(
                lambda: any(p == payload for _, p in self.received), timeout=5
            ), self.received
            return [p for _, p in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_password_hash_is_mosquitto_format() -> None:
    hashed = hash_password("s3cret", salt=b"0123456789ab")
    kind, iterations, salt, digest = hashed.split("$")[1:]
    assert (kind, iterations, salt) == ("7", "101", "MDEyMzQ1Njc4OWFi")
    assert len(digest) == 88  # base64 of a 64-byte SHA-512 digest
    assert verify_password("s3cret", hashed) and not verify_password("other", hashed)


@dataclass
class SecuredBroker:
    """A Mosquitto run from the generated files: members on ``broker.port``, the coordinator on
    ``coordinator_port``."""

    broker: MosquittoBroker
    passwords: dict[str, str]
    network: str
    coordinator_port: int

    def coordinator(self, client_id: str = "glonet-coordinator", **options: Any) -> Client:
        return Client(
            self.broker,
            "coordinator-svc",
            "coord-pass",
            port=self.coordinator_port,
            client_id=client_id,
            **options,
        )

    def member(self, user: str, **options: Any) -> Client:
        return Client(self.broker, user, self.passwords[user], **options)


@pytest.fixture
def secured_broker(
    settings_factory: Callable[..., Settings],
    mosquitto_factory: Callable[..., MosquittoBroker],
    tmp_path: Path,
) -> Iterator[SecuredBroker]:
    mqtt = {"username": "coordinator-svc", "password": "coord-pass", "port": free_port()}
    settings = settings_factory(mqtt=mqtt)
    context = build_context(settings)
    passwords = {}
    for unit in ("plant-a", "plant-b"):
        onboard(context, unit)
        passwords[unit] = f"{unit}-password"
        with transaction(context.session_factory) as session:
            registry_service.set_mqtt_password_hash(
                session=session,
                actor=coordinator(),
                unit_id=unit,
                password_hash=hash_password(passwords[unit]),
            )
    with transaction(context.session_factory) as session:
        for tech, unit in (("tech-a", "plant-a"), ("tech-b", "plant-b")):
            registry_service.add_technician(
                session=session,
                actor=coordinator(),
                spec=TechnicianCreate(
                    id=tech, employer_unit_id=unit, name=tech, home_latitude=0, home_longitude=0
                ),
            )
        passwords[technician_user("tech-a")] = "tech-a-password"
        registry_service.set_technician_mqtt_password_hash(
            session=session,
            actor=coordinator(),
            technician_id="tech-a",
            password_hash=hash_password("tech-a-password"),
        )
    members = Listener(free_port(), "127.0.0.1")
    with transaction(context.session_factory) as session:
        files = flows.generate(
            session=session, settings=settings, out_dir=tmp_path / "b", members=members
        )
    context.engine.dispose()
    broker = mosquitto_factory(
        extra_config=files.conf.read_text(), own_listener=False, port=members.port
    )
    yield SecuredBroker(broker, passwords, settings.network, settings.mqtt.port)
    broker.stop()


def test_generated_files_enforce_each_gateways_topics(
    secured_broker: SecuredBroker,
) -> None:
    broker, passwords, network = (
        secured_broker.broker,
        secured_broker.passwords,
        secured_broker.network,
    )
    impostor = Client(broker, "plant-a", "wrong")
    assert impostor.refused.wait(5)
    impostor.close()

    coordinator_client = secured_broker.coordinator()
    plant_a = Client(broker, "plant-a", passwords["plant-a"])
    try:
        assert coordinator_client.connected.wait(5) and plant_a.connected.wait(5)
        assert coordinator_client.subscribe(topics.network_filter(network)) == 1

        # A publishes as B (dropped by the broker), then under its own unit (delivered).
        plant_a.publish(topics.telemetry(network, "plant-b", "m1"), b"as-b")
        plant_a.publish(topics.telemetry(network, "plant-a", "m1"), b"as-a")
        assert coordinator_client.wait_for(b"as-a") == [b"as-a"]

        # A may read its own commands but not B's.
        plant_a.subscribe(topics.command(network, "plant-b"))
        plant_a.subscribe(topics.command(network, "plant-a"))
        coordinator_client.publish(topics.command(network, "plant-b"), b"for-b")
        coordinator_client.publish(topics.command(network, "plant-a"), b"for-a")
        assert plant_a.wait_for(b"for-a") == [b"for-a"]
    finally:
        coordinator_client.close()
        plant_a.close()


def test_a_technician_reads_only_its_own_alerts(
    secured_broker: SecuredBroker,
) -> None:
    broker, passwords, network = (
        secured_broker.broker,
        secured_broker.passwords,
        secured_broker.network,
    )
    without_credentials = Client(broker, technician_user("tech-b"), "anything")
    assert without_credentials.refused.wait(5)
    without_credentials.close()

    coordinator_client = secured_broker.coordinator()
    user = technician_user("tech-a")
    tech_a = Client(broker, user, passwords[user])
    try:
        assert coordinator_client.connected.wait(5) and tech_a.connected.wait(5)
        assert coordinator_client.subscribe(topics.network_filter(network)) == 1
        for topic in (
            topics.technician_alerts(network, "tech-b"),
            topics.command(network, "plant-a"),
            topics.technician_alerts(network, "tech-a"),
        ):
            tech_a.subscribe(topic)
        coordinator_client.publish(topics.technician_alerts(network, "tech-b"), b"for-b")
        coordinator_client.publish(topics.command(network, "plant-a"), b"cmd-a")
        coordinator_client.publish(topics.technician_alerts(network, "tech-a"), b"for-a")
        assert tech_a.wait_for(b"for-a") == [b"for-a"]

        # It replies only as itself: another technician's replies are dropped by the broker.
        tech_a.publish(topics.technician_replies(network, "tech-b"), b"as-b")
        tech_a.publish(topics.technician_replies(network, "tech-a"), b"as-a")
        coordinator_client.wait_for(b"as-a")
        assert b"as-b" not in [p for _, p in coordinator_client.received]
    finally:
        coordinator_client.close()
        tech_a.close()


def test_only_the_coordinator_shares_live_events(
    secured_broker: SecuredBroker,
) -> None:
    """The coordinator processes' event bus passes the generated ACL; a gateway can neither
    read the events (every plant's) nor forge one."""
    broker, passwords, network = (
        secured_broker.broker,
        secured_broker.passwords,
        secured_broker.network,
    )
    coordinator_client = secured_broker.coordinator()
    plant_a = Client(broker, "plant-a", passwords["plant-a"])
    try:
        assert coordinator_client.connected.wait(5) and plant_a.connected.wait(5)
        assert coordinator_client.subscribe(topics.coordinator_events_filter(network)) == 1
        plant_a.subscribe(topics.coordinator_events_filter(network))
        plant_a.subscribe(topics.command(network, "plant-a"))

        plant_a.publish(topics.coordinator_events(network, "forged"), b"forged")
        coordinator_client.publish(topics.coordinator_events(network, "process1"), b"shared")
        assert coordinator_client.wait_for(b"shared") == [b"shared"]
        coordinator_client.publish(topics.command(network, "plant-a"), b"after")
        assert plant_a.wait_for(b"after") == [b"after"]  # the shared events never reached it
    finally:
        coordinator_client.close()
        plant_a.close()


def test_no_credential_takes_over_another_clients_session(secured_broker: SecuredBroker) -> None:
    """The review's M1: plant-a connecting as ``glonet-coordinator`` kicked the coordinator off,
    and 11 of 12 messages from plant-b were lost while plant-a held its session."""
    network = secured_broker.network
    ingest = secured_broker.coordinator(clean_session=False)
    events = secured_broker.coordinator("glonet-coordinator-events-1234")
    plant_b = secured_broker.member("plant-b", client_id=f"glonet-edge-{network}-plant-b")
    clients = [ingest, events, plant_b]
    try:
        assert all(c.connected.wait(5) for c in clients)
        assert ingest.subscribe(topics.network_filter(network)) == 1

        # The plant's own credential, asking for the coordinator's client id, gets its own.
        hijacker = secured_broker.member("plant-a", client_id="glonet-coordinator")
        clients.append(hijacker)
        assert hijacker.connected.wait(5)
        # On the coordinator's listener, no member credential is let in.
        intruder = Client(
            secured_broker.broker,
            "plant-a",
            secured_broker.passwords["plant-a"],
            port=secured_broker.coordinator_port,
            client_id="glonet-coordinator",
        )
        clients.append(intruder)
        assert intruder.refused.wait(5)

        sent = [f"b-{n}".encode() for n in range(12)]
        for payload in sent:
            plant_b.publish(topics.telemetry(network, "plant-b", "m1"), payload)
        ingest.wait_for(sent[-1])
        assert [p for _, p in ingest.received] == sent  # all of them, in order
        assert not ingest.dropped.is_set() and not events.dropped.is_set()

        # Within its credential a client keeps only its own session: a second plant-a
        # connection replaces the first, whatever client id either asked for.
        second = secured_broker.member("plant-a", client_id="anything-else")
        clients.append(second)
        assert second.connected.wait(5) and hijacker.dropped.wait(5)
        assert not ingest.dropped.is_set()
    finally:
        for client in clients:
            client.close()


def test_a_gateways_persistent_session_survives_under_its_user_name(
    secured_broker: SecuredBroker,
) -> None:
    """The gateway's configured client id is replaced by its user name, which is as stable:
    commands sent while it was away still arrive."""
    network = secured_broker.network
    client_id = f"glonet-edge-{network}-plant-a"
    gateway = secured_broker.member("plant-a", client_id=client_id, clean_session=False)
    coordinator_client = secured_broker.coordinator()
    try:
        assert gateway.connected.wait(5) and coordinator_client.connected.wait(5)
        assert gateway.subscribe(topics.command(network, "plant-a")) == 1
        gateway.close()
        coordinator_client.publish(topics.command(network, "plant-a"), b"while-away")
        gateway = secured_broker.member("plant-a", client_id=client_id, clean_session=False)
        assert gateway.wait_for(b"while-away") == [b"while-away"]
    finally:
        gateway.close()
        coordinator_client.close()


def test_the_generated_listeners_refuse_a_clash_with_the_coordinator(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    mqtt = {"username": "coordinator-svc", "password": "coord-pass", "port": 1883}
    settings = settings_factory(mqtt=mqtt)
    context = build_context(settings)
    onboard(context, "glonet-coordinator-2")
    with transaction(context.session_factory) as session:
        registry_service.set_mqtt_password_hash(
            session=session,
            actor=coordinator(),
            unit_id="glonet-coordinator-2",
            password_hash=hash_password("x"),
        )
    try:
        with transaction(context.session_factory) as session:
            with pytest.raises(ConfigurationError, match="listener of its own"):
                flows.generate(session=session, settings=settings, out_dir=tmp_path)
            with pytest.raises(ConfigurationError, match="spells the coordinator's client id"):
                flows.generate(
                    session=session, settings=settings, out_dir=tmp_path, members=Listener(1884)
                )
    finally:
        context.engine.dispose()


def test_real_coordinator_processes_keep_their_sessions_beside_a_hijacking_plant(
    secured_broker: SecuredBroker, settings_factory: Callable[..., Settings]
) -> None:
    """Two coordinator processes (shared-subscription ingest and event bus each) on the
    generated broker, and plant-a's gateway asking for the first one's client id: both stay
    connected and plant-a's messages are applied."""

    def process(client_id: str) -> Any:
        mqtt = {
            "host": "127.0.0.1",
            "port": secured_broker.coordinator_port,
            "username": "coordinator-svc",
            "password": "coord-pass",
            "client_id": client_id,
            "share_group": "ingest",
        }
        ingest = {"enabled": True, "isolation": "thread"}
        return create_app(settings_factory(mqtt=mqtt, ingest=ingest, events={"bus": "on"}))

    first, second = process("glonet-coordinator"), process("glonet-coordinator-ingest-2")
    key = make_key(first.state.context, "coordinator")
    headers = {"Authorization": f"Bearer {key}"}
    with serve(first) as first_url, serve(second) as second_url:
        gateway = Gateway(
            secured_broker.broker,
            "plant-a",
            network=secured_broker.network,
            credentials=("plant-a", secured_broker.passwords["plant-a"]),
            client_id="glonet-coordinator",
        )
        try:
            gateway.online()

            def plant_a_online() -> bool:
                units = httpx.get(f"{first_url}/api/overview", headers=headers).json()["units"]
                return any(u["unit_id"] == "plant-a" and u["status"] == "online" for u in units)

            wait_until(plant_a_online, timeout=15, what="plant-a's state applied")
            for url in (first_url, second_url):
                health = httpx.get(f"{url}/healthz").json()
                assert health["status"] == "ok", health
        finally:
            gateway.close()
