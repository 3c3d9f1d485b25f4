"""Ticket lifecycle on an injected clock: reminders, escalation, webhooks, resolution, plans."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from cloud.auth.models import Actor, Role
from cloud.ingest import service as ingest_service
from cloud.maintenance import flows
from cloud.maintenance.alerts import service as alert_service
from cloud.maintenance.plans import service as plan_service
from cloud.maintenance.plans.models import PlanCreate
from cloud.maintenance.tickets import flows as ticket_flows
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketEvent
from cloud.maintenance.webhooks.models import Webhook
from cloud.maintenance.windows import service as window_service
from cloud.messaging.hooks import AppliedBatch
from cloud.messaging.models import OutboxMessage
from cloud.messaging.mqtt import InboundMessage
from cloud.telemetry import service as telemetry_service
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import SampleRecord
from glonet.broker import free_port
from protocols import codec, messages, topics
from protocols.enums import ReplyAction
from protocols.topics import TopicKind
from tests.cloud.maintenance.conftest import Harness, alarm

COORDINATOR = Actor(principal_id=0, name="test", role=Role.COORDINATOR)
TINA = Actor(principal_id=0, name="Tina", role=Role.TECHNICIAN, technician_id="tina")


def ticket(h: Harness, ticket_id: int = 1) -> MaintenanceTicket:
    with h.session() as session:
        row = session.get(MaintenanceTicket, ticket_id)
        assert row is not None
        return row


def timeline(h: Harness, ticket_id: int = 1) -> list[tuple[str, str, str]]:
    with h.session() as session:
        events = ticket_service.timeline(session=session, ticket_id=ticket_id)
        return [(e.kind, e.actor, e.detail) for e in events]


def sent(h: Harness) -> list[tuple[str, str]]:
    """(topic, action) of every MQTT message published so far."""
    result = []
    for topic, payload in h.published:
        kind = topics.parse(topic).kind
        message = codec.decode_for_topic(kind, payload)
        action = message.body.action if kind is TopicKind.TECHNICIAN_ALERTS else message.body.kind
        result.append((topic.rsplit("/", 2)[-2], str(action)))
    return result


def test_reminders_then_the_next_technician_then_the_coordinator(harness):
    worker = harness.worker(
        remind_every_minutes=10, escalate_after_minutes=25, coordinator_after_minutes=50
    )
    harness.ingest(alarm("laser-1"))
    worker.run_once()
    assert sent(harness) == [("tina", "new")]
    harness.clock.advance(minutes=9)
    worker.run_once()
    assert len(sent(harness)) == 1  # nothing due yet
    harness.clock.advance(minutes=2)
    worker.run_once()
    harness.clock.advance(minutes=10)
    worker.run_once()
    assert sent(harness)[1:] == [("tina", "reminder"), ("tina", "reminder")]
    harness.clock.advance(minutes=5)  # 26 minutes: the next technician
    worker.run_once()
    assert sent(harness)[-1] == ("marco", "escalation")
    assert ticket(harness).assignee_id == "marco"
    harness.clock.advance(minutes=25)  # 51 minutes: the coordinator
    worker.run_once()
    assert ticket(harness).escalated_to_coordinator
    kinds = [kind for kind, _, _ in timeline(harness)]
    assert kinds.count("reminder") == 2 and kinds.count("escalated") == 2


def test_acknowledging_stops_reminders_and_escalation(harness):
    worker = harness.worker()
    harness.ingest(alarm("laser-1"))
    worker.run_once()
    harness.clock.advance(minutes=5)
    with harness.session() as session:
        ticket_flows.technician_action(
            session, actor=TINA, ticket_id=1, action=ReplyAction.ACKNOWLEDGE, now=harness.clock()
        )
        session.commit()
    for _ in range(6):
        harness.clock.advance(minutes=30)
        worker.run_once()
    assert sent(harness) == [("tina", "new"), ("cut-co", "acknowledge")]  # no reminder
    row = ticket(harness)
    assert row.status == "acknowledged" and row.assignee_id == "tina"
    assert ("acknowledged", "technician tina", "") in timeline(harness)


def test_acknowledging_a_ticket_acknowledges_its_alarm_conditions_at_the_machine(harness):
    worker = harness.worker()
    harness.ingest(alarm("laser-1", "high_temperature"))
    harness.ingest(alarm("laser-1", "door_open", seq=2))
    with harness.session() as session:
        ticket_flows.technician_action(
            session, actor=TINA, ticket_id=1, action=ReplyAction.ACKNOWLEDGE, now=harness.clock()
        )
        session.commit()
    worker.run_once()
    [(topic, payload)] = [p for p in harness.published if p[0].endswith("/cmd")]
    assert topic == topics.command("demo", "cut-co")
    command = codec.decode_for_topic(TopicKind.COMMAND, payload)
    assert isinstance(command.body, messages.AcknowledgeCommand)
    assert command.body.machine == "laser-1" and command.body.ticket_id == "1"
    assert command.body.codes == ["high_temperature", "door_open"]
    assert "acknowledge_command" in [kind for kind, _, _ in timeline(harness)]


def test_resolving_records_repair_time_sends_repair_and_tells_webhooks(harness):
    worker = harness.worker()
    with harness.session() as session:
        session.add(Webhook(url="http://127.0.0.1:9/hook", description="", active=True))
        session.commit()
    harness.ingest(alarm("laser-1"))
    harness.clock.advance(minutes=3)
    now = harness.clock()
    with harness.session() as session:
        ticket_flows.technician_action(
            session, actor=TINA, ticket_id=1, action=ReplyAction.START, now=now
        )
        harness.clock.advance(minutes=42)
        ticket_flows.technician_action(
            session,
            actor=TINA,
            ticket_id=1,
            action=ReplyAction.RESOLVE,
            now=harness.clock(),
            note="replaced the fan",
            parts=[{"part": "fan 120 mm", "quantity": 1}],
        )
        session.commit()
    worker.run_once()
    row = ticket(harness)
    assert row.status == "resolved"
    assert ticket_service.repair_minutes(row) == 45.0
    assert row.parts_used == [{"part": "fan 120 mm", "quantity": 1}]
    # Starting the work acknowledged the ticket, and its alarm at the machine, first.
    commands = [p for p in harness.published if p[0].endswith("/cmd")]
    acknowledge, repair = (codec.decode_for_topic(TopicKind.COMMAND, p) for _, p in commands)
    assert {topic for topic, _ in commands} == {topics.command("demo", "cut-co")}
    assert isinstance(acknowledge.body, messages.AcknowledgeCommand)
    command = repair
    assert isinstance(command.body, messages.RepairCommand)
    assert command.body.machine == "laser-1" and command.body.ticket_id == "1"
    kinds = [kind for kind, _, _ in timeline(harness)]
    assert kinds[-4:] == ["resolved", "parts", "repair_command", "repair_time"]
    with harness.session() as session:
        hooks = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
        assert [n.action for n in hooks] == ["new", "resolved"]


class _Receiver(BaseHTTPRequestHandler):
    status = 200
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_webhooks_are_delivered(harness, receiver):
    with harness.session() as session:
        session.add(Webhook(url=receiver, description="ops", active=True))
        session.commit()
    harness.ingest(alarm("laser-1"))
    harness.worker().run_once()
    [body] = _Receiver.bodies
    assert b'"action":"new"' in body.replace(b" ", b"") and b'"ticket":1' in body.replace(b" ", b"")


def test_a_webhook_receiver_down_is_retried_then_marked_failed_and_the_ticket_is_intact(
    harness,
):
    down = f"http://127.0.0.1:{free_port()}/hook"
    with harness.session() as session:
        session.add(Webhook(url=down, description="down", active=True))
        session.commit()
    worker = harness.worker(webhook_max_attempts=4, webhook_retry_base_seconds=2)
    harness.ingest(alarm("laser-1"))
    attempts = []
    for _ in range(8):
        worker.run_once()
        with harness.session() as session:
            hook = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
            row = hook.one()
            attempts.append((row.attempts, row.status))
        harness.clock.advance(seconds=20)
    assert attempts[0] == (1, "pending")
    assert attempts[-1] == (4, "failed")
    assert [a for a, _ in attempts] == sorted(a for a, _ in attempts)
    assert row.last_error and "Connect" in row.last_error
    kinds = [kind for kind, _, _ in timeline(harness)]
    assert "notification_failed" in kinds
    intact = ticket(harness)
    assert intact.status == "assigned" and intact.assignee_id == "tina"
    assert sent(harness) == [("tina", "new")]  # the technician got it anyway


def test_device_messages_wait_for_the_broker(harness):
    harness.broker_up = False
    worker = harness.worker()
    harness.ingest(alarm("laser-1"))
    worker.run_once()
    harness.clock.advance(minutes=10)
    worker.run_once()
    assert harness.published == []
    harness.broker_up = True
    harness.clock.advance(minutes=10)
    worker.run_once()
    assert sent(harness)[0] == ("tina", "new")


def _reply(action: ReplyAction, ticket_id: str = "1", technician: str = "tina") -> bytes:
    message = messages.TechnicianReply.create(
        unit=technician, seq=1, body=messages.ReplyNotice(ticket_id=ticket_id, action=action)
    )
    return codec.encode(message)


def test_a_technician_acknowledges_and_resolves_over_mqtt(harness):
    """Replies reach maintenance through the ingest's batch hook, decoded and de-duplicated."""
    harness.ingest(alarm("laser-1"))
    hook = flows.ingest_hook("demo", harness.clock)

    def handle(technician: str, payload: bytes) -> list:
        inbound = InboundMessage(
            topics.technician_replies("demo", technician), payload, 1, 1, False
        )
        decoded = ingest_service.decode(inbound, network="demo", max_payload=10_000)
        with harness.session() as session:
            events = hook(session, AppliedBatch([decoded]))
            session.commit()
        return events

    assert handle("tina", _reply(ReplyAction.ACKNOWLEDGE))[0]["action"] == "acknowledged"
    assert ticket(harness).status == "acknowledged"
    handle("marco", _reply(ReplyAction.RESOLVE, "1", "marco"))
    assert ticket(harness).status == "acknowledged"  # not Marco's ticket
    handle("tina", _reply(ReplyAction.RESOLVE))
    assert ticket(harness).status == "resolved"
    assert ("resolved", "technician tina (device)", "") in timeline(harness)


def test_ticket_ids_are_ascii_digits_within_the_column() -> None:
    assert ticket_flows.parse_ticket_id("42") == 42
    for bad in ("²", "٣", "", "-1", "1 ", "2147483648", "9" * 30):
        assert ticket_flows.parse_ticket_id(bad) is None


def _operating_hours(h: Harness, hours: float) -> None:
    sample = SampleRecord("cut-co", "press-1", "OperatingHours", h.clock(), hours, "good")
    with h.session() as session:
        telemetry_service.update_rollups(session=session, samples=SampleBatch.of([sample]))
        session.commit()


def test_a_plan_by_operating_hours_opens_a_preventive_ticket_and_a_window(harness):
    with harness.session() as session:
        plan_service.create_plan(
            session=session,
            actor=COORDINATOR,
            spec=PlanCreate(
                title="Hydraulic service", model="PB-100", interval_hours=500, window_minutes=90
            ),
        )
        session.commit()
    worker = harness.worker(periodic_check_seconds=1)
    _operating_hours(harness, 1200)
    worker.run_once()  # first sight: counts from 1200 h
    harness.clock.advance(minutes=5)
    _operating_hours(harness, 1650)
    worker.run_once()
    with harness.session() as session:
        assert session.scalars(select(MaintenanceTicket)).all() == []
    harness.clock.advance(minutes=5)
    _operating_hours(harness, 1701)
    worker.run_once()
    row = ticket(harness)
    assert (row.kind, row.asset, row.plan_id, row.priority) == ("preventive", "press-1", 1, "P4")
    start = harness.clock()
    with harness.session() as session:
        [window] = window_service.maintenance_windows(
            session=session,
            since=start - timedelta(hours=1),
            until=start + timedelta(days=1),
            unit_id="cut-co",
            asset="press-1",
        )
    assert window.ends_at - window.starts_at == timedelta(minutes=90)
    # The window silences the press meanwhile; resolving ends it and restarts the count.
    harness.ingest(alarm("press-1", "overheat"))
    with harness.session() as session:
        assert len(session.scalars(select(MaintenanceTicket)).all()) == 1
        ticket_flows.technician_action(
            session, actor=COORDINATOR, ticket_id=1, action=ReplyAction.RESOLVE, now=start
        )
        session.commit()
    harness.clock.advance(minutes=1)
    worker.run_once()
    with harness.session() as session:
        assert len(session.scalars(select(MaintenanceTicket)).all()) == 1
        windows = window_service.maintenance_windows(
            session=session, since=harness.clock(), until=harness.clock() + timedelta(days=1)
        )
        assert windows == []


def test_a_calendar_plan_is_due_after_its_interval(harness):
    with harness.session() as session:
        plan_service.create_plan(
            session=session,
            actor=COORDINATOR,
            spec=PlanCreate(title="Lens check", unit_id="cut-co", asset="laser-1", interval_days=7),
        )
        session.commit()
    worker = harness.worker(periodic_check_seconds=1)
    worker.run_once()
    harness.clock.advance(days=6)
    worker.run_once()
    with harness.session() as session:
        assert session.scalars(select(TicketEvent)).all() == []
    harness.clock.advance(days=1, seconds=1)
    worker.run_once()
    assert ticket(harness).title == "Lens check on laser-1"


def _vibration(h: Harness, start_minute: int, values: list[float]) -> None:
    samples = [
        SampleRecord(
            "cut-co",
            "laser-1",
            "vibration_rms",
            h.clock() + timedelta(minutes=start_minute + i),
            value,
            "good",
        )
        for i, value in enumerate(values)
    ]
    with h.session() as session:
        telemetry_service.update_rollups(session=session, samples=SampleBatch.of(samples))
        session.commit()


def test_a_rising_vibration_trend_raises_a_coordinator_alert_and_a_flat_one_clears_it(harness):
    worker = harness.worker(periodic_check_seconds=1)
    _vibration(harness, -60, [2.0 + 0.02 * i for i in range(60)])  # +1.2 mm/s per hour
    worker.run_once()
    with harness.session() as session:
        [alert] = alert_service.list_alerts(session=session, actor=COORDINATOR)
        assert (alert.code, alert.source, alert.state) == (
            "vibration_trend",
            "coordinator_rule",
            "firing",
        )
        assert alert.ticket_id == 1
    _vibration(harness, 1, [3.2] * 60)
    harness.clock.advance(minutes=61)
    worker.run_once()
    with harness.session() as session:
        [alert] = alert_service.list_alerts(session=session, actor=COORDINATOR)
        assert alert.state == "resolved"


def test_a_service_area_limits_who_the_ticket_escalates_to(harness):
    with harness.session() as session:
        ticket_service.set_service_area(
            session=session, actor=COORDINATOR, unit_id="weld-co", served_units=["weld-co"]
        )
        session.commit()
    worker = harness.worker()
    harness.ingest(alarm("laser-1"))
    harness.clock.advance(minutes=31)
    worker.run_once()
    row = ticket(harness)
    assert row.assignee_id == "tina" and row.escalated_to_coordinator
    [(_, _, why)] = [t for t in timeline(harness) if t[0] == "no_technician"]
    assert "marco: does not serve unit 'cut-co'" in why
