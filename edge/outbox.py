"""The store-and-forward outbox: a SQLite (WAL) queue of encoded MQTT messages.

Every outgoing message is written here first and deleted only after the broker's PUBACK, so a
``kill -9`` loses nothing that was handed over. Rows are replayed in insertion order, which keeps
the order per machine. The per-unit sequence number and small pieces of gateway state (what job
events were already reported) are committed in the same transaction as the messages they explain.

The quota counts payload bytes. When a new batch does not fit, telemetry is evicted oldest first,
then capacity reports superseded by a newer one for the same machine; job events and alarms are
never evicted: the outbox then grows past its quota and says so (``quota_exceeded``).

WAL checkpoints (copying the write-ahead log back into the database file) do not run on the
gateway's event loop: SQLite's automatic checkpoint would run inside a commit, stalling every
notification behind a burst of disk writes. The writing connection has it off, and
:meth:`Outbox.run_checkpoints` runs passive checkpoints on a connection of its own, in a worker
thread (a passive checkpoint never blocks the writer).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from edge.errors import OutboxError

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    lane TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS gateway_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SEQ_KEY = "seq"
CHECKPOINT_INTERVAL_S = 1.0


class Priority(IntEnum):
    """What may be evicted when the quota is full: lower goes first; EVENT never."""

    TELEMETRY = 0
    CAPACITY = 1
    EVENT = 2


@dataclass(frozen=True, slots=True)
class PendingMessage:
    topic: str
    payload: bytes
    priority: Priority
    lane: str
    retain: bool = False


@dataclass(frozen=True, slots=True)
class StoredMessage:
    row_id: int
    topic: str
    payload: bytes
    retain: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class WriteResult:
    evicted: int
    dropped: int


class Outbox:
    """A SQLite queue used from one thread (the gateway's event loop)."""

    def __init__(self, path: Path, *, quota_bytes: int) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self.quota_exceeded = False
        self._conn = self._open(path)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see run_checkpoints
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_failed = False
        self._seq = int(self.get_state(_SEQ_KEY) or 0)
        self._depth = self._bytes = 0
        self._recount()

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a process crash loses nothing committed; only a power cut may lose the
            # last transactions, which is what the WAL mode trades for speed.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the outbox at {path}: {exc}") from exc
        return conn

    # Sequence numbers ---------------------------------------------------------------------

    def next_seq(self) -> int:
        """The next per-unit sequence number; persisted with the next write."""
        self._seq += 1
        return self._seq

    def commit_seq(self) -> None:
        """Persist the sequence counter now (for messages that bypass the queue)."""
        self._write(lambda: self._set_state({_SEQ_KEY: str(self._seq)}))

    # Writing ------------------------------------------------------------------------------

    def put(
        self,
        messages: Iterable[PendingMessage],
        state: Mapping[str, str | None] | None = None,
    ) -> WriteResult:
        """Store ``messages`` and ``state`` updates (``None`` deletes a key) in one transaction."""
        batch = list(messages)
        incoming = sum(len(m.payload) for m in batch)
        result = WriteResult(0, 0)

        def write() -> None:
            nonlocal result, batch
            result, batch = self._make_room(batch, incoming)
            now = time.time()
            self._conn.executemany(
                "INSERT INTO outbox (topic, payload, retain, priority, lane, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(m.topic, m.payload, m.retain, int(m.priority), m.lane, now) for m in batch],
            )
            self._set_state({_SEQ_KEY: str(self._seq), **(state or {})})

        self._write(write)
        self._depth += len(batch)
        self._bytes += sum(len(m.payload) for m in batch)
        self._update_quota_flag()
        return result

    def _make_room(
        self, batch: list[PendingMessage], incoming: int
    ) -> tuple[WriteResult, list[PendingMessage]]:
        evicted = 0
        while self._bytes + incoming > self.quota_bytes:
            freed = self._evict_one()
            if not freed:
                break
            evicted += 1
            self._depth -= 1
            self._bytes -= freed
        dropped = 0
        if self._bytes + incoming > self.quota_bytes:
            # Nothing evictable left: new telemetry is refused, events are kept over quota.
            kept = [m for m in batch if m.priority is not Priority.TELEMETRY]
            dropped = len(batch) - len(kept)
            batch = kept
        return WriteResult(evicted, dropped), batch

    def _evict_one(self) -> int:
        row = self._conn.execute(
            "SELECT id, LENGTH(payload) FROM outbox WHERE priority = ? ORDER BY id LIMIT 1",
            (int(Priority.TELEMETRY),),
        ).fetchone()
        if row is None:
            row = self._conn.execute(
                "SELECT id, LENGTH(payload) FROM outbox AS old WHERE priority = ? AND EXISTS ("
                " SELECT 1 FROM outbox AS new WHERE new.priority = old.priority"
                " AND new.lane = old.lane AND new.id > old.id) ORDER BY id LIMIT 1",
                (int(Priority.CAPACITY),),
            ).fetchone()
        if row is None:
            return 0
        self._conn.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
        return int(row[1])

    def _update_quota_flag(self) -> None:
        exceeded = self._bytes > self.quota_bytes
        if exceeded and not self.quota_exceeded:
            _LOGGER.error(
                "Outbox quota of %d bytes is full of job events and alarms (%d bytes, %d"
                " messages): new telemetry is dropped, events are kept over quota",
                self.quota_bytes,
                self._bytes,
                self._depth,
            )
        elif self.quota_exceeded and not exceeded:
            _LOGGER.warning("Outbox back under its quota (%d bytes)", self._bytes)
        self.quota_exceeded = exceeded

    # Reading and acknowledging ------------------------------------------------------------

    def fetch(self, after: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` messages with a row id above ``after``, oldest first."""
        rows = self._conn.execute(
            "SELECT id, topic, payload, retain, created_at FROM outbox WHERE id > ?"
            " ORDER BY id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [StoredMessage(r[0], r[1], bytes(r[2]), bool(r[3]), r[4]) for r in rows]

    def delete(self, row_ids: Iterable[int]) -> None:
        ids = list(row_ids)
        if not ids:
            return
        freed: list[int] = []

        def write() -> None:
            for row_id in ids:
                row = self._conn.execute(
                    "DELETE FROM outbox WHERE id = ? RETURNING LENGTH(payload)", (row_id,)
                ).fetchone()
                if row is not None:
                    freed.append(int(row[0]))

        self._write(write)
        self._depth -= len(freed)
        self._bytes -= sum(freed)
        self._update_quota_flag()

    @property
    def depth(self) -> int:
        return int(self._depth)

    @property
    def size_bytes(self) -> int:
        return int(self._bytes)

    def oldest_age(self) -> float:
        """Seconds since the oldest unsent message was queued (0 when empty)."""
        row = self._conn.execute("SELECT created_at FROM outbox ORDER BY id LIMIT 1").fetchone()
        return 0.0 if row is None else max(0.0, time.time() - row[0])

    # Gateway state ------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM gateway_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_state(self, updates: Mapping[str, str | None]) -> None:
        for key, value in updates.items():
            if value is None:
                self._conn.execute("DELETE FROM gateway_state WHERE key = ?", (key,))
            else:
                self._conn.execute(
                    "INSERT INTO gateway_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def _write(self, work: Callable[[], None]) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                work()
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._recount()
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox write failed ({self.path}): {exc}") from exc

    def _recount(self) -> None:
        self._depth, self._bytes = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
        ).fetchone()

    # Checkpoints ------------------------------------------------------------------------------

    async def run_checkpoints(self, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        """Checkpoint the WAL every ``interval`` seconds, off the event loop."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.checkpoint)

    def checkpoint(self) -> tuple[int, int, int] | None:
        """A passive checkpoint: ``(busy, WAL frames, frames checkpointed)``, or None if it
        failed (logged once; the WAL then grows until a checkpoint succeeds)."""
        try:
            if self._checkpointer is None:
                # Only ever used by one checkpoint at a time (run_checkpoints awaits each).
                self._checkpointer = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
            row = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            if not self._checkpoint_failed:
                _LOGGER.warning("Outbox WAL checkpoint failed (%s): %s", self.path, exc)
            self._checkpoint_failed = True
            return None
        self._checkpoint_failed = False
        return int(row[0]), int(row[1]), int(row[2])

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._conn.close()
