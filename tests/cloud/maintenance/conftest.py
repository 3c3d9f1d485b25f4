"""A seeded demo network for the maintenance tests: two plants, machines, a field product,
technicians and one principal per role; on SQLite, and on PostgreSQL where it is configured."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from cloud.auth import service as auth_service
from cloud.auth.models import PrincipalCreate, Role
from cloud.config import Settings
from cloud.database import transaction
from cloud.ingest import service as ingest_service
from cloud.main import create_app
from cloud.maintenance import flows
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy, MaintenanceSettings
from cloud.maintenance.webhooks.flows import on_failed
from cloud.maintenance.webhooks.service import ORIGIN
from cloud.maintenance.worker import MaintenanceWorker
from cloud.messaging.delivery import OutboxDelivery
from cloud.messaging.hooks import Decoded
from cloud.messaging.mqtt import Outbound
from cloud.registry.models import Machine, Technician, Unit
from glonet.broker import MosquittoBroker
from protocols import messages, topics
from protocols.enums import AlarmSource, AlarmState
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cloud.serving import serve

NETWORK = "demo"
_TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
T0 = _TODAY - timedelta(days=_TODAY.weekday() + 7)
"""Monday 09:00 UTC a week or two ago: within working hours, and inside the figures' period."""
WEEKDAYS = [{"weekday": d, "start": "07:00", "end": "18:00"} for d in range(5)]


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Seeded:
    session_factory: sessionmaker[Session]
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def seed(session: Session, network: str = NETWORK) -> dict[str, str]:
    """Units, machines, a customer's product, technicians and principals; returns API keys."""
    joined = T0 - timedelta(days=7)  # before the test's clock starts: the figures observe from it
    session.add_all(
        [
            Unit(
                id="cut-co",
                network_id=network,
                company="Cut Co",
                latitude=45.07,
                longitude=7.69,
                created_at=joined,
            ),
            Unit(
                id="weld-co",
                network_id=network,
                company="Weld Co",
                latitude=44.49,
                longitude=11.34,
                created_at=joined,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            Machine(unit_id="cut-co", machine="laser-1", name="Laser 1", model="FL-3015"),
            Machine(unit_id="cut-co", machine="press-1", name="Press 1", model="PB-100"),
            Machine(unit_id="weld-co", machine="weld-1", name="Welder 1", model="W-5"),
            Machine(
                unit_id="weld-co",
                machine="cell-7",
                name="Robot cell at ACME",
                asset_kind="product",
                static_data={"customer": "acme", "service_level": "premium"},
            ),
        ]
    )
    session.add_all(
        [
            Technician(
                id="tina",
                name="Tina",
                employer_unit_id="cut-co",
                skills=["mechanical", "electrical"],
                home_latitude=45.07,
                home_longitude=7.70,
                working_hours=WEEKDAYS,
            ),
            Technician(
                id="marco",
                name="Marco",
                employer_unit_id="weld-co",
                skills=["mechanical"],
                home_latitude=44.50,
                home_longitude=11.35,
                working_hours=WEEKDAYS,
            ),
        ]
    )
    session.flush()
    specs = {
        "coordinator": PrincipalCreate(name="Coordinator", role=Role.COORDINATOR),
        "cut-co": PrincipalCreate(name="Cut Co", role=Role.PLANT, unit_id="cut-co"),
        "weld-co": PrincipalCreate(name="Weld Co", role=Role.PLANT, unit_id="weld-co"),
        "tina": PrincipalCreate(name="Tina", role=Role.TECHNICIAN, technician_id="tina"),
        "marco": PrincipalCreate(name="Marco", role=Role.TECHNICIAN, technician_id="marco"),
        "acme": PrincipalCreate(name="ACME", role=Role.CUSTOMER, customer_id="acme"),
        "globex": PrincipalCreate(name="Globex", role=Role.CUSTOMER, customer_id="globex"),
    }
    return {
        name: auth_service.create_principal(session=session, spec=spec)[1]
        for name, spec in specs.items()
    }


def alarm(
    asset: str,
    code: str = "overheat",
    *,
    unit: str = "cut-co",
    severity: int = 700,
    state: AlarmState = AlarmState.RAISED,
    seq: int = 1,
    text: str | None = None,
    metric: str | None = None,
    value: float | None = None,
    occurred_at: datetime = T0,
) -> messages.Alarm:
    return messages.Alarm.create(
        unit=unit,
        seq=seq,
        body=messages.AlarmEvent(
            asset=asset,
            alarm_id=f"{asset}/{code}",
            code=code,
            state=state,
            severity=severity,
            text=text or f"{code} on {asset}",
            source=AlarmSource.OPCUA_EVENT,
            metric=metric,
            value=value,
            occurred_at=occurred_at,
        ),
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium for the maintenance pages, closed after the test."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def make_settings(settings_factory: Callable[..., Settings]) -> Callable[..., Settings]:
    """The cloud's settings (tests/cloud's, on each database) on the harness's network, with
    maintenance off unless a test turns it on and the event bus at its default."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "network": NETWORK,
            "events": {},
            "maintenance": {"enabled": False},
        }
        return settings_factory(**values | overrides)

    return make


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    app = create_app(make_settings())
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def seeded(client: TestClient) -> Seeded:
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        keys = seed(session)
    return Seeded(factory, keys)


@dataclass
class Rounds:
    worker: MaintenanceWorker
    delivery: OutboxDelivery

    def run_once(self) -> list[dict[str, Any]]:
        return [*self.worker.run_once(), *self.delivery.run_once()]


@dataclass
class Harness:
    """Feeds messages through the real ingest path (with the maintenance hook) and runs the
    maintenance worker's rounds, all on a clock the test moves."""

    client: TestClient
    seeded: Seeded
    clock: FakeClock
    published: list[tuple[str, bytes]] = field(default_factory=list)
    broker_up: bool = True

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self.seeded.session_factory

    def ingest(
        self, *batch: messages.Envelope, policy: MaintenancePolicy = DEFAULT_POLICY
    ) -> list[dict[str, Any]]:
        context = self.client.app.state.context  # type: ignore[attr-defined]
        decoded = [Decoded(_topic_of(message), message) for message in batch]
        result = ingest_service.apply_batch(
            session_factory=self.session_factory,
            network=NETWORK,
            batch=decoded,
            sink=context.sink,
            metrics=context.metrics,
            hooks=[flows.ingest_hook(NETWORK, self.clock, policy)],
        )
        return result.events

    def publish(self, outbound: Sequence[Outbound]) -> list[str | None]:
        """A broker that acknowledges everything while up."""
        if not self.broker_up:
            return ["broker not connected"] * len(outbound)
        self.published.extend((message.topic, message.payload) for message in outbound)
        return [None] * len(outbound)

    def worker(self, **settings: Any) -> Rounds:
        """The maintenance worker's round followed by the outbox delivery's, as the running
        coordinator does them (with the delivery's policy from the same settings)."""
        context = self.client.app.state.context  # type: ignore[attr-defined]
        maintenance = MaintenanceSettings(**settings)
        worker = MaintenanceWorker(
            session_factory=self.session_factory,
            network=NETWORK,
            settings=maintenance,
            broadcaster=context.broadcaster,
            clock=self.clock,
        )
        delivery = OutboxDelivery(
            session_factory=self.session_factory,
            publish=self.publish,
            policy=maintenance.policy().delivery(),
            on_failed={ORIGIN: on_failed},
            http=httpx.Client(timeout=2),
            clock=self.clock,
        )
        return Rounds(worker, delivery)

    def session(self) -> Session:
        return self.session_factory()


def _topic_of(message: messages.Envelope) -> topics.Topic:
    if isinstance(message, messages.Alarm):
        return topics.parse(topics.alarm(NETWORK, message.unit, message.body.asset))
    if isinstance(message, messages.UnitState):
        return topics.parse(topics.unit_state(NETWORK, message.unit))
    raise AssertionError(f"no topic for {message.schema_}")


@pytest.fixture
def harness(client: TestClient, seeded: Seeded) -> Harness:
    return Harness(client, seeded, FakeClock())


@dataclass
class Served:
    """A coordinator serving HTTP on a free port, with ingest and maintenance running."""

    base_url: str
    network: str
    app: Any
    seeded: Seeded

    def api(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.base_url}{path}", headers=self.seeded.headers(who), timeout=10, **kwargs
        )


@pytest.fixture
def served(
    make_settings: Callable[..., Settings], running_mosquitto: MosquittoBroker
) -> Iterator[Served]:
    network = f"net-{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        network=network,
        mqtt={
            "host": running_mosquitto.host,
            "port": running_mosquitto.port,
            "client_id": f"coord-{network}",
        },
        ingest={"enabled": True},
        maintenance={"enabled": True, "tick_seconds": 0.2},
    )
    app = create_app(settings)
    factory = app.state.context.session_factory
    with transaction(factory) as session:
        keys = seed(session, network)
    with serve(app) as base_url:
        yield Served(base_url, network, app, Seeded(factory, keys))
