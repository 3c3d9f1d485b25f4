"""Fixtures for the coordinator: databases (SQLite and PostgreSQL), apps, keys, gateways.

``backend`` is parametrised: every test using it, or ``db_url`` or ``settings`` (and what is made
from them), runs on SQLite and on PostgreSQL (the latter skipped unless GLONET_TEST_POSTGRES_URL
is set). ``db_url`` is an empty database, for the tests of the migrations and of what makes the
schema; ``settings`` point at a database already at the newest revision, a copy of one migrated
once per worker (migrating from empty takes seconds on PostgreSQL, copying a fraction of one).
"""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cloud.auth import service as auth_service
from cloud.auth.models import Actor, PrincipalCreate, Role
from cloud.config import Settings, load_settings
from cloud.context import AppContext
from cloud.database import make_engine, migrate, transaction
from cloud.ingest.applier import Pipeline
from cloud.main import build_context, create_app
from cloud.messaging.hooks import BatchHook
from cloud.registry import service as registry_service
from cloud.registry.models import TechnicianCreate, UnitCreate
from cloud.services import make_ingest
from cloud.telemetry.models import TelemetryChunk
from cloud.telemetry.sink import chunk_samples
from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from tests.conftest import fresh_postgres_database


@pytest.fixture
def network() -> str:
    """A network id of its own per test: retained messages of other tests stay out of it."""
    return f"net-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'coordinator.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision, to copy."""
    path = tmp_path_factory.mktemp("schema") / "coordinator.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to the newest revision, to copy."""
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()  # a database is copied only while nobody is connected to it
        yield str(make_url(url).database)


@pytest.fixture
def migrated_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest revision, of its own for the test."""
    if backend == "sqlite":
        path = tmp_path / "coordinator.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        yield f"sqlite:///{path}"
        return
    with fresh_postgres_database(template=request.getfixturevalue("postgres_schema")) as url:
        yield url


@pytest.fixture
def settings_factory(migrated_db_url: str, tmp_path: Path, network: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "network": network,
            "data_dir": tmp_path,
            "database_url": migrated_db_url,
            "ingest": {"enabled": False},
            "events": {"bus": "off"},  # auto would join a bus on the default broker
        }
        values.update(overrides)
        return load_settings(None, **values)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


def coordinator() -> Actor:
    return Actor(principal_id=0, name="fixture", role=Role.COORDINATOR)


def onboard(context: AppContext, unit_id: str, **fields: Any) -> None:
    """A unit of the network; it shares its telemetry unless ``sharing_policy`` says otherwise."""
    spec = {"id": unit_id, "network_id": context.settings.network, "company": f"{unit_id} Ltd"}
    spec.update(
        {"latitude": 45.0, "longitude": 9.0, "sharing_policy": {"share_telemetry": True}}, **fields
    )
    with transaction(context.session_factory) as session:
        registry_service.onboard_unit(
            session=session, actor=coordinator(), spec=UnitCreate.model_validate(spec)
        )


def stored_samples(
    session_factory: sessionmaker[Session], metric: str | None = None
) -> list[tuple[Any, ...]]:
    """The embedded store's samples as ``(unit, machine, metric, time, value, quality)``, by
    chunk id then in each chunk's order; only ``metric``'s when given."""
    with session_factory() as session:
        chunks = session.execute(
            select(
                TelemetryChunk.unit_id,
                TelemetryChunk.machine,
                TelemetryChunk.first_time,
                TelemetryChunk.samples,
            ).order_by(TelemetryChunk.id)
        ).all()
    return [
        (unit_id, machine, *sample)
        for unit_id, machine, first_time, encoded in chunks
        for sample in chunk_samples(first_time, encoded)
        if metric is None or sample[0] == metric
    ]


def make_key(context: AppContext, role: str, **scope: str) -> str:
    with transaction(context.session_factory) as session:
        _, key = auth_service.create_principal(
            session=session, spec=PrincipalCreate(name=f"{role} key", role=role, **scope)
        )
    return key


@dataclass
class Tenants:
    """Two plants (A, B) with a technician each, and keys for every role."""

    context: AppContext
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def populate(context: AppContext) -> Tenants:
    tenants = Tenants(context)
    for unit in ("plant-a", "plant-b"):
        onboard(context, unit, sharing_policy={"hourly_rate": 80.0, "share_telemetry": True})
        with transaction(context.session_factory) as session:
            registry_service.add_technician(
                session=session,
                actor=coordinator(),
                spec=TechnicianCreate(
                    id=f"tech-{unit}",
                    name="Tech",
                    employer_unit_id=unit,
                    home_latitude=45.1,
                    home_longitude=9.1,
                ),
            )
            registry_service.record_birth(
                session=session,
                unit_id=unit,
                machines=[{"machine": "m1", "name": "Mill"}],
            )
    tenants.keys["coordinator"] = make_key(context, "coordinator")
    tenants.keys["plant-a"] = make_key(context, "plant", unit_id="plant-a")
    tenants.keys["plant-b"] = make_key(context, "plant", unit_id="plant-b")
    tenants.keys["technician"] = make_key(context, "technician", technician_id="tech-plant-a")
    tenants.keys["customer"] = make_key(context, "customer", customer_id="cust-1")
    return tenants


def make_pipeline(context: AppContext, hook: BatchHook | None = None) -> Pipeline:
    """The ingest's decode-and-apply pipeline on ``context``, without foreign topics."""
    return Pipeline.for_settings(
        context.settings,
        session_factory=context.session_factory,
        sink=context.sink,
        metrics=context.metrics,
        hooks=[hook] if hook is not None else [],
    )


@pytest.fixture
def plant_context(settings: Settings) -> Iterator[AppContext]:
    """The coordinator's context (no ingest running) with plant-a onboarded."""
    context = build_context(settings)
    onboard(context, "plant-a")
    yield context
    context.engine.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tenants(client: TestClient) -> Tenants:
    return populate(client.app.state.context)  # type: ignore[attr-defined]


# Gateways and ingest workers ----------------------------------------------------------------


class Gateway:
    """Publishes GloNet messages as a plant's gateway would (QoS 1, retain per the contract)."""

    def __init__(
        self,
        broker: MosquittoBroker,
        unit: str,
        *,
        network: str,
        credentials: tuple[str, str] | None = None,
        client_id: str | None = None,
    ) -> None:
        self.unit, self.network = unit, network
        self.seq = itertools.count(1)
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"gw-{unit}"
        )
        if credentials is not None:
            self.client.username_pw_set(*credentials)
        offline = self.envelope(messages.UnitState, {"state": "offline", "reason": "lost"})
        self.client.will_set(
            topics.unit_state(network, unit), codec.encode(offline), qos=1, retain=True
        )
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        assert connected.wait(5)

    def envelope(self, kind: type[messages.Envelope], body: Any) -> messages.Envelope:
        return kind.create(unit=self.unit, seq=next(self.seq), body=body)

    def send(self, topic: str, message: messages.Envelope | bytes, *, retain: bool = False) -> None:
        payload = message if isinstance(message, bytes) else codec.encode(message)
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def online(self) -> messages.Envelope:
        message = self.envelope(messages.UnitState, {"state": "online"})
        self.send(topics.unit_state(self.network, self.unit), message, retain=True)
        return message

    def birth(self, *machines: str) -> messages.Envelope:
        body = {
            "gateway_version": "test-1",
            "machines": [
                {"machine": m, "name": f"Machine {m}", "metrics": [{"name": "spindle_rpm"}]}
                for m in machines
            ],
        }
        message = self.envelope(messages.UnitBirth, body)
        self.send(topics.birth(self.network, self.unit), message, retain=True)
        return message

    def capacity(
        self, machine: str, *, state: str = "Executing", free: int = 2
    ) -> messages.Envelope:
        now = datetime.now(UTC)
        body = {
            "machine": machine,
            "available": True,
            "state": state,
            "mode": "Processing",
            "running_job_order": "job-1" if state == "Executing" else None,
            "free_slots": free,
            "queue_free_at": now,
            "reported_at": now,
        }
        message = self.envelope(messages.Capacity, body)
        self.send(topics.capacity(self.network, self.unit, machine), message, retain=True)
        return message

    def job(self, machine: str, job_id: str, event: str, **extra: Any) -> messages.Envelope:
        body = {"machine": machine, "job_order_id": job_id, "event": event}
        body.update(occurred_at=datetime.now(UTC), **extra)
        message = self.envelope(messages.JobStatus, body)
        self.send(topics.job(self.network, self.unit, machine), message)
        return message

    def alarm(self, machine: str, alarm_id: str, state: str) -> messages.Envelope:
        body = {
            "asset": machine,
            "alarm_id": alarm_id,
            "code": "overheat",
            "state": state,
            "severity": 700,
            "text": "spindle temperature high",
            "source": "opcua_event",
            "occurred_at": datetime.now(UTC),
        }
        message = self.envelope(messages.Alarm, body)
        self.send(topics.alarm(self.network, self.unit, machine), message)
        return message

    def telemetry(self, machine: str, values: list[float], metric: str = "spindle_rpm") -> Any:
        now = datetime.now(UTC)
        samples = [
            {"machine": machine, "metric": metric, "value": v, "source_time": now} for v in values
        ]
        message = self.envelope(messages.Telemetry, {"samples": samples})
        self.send(topics.telemetry(self.network, self.unit, machine), message)
        return message

    def crash(self) -> None:
        """Close the socket without DISCONNECT: the broker publishes the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def gateways(
    running_mosquitto: MosquittoBroker, network: str
) -> Iterator[Callable[[str], Gateway]]:
    made: list[Gateway] = []

    def make(unit: str) -> Gateway:
        gateway = Gateway(running_mosquitto, unit, network=network)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def mqtt_settings(broker: MosquittoBroker, client_id: str, **extra: Any) -> dict[str, Any]:
    return {"host": broker.host, "port": broker.port, "client_id": client_id, **extra}


@pytest.fixture(params=["process", "thread"])
async def ingest_context(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker, request: Any
) -> AsyncIterator[AppContext]:
    """A migrated context with unit ``plant-a`` onboarded and an ingest worker running, which
    applies its batches in a child process or in threads."""
    client_id = f"coord-{request.node.name}"[:60]
    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, client_id),
        ingest={"batch_size": 50, "isolation": request.param},
    )
    context = build_context(settings)
    onboard(context, "plant-a")
    context.ingest = make_ingest(context)
    await context.ingest.start()
    assert await context.ingest.wait_subscribed()
    yield context
    if context.ingest is not None:
        await context.ingest.stop()
    context.engine.dispose()


def retained_coordinator_state(
    broker: MosquittoBroker, network: str, timeout: float = 5.0
) -> str | None:
    """The coordinator state the broker retains for ``network``; None when none arrives within
    ``timeout`` (a coordinator still starting has published none yet)."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)

    def on_message(_client: object, _userdata: object, message: paho.MQTTMessage) -> None:
        got.append(message.payload)
        arrived.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(topics.coordinator_state(network), qos=1)
    client.loop_start()
    try:
        if not arrived.wait(timeout):
            return None
    finally:
        client.disconnect()
        client.loop_stop()
    return str(codec.decode(got[0]).body.state)
