"""A valid message whose apply fails is set aside as a dead letter; the ingest goes on.

The failures are real ones of the interfaces the ingest calls: a batch hook (the interface the
maintenance domain plugs in) that raises, and a real constraint violation of the database.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import make_session_factory, transaction, utcnow
from cloud.exceptions import Conflict, DatabaseError
from cloud.ingest import quarantine
from cloud.ingest.applier import UNPROCESSABLE, ProcessApplier, ThreadApplier
from cloud.ingest.models import DeadLetter, SeenMessage
from cloud.ingest.worker import IngestWorker, retry_delay
from cloud.main import build_context
from cloud.messaging.hooks import AppliedBatch, BatchHook, IngestHooks
from cloud.messaging.mqtt import InboundMessage
from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from tests.cloud.conftest import (
    Gateway,
    Tenants,
    make_pipeline,
    mqtt_settings,
    onboard,
    stored_samples,
)
from tests.waiting import eventually

NETWORK = "test-net"
POISON = "poison"
"""Messages of this machine make :func:`poison_hook` fail."""


def poison_hook(session: Session, batch: AppliedBatch) -> list[dict[str, Any]]:
    """A batch hook with a bug that shows on one machine's messages only."""
    if any(decoded.topic.machine == POISON for decoded in batch.fresh):
        raise RuntimeError("hook bug: cannot handle the poison machine")
    return []


def poison_hook_factory() -> BatchHook:
    return poison_hook


def duplicate_key_hook(session: Session, batch: AppliedBatch) -> list[dict[str, Any]]:
    """Inserts the same primary key twice for the poison machine: a real IntegrityError."""
    for decoded in batch.fresh:
        if decoded.topic.machine == POISON:
            for _ in range(2):
                session.execute(insert(SeenMessage).values(id="X" * 26, received_at=utcnow()))
    return []


_SEQ = itertools.count(1)


def _telemetry(network: str, unit: str, machine: str, value: float) -> InboundMessage:
    body = {
        "samples": [
            {"machine": machine, "metric": "rpm", "value": value, "source_time": datetime.now(UTC)}
        ]
    }
    message = messages.Telemetry.create(unit=unit, seq=next(_SEQ), body=body)
    topic = topics.telemetry(network, unit, machine)
    return InboundMessage(topic, codec.encode(message), next(_SEQ), 1, False)


def _message_id(inbound: InboundMessage) -> str:
    return codec.decode(inbound.payload).id


def _letters(context: AppContext) -> list[DeadLetter]:
    with transaction(context.session_factory) as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_a_message_that_fails_alone_is_set_aside_and_the_rest_applied(
    plant_context: AppContext,
) -> None:
    context = plant_context
    network = context.settings.network
    batch = [
        _telemetry(network, "plant-a", machine, float(i))
        for i, machine in enumerate(["m1", "m2", POISON, "m1", "m2"])
    ]
    pipeline = make_pipeline(context, poison_hook)

    events = pipeline.run(batch)

    assert len(stored_samples(context.session_factory)) == 4
    assert {event["machine"] for event in events} == {"m1", "m2"}
    (letter,) = _letters(context)
    assert letter.topic == batch[2].topic
    assert letter.payload == batch[2].payload  # byte for byte: nothing of it is lost
    assert letter.message_id == _message_id(batch[2])
    assert letter.unit_id == "plant-a"
    assert letter.error.startswith("RuntimeError: hook bug")
    assert "poison_hook" in letter.traceback
    assert letter.attempts == 1
    assert context.metrics.rejects.value(reason=UNPROCESSABLE) == 1
    with transaction(context.session_factory) as session:  # not claimed: a retry may apply it
        assert session.get(SeenMessage, letter.message_id) is None

    # Redelivered (it was acknowledged, but a gateway may resend): the rest are duplicates,
    # the poison fails again and counts one more attempt on the same letter.
    events = pipeline.run(batch)
    assert events == []
    assert len(stored_samples(context.session_factory)) == 4
    (again,) = _letters(context)
    assert again.id == letter.id and again.attempts == 2
    assert context.metrics.rejects.value(reason=UNPROCESSABLE) == 1


def test_a_statement_the_database_refuses_is_set_aside(plant_context: AppContext) -> None:
    context = plant_context
    network = context.settings.network
    batch = [_telemetry(network, "plant-a", m, 1.0) for m in ("m1", POISON, "m2")]

    make_pipeline(context, duplicate_key_hook).run(batch)

    (letter,) = _letters(context)
    assert letter.message_id == _message_id(batch[1])
    assert letter.error.startswith("DatabaseError: database operation failed: IntegrityError")
    assert "caused by IntegrityError" in letter.error
    assert len(stored_samples(context.session_factory)) == 2


def test_what_a_batch_counts_is_counted_once_when_it_is_applied_again(
    plant_context: AppContext,
) -> None:
    """Duplicates and unknown units of a batch that fails and is then applied one by one, or
    that is retried after the database was away, are counted once: the counts of a rolled-back
    transaction are dropped with it."""
    context = plant_context
    network = context.settings.network
    pipeline = make_pipeline(context)
    seen = _telemetry(network, "plant-a", "m1", 1.0)
    pipeline.run([seen])
    assert context.metrics.messages.value(kind="telemetry") == 1

    batch = [
        seen,
        _telemetry(network, "nobody", "m1", 2.0),
        _telemetry(network, "plant-a", POISON, 3.0),
    ]
    make_pipeline(context, poison_hook).run(batch)
    assert context.metrics.ignored.value(reason="duplicate") == 1
    assert context.metrics.rejects.value(reason="unknown_unit") == 1
    assert context.metrics.rejects.value(reason=UNPROCESSABLE) == 1
    assert context.metrics.messages.value(kind="telemetry") == 1  # the poison's did not commit

    away_once = iter([True])

    def away_then_back(session: Session, batch: AppliedBatch) -> list[dict[str, Any]]:
        if next(away_once, False):
            raise DatabaseError("database operation failed: OperationalError", transient=True)
        return []

    again = make_pipeline(context, away_then_back)
    fresh = [seen, _telemetry(network, "plant-a", "m2", 4.0)]
    with pytest.raises(DatabaseError):
        again.run(fresh)
    again.run(fresh)  # the worker's retry of the unacknowledged share
    assert context.metrics.ignored.value(reason="duplicate") == 2
    assert context.metrics.messages.value(kind="telemetry") == 2
    assert context.metrics.samples.value() == 2


def test_a_message_the_decoder_fails_on_is_set_aside_after_the_batch(
    plant_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decoder bug (an exception that is not the protocol's refusal) sets the message aside
    with its topic and bytes instead of stopping the batch; its retry fails the same way until
    the decoder is mended."""
    context = plant_context
    network = context.settings.network
    batch = [_telemetry(network, "plant-a", m, 1.0) for m in ("m1", POISON, "m2")]
    real_decode = codec.decode_for_topic

    def buggy(kind: topics.TopicKind, payload: bytes, **kwargs: Any) -> messages.Envelope:
        if payload == batch[1].payload:
            raise KeyError("decoder bug")
        return real_decode(kind, payload, **kwargs)

    monkeypatch.setattr(codec, "decode_for_topic", buggy)
    pipeline = make_pipeline(context)
    events = pipeline.run(batch)

    assert {event["machine"] for event in events} == {"m1", "m2"}
    (letter,) = _letters(context)
    assert (letter.topic, letter.payload) == (batch[1].topic, batch[1].payload)
    assert letter.message_id is None and letter.unit_id == "plant-a"
    assert letter.error == "KeyError: 'decoder bug'"
    assert context.metrics.rejects.value(reason=UNPROCESSABLE) == 1

    with pytest.raises(Conflict, match="KeyError"):
        pipeline.retry(letter.id)
    assert _letters(context)[0].attempts == 2
    monkeypatch.setattr(codec, "decode_for_topic", real_decode)
    assert [event["machine"] for event in pipeline.retry(letter.id)] == [POISON]
    assert _letters(context) == []


def test_a_database_that_is_away_is_retried_not_set_aside(plant_context: AppContext) -> None:
    context = plant_context

    def away(session: Session, batch: AppliedBatch) -> list[dict[str, Any]]:
        raise DatabaseError("database operation failed: OperationalError", transient=True)

    batch = [_telemetry(context.settings.network, "plant-a", "m1", 1.0)]
    with pytest.raises(DatabaseError):
        make_pipeline(context, away).run(batch)
    assert _letters(context) == []
    assert stored_samples(context.session_factory) == []


def test_transaction_tells_refused_statements_from_passing_trouble(
    plant_context: AppContext,
) -> None:
    context = plant_context
    with pytest.raises(DatabaseError) as refused, transaction(context.session_factory) as session:
        for _ in range(2):
            session.execute(insert(SeenMessage).values(id="Y" * 26, received_at=utcnow()))
    assert refused.value.transient is False
    with pytest.raises(DatabaseError) as missing, transaction(context.session_factory) as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert missing.value.transient is False  # SQLite says OperationalError, PostgreSQL Programming
    url = context.engine.url  # a server nobody listens on, a file that cannot be opened:
    postgresql = context.engine.dialect.name == "postgresql"
    engine = create_engine(url.set(port=1) if postgresql else url.set(database="/no/such/x.db"))
    with pytest.raises(DatabaseError) as away, transaction(make_session_factory(engine)) as s:
        s.execute(text("SELECT 1"))
    assert away.value.transient is True and away.value.contended is False
    engine.dispose()


def test_transaction_tells_a_lost_race_from_the_database_being_away(
    plant_context: AppContext,
) -> None:
    """A deadlock victim (PostgreSQL) or a database busy past its timeout (SQLite) is
    contention: the ingest retries that share at once instead of after a second."""
    context = plant_context
    ids = ("A" * 26, "B" * 26)
    with transaction(context.session_factory) as session:
        for message_id in ids:
            session.execute(insert(SeenMessage).values(id=message_id, received_at=utcnow()))
    lost: list[DatabaseError] = []
    if context.engine.dialect.name == "postgresql":
        barrier = threading.Barrier(2)

        def lock(first: str, second: str) -> None:
            try:
                with transaction(context.session_factory) as session:
                    for message_id in (first, second):
                        session.execute(
                            update(SeenMessage)
                            .where(SeenMessage.id == message_id)
                            .values(received_at=utcnow())
                        )
                        if message_id == first:
                            barrier.wait(10)
            except DatabaseError as exc:
                lost.append(exc)

        threads = [threading.Thread(target=lock, args=order) for order in (ids, ids[::-1])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    else:
        holder = sqlite3.connect(context.engine.url.database or "")
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held
        impatient = create_engine(context.engine.url, connect_args={"timeout": 0.1})
        try:
            with transaction(make_session_factory(impatient)) as session:
                session.execute(delete(SeenMessage))
        except DatabaseError as exc:
            lost.append(exc)
        finally:
            holder.rollback()
            holder.close()
            impatient.dispose()
    (victim,) = lost
    assert victim.contended and victim.transient
    assert retry_delay(victim) < retry_delay(DatabaseError("the server went away"))


@pytest.mark.parametrize("isolation", ["process", "thread"])
async def test_the_ingest_goes_on_past_a_message_it_cannot_apply(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
    isolation: str,
) -> None:
    """Before dead letters, the exception escaped the worker: nothing after it was applied or
    acknowledged."""
    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"coord-dead-{isolation}"),
        ingest={"batch_size": 50, "enabled": False},
    )
    context = build_context(settings)
    onboard(context, "plant-a")
    if isolation == "process":
        applier: Any = ProcessApplier(
            settings=settings,
            metrics=context.metrics,
            hooks=IngestHooks([poison_hook_factory]),
        )
    else:
        applier = ThreadApplier(make_pipeline(context, poison_hook))
    worker = IngestWorker(
        settings=settings,
        session_factory=context.session_factory,
        sink=context.sink,
        metrics=context.metrics,
        broadcaster=context.broadcaster,
        applier=applier,
    )
    await worker.start()
    try:
        assert await worker.wait_subscribed()
        gateway = gateways("plant-a")
        before = gateway.telemetry("m1", [1.0])
        poison = gateway.telemetry(POISON, [2.0])
        after = [gateway.telemetry("m1", [float(i)]) for i in range(5)]

        def seen(message_id: str) -> Callable[[], bool]:
            def check() -> bool:
                with transaction(context.session_factory) as session:
                    return session.get(SeenMessage, message_id) is not None

            return check

        for message in (before, *after):
            await eventually(seen(message.id), timeout=30)
        (letter,) = await eventually(lambda: _letters(context))
        assert letter.message_id == poison.id
        assert letter.payload == codec.encode(poison)
        # Counted in the child process, reaching this registry with the share's result, after
        # the child committed the letter.
        await eventually(
            lambda: context.metrics.rejects.value(reason=UNPROCESSABLE) == 1,
            what="the dead letter counted as unprocessable",
        )
    finally:
        await worker.stop()
        context.engine.dispose()


def _set_aside(context: AppContext, inbound: InboundMessage) -> int:
    with transaction(context.session_factory) as session:
        quarantine.set_aside(
            session=session,
            topic=inbound.topic,
            payload=inbound.payload,
            message_id=_message_id(inbound),
            unit_id="plant-a",
            exc=RuntimeError("a bug since mended"),
            now=utcnow(),
        )
    return _letters(context)[-1].id


def test_coordinators_list_retry_and_discard_dead_letters(
    client: TestClient, tenants: Tenants
) -> None:
    context = tenants.context
    network = context.settings.network
    coordinator = tenants.headers("coordinator")
    mended = _telemetry(network, "plant-a", "m1", 42.0)
    letter_id = _set_aside(context, mended)

    listed = client.get("/api/ingest/dead-letters", headers=coordinator)
    assert listed.status_code == 200
    (letter,) = listed.json()
    assert letter["id"] == letter_id and letter["topic"] == mended.topic
    assert letter["payload"].encode() == mended.payload
    assert letter["error"] == "RuntimeError: a bug since mended"
    for who in ("plant-a", "technician", "customer"):
        headers = tenants.headers(who)
        assert client.get("/api/ingest/dead-letters", headers=headers).status_code == 403
        retry = client.post(f"/api/ingest/dead-letters/{letter_id}/retry", headers=headers)
        assert retry.status_code == 403
        assert (
            client.delete(f"/api/ingest/dead-letters/{letter_id}", headers=headers).status_code
            == 403
        )
    assert client.get("/api/ingest/dead-letters").status_code == 401

    # Fails again: the letter stays, one attempt more, and the caller reads why.
    assert context.pipeline is not None
    context.pipeline.hooks = [lambda session, batch: (_ for _ in ()).throw(ValueError("still"))]
    failed = client.post(f"/api/ingest/dead-letters/{letter_id}/retry", headers=coordinator)
    assert failed.status_code == 409
    assert "ValueError: still" in failed.json()["message"]
    (letter,) = client.get("/api/ingest/dead-letters", headers=coordinator).json()
    assert letter["attempts"] == 2 and letter["error"] == "ValueError: still"

    context.pipeline.hooks = []
    applied = client.post(f"/api/ingest/dead-letters/{letter_id}/retry", headers=coordinator)
    assert applied.status_code == 200
    assert applied.json() == {"id": letter_id, "applied": True, "events": 1}
    assert client.get("/api/ingest/dead-letters", headers=coordinator).json() == []
    machine = client.get("/api/machines/plant-a/m1", headers=coordinator).json()
    assert machine["latest_metrics"]["rpm"] == 42.0
    gone = client.post(f"/api/ingest/dead-letters/{letter_id}/retry", headers=coordinator)
    assert gone.status_code == 404

    # A letter the protocol now refuses can only be discarded.
    wrong = _telemetry("other-net", "plant-a", "m1", 1.0)
    wrong_id = _set_aside(context, wrong)
    refused = client.post(f"/api/ingest/dead-letters/{wrong_id}/retry", headers=coordinator)
    assert refused.status_code == 409 and "wrong_network" in refused.json()["message"]
    assert (
        client.delete(f"/api/ingest/dead-letters/{wrong_id}", headers=coordinator).status_code
        == 204
    )
    assert (
        client.delete(f"/api/ingest/dead-letters/{wrong_id}", headers=coordinator).status_code
        == 404
    )


def test_dead_letters_past_their_retention_are_pruned(plant_context: AppContext) -> None:
    context = plant_context
    inbound = _telemetry(context.settings.network, "plant-a", "m1", 1.0)
    _set_aside(context, inbound)
    with transaction(context.session_factory) as session:
        quarantine.prune(session=session, now=utcnow(), retention=timedelta(hours=1))
    assert len(_letters(context)) == 1
    with transaction(context.session_factory) as session:
        quarantine.prune(
            session=session, now=utcnow() + timedelta(hours=2), retention=timedelta(hours=1)
        )
    assert _letters(context) == []
