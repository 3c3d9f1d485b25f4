"""Capacity reports and job events are written in bulk per ingest batch, with the result of
writing them one after the other: per key, only a newer seq wins, in message order."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from cloud.context import AppContext
from cloud.database import transaction
from cloud.ingest import service as ingest_service
from cloud.network import service as network_service
from cloud.network.models import JobProgress, MachineState
from cloud.telemetry.sink import EmbeddedSink
from protocols import messages, topics
from protocols.enums import JobEventKind, JobOrderState, MachineryItemState, MachineryOperationMode
from protocols.messages import JobEvent
from tests.protocols.samples import sample_messages

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def context(plant_context: AppContext) -> AppContext:
    return plant_context


def _event(job: str, progress: float) -> JobEvent:
    return JobEvent(
        machine="mill-1",
        job_order_id=job,
        event="progress",
        state="Running",
        progress=progress,
        occurred_at=NOW,
    )


def _progress(context: AppContext) -> dict[str, tuple[int, float | None]]:
    with context.session_factory() as session:
        rows = session.execute(
            select(JobProgress.job_order_id, JobProgress.seq, JobProgress.progress)
        )
        return {job: (seq, progress) for job, seq, progress in rows}


def test_rows_of_one_key_are_judged_in_order(context: AppContext) -> None:
    events = [
        ("plant-a", _event("job-1", 0.5), 5),
        ("plant-a", _event("job-2", 0.1), 1),
        ("plant-a", _event("job-1", 0.3), 3),  # older than the seq 5 before it: stale
        ("plant-a", _event("job-1", 0.7), 7),
        ("plant-a", _event("job-3", 0.2), 2),
    ]
    with transaction(context.session_factory) as session:
        written = network_service.apply_job_events(session=session, events=events)
    assert written == [True, True, False, True, True]
    assert _progress(context) == {"job-1": (7, 0.7), "job-2": (1, 0.1), "job-3": (2, 0.2)}

    # Against what is stored: only a newer seq wins.
    later = [("plant-a", _event("job-1", 0.6), 6), ("plant-a", _event("job-2", 0.9), 9)]
    with transaction(context.session_factory) as session:
        assert network_service.apply_job_events(session=session, events=later) == [False, True]
    assert _progress(context)["job-1"] == (7, 0.7)
    assert _progress(context)["job-2"] == (9, 0.9)


def _decoded(context: AppContext, message: Any, kind: str) -> ingest_service.Decoded:
    network = context.settings.network
    topic = getattr(topics, kind)(network, "plant-a", "mill-1")
    return ingest_service.Decoded(topics.parse(topic), message)


def _capacity(seq: int, free: int) -> messages.Capacity:
    body = {
        "machine": "mill-1",
        "available": True,
        "state": "Executing",
        "mode": "Processing",
        "free_slots": free,
        "queue_free_at": NOW,
        "reported_at": NOW,
    }
    return messages.Capacity.create(unit="plant-a", seq=seq, body=body)


def _job(seq: int, job: str, progress: float) -> messages.JobStatus:
    body = _event(job, progress).model_dump()
    return messages.JobStatus.create(unit="plant-a", seq=seq, body=body)


def test_a_batch_broadcasts_the_written_updates_in_message_order(context: AppContext) -> None:
    batch = [
        _decoded(context, _capacity(10, free=1), "capacity"),
        _decoded(context, _job(11, "job-1", 0.2), "job"),
        _decoded(context, _capacity(8, free=9), "capacity"),  # older than seq 10: stale
        _decoded(context, _job(12, "job-1", 0.4), "job"),
        _decoded(context, _job(9, "job-1", 0.1), "job"),  # older than seq 12: stale
        _decoded(context, _capacity(13, free=2), "capacity"),
    ]
    result = ingest_service.apply_batch(
        session_factory=context.session_factory,
        network=context.settings.network,
        batch=batch,
        sink=EmbeddedSink(),
        metrics=context.metrics,
    )

    assert [(e["type"], e.get("free_slots", e.get("progress"))) for e in result.events] == [
        ("capacity", 1),
        ("job", 0.2),
        ("job", 0.4),
        ("capacity", 2),
    ]
    assert result.applied == 4
    assert context.metrics.ignored.value(reason="stale") == 2
    with context.session_factory() as session:
        assert session.execute(select(MachineState.seq, MachineState.free_slots)).one() == (13, 2)
    assert _progress(context) == {"job-1": (12, 0.4)}


def test_the_live_events_on_the_wire_are_the_messages_fields_flattened(
    context: AppContext,
) -> None:
    """Typed in the ingest, an event reaches the broadcaster (and the pages) as it always has:
    its type, the unit, ``clock_ahead_s`` when set, then the message's fields, in this order."""
    network = context.settings.network
    sent = {type(m).__name__: m.model_copy(update={"unit": "plant-a"}) for m in sample_messages()}
    state, birth = sent["UnitState"], sent["UnitBirth"]
    capacity, job, alarm = sent["Capacity"], sent["JobStatus"], sent["Alarm"]

    def on(topic: Callable[[str, str, str], str]) -> topics.Topic:
        return topics.parse(topic(network, "plant-a", "laser-1"))

    batch = [
        ingest_service.Decoded(
            topics.parse(topics.unit_state(network, "plant-a")), state, clock_ahead_s=90.12345
        ),
        ingest_service.Decoded(topics.parse(topics.birth(network, "plant-a")), birth),
        ingest_service.Decoded(on(topics.capacity), capacity),
        ingest_service.Decoded(on(topics.telemetry), sent["Telemetry"]),
        ingest_service.Decoded(on(topics.job), job),
        ingest_service.Decoded(on(topics.alarm), alarm),
    ]
    result = ingest_service.apply_batch(
        session_factory=context.session_factory,
        network=network,
        batch=batch,
        sink=EmbeddedSink(),
        metrics=context.metrics,
    )

    head = {"unit_id": "plant-a"}
    expected = [
        {"type": "state", **head, "clock_ahead_s": 90.123, "status": "online"},
        {"type": "birth", **head, "machines": ["laser-1"]},
        {"type": "capacity", **head, **capacity.body.model_dump(mode="json")},
        {"type": "job", **head, **job.body.model_dump(mode="json", exclude_none=True)},
        {"type": "alarm", **head, **alarm.body.model_dump(mode="json", exclude_none=True)},
        {
            "type": "telemetry",
            **head,
            "machine": "laser-1",
            "metrics": {"power": None, "door_open": False},
        },
    ]
    assert json.dumps(result.events) == json.dumps(expected)


def test_machine_and_job_states_read_back_as_enums_and_store_their_values(
    context: AppContext,
) -> None:
    batch = [
        _decoded(context, _capacity(1, free=3), "capacity"),
        _decoded(context, _job(2, "job-1", 0.5), "job"),
    ]
    ingest_service.apply_batch(
        session_factory=context.session_factory,
        network=context.settings.network,
        batch=batch,
        sink=EmbeddedSink(),
        metrics=context.metrics,
    )
    with context.session_factory() as session:
        machine = session.scalars(select(MachineState)).one()
        job = session.scalars(select(JobProgress)).one()
        assert (machine.state, machine.mode) == (
            MachineryItemState.EXECUTING,
            MachineryOperationMode.PROCESSING,
        )
        assert type(machine.state) is MachineryItemState
        assert (job.event, job.state) == (JobEventKind.PROGRESS, JobOrderState.RUNNING)
        assert type(job.event) is JobEventKind and type(job.state) is JobOrderState
        stored = session.execute(text("SELECT state, mode FROM machine_state")).one()
        assert tuple(stored) == ("Executing", "Processing")
        stored = session.execute(text("SELECT event, state FROM job_progress")).one()
        assert tuple(stored) == ("progress", "Running")
