"""Writing to the outbox, in the caller's transaction: the one way the coordinator sends.

A domain decides (dispatches an operation, opens a ticket…) and, in the same transaction, writes
the messages the decision causes with :func:`enqueue` or :func:`command`. Nothing is published
here: :mod:`cloud.messaging.delivery` sends the committed rows, so a rolled-back decision sends
nothing and a committed one is not lost when the coordinator dies before publishing it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.messaging import service
from cloud.messaging.models import Channel, DeliveryStatus, OutboxMessage
from cloud.messaging.mqtt import Outbound
from protocols import codec, messages, topics

COORDINATOR = topics.COORDINATOR
REDACTED = "[redacted]"


def enqueue(
    session: Session,
    *,
    origin: str,
    channel: Channel,
    target: str,
    action: str,
    payload: str,
    now: datetime,
    topic: str | None = None,
    subject: str | None = None,
) -> OutboxMessage:
    """Queue one message; ``topic`` for MQTT channels, ``target`` the device, unit or URL."""
    row = OutboxMessage(
        origin=origin,
        subject=subject,
        channel=channel,
        target=target,
        action=action,
        topic=topic,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def command(
    session: Session,
    *,
    origin: str,
    network: str,
    unit: str,
    body: messages.CommandBody | dict[str, Any],
    now: datetime,
    subject: str | None = None,
) -> Outbound:
    """Queue a command to ``unit``'s gateway (its id lets the gateway drop a repeat); the
    message as it will be published."""
    seq = service.next_sequence(session=session, sender=COORDINATOR)
    message = messages.Command.create(unit=COORDINATOR, seq=seq, body=body, sent_at=now)
    outbound = Outbound(topics.command(network, unit), codec.encode(message))
    enqueue(
        session,
        origin=origin,
        channel=Channel.COMMAND,
        target=unit,
        action=message.body.kind,
        payload=outbound.payload.decode(),
        now=now,
        topic=outbound.topic,
        subject=subject,
    )
    return outbound


def of_subject(*, session: Session, origin: str, subject: str) -> list[OutboxMessage]:
    """A domain's messages about one thing (a ticket), oldest first."""
    query = select(OutboxMessage).where(
        OutboxMessage.origin == origin, OutboxMessage.subject == subject
    )
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def latest(
    *,
    session: Session,
    origin: str | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 200,
) -> list[OutboxMessage]:
    """The newest messages, of one domain and/or in one state."""
    query = select(OutboxMessage)
    if origin is not None:
        query = query.where(OutboxMessage.origin == origin)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def page(
    *,
    session: Session,
    status: DeliveryStatus | None = None,
    origin: str | None = None,
    channel: Channel | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[OutboxMessage]:
    """A page of messages, newest first: those with an id below ``before_id`` (the last id of
    the previous page), filtered by state, domain and channel."""
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if origin is not None:
        query = query.where(OutboxMessage.origin == origin)
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def redacted_url(url: str) -> str:
    """A webhook URL as a listing shows it: its scheme and host. The path, the query and the
    user info are where receivers put their tokens."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme or 'http'}://{host}/{REDACTED}"


UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


def unsent_counts(*, session: Session) -> dict[str, int]:
    """How many messages are pending and how many failed (sent ones are not counted: they
    are kept as history and only grow)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(UNSENT))
        .group_by(OutboxMessage.status)
    )
    found = {status: int(count) for status, count in rows}
    return {status.value: found.get(status, 0) for status in UNSENT}


def prune_sent(*, session: Session, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the messages sent before ``before``, oldest first; how many
    (a small batch per transaction, so that the write lock is held briefly)."""
    ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == DeliveryStatus.SENT, OutboxMessage.sent_at < before)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    if ids:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)
