"""The messaging core's tables (the coordinator's own sequence numbers, its outbox) and the
outbox's retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime


class OutgoingSequence(Base):
    """Sequence numbers of messages the coordinator itself sends (they survive restarts)."""

    __tablename__ = "outgoing_sequences"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(primary_key=False)


class Channel(StrEnum):
    """How a message leaves: MQTT to a device or technician, a command to a unit's gateway
    (MQTT too), a webhook call, or an email to a person (SMTP)."""

    MQTT = "mqtt"
    WEBHOOK = "webhook"
    COMMAND = "command"
    EMAIL = "email"


GIVEN_UP_AFTER_ATTEMPTS = (Channel.WEBHOOK, Channel.EMAIL)
"""Channels whose messages fail for good after the policy's attempts; MQTT messages wait for
the broker as long as it takes."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


MQTT_RETRY_MAX = timedelta(seconds=10)
"""The longest wait between two attempts of an MQTT message (the broker may be back)."""


@dataclass(frozen=True)
class RetryPolicy:
    """When the outbox tries a message again (see :mod:`cloud.messaging.delivery`)."""

    max_attempts: int = 6
    """For webhooks and emails; MQTT messages wait for the broker as long as it takes."""
    retry_base: timedelta = timedelta(seconds=2)
    retry_max: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int, channel: Channel) -> timedelta:
        """Exponential backoff after ``attempts`` failed attempts."""
        delay = min(self.retry_max, self.retry_base * (2 ** max(0, attempts - 1)))
        return delay if channel in GIVEN_UP_AFTER_ATTEMPTS else min(delay, MQTT_RETRY_MAX)


class OutboxMessage(Base):
    """One message the coordinator sends, written in the transaction of the decision that
    caused it (a dispatch, a cancel, a rebirth request, a repair or acknowledge command, a
    technician alert, a webhook call) and delivered afterwards by :mod:`cloud.messaging.delivery`
    with retry and acknowledgement. A rolled-back decision sends nothing; a committed one is
    sent even if the coordinator dies right after the commit.

    ``origin`` is the domain that wrote it and ``subject`` what it is about in that domain's
    words (maintenance: the ticket id), so that a domain shows its own messages.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(64), default=None)
    channel: Mapped[Channel] = mapped_column(StoredEnum(Channel, 16))
    target: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(String(300), default=None)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(StoredEnum(DeliveryStatus, 16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (Index("ix_outbox_origin_subject", "origin", "subject"),)
