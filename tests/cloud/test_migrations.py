"""The Alembic revisions create exactly the tables the models declare, on both databases."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import sessionmaker

from cloud.database import MIGRATIONS_DIR, UtcDateTime, downgrade, make_engine, migrate
from cloud.exceptions import MigrationRefused
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


_OUTBOX_COMMON = (
    "channel",
    "target",
    "action",
    "topic",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
)
_TIMES = ("next_attempt_at", "created_at", "sent_at", "opened_at", "failed_at", "last_alert_at")
_TIMES += ("due_at",)


def _column(name: str) -> sa.ColumnClause[object]:
    """A column typed as the models read it (times aware, JSON decoded)."""
    if name in _TIMES:
        return sa.column(name, UtcDateTime)
    return sa.column(name, sa.JSON if name in ("previous_assignees", "parts_used") else None)


_NOTIFICATIONS = sa.table(
    "maintenance_notifications", *map(_column, ("id", "ticket_id", *_OUTBOX_COMMON))
)
_OUTBOX = sa.table("outbox", *map(_column, ("id", "origin", "subject", *_OUTBOX_COMMON)))


def _ticket(ticket_id: int, at: datetime) -> dict[str, object]:
    """A maintenance ticket as revision 1000 stores it (every column that is not nullable)."""
    return {
        "id": ticket_id,
        "kind": "corrective",
        "status": "open",
        "priority": "P3",
        "severity": 500,
        "title": "spindle",
        "description": "",
        "network_id": "n",
        "unit_id": "plant-a",
        "asset": "m1",
        "asset_kind": "machine",
        "service_level": "standard",
        "skill": "",
        "previous_assignees": [],
        "opened_at": at,
        "failed_at": at,
        "last_alert_at": at,
        "incidents": 1,
        "due_at": at,
        "reminders_sent": 0,
        "escalated_to_next": False,
        "escalated_to_coordinator": False,
        "parts_used": [],
    }


def _as_utc(row: Sequence[object]) -> tuple[object, ...]:
    return tuple(_utc(value) if isinstance(value, datetime) else value for value in row)


def test_maintenance_notifications_move_into_the_outbox_and_back_without_loss(
    db_url: str,
) -> None:
    """Revision 1100 moves every notification into the one outbox (ids, states, attempts and
    times kept), new rows go on after them, and its downgrade moves them back."""
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    later = at + timedelta(seconds=5)
    old_rows = [
        (
            *(1, 1, "mqtt", "tina", "assigned", "glonet/v1/n/technicians/tina/alerts", "{}"),
            *("sent", 1, at, None, at, at),
        ),
        (
            *(2, 1, "webhook", "https://hooks.example/t?token=s", "assigned", None, "{}"),
            *("failed", 6, at, "HTTP 500", at, None),
        ),
        (
            *(3, 2, "command", "plant-a", "repair", "glonet/v1/n/plant-a/cmd", "{}"),
            *("pending", 0, later, None, at, None),
        ),
    ]
    columns = ("id", "ticket_id", *_OUTBOX_COMMON)
    tickets = sa.table("maintenance_tickets", *map(_column, _ticket(0, at)))
    engine = make_engine(db_url)
    with engine.begin() as connection:
        _alembic(connection, "upgrade", "1000")
        connection.execute(sa.insert(tickets), [_ticket(1, at), _ticket(2, at)])
        connection.execute(
            sa.insert(_NOTIFICATIONS), [dict(zip(columns, row, strict=True)) for row in old_rows]
        )
    migrate(engine)
    with engine.begin() as connection:
        moved = connection.execute(select(_OUTBOX).order_by(_OUTBOX.c.id)).all()
        assert [_as_utc(row) for row in moved] == [
            (row[0], "maintenance", str(row[1]), *row[2:]) for row in old_rows
        ]
        new = {c.name: None for c in _OUTBOX.c if c.name != "id"} | {
            "origin": "dispatch",
            "channel": "command",
            "target": "plant-a",
            "action": "dispatch",
            "payload": "{}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
        }
        new_id = connection.execute(
            sa.insert(_OUTBOX).values(new).returning(_OUTBOX.c.id)
        ).scalar_one()
        assert new_id == len(old_rows) + 1
        _alembic(connection, "downgrade", "1000")
        back = connection.execute(select(_NOTIFICATIONS).order_by(_NOTIFICATIONS.c.id)).all()
    engine.dispose()
    assert [_as_utc(row) for row in back] == old_rows


def _rows(table: str, **values: object) -> tuple[sa.TableClause, dict[str, object]]:
    return sa.table(table, *(_typed(name, value) for name, value in values.items())), values


def _configuration_row(at: datetime) -> tuple[sa.TableClause, dict[str, object]]:
    return _rows(
        "configurations",
        id="cfg-1",
        family_id="robotic-cell",
        customer_id="alice",
        title="cell",
        current_revision=1,
        created_at=at,
    )


def _opportunity_row(
    at: datetime, due: datetime, **values: object
) -> tuple[sa.TableClause, dict[str, object]]:
    """A won opportunity of network ``n`` in Bologna; ``values``: its id, title, source and
    what it is of."""
    return _rows(
        "opportunities",
        network_id="n",
        quantity=1,
        status="won",
        due_at=due,
        site_name="",
        site_latitude=44.5,
        site_longitude=11.3,
        site_country="IT",
        budget=10.0,
        currency="EUR",
        description="",
        created_by="coordinator",
        created_at=at,
        updated_at=at,
        **values,
    )


def _typed(name: str, value: object) -> sa.ColumnClause[object]:
    if isinstance(value, datetime):
        return sa.column(name, UtcDateTime)
    return sa.column(name, sa.JSON if isinstance(value, dict | list) else None)


def test_quotes_and_orders_keep_what_hangs_on_them_when_their_configuration_goes_optional(
    db_url: str,
) -> None:
    """Revision 1330 copies the quotes and orders tables on SQLite (a column becomes nullable):
    the holds, consortium quotes and operations that refer to them stay, and a consortium's
    quote and its order name their opportunity. A quote of nothing is refused."""
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    later = at + timedelta(days=2)
    quote = {"customer_id": "alice", "price": 10.0, "currency": "EUR", "promised_at": later}
    quote |= {"valid_until": later, "work": {"operations": []}, "created_at": at}
    rows = [
        _configuration_row(at),
        _opportunity_row(
            at, later, id="opp-1", title="cell", source="configuration", configuration_id="cfg-1"
        ),
        _rows(
            "consortia",
            id="con-1",
            opportunity_id="opp-1",
            network_kind="dynamic",
            formed_by="selection",
            current_revision=1,
            created_at=at,
        ),
        _rows("quotes", id="q-won", configuration_id="cfg-1", revision=1, **quote),
        _rows("quotes", id="q-open", configuration_id="cfg-1", revision=1, **quote),
        _rows(
            "consortium_quotes",
            quote_id="q-won",
            opportunity_id="opp-1",
            consortium_id="con-1",
            revision=1,
            created_at=at,
        ),
        _rows(
            "capacity_holds",
            quote_id="q-open",
            step="weld",
            unit_id="plant-a",
            machine="weld-1",
            starts_at=at,
            work_starts_at=at,
            ends_at=later,
            valid_until=later,
        ),
        _rows(
            "orders",
            id="ord-1",
            quote_id="q-won",
            configuration_id="cfg-1",
            customer_id="alice",
            family_id="robotic-cell",
            values={"payload_kg": 12},
            price=10.0,
            currency="EUR",
            promised_at=later,
            status="planned",
            created_at=at,
        ),
        _rows(
            "order_operations",
            order_id="ord-1",
            position=0,
            step="weld",
            name="weld",
            process="welding",
            duration_s=60.0,
            predecessors=[],
            requirements={},
            certifications=[],
            excluded=[],
            status="planned",
            attempt=0,
            progress=0.0,
            history=[],
        ),
    ]
    engine = make_engine(db_url)
    with engine.begin() as connection:
        _alembic(connection, "upgrade", "1280")
        for table, values in rows:
            connection.execute(sa.insert(table).values(values))
    migrate(engine)
    with engine.begin() as connection:
        for name in ("capacity_holds", "consortium_quotes", "order_operations"):
            assert connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() == 1
        opportunities = connection.execute(
            text("SELECT id, opportunity_id FROM quotes ORDER BY id")
        ).all()
        assert [tuple(row) for row in opportunities] == [("q-open", None), ("q-won", "opp-1")]
        order = connection.execute(text("SELECT opportunity_id FROM orders")).scalar_one()
        assert order == "opp-1"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        table, values = _rows("quotes", id="q-of-nothing", **quote)
        connection.execute(sa.insert(table).values(values))
    engine.dispose()


def _tender_rows(at: datetime) -> list[tuple[sa.TableClause, dict[str, object]]]:
    """A unit with its country, a call for tenders whose line has materials, its quote and its
    order, whose operation asks for 40 parts; beside them a configured product's quote holding
    machine time."""
    later = at + timedelta(days=2)
    quote = {"customer_id": "city", "price": 10.0, "currency": "EUR", "promised_at": later}
    quote |= {"valid_until": later, "work": {"operations": []}, "created_at": at}
    steel = {"item": "steel-sheet", "description": "", "quantity": 3.0, "unit": "kg"}
    return [
        _rows("networks", id="n", name="n", kind="dynamic", description="", created_at=at),
        _rows(
            "units",
            id="plant-a",
            network_id="n",
            company="Plant A",
            site="",
            country="IT",
            latitude=44.5,
            longitude=11.3,
            certifications=[],
            processes=[],
            sharing_policy={},
            created_at=at,
        ),
        _configuration_row(at),
        _opportunity_row(
            at, later, id="opp-t", title="tram brackets", source="tender", customer_id="city"
        ),
        _rows(
            "opportunity_processes",
            opportunity_id="opp-t",
            position=0,
            step="p1",
            name="welding",
            process="welding",
            requirements={},
            certifications=[],
            quantity=1,
            work_minutes=60.0,
            predecessors=[],
            materials=[{**steel, "unit_cost": 4.0}],
        ),
        _rows("quotes", id="q-tender", opportunity_id="opp-t", **quote),
        _rows("quotes", id="q-cfg", configuration_id="cfg-1", revision=1, **quote),
        _rows(
            "capacity_holds",
            quote_id="q-cfg",
            step="weld",
            unit_id="plant-a",
            machine="weld-1",
            starts_at=at,
            work_starts_at=at,
            ends_at=later,
            valid_until=later,
        ),
        _rows(
            "orders",
            id="ord-tender",
            quote_id="q-tender",
            opportunity_id="opp-t",
            customer_id="city",
            values={},
            price=10.0,
            currency="EUR",
            promised_at=later,
            status="planned",
            created_at=at,
        ),
        _rows(
            "order_operations",
            order_id="ord-tender",
            position=0,
            step="p1",
            name="welding",
            process="welding",
            duration_s=3600.0,
            quantity=40,
            predecessors=[],
            requirements={},
            certifications=[],
            excluded=[],
            status="planned",
            attempt=0,
            progress=0.0,
            history=[],
        ),
    ]


def _schema_and_rows(engine: sa.Engine) -> dict[str, object]:
    """What a refused downgrade must leave as it was: the revision, the tables, the columns and
    indexes the revisions change, and the rows they would lose (their columns the revision
    has)."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        columns = {
            table: sorted(c["name"] for c in inspector.get_columns(table))
            for table in ("units", "quotes", "orders", "order_operations", "opportunity_processes")
        }

        def rows(table: str, *names: str) -> list[tuple[object, ...]]:
            kept = [sa.column(n, sa.JSON if n == "materials" else None) for n in names]
            query = sa.select(*(c for c in kept if c.name in columns.get(table, [c.name])))
            ordered = query.select_from(sa.table(table)).order_by(sa.column(names[0]))
            return [tuple(row) for row in connection.execute(ordered)]

        return {
            "revision": rows("alembic_version", "version_num"),
            "tables": sorted(inspector.get_table_names()),
            "columns": columns,
            "quote indexes": sorted(str(i["name"]) for i in inspector.get_indexes("quotes")),
            "countries": rows("units", "id", "country"),
            "quotes": rows("quotes", "id", "configuration_id", "opportunity_id"),
            "orders": rows("orders", "id", "configuration_id", "opportunity_id"),
            "holds": rows("capacity_holds", "quote_id", "machine"),
            "operations": rows("order_operations", "order_id", "step", "quantity"),
            "materials": rows("opportunity_processes", "step", "materials"),
        }


def test_a_downgrade_that_would_lose_data_is_refused_and_changes_nothing(db_url: str) -> None:
    """The schema before 1330 cannot hold a call for tenders' quote or order, nor its lines'
    materials; the one before 1340 has no unit country; the one before 1350 asks every operation
    for one part. Asked to go below them while any is stored, ``downgrade`` refuses before
    undoing anything: it names each revision's loss and how many, and the revision, tables,
    columns, indexes and rows stay as they were (so on SQLite, where Alembic's DDL does not all
    roll back, too). Without them it goes down, keeping the configured product's quote and its
    hold, and back up."""
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as connection:
        for table, values in _tender_rows(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
            connection.execute(sa.insert(table).values(values))
    before = _schema_and_rows(engine)

    with pytest.raises(MigrationRefused) as refused:
        downgrade(engine, "1280")
    assert str(refused.value) == (
        "cannot downgrade to 1280: revision 1350 would lose the quantity of 1 operation"
        " (ord-tender p1 x 40): the older schema asks every operation for one part. Set them to"
        " 1 first if that may be lost (UPDATE order_operations SET quantity = 1); revision 1340"
        " would lose the country of 1 unit (plant-a in"
        " IT): the older schema has no place for it. Clear them first if they may be lost"
        " (UPDATE units SET country = NULL); revision 1330 would lose 1 tender quote (q-tender),"
        " 1 tender order (ord-tender), the materials of 1 tender line (opp-t p1): the older"
        " schema cannot hold them. Delete them first if they may be lost (a tender quote with"
        " its holds and consortium quote; an order with its operations, ledger entries, purchase"
        " requests and delivered products). Nothing was changed."
    )
    assert _schema_and_rows(engine) == before
    # Alembic's own command, one revision down, meets the same refusal in the revision.
    refused_by_1350 = pytest.raises(MigrationRefused, match="1350 would lose the quantity of 1")
    with refused_by_1350, engine.begin() as connection:
        _alembic(connection, "downgrade", "1340")
    assert _schema_and_rows(engine) == before

    # Without countries and quantities, 1350 and 1340 could go: they stay, as 1330 cannot.
    with engine.begin() as connection:
        connection.execute(text("UPDATE units SET country = NULL"))
        connection.execute(text("UPDATE order_operations SET quantity = 1"))
    cleared = _schema_and_rows(engine)
    with pytest.raises(MigrationRefused, match=r"^cannot downgrade to 1280: revision 1330 would"):
        downgrade(engine, "1280")
    assert _schema_and_rows(engine) == cleared
    downgrade(engine, "1330")
    assert _schema_and_rows(engine)["revision"] == [("1330",)]

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM orders WHERE configuration_id IS NULL"))
        connection.execute(text("DELETE FROM quotes WHERE configuration_id IS NULL"))
        processes = sa.table("opportunity_processes", sa.column("materials", sa.JSON))
        connection.execute(sa.update(processes).values(materials=[]))
    downgrade(engine, "1280")
    after = _schema_and_rows(engine)
    assert after["revision"] == [("1280",)]
    assert after["quotes"] == [("q-cfg", "cfg-1")]
    assert after["holds"] == [("q-cfg", "weld-1")]
    migrate(engine)
    assert _schema_and_rows(engine)["revision"] == before["revision"]
    engine.dispose()
