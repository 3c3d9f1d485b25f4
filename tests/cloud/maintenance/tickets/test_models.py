"""Typed status columns: a ticket's kind, status and priority and an alert's state read back as
their enums, are stored as the same strings as before, and a value outside the enum is refused."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from cloud.maintenance.alerts.models import AlertState, MaintenanceAlert
from cloud.maintenance.tickets.models import MaintenanceTicket, Priority, TicketKind, TicketStatus
from tests.cloud.maintenance.conftest import alarm


def test_status_columns_read_back_as_enums_and_store_their_values(harness):
    harness.ingest(alarm("laser-1"))
    with harness.session() as session:
        [ticket] = session.scalars(select(MaintenanceTicket))
        [alert] = session.scalars(select(MaintenanceAlert))
        assert ticket.kind is TicketKind.CORRECTIVE
        assert ticket.status is TicketStatus.ASSIGNED
        assert ticket.priority is Priority.P2
        assert alert.state is AlertState.FIRING
        stored = session.execute(
            text("SELECT kind, status, priority FROM maintenance_tickets")
        ).one()
        assert tuple(stored) == ("corrective", "assigned", "P2")
        assert session.execute(text("SELECT state FROM maintenance_alerts")).scalar() == "firing"


def test_a_status_outside_the_enum_is_refused_on_write(harness):
    harness.ingest(alarm("laser-1"))
    with harness.session() as session:
        [ticket] = session.scalars(select(MaintenanceTicket))
        ticket.status = "lost"  # type: ignore[assignment]
        with pytest.raises(StatementError, match="'lost' is not a valid TicketStatus"):
            session.flush()
