"""Dead letters: valid messages whose apply failed, set aside so that the ingest goes on.

When a batch fails for a reason a retry would not mend — an exception that is not the database
being away, or a statement the database refuses — the pipeline applies its messages one by
one, each in its own transaction, and keeps each one that fails on its own here, with its topic,
its exact payload and the error. It is then acknowledged: it does not stall every message behind
it, and nothing of it is lost. A coordinator lists dead letters, retries one once the cause is
mended (it is decoded and applied as if it had just arrived), or discards it.
"""

from __future__ import annotations

import traceback
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.database import insert_for
from cloud.exceptions import NotFound
from cloud.ingest.models import DeadLetter

ERROR_LENGTH = 500
TRACEBACK_LENGTH = 20_000


def describe(exc: BaseException) -> str:
    """One line: the exception's class and message (a DatabaseError's, then its cause's)."""
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None:
        first_line = next(iter(str(cause).splitlines()), "")
        text += f" (caused by {type(cause).__name__}: {first_line})"
    return text[:ERROR_LENGTH]


def set_aside(
    *,
    session: Session,
    topic: str,
    payload: bytes,
    message_id: str | None,
    unit_id: str | None,
    exc: BaseException,
    now: datetime,
) -> bool:
    """Keep the message with its error; True when it was not set aside before (a message that
    fails again, redelivered or retried, counts one more attempt on its letter)."""
    error = describe(exc)
    trace = "".join(traceback.format_exception(exc))[-TRACEBACK_LENGTH:]
    if message_id is not None:
        existing = session.scalar(select(DeadLetter.id).where(DeadLetter.message_id == message_id))
        if existing is not None:
            _failed_again(session, existing, error, trace, now)
            return False
    values = {
        "message_id": message_id,
        "unit_id": unit_id,
        "topic": topic,
        "payload": payload,
        "error": error,
        "traceback": trace,
        "attempts": 1,
        "first_failed_at": now,
        "last_failed_at": now,
    }
    # Two workers may set the same redelivered message aside at once: the second one's insert
    # does nothing, and its letter already tells the story.
    statement = insert_for(session)(DeadLetter).values(values)
    if message_id is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["message_id"])
    return session.execute(statement.returning(DeadLetter.id)).first() is not None


def failed_again(*, session: Session, letter_id: int, exc: BaseException, now: datetime) -> None:
    trace = "".join(traceback.format_exception(exc))[-TRACEBACK_LENGTH:]
    _failed_again(session, letter_id, describe(exc), trace, now)


def _failed_again(session: Session, letter_id: int, error: str, trace: str, now: datetime) -> None:
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.id == letter_id)
        .values(attempts=DeadLetter.attempts + 1, error=error, traceback=trace, last_failed_at=now)
    )


def list_letters(*, session: Session, actor: Actor, limit: int) -> list[DeadLetter]:
    """The oldest first: the first failure is usually the one to read."""
    require_role(actor, Role.COORDINATOR)
    return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id).limit(limit)))


def get_letter(*, session: Session, actor: Actor, letter_id: int) -> DeadLetter:
    require_role(actor, Role.COORDINATOR)
    letter = session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"dead letter {letter_id} does not exist (retried or discarded?)")
    return letter


def load(*, session: Session, letter_id: int) -> tuple[str, bytes]:
    """A letter's topic and payload, for its retry."""
    letter = session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"dead letter {letter_id} does not exist (retried or discarded?)")
    return letter.topic, letter.payload


def remove(*, session: Session, letter_id: int) -> None:
    session.execute(delete(DeadLetter).where(DeadLetter.id == letter_id))


def discard(*, session: Session, actor: Actor, letter_id: int) -> None:
    session.delete(get_letter(session=session, actor=actor, letter_id=letter_id))


def prune(*, session: Session, now: datetime, retention: timedelta) -> None:
    """Drop letters nobody handled within ``retention`` of their first failure."""
    session.execute(delete(DeadLetter).where(DeadLetter.first_failed_at < now - retention))
