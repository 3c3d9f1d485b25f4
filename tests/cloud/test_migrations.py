"""The Alembic revisions create exactly the tables the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from cloud.database import make_engine, migrate
from cloud.models import Base


def test_migrations_match_the_models_and_run_twice(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent: a restart finds the schema at head
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_sample_time_index_is_brin_on_postgresql(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            method = connection.execute(
                text(
                    "SELECT am.amname FROM pg_class index JOIN pg_am am ON am.oid = index.relam"
                    " WHERE index.relname = 'ix_telemetry_samples_time'"
                )
            ).scalar_one()
            assert method == "brin"
        else:
            names = [
                row[1] for row in connection.execute(text("PRAGMA index_list(telemetry_samples)"))
            ]
            assert "ix_telemetry_samples_time" in names
    engine.dispose()
