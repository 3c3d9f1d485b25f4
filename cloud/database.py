"""Engine, sessions and migrations; SQLite (WAL, foreign keys) or PostgreSQL by URL.

Domains declare their tables on :class:`Base`; Alembic revisions in ``cloud/migrations`` create
them, applied at start by :func:`migrate`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import sqltypes

from cloud.exceptions import DatabaseError, MigrationRefused

_LOGGER = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both SQLite (which forgets zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


StrEnumT = TypeVar("StrEnumT", bound=StrEnum)


class StoredEnum(TypeDecorator[StrEnumT]):
    """A ``StrEnum`` stored as its value in a ``VARCHAR(length)``: the column reads back as the
    enum, a value outside it is refused on write, and the schema is the plain string column
    it was (no database enum type, no migration)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[StrEnumT], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnumT | None:
        return None if value is None else self.enum_type(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", _binary_arrays)
    return engine


def _binary_arrays(dbapi_connection: Any, _record: Any) -> None:
    """Send Python lists as binary arrays (psycopg's default is text): :class:`BulkInsert`
    sends a batch's rows as arrays, and psycopg formats a timestamp into array text in Python,
    some 6 µs each, against 0.4 µs for the binary form. (psycopg comes with the ``postgres``
    extra: imported only where a PostgreSQL engine connects.)"""
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_PERMANENT = (IntegrityError, DataError, ProgrammingError, NotSupportedError)
"""Errors of the statement and its values: running it again fails again."""
_SQLITE_ERROR = 1
"""SQLite's primary code for an SQL error (no such table or column, syntax): the driver reports
it as OperationalError, as it does a busy, full or unopenable database, which pass."""
_SQLITE_CONTENTION = frozenset({5, 6})
"""SQLITE_BUSY, SQLITE_LOCKED: another connection held the lock past the busy timeout."""
_POSTGRES_CONTENTION = frozenset({"40P01", "40001"})
"""deadlock_detected, serialization_failure."""


_AWAY = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
"""What the drivers raise when the database is away or busy: connection refused or lost, a
server shutting down, a lock timeout, a deadlock victim, no free connection in the pool."""


def _transient(exc: SQLAlchemyError) -> bool:
    """Whether running the statement again may succeed: only when the database was away or
    busy. Anything else — a value the driver cannot convert (an ``OverflowError`` or a
    ``UnicodeEncodeError`` wrapped in ``StatementError``), a constraint, a bug in the SQL —
    fails the same way every time and must not be retried forever."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, _AWAY) or isinstance(exc, _PERMANENT):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return code is None or code & 0xFF != _SQLITE_ERROR


def _contended(exc: SQLAlchemyError) -> bool:
    """Whether the transaction lost to another one rather than the database being away."""
    original = getattr(exc, "orig", None)
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_CONTENTION
    return getattr(original, "sqlstate", None) in _POSTGRES_CONTENTION


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error; DB errors become DatabaseError."""
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise DatabaseError(
            f"database operation failed: {exc.__class__.__name__}",
            transient=_transient(exc),
            contended=_contended(exc),
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_for(session: Session) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_*``): SQLite and PostgreSQL share the API."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision.

    On SQLite, a revision that changes a column's nullability or type copies the table into a
    new one and drops the old (Alembic's batch mode). With foreign keys enforced, dropping it
    would delete the rows that refer to it by a cascade, or fail on the others: so the
    revisions run with foreign keys off (a pragma SQLite honours only outside a transaction),
    and every reference is checked before they commit."""
    _run_revisions(engine, lambda _connection, config: command.upgrade(config, "head"))
    _LOGGER.info("database schema is at the newest revision")


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (an older release's), as :func:`migrate` runs them.

    A revision whose downgrade would lose data the older schema cannot hold says so in its
    module's ``downgrade_refusal(connection)``. Every revision to undo is asked before the first
    is undone: if any would lose data, :class:`MigrationRefused` names what and how many, and
    nothing has changed (on SQLite too, where Alembic's DDL is not all in the transaction)."""

    def undo(connection: Connection, config: Config) -> None:
        scripts = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(connection).get_current_heads()
        refusals = []
        for script in scripts.iterate_revisions(current, revision, select_for_downgrade=True):
            check = getattr(script.module, "downgrade_refusal", None)
            found = check(connection) if check is not None else None
            if found:
                refusals.append(f"revision {script.revision} {found}")
        if refusals:
            raise MigrationRefused(
                f"cannot downgrade to {revision}: {'; '.join(refusals)}. Nothing was changed."
            )
        command.downgrade(config, revision)

    _run_revisions(engine, undo)
    _LOGGER.info("database schema is at revision %s", revision)


def _run_revisions(engine: Engine, run: Callable[[Connection, Config], None]) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _foreign_keys(connection, enforced=False)
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    run(connection, config)
                    if sqlite:
                        _check_references(connection)
            finally:
                if sqlite:
                    _foreign_keys(connection, enforced=True)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migrating the database failed: {exc}") from exc


def _foreign_keys(connection: Connection, *, enforced: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    connection.commit()


def _check_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        found = ", ".join(f"{table} row {row} -> {parent}" for table, row, parent, _ in broken[:5])
        raise DatabaseError(
            f"migrating the database would break {len(broken)} references: {found}",
            transient=False,
        )


@dataclass(frozen=True)
class BulkInsert:
    """An INSERT of any number of rows with one statement text.

    On PostgreSQL the rows travel as one array per column (``INSERT … SELECT unnest(:col), …``):
    the server parses and plans that text once per connection (psycopg prepares it after a few
    runs), where an ``executemany`` sends and runs one statement per row and a multi-row VALUES
    is new text for every row count. SQLite runs in the process: its driver's ``executemany`` of
    the one-row statement is cheapest there. Add ``on_conflict_*`` and ``returning`` to
    :attr:`statement` as to any dialect insert, and execute it with :meth:`parameters`.
    """

    statement: Any
    columns: tuple[str, ...]
    arrays: bool
    json_columns: frozenset[str] = frozenset()
    """Columns sent as arrays of JSON text (an array of lists would be a 2-D array)."""

    @classmethod
    @functools.lru_cache(maxsize=256)
    def of(cls, dialect: str, table: Table, columns: tuple[str, ...]) -> BulkInsert:
        if dialect != "postgresql":
            return cls(sqlite.insert(table), columns, arrays=False)
        json_columns = frozenset(
            name for name in columns if isinstance(table.c[name].type, sqltypes.JSON)
        )
        unnested: list[Any] = []
        for name in columns:
            column_type = table.c[name].type
            if name in json_columns:
                texts = func.unnest(cast(bindparam(name), postgresql.ARRAY(sqltypes.Text())))
                unnested.append(cast(texts, column_type))
            else:
                unnested.append(func.unnest(cast(bindparam(name), postgresql.ARRAY(column_type))))
        statement = postgresql.insert(table).from_select(list(columns), select(*unnested))
        return cls(statement, columns, arrays=True, json_columns=json_columns)

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Execution parameters for ``rows`` (mappings with every column)."""
        if not self.arrays:
            return rows
        return {
            name: (
                [json.dumps(row[name]) for row in rows]
                if name in self.json_columns
                else [row[name] for row in rows]
            )
            for name in self.columns
        }


def guarded_upsert(
    session: Session,
    model: type[Base],
    values: dict[str, Any],
    *,
    keys: Sequence[str],
    guard: Callable[[Any, Any], Any] | None = None,
) -> bool:
    """Insert ``values``, or update the row with the same ``keys`` when ``guard`` holds.

    ``guard`` is built from ``(table, excluded)`` columns, e.g. ``excluded.seq > table.seq``;
    it makes the write conditional in the database itself, so concurrent writers stay correct.
    Pass a module-level function: the statement is built once per shape and reused.
    Returns whether a row was written.
    """
    return guarded_upsert_many(session, model, [values], keys=keys, guard=guard)[0]


def guarded_upsert_many(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    guard: Callable[[Any, Any], Any] | None = None,
) -> list[bool]:
    """:func:`guarded_upsert` of every row (all with the same columns) in few statements;
    returns, per row, whether it was written.

    Each statement holds at most one row per key: rows of the same key go into successive
    statements, in their order, so every row is judged against what the rows before it left,
    exactly as one upsert after the other (PostgreSQL also refuses to update a row twice in one
    statement). A batch of events of distinct jobs is one statement instead of one per event.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    bulk, statement = _upsert_statement(dialect, model, tuple(rows[0]), tuple(keys), guard)
    identities = [tuple(row[name] for name in keys) for row in rows]
    written = [False] * len(rows)
    pending = list(range(len(rows)))
    while pending:
        taken: set[tuple[Any, ...]] = set()
        now: list[int] = []
        later: list[int] = []
        for index in pending:
            identity = identities[index]
            (later if identity in taken else now).append(index)
            taken.add(identity)
        # Through the session, which flushes pending ORM changes first.
        parameters = bulk.parameters([rows[i] for i in now])
        returned = {tuple(row) for row in session.execute(statement, parameters)}
        for index in now:
            written[index] = identities[index] in returned
        pending = later
    return written


@functools.lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str,
    model: type[Base],
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    guard: Callable[[Any, Any], Any] | None,
) -> tuple[BulkInsert, Any]:
    """The upsert of rows of ``columns``, built once: the ingest runs them for every batch,
    and building and caching a new statement each time cost more than the database's own
    work."""
    table: Any = model.__table__
    bulk = BulkInsert.of(dialect, table, columns)
    excluded = bulk.statement.excluded
    changes = {name: excluded[name] for name in columns if name not in keys}
    where = guard(table.c, excluded) if guard is not None else None
    statement = bulk.statement.on_conflict_do_update(
        index_elements=list(keys), set_=changes, where=where
    )
    return bulk, statement.returning(*(table.c[key] for key in keys))
