"""``share_telemetry: false`` enforced, through the real ingest pipeline: no raw samples of such
a member are stored (embedded store or any other sink), what maintenance needs is still kept
(rollups, latest values), and none of it is shown to anyone but the member's own plant."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth import service as auth_service
from cloud.auth.models import Actor
from cloud.database import transaction
from cloud.ingest.applier import Pipeline
from cloud.messaging.mqtt import InboundMessage
from cloud.network import service as network_service
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import MetricRollup
from protocols import codec, messages, topics
from tests.cloud.conftest import Tenants, make_pipeline, stored_samples

_SEQ = itertools.count(1)


def _telemetry(network: str, unit: str, value: float) -> InboundMessage:
    body = {
        "samples": [
            {"machine": "m1", "metric": "rpm", "value": value, "source_time": datetime.now(UTC)}
        ]
    }
    message = messages.Telemetry.create(unit=unit, seq=next(_SEQ), body=body)
    return InboundMessage(
        topics.telemetry(network, unit, "m1"), codec.encode(message), next(_SEQ), 1, False
    )


class RecordingSink:
    """A sink that keeps which units' samples it was handed (the InfluxDB sink's place)."""

    name = "recording"

    def __init__(self) -> None:
        self.units: list[str] = []

    def write(self, session: Session, samples: SampleBatch) -> None:
        self.units.extend(record.unit_id for record in samples.records())

    def close(self) -> None:
        return None


@pytest.fixture
def private_b(client: TestClient, tenants: Tenants) -> Tenants:
    """plant-a shares its telemetry; plant-b stops sharing (through the API), and both report."""
    changed = client.patch(
        "/api/units/plant-b",
        json={"sharing_policy": {"share_telemetry": False, "hourly_rate": 80.0}},
        headers=tenants.headers("coordinator"),
    )
    assert changed.status_code == 200
    context = tenants.context
    network = context.settings.network
    make_pipeline(context).run(
        [_telemetry(network, unit, value) for unit, value in [("plant-a", 1.0), ("plant-b", 2.0)]]
    )
    return tenants


def test_no_raw_sample_of_a_private_member_reaches_any_sink(private_b: Tenants) -> None:
    context = private_b.context
    assert {sample[0] for sample in stored_samples(context.session_factory)} == {"plant-a"}
    sink = RecordingSink()
    pipeline = Pipeline.for_settings(
        context.settings,
        session_factory=context.session_factory,
        sink=sink,
        metrics=context.metrics,
        hooks=[],
    )
    network = context.settings.network
    events = pipeline.run([_telemetry(network, u, 3.0) for u in ("plant-b", "plant-a")])
    assert sink.units == ["plant-a"]
    # What maintenance's rules need is kept, and the live event still goes to the stream
    # (which shows it to plant-b alone, below).
    assert {event["unit_id"] for event in events} == {"plant-a", "plant-b"}
    with context.session_factory() as session:
        rolled = session.scalars(select(MetricRollup.unit_id).distinct()).all()
    assert sorted(rolled) == ["plant-a", "plant-b"]


def test_a_private_members_telemetry_is_shown_to_its_own_plant_alone(
    client: TestClient, private_b: Tenants
) -> None:
    tenants = private_b
    coordinator = tenants.headers("coordinator")
    for path in ("/api/machines/plant-b/m1/rollups", "/api/machines/plant-b/m1/samples"):
        refused = client.get(path, headers=coordinator)
        assert refused.status_code == 403, path
        assert "keeps its telemetry to itself" in refused.json()["message"]
    hidden = client.get("/api/machines/plant-b/m1", headers=coordinator).json()
    assert hidden["latest_metrics"] == {} and hidden["telemetry_hidden"] is True
    shared = client.get("/api/machines/plant-a/m1", headers=coordinator).json()
    assert shared["latest_metrics"] == {"rpm": 1.0} and shared["telemetry_hidden"] is False
    listed = client.get("/api/machines", headers=coordinator).json()
    assert {m["unit_id"]: m["latest_metrics"] for m in listed} == {
        "plant-a": {"rpm": 1.0},
        "plant-b": {},
    }

    own = tenants.headers("plant-b")
    assert client.get("/api/machines/plant-b/m1", headers=own).json()["latest_metrics"] == {
        "rpm": 2.0
    }
    rollups = client.get("/api/machines/plant-b/m1/rollups", headers=own).json()
    assert [(r["metric"], r["last"]) for r in rollups] == [("rpm", 2.0)]
    none_kept = client.get("/api/machines/plant-b/m1/samples", headers=own)
    assert none_kept.status_code == 409 and "stores none" in none_kept.json()["message"]

    client.cookies.set("glonet_key", tenants.keys["coordinator"])
    page = client.get("/machines/plant-b/m1")
    assert page.status_code == 200 and 'id="telemetry-private"' in page.text
    assert "data-metric" not in page.text
    overview = client.get("/")
    assert overview.status_code == 200 and "rpm=2.0" not in overview.text
    client.cookies.set("glonet_key", tenants.keys["plant-b"])
    page = client.get("/machines/plant-b/m1")
    assert 'data-metric="rpm"' in page.text and 'id="no-raw-samples"' in page.text
    client.cookies.clear()


def test_live_telemetry_of_a_private_member_streams_to_its_own_plant_alone(
    private_b: Tenants,
) -> None:
    context = private_b.context
    events = [
        {"type": "telemetry", "unit_id": "plant-b", "machine": "m1", "metrics": {"rpm": 2.0}},
        {"type": "state", "unit_id": "plant-b", "status": "online"},
        {"type": "telemetry", "unit_id": "plant-a", "machine": "m1", "metrics": {"rpm": 1.0}},
    ]
    with transaction(context.session_factory) as session:
        seen = {}
        for who in ("coordinator", "plant-b"):
            actor = _actor(session, private_b, who)
            visible = network_service.events_visible_to(session=session, actor=actor)
            seen[who] = [(e["type"], e["unit_id"]) for e in events if visible(e)]
    assert seen["coordinator"] == [("state", "plant-b"), ("telemetry", "plant-a")]
    assert seen["plant-b"] == [("telemetry", "plant-b"), ("state", "plant-b")]


def _actor(session: Session, tenants: Tenants, who: str) -> Actor:
    return auth_service.authenticate(session=session, api_key=tenants.keys[who])
