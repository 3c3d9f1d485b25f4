"""Plain functions on the messaging core's tables, taking the caller's session."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud.database import insert_for
from cloud.messaging.models import OutgoingSequence


def next_sequence(*, session: Session, sender: str) -> int:
    """The next sequence number of messages ``sender`` (the coordinator) sends."""
    statement = insert_for(session)(OutgoingSequence).values(sender=sender, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=["sender"], set_={"value": OutgoingSequence.__table__.c.value + 1}
    )
    return int(session.scalars(statement.returning(OutgoingSequence.value)).one())
