"""The live machine view (GET /api/machines): registry, live state, latest values and alarms
joined per machine, scoped to what the caller may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.auth.models import Actor, Role
from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.exceptions import NotFound
from cloud.main import build_context
from cloud.network import service
from cloud.network.models import MAX_MISSING_NODES
from cloud.registry import service as registry_service
from cloud.telemetry.models import LatestMetric
from protocols.messages import AlarmEvent, CapacityReport, UnitDescription
from tests.cloud.conftest import coordinator, onboard

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture
def context(settings: Settings) -> AppContext:
    context = build_context(settings)
    for unit, machines in (("plant-a", ["m1", "m2"]), ("plant-b", ["m1"]), ("plant-c", ["m9"])):
        onboard(context, unit)
        with transaction(context.session_factory) as session:
            registry_service.record_birth(
                session=session,
                unit_id=unit,
                machines=[{"machine": m, "name": f"{unit} {m}"} for m in machines],
            )
    with transaction(context.session_factory) as session:
        # plant-a online, plant-b gone offline, plant-c never reported
        for unit, status in (("plant-a", "online"), ("plant-b", "offline")):
            service.apply_unit_state(
                session=session, unit_id=unit, status=status, reason=None, seq=1, at=NOW
            )
        report = CapacityReport(
            machine="m1",
            available=True,
            state="Executing",
            mode="Processing",
            running_job_order="job-1",
            stored_job_orders=["job-1", "job-2"],
            free_slots=3,
            queue_free_at=NOW + timedelta(minutes=5),
            reported_at=NOW,
            unmapped_values=[{"variable": "mode", "value": "WARMUP"}],  # 1.2: not stored
        )
        service.apply_capacities(session=session, reports=[("plant-a", report, 2)])
        session.add_all(
            [
                _latest("plant-a", "spindle_rpm", number=1200.0),
                _latest("plant-a", "program", text="P-17"),
                _latest("plant-b", "spindle_rpm", number=900.0),
            ]
        )
        for alarm_id in ("a-1", "a-2"):
            alarm = AlarmEvent(
                asset="m1",
                alarm_id=alarm_id,
                code="overheat",
                state="raised",
                severity=700,
                text="hot",
                source="opcua_event",
                occurred_at=NOW,
            )
            service.apply_alarm(session=session, unit_id="plant-a", alarm=alarm)
    return context


def _latest(
    unit: str, metric: str, *, number: float | None = None, text: str | None = None
) -> LatestMetric:
    return LatestMetric(
        unit_id=unit,
        machine="m1",
        metric=metric,
        time=NOW,
        value_number=number,
        value_text=text,
        quality="good",
    )


def _live(context: AppContext, actor: Actor, **filters: str) -> list[dict[str, object]]:
    with transaction(context.session_factory) as session:
        rows = service.machines_live(session=session, actor=actor, **filters)
    return [row.model_dump(mode="json") for row in rows]


def test_every_machine_with_its_live_state_values_and_alarms(context: AppContext) -> None:
    machines = _live(context, coordinator())

    assert [(m["unit_id"], m["machine"]) for m in machines] == [
        ("plant-a", "m1"),
        ("plant-a", "m2"),
        ("plant-b", "m1"),
        ("plant-c", "m9"),
    ]
    busy, idle, offline, unknown = machines
    assert busy == {
        "unit_id": "plant-a",
        "machine": "m1",
        "name": "plant-a m1",
        "online": True,
        "available": True,
        "state": "Executing",
        "mode": "Processing",
        "running_job_order": "job-1",
        "stored_job_orders": ["job-1", "job-2"],
        "free_slots": 3,
        "queue_free_at": "2026-11-29T08:05:00Z",
        "reported_at": "2026-11-29T08:00:00Z",
        "latest_metrics": {"spindle_rpm": 1200.0, "program": "P-17"},
        "telemetry_hidden": False,
        "active_alarms": 2,
    }
    # No capacity report yet: the live fields keep their defaults.
    assert idle["online"] is True and idle["state"] is None and idle["stored_job_orders"] == []
    assert idle["latest_metrics"] == {} and idle["active_alarms"] == 0
    assert offline["online"] is False and offline["latest_metrics"] == {"spindle_rpm": 900.0}
    assert unknown["online"] is False and unknown["name"] == "plant-c m9"


def test_filters_and_plant_scope(context: AppContext) -> None:
    plant_a = Actor(principal_id=1, name="a", role=Role.PLANT, unit_id="plant-a")

    assert [m["machine"] for m in _live(context, coordinator(), unit_id="plant-b")] == ["m1"]
    one = _live(context, coordinator(), unit_id="plant-a", machine="m2")
    assert [(m["unit_id"], m["machine"]) for m in one] == [("plant-a", "m2")]
    assert [(m["unit_id"], m["machine"]) for m in _live(context, plant_a)] == [
        ("plant-a", "m1"),
        ("plant-a", "m2"),
    ]
    assert _live(context, plant_a, unit_id="plant-b") == []


def _birth(
    context: AppContext, unit: str, machines: dict[str, list[dict[str, str]]], seq: int = 5
) -> None:
    description = UnitDescription.model_validate(
        {
            "gateway_version": "gw 2.1",
            "machines": [
                {"machine": m, "name": f"{unit} {m}", "metrics": metrics}
                for m, metrics in machines.items()
            ],
        }
    )
    with transaction(context.session_factory) as session:
        service.apply_birth(session=session, unit_id=unit, description=description, seq=seq)


def _health(context: AppContext, actor: Actor, unit: str) -> dict[str, object]:
    with transaction(context.session_factory) as session:
        return service.gateway_health(session=session, actor=actor, unit_id=unit).model_dump(
            mode="json"
        )


def test_gateway_health_lists_the_missing_nodes_of_the_latest_birth(context: AppContext) -> None:
    unknown = "BadNodeIdUnknown: ns=2;s=Press.Spindle.Temp"
    _birth(
        context,
        "plant-a",
        {
            "m1": [{"name": "spindle_rpm"}, {"name": "spindle_temp", "missing": unknown}],
            "m2": [{"name": "power", "unit": "kW"}],
        },
    )
    plant_a = Actor(principal_id=1, name="a", role=Role.PLANT, unit_id="plant-a")

    health = _health(context, plant_a, "plant-a")
    assert health == _health(context, coordinator(), "plant-a")
    assert health["status"] == "online" and health["gateway_version"] == "gw 2.1"
    assert health["missing_nodes"] == [
        {"machine": "m1", "metric": "spindle_temp", "reason": unknown}
    ]
    assert health["missing_total"] == 1
    # The node is found again: the next birth no longer lists it.
    _birth(context, "plant-a", {"m1": [{"name": "spindle_temp"}]}, seq=6)
    assert _health(context, plant_a, "plant-a")["missing_nodes"] == []
    # Never heard from: unknown, nothing missing.
    never = _health(context, coordinator(), "plant-c")
    assert never["status"] == "unknown" and never["gateway_version"] is None


def test_gateway_health_is_the_plants_own_only(context: AppContext) -> None:
    plant_a = Actor(principal_id=1, name="a", role=Role.PLANT, unit_id="plant-a")
    with pytest.raises(NotFound):
        _health(context, plant_a, "plant-b")
    assert _health(context, coordinator(), "plant-b")["status"] == "offline"


def test_gateway_health_lists_a_bounded_number_of_missing_nodes(context: AppContext) -> None:
    missing = [{"name": f"m{i}", "missing": "BadNodeIdUnknown"} for i in range(150)]
    _birth(context, "plant-a", {"m1": missing, "m2": missing})

    health = _health(context, coordinator(), "plant-a")
    assert len(health["missing_nodes"]) == MAX_MISSING_NODES  # type: ignore[arg-type]
    assert health["missing_total"] == 300


def test_gateway_health_shows_the_outbox_depth_of_the_newest_capacity_report(
    context: AppContext,
) -> None:
    """Protocol 1.3: capacity reports carry the unit's outbox depth; the newest one counts, and
    a report without it (a gateway before 1.3) leaves what is known."""
    assert _health(context, coordinator(), "plant-a")["outbox_depth"] is None  # a 1.2 report

    def report(depth: int | None, minutes: int, seq: int) -> None:
        fields = {"machine": "m2", "available": True, "state": "NotExecuting", "mode": "None"}
        at = NOW + timedelta(minutes=minutes)
        capacity = CapacityReport(
            **fields, free_slots=1, queue_free_at=at, reported_at=at, outbox_depth=depth
        )
        with transaction(context.session_factory) as session:
            service.apply_capacities(session=session, reports=[("plant-a", capacity, seq)])

    report(42, minutes=2, seq=10)
    report(7, minutes=1, seq=9)  # an older report, replayed late
    report(None, minutes=3, seq=11)  # from a gateway that does not say
    health = _health(context, coordinator(), "plant-a")
    assert health["outbox_depth"] == 42
    assert health["outbox_reported_at"] == (NOW + timedelta(minutes=2)).isoformat().replace(
        "+00:00", "Z"
    )
