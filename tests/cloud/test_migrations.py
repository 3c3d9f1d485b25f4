"""The Alembic revisions create exactly the tables the models declare, on both databases."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import sessionmaker

from cloud.database import MIGRATIONS_DIR, make_engine, migrate
from cloud.models import Base
from tests.cloud.conftest import stored_samples

chunk_migration = importlib.import_module("cloud.migrations.versions.0500_telemetry_chunks")


def _utc(time: datetime) -> datetime:
    return time.replace(tzinfo=UTC) if time.tzinfo is None else time


def test_migrations_match_the_models_and_run_twice(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent: a restart finds the schema at head
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_chunk_time_index_is_brin_on_postgresql(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            method = connection.execute(
                text(
                    "SELECT am.amname FROM pg_class index JOIN pg_am am ON am.oid = index.relam"
                    " WHERE index.relname = 'ix_telemetry_chunks_last_time'"
                )
            ).scalar_one()
            assert method == "brin"
        else:
            names = [
                row[1] for row in connection.execute(text("PRAGMA index_list(telemetry_chunks)"))
            ]
            assert "ix_telemetry_chunks_last_time" in names
    engine.dispose()


def _alembic(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def test_stored_samples_move_into_chunks_and_back_without_loss(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision 0500 turns the per-sample rows into chunks (reading them a page at a time), and
    its downgrade turns them back into the same rows."""
    monkeypatch.setattr(chunk_migration, "PAGE", 3)  # several pages, a machine split across them
    at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    old_rows = [
        ("plant-a", "mill-1", "spindle_rpm", at, 1200.0, None, "good"),
        ("plant-a", "lathe-2", "program", at + timedelta(seconds=1), None, "P-7", "uncertain"),
        ("plant-a", "mill-1", "spindle_rpm", at - timedelta(seconds=2), 900.0, None, "good"),
        ("plant-b", "mill-1", "door_open", at + timedelta(microseconds=5), 1.0, None, "bad"),
        ("plant-a", "mill-1", "feed", at, 0.25, None, "good"),
    ]
    columns = ("unit_id", "machine", "metric", "time", "value_number", "value_text", "quality")
    engine = make_engine(db_url)
    with engine.begin() as connection:
        _alembic(connection, "upgrade", "0400")
        connection.execute(
            insert(chunk_migration._SAMPLES),
            [dict(zip(columns, row, strict=True)) for row in old_rows],
        )
    migrate(engine)
    moved = stored_samples(sessionmaker(engine))
    assert sorted(moved, key=repr) == sorted(
        [(*row[:4], row[5] if row[5] is not None else row[4], row[6]) for row in old_rows],
        key=repr,
    )
    with engine.begin() as connection:
        _alembic(connection, "downgrade", "0400")
        back = connection.execute(
            select(*(chunk_migration._SAMPLES.c[name] for name in columns))
        ).all()
    engine.dispose()
    restored = [(*row[:3], _utc(row[3]), *row[4:]) for row in back]
    assert sorted(restored, key=repr) == sorted(old_rows, key=repr)
