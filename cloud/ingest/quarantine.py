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
from typing import Any

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
    return storable(text)[:ERROR_LENGTH]


def storable(text: str) -> str:
    """``text`` as every database stores it: an error may quote the value it failed on, and
    neither a NUL nor a lone surrogate can be stored as text."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


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
    error, trace = describe(exc), _traceback(exc)
    insert = insert_for(session)(DeadLetter).values(
        message_id=message_id,
        unit_id=storable(unit_id)[:64] if unit_id is not None else None,
        topic=storable(topic),
        payload=payload,
        error=error,
        traceback=trace,
        attempts=1,
        first_failed_at=now,
        last_failed_at=now,
    )
    statement = insert
    if message_id is not None:  # one letter per message: an upsert, safe with two workers
        statement = insert.on_conflict_do_update(
            index_elements=["message_id"], set_=_attempt(error, trace, now)
        )
    return session.execute(statement.returning(DeadLetter.attempts)).scalar_one() == 1


def failed_again(*, session: Session, letter_id: int, exc: BaseException, now: datetime) -> None:
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.id == letter_id)
        .values(_attempt(describe(exc), _traceback(exc), now))
    )


def _attempt(error: str, trace: str, now: datetime) -> dict[str, Any]:
    """The columns one more failed attempt changes."""
    return {
        "attempts": DeadLetter.attempts + 1,
        "error": error,
        "traceback": trace,
        "last_failed_at": now,
    }


def _traceback(exc: BaseException) -> str:
    return storable("".join(traceback.format_exception(exc)))[-TRACEBACK_LENGTH:]


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
