"""Apply a batch of MQTT messages: validate, de-duplicate, update live state, forward telemetry.

A batch is one database transaction. Its message ids go into ``seen_messages`` with
``ON CONFLICT DO NOTHING ... RETURNING``; only the ids this transaction inserted are applied.
Two workers holding the same id (a redelivery) serialise on that row, and the second one applies
nothing — exactly-once effect with at-least-once delivery, across restarts too.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.database import BulkInsert, insert_for, transaction, utcnow
from cloud.dispatch import service as dispatch_service
from cloud.ingest.models import OutgoingSequence, SeenMessage
from cloud.ingest.mqtt import InboundMessage
from cloud.network import service as network_service
from cloud.operations.metrics import Metrics
from cloud.registry.models import Unit
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
state is another domain's batch hook (a technician's reply: maintenance)."""
FROM_TECHNICIANS = frozenset({TopicKind.TECHNICIAN_REPLIES})
"""Kinds sent by technicians' devices: their sender is the topic's technician, not a unit."""
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)


class Rejected(Exception):
    """A message refused before it reaches the database; ``reason`` is the counted code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decoded:
    topic: topics.Topic
    message: messages.Envelope


BatchHook = Callable[[Session, Sequence[Decoded]], list[dict[str, Any]]]
"""Another domain's reaction to a batch's fresh (de-duplicated) messages, run in the batch's
transaction and returning live events (maintenance turns alarms and unit states into alerts)."""


@dataclass
class BatchResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    applied: int = 0


@dataclass
class _Deferred:
    """What a batch's messages leave for bulk writes at the end of the batch."""

    samples: SampleBatch = field(default_factory=SampleBatch)
    capacities: list[tuple[messages.Capacity, dict[str, Any]]] = field(default_factory=list)
    jobs: list[tuple[messages.JobStatus, dict[str, Any]]] = field(default_factory=list)
    """Messages with the live event each one causes if it is newer than the stored state."""


def decode(
    inbound: InboundMessage,
    *,
    network: str,
    max_payload: int,
    max_future_skew: timedelta | None = DEFAULT_MAX_FUTURE_SKEW,
    now: datetime | None = None,
) -> Decoded | None:
    """The validated message, None for topics the ingest does not consume, or Rejected.

    Beyond the contract: the sender must be the topic's unit (or technician), a message on a
    machine's topic must be about that machine alone (every sample of a telemetry batch), and
    no sample may be more than ``max_future_skew`` ahead of the receiver's clock ``now`` (None:
    no limit), since one far-future sample would pin its metric's latest value.
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
    if topic.machine is not None:
        _check_machine(message, topic.machine)
    if max_future_skew is not None and isinstance(message, messages.Telemetry):
        latest = max(sample.source_time for sample in message.body.samples)
        if latest > (now or utcnow()) + max_future_skew:
            raise Rejected("future_time", f"a sample at {latest.isoformat()} is in the future")
    return Decoded(topic, message)


def _check_machine(message: messages.Envelope, machine: str) -> None:
    body = message.body
    if isinstance(message, messages.Telemetry):
        if all(sample.machine == machine for sample in body.samples):
            return
    elif (body.asset if isinstance(message, messages.Alarm) else body.machine) == machine:
        return
    raise Rejected("machine_mismatch", f"body is not all about machine {machine!r}")


def apply_batch(
    *,
    session_factory: sessionmaker[Session],
    network: str,
    batch: Sequence[Decoded],
    sink: TelemetrySink,
    metrics: Metrics,
    hook: BatchHook | None = None,
) -> BatchResult:
    """Apply ``batch`` in one transaction and return the live-state events it caused."""
    result = BatchResult()
    started = time.perf_counter()
    with transaction(session_factory) as session:
        units = {d.message.unit for d in batch if d.topic.kind not in FROM_TECHNICIANS}
        known = _known_units(session, network, units) if units else set()
        fresh = _claim(session, [d for d in batch if _known(d, known, metrics)], metrics)
        deferred = _Deferred()
        for decoded in fresh:
            _apply(session, decoded, deferred, result, metrics)
        job_events = _apply_states(session, deferred, result, metrics)
        if job_events:  # the dispatcher follows the operations it sent
            dispatch_service.record_job_events(
                session=session, network_id=network, events=job_events, now=utcnow()
            )
        samples = deferred.samples
        if hook is not None:
            result.events.extend(hook(session, fresh))
        if samples:
            sink_started = time.perf_counter()
            sink.write(session, samples)
            metrics.sink_latency.observe(time.perf_counter() - sink_started, sink=sink.name)
            telemetry_service.update_rollups(session=session, samples=samples)
            telemetry_service.update_latest(session=session, samples=samples)
            metrics.samples.inc(len(samples))
            result.events.extend(samples.events(TopicKind.TELEMETRY.value))
    metrics.db_latency.observe(time.perf_counter() - started)
    return result


_UNITS = Unit.__table__.c
_KNOWN_UNITS = select(_UNITS.id).where(
    _UNITS.network_id == bindparam("network"), _UNITS.id.in_(bindparam("ids", expanding=True))
)
"""A Core statement built once: the ORM compiled a new select for every batch."""


def _known_units(session: Session, network: str, unit_ids: set[str]) -> set[str]:
    rows = session.connection().execute(_KNOWN_UNITS, {"network": network, "ids": list(unit_ids)})
    return set(rows.scalars())


def _known(decoded: Decoded, known: set[str], metrics: Metrics) -> bool:
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
    kind = decoded.topic.kind
    metrics.messages.inc(1, kind=kind.value)
    applied = True
    event: dict[str, Any] = {"type": kind.value, "unit_id": unit_id}
    if isinstance(message, messages.Telemetry):
        deferred.samples.add(unit_id, message.body.samples)
        return
    if isinstance(message, messages.UnitState):
        body = message.body
        applied = network_service.apply_unit_state(
            session=session,
            unit_id=unit_id,
            status=body.state.value,
            reason=body.reason,
            seq=message.seq,
            at=message.sent_at,
        )
        event["status"] = body.state.value
    elif isinstance(message, messages.UnitBirth):
        applied = network_service.apply_birth(
            session=session, unit_id=unit_id, description=message.body, seq=message.seq
        )
        event["machines"] = [m.machine for m in message.body.machines]
    elif isinstance(message, messages.Capacity):
        event.update(message.body.model_dump(mode="json"))
        deferred.capacities.append((message, event))
        result.events.append(event)  # its place in the order; dropped if stale
        return
    elif isinstance(message, messages.JobStatus):
        event.update(message.body.model_dump(mode="json", exclude_none=True))
        deferred.jobs.append((message, event))
        result.events.append(event)
        return
    elif isinstance(message, messages.Alarm):
        network_service.apply_alarm(session=session, unit_id=unit_id, alarm=message.body)
        event.update(message.body.model_dump(mode="json", exclude_none=True))
    else:  # no live state of its own: the batch hook applies it and reports its events
        result.applied += 1
        return
    if not applied:
        metrics.ignored.inc(1, reason="stale")
        return
    result.applied += 1
    result.events.append(event)


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
    events = [event for _, event in deferred.capacities] + [event for _, event in deferred.jobs]
    stale = {
        id(event) for event, written in zip(events, capacities + jobs, strict=True) if not written
    }
    result.applied += len(capacities) + len(jobs) - len(stale)
    if stale:
        metrics.ignored.inc(len(stale), reason="stale")
        result.events = [event for event in result.events if id(event) not in stale]
    return [
        (m.unit, m.body) for (m, _), written in zip(deferred.jobs, jobs, strict=True) if written
    ]


def next_sequence(*, session: Session, sender: str) -> int:
    """The next sequence number of messages ``sender`` (the coordinator) sends."""
    statement = insert_for(session)(OutgoingSequence).values(sender=sender, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=["sender"], set_={"value": OutgoingSequence.__table__.c.value + 1}
    )
    return int(session.scalars(statement.returning(OutgoingSequence.value)).one())


def prune_seen(*, session: Session, now: datetime, retention: timedelta) -> None:
    session.execute(delete(SeenMessage).where(SeenMessage.received_at < now - retention))
