"""Alarms through the real ingest path into alerts, tickets, assignment and the outbox."""

from __future__ import annotations

import itertools
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.auth.models import Actor, Role
from cloud.main import create_app
from cloud.maintenance import routing
from cloud.maintenance.alerts import flows as alert_flows
from cloud.maintenance.alerts import service as alert_service
from cloud.maintenance.alerts.models import MaintenanceAlert, SilenceCreate
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketEvent
from cloud.messaging.models import OutboxMessage
from cloud.operations.metrics import RULE_BUDGET_EXCEEDED
from cloud.registry.models import Machine
from protocols import codec, messages
from protocols.enums import AlarmState, AlertAction
from protocols.topics import TopicKind
from tests.cloud.maintenance.conftest import Harness, Seeded, alarm

COORDINATOR = Actor(principal_id=0, name="test", role=Role.COORDINATOR)


def tickets(h: Harness) -> list[MaintenanceTicket]:
    with h.session() as session:
        return list(session.scalars(select(MaintenanceTicket).order_by(MaintenanceTicket.id)))


def alerts(h: Harness) -> list[MaintenanceAlert]:
    with h.session() as session:
        return list(session.scalars(select(MaintenanceAlert).order_by(MaintenanceAlert.id)))


def notifications(h: Harness, channel: str = "mqtt") -> list[OutboxMessage]:
    with h.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == channel)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_an_alarm_opens_an_assigned_ticket_and_queues_the_technician_alert(harness):
    events = harness.ingest(alarm("laser-1"))
    [ticket] = tickets(harness)
    assert ticket.status == "assigned"
    assert ticket.assignee_id == "tina"  # nearest, skilled, works for the asset's own unit
    assert ticket.kind == "corrective"
    assert ticket.priority == "P2"  # major severity, standard service level
    assert ticket.due_at == ticket.opened_at + ticket_service.due_after(
        service_level="standard", priority=ticket.priority
    )
    [alert] = alerts(harness)
    assert alert.ticket_id == ticket.id and alert.state == "firing"
    assert alert.labels["unit"] == "cut-co" and alert.labels["severity"] == "major"
    [notice] = notifications(harness)
    assert notice.topic == "glonet/v1/demo/technicians/tina/alerts"
    message = codec.decode_for_topic(TopicKind.TECHNICIAN_ALERTS, notice.payload.encode())
    assert isinstance(message, messages.TechnicianAlert)
    assert message.body.action is AlertAction.NEW and message.body.ticket_id == str(ticket.id)
    assert {e["action"] for e in events if e["type"] == "maintenance"} >= {"opened", "new"}


def test_a_flood_of_repeats_makes_one_ticket_and_a_bounded_number_of_notifications(harness):
    for start in range(0, 1000, 100):
        harness.ingest(*(alarm("laser-1", seq=start + i) for i in range(100)))
        harness.clock.advance(seconds=6)
    assert len(tickets(harness)) == 1
    [alert] = alerts(harness)
    assert alert.repeats == 999
    assert len(notifications(harness)) == 1


def test_a_redelivered_message_is_applied_once(harness):
    message = alarm("laser-1")
    harness.ingest(message)
    harness.ingest(message)
    assert alerts(harness)[0].repeats == 0


def test_alerts_of_one_asset_group_into_one_incident_and_later_ones_update_the_ticket(harness):
    harness.ingest(alarm("laser-1", "overheat"))
    harness.clock.advance(minutes=2)
    harness.ingest(alarm("laser-1", "high_vibration", severity=500))
    assert len(tickets(harness)) == 1 and len(notifications(harness)) == 1
    harness.clock.advance(minutes=30)
    harness.ingest(alarm("laser-1", "tool_wear", severity=500))
    [ticket] = tickets(harness)
    assert ticket.incidents == 2
    assert [n.action for n in notifications(harness)] == ["new", "updated"]
    assert len(alerts(harness)) == 3


def test_a_cleared_alarm_resolves_the_alert_and_a_new_one_starts_a_new_episode(harness):
    harness.ingest(alarm("laser-1"))
    harness.ingest(alarm("laser-1", state=AlarmState.CLEARED, seq=2))
    [alert] = alerts(harness)
    assert alert.state == "resolved" and alert.active_key is None
    harness.clock.advance(minutes=1)
    harness.ingest(alarm("laser-1", seq=3))
    assert [a.state for a in alerts(harness)] == ["resolved", "firing"]
    assert len(tickets(harness)) == 1  # joins the open ticket of the asset


def test_a_unit_offline_inhibits_its_machines_alerts_until_it_is_back(harness):
    offline = messages.UnitState.create(unit="cut-co", seq=5, body={"state": "offline"})
    harness.ingest(offline)
    harness.ingest(alarm("laser-1"), alarm("press-1", "overheat", seq=2))
    assert tickets(harness) == []
    suppressed = [a.suppressed_by for a in alerts(harness) if a.code != "unit_offline"]
    assert suppressed == ["inhibited: unit-offline-inhibits-its-assets"] * 2
    harness.ingest(alarm("weld-1", unit="weld-co"))  # another unit is not affected
    assert [t.asset for t in tickets(harness)] == ["weld-1"]
    online = messages.UnitState.create(unit="cut-co", seq=6, body={"state": "online"})
    harness.ingest(online)
    harness.ingest(alarm("laser-1", seq=3))  # the next repeat is routed again
    assert sorted(t.asset for t in tickets(harness)) == ["laser-1", "weld-1"]


def test_a_breakdown_inhibits_that_machines_warnings_only(harness):
    harness.ingest(alarm("laser-1", "breakdown", severity=900))
    harness.ingest(alarm("laser-1", "tool_wear", severity=300, seq=2))
    harness.ingest(alarm("laser-1", "emergency_stop", severity=850, seq=3))
    harness.ingest(alarm("press-1", "tool_wear", severity=300, seq=4))
    by_code = {(a.asset, a.code): a for a in alerts(harness)}
    suppressed = by_code["laser-1", "tool_wear"].suppressed_by
    assert suppressed == "inhibited: breakdown-inhibits-warnings"
    assert by_code["laser-1", "emergency_stop"].suppressed_by is None
    assert by_code["press-1", "tool_wear"].suppressed_by is None
    assert {t.asset for t in tickets(harness)} == {"laser-1", "press-1"}


def test_silences_suppress_matching_alerts_until_they_expire(harness):
    with harness.session() as session:
        silence = alert_service.create_silence(
            session=session,
            actor=COORDINATOR,
            spec=SilenceCreate(
                matchers=['asset=~"laser-.*"', "code=overheat"],
                ends_at=harness.clock.now.replace(hour=12),
            ),
            now=harness.clock.now,
        )
        session.commit()
        silence_id = silence.id
    harness.ingest(alarm("laser-1"), alarm("laser-1", "tool_wear", seq=2, severity=500))
    by_code = {a.code: a for a in alerts(harness)}
    assert by_code["overheat"].suppressed_by == f"silence {silence_id}"
    assert by_code["tool_wear"].ticket_id is not None
    with harness.session() as session:
        alert_service.expire_silence(
            session=session, actor=COORDINATOR, silence_id=silence_id, now=harness.clock.now
        )
        session.commit()
    harness.clock.advance(seconds=1)
    harness.ingest(alarm("laser-1", seq=3))
    assert by_code["overheat"].id in {a.id for a in alerts(harness) if a.ticket_id}


def test_the_premium_customer_product_gets_a_higher_priority_and_an_earlier_due_time(harness):
    harness.ingest(alarm("cell-7", unit="weld-co", severity=700))
    [ticket] = tickets(harness)
    assert ticket.customer_id == "acme" and ticket.service_level == "premium"
    assert ticket.priority == "P1"
    assert ticket.asset_kind == "product"
    assert ticket.assignee_id == "marco"


def test_without_an_eligible_technician_the_ticket_waits_for_the_coordinator(harness):
    with harness.session() as session:
        laser = session.scalars(select(Machine).where(Machine.machine == "laser-1")).one()
        laser.static_data = {"maintenance_skill": "hydraulics"}
        session.commit()
    harness.ingest(alarm("laser-1"))
    [ticket] = tickets(harness)
    assert ticket.status == "open" and ticket.assignee_id is None
    assert ticket.escalated_to_coordinator
    with harness.session() as session:
        kinds = [e.kind for e in session.scalars(select(TicketEvent))]
    assert kinds == ["opened", "no_technician", "escalated"]
    assert [n.action for n in notifications(harness)] == []  # nobody to send it to


def test_alert_and_ticket_state_survive_a_coordinator_restart(harness, make_settings):
    harness.ingest(alarm("laser-1"))
    harness.client.app.state.context.engine.dispose()
    restarted = create_app(make_settings())
    with TestClient(restarted) as client:
        again = Harness(client, Seeded(restarted.state.context.session_factory), harness.clock)
        again.ingest(alarm("laser-1", seq=2))
        assert [(a.repeats, a.ticket_id) for a in alerts(again)] == [(1, 1)]
        assert [t.status for t in tickets(again)] == ["assigned"]
        assert len(notifications(again)) == 1


CUT_CO = Actor(principal_id=1, name="cut-co", role=Role.PLANT, unit_id="cut-co")


def plant_silence(h: Harness, *matchers: str) -> int:
    with h.session() as session:
        silence = alert_service.create_silence(
            session=session,
            actor=CUT_CO,
            spec=SilenceCreate(matchers=list(matchers), ends_at=h.clock.now.replace(hour=12)),
            now=h.clock.now,
        )
        session.commit()
        return silence.id


@pytest.mark.timeout(20)
def test_a_plants_backtracking_silence_stalls_nobody(harness):
    """The review's H3: 26 times ``.*`` then ``!`` held ingest for minutes per alert."""
    plant_silence(harness, f'code=~"{".*" * 26}!"')
    silenced = plant_silence(harness, 'asset=~"press-.*"')
    harness.ingest(
        alarm("laser-1", "x" * 40),
        alarm("press-1", seq=2),
        alarm("weld-1", "x" * 40, unit="weld-co"),
    )
    by_asset = {a.asset: a for a in alerts(harness)}
    assert by_asset["laser-1"].ticket_id is not None
    assert by_asset["press-1"].suppressed_by == f"silence {silenced}"
    assert by_asset["weld-1"].ticket_id is not None


def test_a_plants_silence_never_touches_another_units_alerts(harness):
    plant_silence(harness, 'asset=~"weld-.*"')
    harness.ingest(alarm("weld-1", unit="weld-co"))
    assert alerts(harness)[0].suppressed_by is None


def test_routing_over_its_budget_notifies_logs_and_counts(harness, monkeypatch, caplog):
    silence_id = plant_silence(harness, 'asset=~"laser-.*"')
    slow = itertools.count(step=1.0)  # every look at the clock: one more second gone
    budget = routing.RuleBudget
    monkeypatch.setattr(
        alert_flows.routing,
        "RuleBudget",
        lambda limit: budget(limit, clock=lambda: float(next(slow))),
    )
    before = RULE_BUDGET_EXCEEDED.value()
    with caplog.at_level(logging.WARNING, logger="cloud.maintenance.alerts.flows"):
        harness.ingest(alarm("laser-1"))
    alert = alerts(harness)[0]
    assert silence_id and alert.suppressed_by is None and alert.ticket_id is not None
    assert RULE_BUDGET_EXCEEDED.value() == before + 1
    assert "routed unsuppressed" in caplog.text and "budget" in caplog.text
    exported = harness.client.get("/metrics").text
    assert f"glonet_maintenance_rule_budget_exceeded_total {before + 1}" in exported
