"""Ingest bookkeeping: the persistent de-duplication table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime


class SeenMessage(Base):
    """Message ids already applied; inserting an id twice is a no-op (ON CONFLICT DO NOTHING)."""

    __tablename__ = "seen_messages"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OutgoingSequence(Base):
    """Sequence numbers of messages the coordinator itself sends (they survive restarts)."""

    __tablename__ = "outgoing_sequences"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(primary_key=False)
