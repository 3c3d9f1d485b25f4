"""Ingest bookkeeping: the persistent de-duplication table and the messages set aside because
applying them failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime


class SeenMessage(Base):
    """Message ids already applied; inserting an id twice is a no-op (ON CONFLICT DO NOTHING)."""

    __tablename__ = "seen_messages"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class DeadLetter(Base):
    """A message that could not be applied although it is valid (a coordinator bug, a value the
    database refuses), kept with its error until a coordinator retries or discards it: the
    ingest acknowledges it, so that it does not stop every message behind it."""

    __tablename__ = "ingest_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str | None] = mapped_column(String(26), unique=True)
    """None for a message that failed before its id was read."""
    unit_id: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(String(500))
    traceback: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
