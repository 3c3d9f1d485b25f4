"""Apply a batch of MQTT messages: validate, de-duplicate, update live state, forward telemetry.

A batch is one database transaction. Its message ids go into ``seen_messages`` with
``ON CONFLICT DO NOTHING ... RETURNING``; only the ids this transaction inserted are applied.
Two workers holding the same id (a redelivery) serialise on that row, and the second one applies
nothing — exactly-once effect with at-least-once delivery, across restarts too.
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.database import BulkInsert, transaction, utcnow
from cloud.events import Event
from cloud.ingest.events import (
    AlarmReported,
    CapacityReported,
    JobReported,
    TelemetryArrived,
    UnitBorn,
    UnitEvent,
    UnitStateChanged,
)
from cloud.ingest.models import SeenMessage
from cloud.messaging import hooks as ingest_hooks
from cloud.messaging.hooks import AppliedBatch, BatchHook, Decoded
from cloud.messaging.mqtt import InboundMessage
from cloud.network import service as network_service
from cloud.operations.metrics import Metrics
from cloud.registry.models import Unit, shares_telemetry
from cloud.telemetry import service as telemetry_service
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.sink import TelemetrySink
from protocols import ProtocolError, codec, messages, topics
from protocols.topics import TopicKind

INGESTED_KINDS = frozenset(
    {
        TopicKind.UNIT_STATE,
        TopicKind.BIRTH,
        TopicKind.CAPACITY,
        TopicKind.TELEMETRY,
        TopicKind.JOB,
        TopicKind.ALARM,
        TopicKind.TECHNICIAN_REPLIES,
    }
)
"""Every inbound kind goes through the same pipeline: validation, de-duplication, one
transaction, retry while the database is away, dead letters. What a kind does beyond the live
state is another domain's batch hook (a technician's reply: maintenance; see
:mod:`cloud.messaging.hooks`)."""
FROM_TECHNICIANS = frozenset({TopicKind.TECHNICIAN_REPLIES})
"""Kinds sent by technicians' devices: their sender is the topic's technician, not a unit."""
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_MAX_FORECAST = timedelta(days=31)


class Rejected(Exception):
    """A message refused before it reaches the database; ``reason`` is the counted code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class BatchResult:
    events: list[Event] = field(default_factory=list)
    """Live events as the broadcaster carries them: the messages', the hooks', telemetry's."""
    applied: int = 0


@dataclass
class _Deferred:
    """What a batch's messages leave for bulk writes at the end of the batch."""

    samples: SampleBatch = field(default_factory=SampleBatch)
    """Samples of units that share their telemetry: stored raw by the sink, and rolled up."""
    private_samples: SampleBatch = field(default_factory=SampleBatch)
    """Samples of units that do not (``share_telemetry: false``): rolled up, never stored raw."""
    private_units: frozenset[str] = frozenset()
    capacities: list[tuple[messages.Capacity, CapacityReported]] = field(default_factory=list)
    jobs: list[tuple[messages.JobStatus, JobReported]] = field(default_factory=list)
    """Messages with the live event each one causes if it is newer than the stored state."""
    events: list[UnitEvent] = field(default_factory=list)
    """The live events of the batch's messages, in their order."""


def decode(
    inbound: InboundMessage,
    *,
    network: str,
    max_payload: int,
    max_future_skew: timedelta | None = DEFAULT_MAX_FUTURE_SKEW,
    max_forecast: timedelta | None = DEFAULT_MAX_FORECAST,
    now: datetime | None = None,
) -> Decoded | None:
    """The validated message, None for topics the ingest does not consume, or Rejected.

    Beyond the contract: the sender must be the topic's unit (or technician), and a message on
    a machine's topic must be about that machine alone (every sample of a telemetry batch).

    The sender's clock (:func:`within_skew`): no observed time may be more than
    ``max_future_skew`` ahead of the receiver's clock ``now``. A telemetry batch with such a
    sample is rejected as ``future_time`` (one far-future sample would pin its metric's latest
    value); an alarm, a job event or a capacity report is kept (an alarm lost is worse than a
    wrong time), its times moved back by as much as its latest was ahead, so that the latest is
    ``now``, and marked (:attr:`Decoded.clock_ahead_s`). A capacity report's ``queue_free_at``
    (a forecast) may be at most ``max_forecast`` ahead, or it is rejected as ``future_time``.
    None: no limit.
    """
    try:
        topic = topics.parse(inbound.topic)
    except ProtocolError as exc:
        raise Rejected(exc.reason.value, exc.detail) from exc
    if topic.network != network:
        raise Rejected("wrong_network", f"topic of network {topic.network!r}")
    if topic.kind not in INGESTED_KINDS:
        return None
    try:
        message = codec.decode_for_topic(topic.kind, inbound.payload, max_size=max_payload)
    except ProtocolError as exc:
        raise Rejected(exc.reason.value, exc.detail) from exc
    sender = topic.technician if topic.kind in FROM_TECHNICIANS else topic.unit
    if message.unit != sender:
        raise Rejected("unit_mismatch", f"sender {message.unit!r} on {inbound.topic!r}")
    latest = _checked_latest(message, topic.machine)
    now = now or utcnow()
    forecast = message.body.queue_free_at if isinstance(message, messages.Capacity) else None
    if max_forecast is not None and forecast is not None and forecast > now + max_forecast:
        raise Rejected("future_time", f"queue_free_at {forecast.isoformat()} is too far ahead")
    if max_future_skew is None:
        return Decoded(topic, message)
    return _within_skew(Decoded(topic, message), latest, now=now, max_future_skew=max_future_skew)


_MOVABLE_TIMES: dict[type[messages.Envelope], tuple[str, ...]] = {
    messages.JobStatus: ("occurred_at", "actual_start", "actual_end"),
    messages.Alarm: ("occurred_at",),
    messages.Capacity: ("reported_at",),
}
"""The observed times of the messages kept when the sender's clock runs ahead."""


def within_skew(decoded: Decoded, *, now: datetime, max_future_skew: timedelta) -> Decoded:
    """``decoded`` if none of its observed times is more than ``max_future_skew`` ahead of
    ``now``; else, for an alarm, a job event or a capacity report, the message with every
    observed time moved back by as much as its latest was ahead (the latest becomes ``now``;
    the order and the durations between its times stay), marked with how far ahead it was;
    telemetry is rejected as ``future_time``."""
    latest = max(observed_times(decoded.message), default=None)
    return _within_skew(decoded, latest, now=now, max_future_skew=max_future_skew)


def _within_skew(
    decoded: Decoded, latest: datetime | None, *, now: datetime, max_future_skew: timedelta
) -> Decoded:
    """:func:`within_skew`, given the message's ``latest`` observed time."""
    if latest is None or latest <= now + max_future_skew:
        return decoded
    message = decoded.message
    names = _MOVABLE_TIMES.get(type(message))
    if names is None:
        raise Rejected("future_time", f"a time observed at {latest.isoformat()} is ahead")
    ahead = latest - now
    body = message.body
    moved = {
        name: _moved_back(value, ahead)
        for name in names
        if (value := getattr(body, name)) is not None
    }
    message = message.model_copy(update={"body": body.model_copy(update=moved)})
    return Decoded(decoded.topic, message, clock_ahead_s=ahead.total_seconds())


def _moved_back(value: datetime, ahead: timedelta) -> datetime:
    """``value - ahead``, or the contract's earliest time where that lies before it."""
    if value - messages.EARLIEST_TIME < ahead:
        return messages.EARLIEST_TIME
    return value - ahead


def observed_times(message: messages.Envelope) -> list[datetime]:
    """The times a message says something happened at (not forecasts such as a capacity
    report's ``queue_free_at``): none of them may lie ahead of the receiver's clock."""
    body = message.body
    if isinstance(message, messages.Telemetry):
        return [sample.source_time for sample in body.samples]
    if isinstance(message, messages.JobStatus):
        times = (body.occurred_at, body.actual_start, body.actual_end)
        return [time for time in times if time is not None]
    if isinstance(message, messages.Alarm):
        return [body.occurred_at]
    if isinstance(message, messages.Capacity):
        return [body.reported_at]
    return []


def _checked_latest(message: messages.Envelope, machine: str | None) -> datetime | None:
    """The latest of the message's :func:`observed_times` (None: it has none), once a message on
    a machine's topic (``machine``) is found to be about that machine alone, or Rejected as
    ``machine_mismatch``. Telemetry, most of the traffic, in two comprehensions over its
    samples rather than a loop for each check."""
    if isinstance(message, messages.Telemetry):
        samples = message.body.samples
        if machine is not None and {sample.machine for sample in samples} != {machine}:
            raise _machine_mismatch(machine)
        return max([sample.source_time for sample in samples], default=None)
    if machine is not None:
        body = message.body
        if (body.asset if isinstance(message, messages.Alarm) else body.machine) != machine:
            raise _machine_mismatch(machine)
    return max(observed_times(message), default=None)


def _machine_mismatch(machine: str) -> Rejected:
    return Rejected("machine_mismatch", f"body is not all about machine {machine!r}")


def apply_batch(
    *,
    session_factory: sessionmaker[Session],
    network: str,
    batch: Sequence[Decoded],
    sink: TelemetrySink,
    metrics: Metrics,
    hooks: Sequence[BatchHook] = (),
) -> BatchResult:
    """Apply ``batch`` in one transaction and return the live-state events it caused; the
    other domains' ``hooks`` see its fresh messages in the same transaction."""
    result = BatchResult()
    started = time.perf_counter()
    with transaction(session_factory) as session:
        units = {d.message.unit for d in batch if d.topic.kind not in FROM_TECHNICIANS}
        known = _known_units(session, network, units) if units else {}
        fresh = _claim(session, [d for d in batch if _known(d, known, metrics)], metrics)
        _record_clock_skew(session, fresh, metrics)
        _count_kinds(fresh, metrics)
        deferred = _Deferred(
            private_units=frozenset(unit for unit, shared in known.items() if not shared)
        )
        for decoded in fresh:
            _apply(session, decoded, deferred, result, metrics)
        job_events = _apply_states(session, deferred, result, metrics)
        result.events.extend(event.wire() for event in deferred.events)
        if hooks:
            applied = AppliedBatch(fresh, job_events)
            result.events.extend(ingest_hooks.run(hooks, session, applied))
        if deferred.samples:
            sink_started = time.perf_counter()
            sink.write(session, deferred.samples)
            metrics.sink_latency.observe(time.perf_counter() - sink_started, sink=sink.name)
        for samples in (deferred.samples, deferred.private_samples):
            if samples:
                _roll_up(session, samples, result, metrics)
    metrics.db_latency.observe(time.perf_counter() - started)
    return result


def _roll_up(session: Session, samples: SampleBatch, result: BatchResult, metrics: Metrics) -> None:
    """What the coordinator keeps of every unit's samples, shared or not: the rollups (alert
    rules, maintenance plans), the latest values and the live events (shown by scope)."""
    telemetry_service.update_rollups(session=session, samples=samples)
    telemetry_service.update_latest(session=session, samples=samples)
    metrics.samples.inc(len(samples))
    arrived = samples.events(TopicKind.TELEMETRY.value)
    result.events.extend(TelemetryArrived(**event).wire() for event in arrived)


def _record_clock_skew(session: Session, fresh: Sequence[Decoded], metrics: Metrics) -> None:
    """Count the messages kept with their times moved back (their sender's clock ran ahead)
    and note on each unit how far ahead it was last (the overview shows it)."""
    ahead: dict[str, tuple[float, int]] = {}
    for decoded in fresh:
        if decoded.clock_ahead_s is None:
            continue
        metrics.clock_skew.inc(1, kind=decoded.topic.kind.value)
        _, count = ahead.get(decoded.message.unit, (0.0, 0))
        ahead[decoded.message.unit] = (decoded.clock_ahead_s, count + 1)
    for unit_id, (seconds, count) in ahead.items():
        network_service.record_clock_skew(
            session=session, unit_id=unit_id, ahead_s=seconds, messages=count, at=utcnow()
        )


def _count_kinds(fresh: Sequence[Decoded], metrics: Metrics) -> None:
    """Count the fresh messages by kind, one update per kind rather than per message (a
    labelled counter's update costs more than applying a small message)."""
    kinds = collections.Counter(decoded.topic.kind.value for decoded in fresh)
    for kind, count in kinds.items():
        metrics.messages.inc(count, kind=kind)


_UNITS = Unit.__table__.c
_KNOWN_UNITS = select(_UNITS.id, _UNITS.sharing_policy).where(
    _UNITS.network_id == bindparam("network"), _UNITS.id.in_(bindparam("ids", expanding=True))
)
"""A Core statement built once: the ORM compiled a new select for every batch."""


def _known_units(session: Session, network: str, unit_ids: set[str]) -> dict[str, bool]:
    """The registered units among ``unit_ids``, each with whether it shares its telemetry."""
    rows = session.connection().execute(_KNOWN_UNITS, {"network": network, "ids": list(unit_ids)})
    return {unit_id: shares_telemetry(policy or {}) for unit_id, policy in rows}


def _known(decoded: Decoded, known: dict[str, bool], metrics: Metrics) -> bool:
    """A unit's message from a registered unit (a technician's is checked by its hook)."""
    if decoded.message.unit in known or decoded.topic.kind in FROM_TECHNICIANS:
        return True
    metrics.rejects.inc(1, reason="unknown_unit")
    return False


_SEEN: Any = SeenMessage.__table__


@functools.lru_cache(maxsize=4)
def _claim_statement(dialect: str) -> tuple[BulkInsert, Any]:
    """Record ids, returning those this statement inserted; built once per dialect."""
    bulk = BulkInsert.of(dialect, _SEEN, ("id", "received_at"))
    statement = bulk.statement.on_conflict_do_nothing(index_elements=["id"])
    return bulk, statement.returning(_SEEN.c.id)


def _claim(session: Session, batch: list[Decoded], metrics: Metrics) -> list[Decoded]:
    """Record the batch's message ids; keep the messages whose id this transaction inserted."""
    unique: dict[str, Decoded] = {}
    for decoded in batch:
        unique.setdefault(decoded.message.id, decoded)
    if not unique:
        return []
    now = utcnow()
    connection = session.connection()
    bulk, statement = _claim_statement(connection.dialect.name)
    rows = [{"id": message_id, "received_at": now} for message_id in unique]
    claimed = set(connection.execute(statement, bulk.parameters(rows)).scalars())
    duplicates = len(batch) - len(claimed)
    if duplicates:
        metrics.ignored.inc(duplicates, reason="duplicate")
    return [decoded for message_id, decoded in unique.items() if message_id in claimed]


def _apply(
    session: Session,
    decoded: Decoded,
    deferred: _Deferred,
    result: BatchResult,
    metrics: Metrics,
) -> None:
    message, unit_id = decoded.message, decoded.message.unit
    if isinstance(message, messages.Telemetry):  # its live events are the batch's, per machine
        private = unit_id in deferred.private_units
        (deferred.private_samples if private else deferred.samples).add(
            unit_id, message.body.samples
        )
        return
    ahead = None if decoded.clock_ahead_s is None else round(decoded.clock_ahead_s, 3)
    head: dict[str, Any] = {"type": decoded.topic.kind, "unit_id": unit_id, "clock_ahead_s": ahead}
    event: UnitEvent
    if isinstance(message, messages.UnitState):
        body = message.body
        applied = network_service.apply_unit_state(
            session=session,
            unit_id=unit_id,
            status=body.state,
            reason=body.reason,
            seq=message.seq,
            at=message.sent_at,
        )
        event = UnitStateChanged(**head, status=body.state)
    elif isinstance(message, messages.UnitBirth):
        applied = network_service.apply_birth(
            session=session, unit_id=unit_id, description=message.body, seq=message.seq
        )
        event = UnitBorn(**head, machines=[m.machine for m in message.body.machines])
    elif isinstance(message, messages.Capacity):
        capacity = CapacityReported(**head, body=message.body)
        deferred.capacities.append((message, capacity))
        deferred.events.append(capacity)  # its place in the order; dropped if stale
        return
    elif isinstance(message, messages.JobStatus):
        job = JobReported(**head, body=message.body)
        deferred.jobs.append((message, job))
        deferred.events.append(job)
        return
    elif isinstance(message, messages.Alarm):
        network_service.apply_alarm(session=session, unit_id=unit_id, alarm=message.body)
        applied, event = True, AlarmReported(**head, body=message.body)
    else:  # no live state of its own: the batch hook applies it and reports its events
        result.applied += 1
        return
    if not applied:
        metrics.ignored.inc(1, reason="stale")
        return
    result.applied += 1
    deferred.events.append(event)


def _apply_states(
    session: Session, deferred: _Deferred, result: BatchResult, metrics: Metrics
) -> list[tuple[str, messages.JobEvent]]:
    """Write the batch's capacity reports and job events, each kind in bulk; drop the events of
    stale ones. Returns the job events written, for the dispatcher."""
    capacities = network_service.apply_capacities(
        session=session,
        reports=[(m.unit, m.body, m.seq) for m, _ in deferred.capacities],
    )
    jobs = network_service.apply_job_events(
        session=session, events=[(m.unit, m.body, m.seq) for m, _ in deferred.jobs]
    )
    events: list[UnitEvent] = [event for _, event in deferred.capacities]
    events += [event for _, event in deferred.jobs]
    stale = {
        id(event) for event, written in zip(events, capacities + jobs, strict=True) if not written
    }
    result.applied += len(capacities) + len(jobs) - len(stale)
    if stale:
        metrics.ignored.inc(len(stale), reason="stale")
        deferred.events = [event for event in deferred.events if id(event) not in stale]
    return [
        (m.unit, m.body) for (m, _), written in zip(deferred.jobs, jobs, strict=True) if written
    ]


def prune_seen(*, session: Session, now: datetime, retention: timedelta) -> None:
    session.execute(delete(SeenMessage).where(SeenMessage.received_at < now - retention))
