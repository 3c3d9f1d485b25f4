"""A fresh database for every benchmark case: SQLite always, PostgreSQL when
``GLONET_TEST_POSTGRES_URL`` names a server (a database created per case, dropped after it)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def case_databases() -> list[tuple[str, str]]:
    """(kind, URL template) of each database to run on."""
    directory = Path(tempfile.mkdtemp(prefix="bench-db-"))
    found = [("sqlite", f"sqlite:///{directory}/{{case}}.sqlite")]
    base = os.environ.get("GLONET_TEST_POSTGRES_URL")
    if base:
        found.append(("postgresql", base))
    return found


def fresh_url(kind: str, template: str, case: str) -> str:
    """A new, empty database for ``case``."""
    if kind == "sqlite":
        return template.format(case=case)
    admin = make_url(template).set(drivername="postgresql")
    name = f"glonet_bench_{case}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def drop(kind: str, url: str) -> None:
    """Drop a case's PostgreSQL database (a SQLite file goes with its temporary folder)."""
    if kind != "postgresql":
        return
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
