"""Exactly one active scheduler: a PostgreSQL session advisory lock (SQLite: one process).

The lock lives as long as the connection that took it; a crashed leader's connection closes
and another coordinator process takes over on its next attempt.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

_LOGGER = logging.getLogger(__name__)
LOCK_NAMESPACE = "glonet-scheduler"


def lock_key(network_id: str) -> int:
    """A stable signed 64-bit key per network."""
    high = zlib.crc32(LOCK_NAMESPACE.encode())
    low = zlib.crc32(network_id.encode())
    value = (high << 32) | low
    return value - 2**64 if value >= 2**63 else value


class SchedulerLock:
    def __init__(self, engine: Engine, network_id: str) -> None:
        self._engine = engine
        self._key = lock_key(network_id)
        self._connection: Connection | None = None
        self._postgres = engine.dialect.name == "postgresql"
        self._sqlite_taken = False

    @property
    def held(self) -> bool:
        return self._connection is not None or self._sqlite_taken

    def acquire(self) -> bool:
        """Try to become the scheduler; True when this process is (or already was) it."""
        if not self._postgres:
            self._sqlite_taken = True
            return True
        if self._connection is not None:
            return self._alive()
        try:
            connection = self._engine.connect()
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar()
            connection.commit()
        except SQLAlchemyError as exc:
            _LOGGER.warning("cannot ask for the scheduler lock: %s", exc.__class__.__name__)
            return False
        if not taken:
            connection.close()
            return False
        self._connection = connection
        _LOGGER.info("this process is the active scheduler")
        return True

    def _alive(self) -> bool:
        assert self._connection is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except SQLAlchemyError:
            _LOGGER.warning("lost the scheduler lock's connection")
            self._connection.invalidate()
            self._connection = None
            return False

    def release(self) -> None:
        self._sqlite_taken = False
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.commit()
        except SQLAlchemyError:
            _LOGGER.debug("unlocking failed; closing the connection releases the lock anyway")
        self._connection.close()
        self._connection = None
