"""Alembic environment: runs on the connection handed over by :func:`cloud.database.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from cloud.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Only for `alembic revision --autogenerate` during development.
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as dev_connection:
        _run(dev_connection)
