"""Emails to people through the outbox, against a real SMTP server (aiosmtpd) on a free port:
an order's emails arrive with the right recipients, subject and body; preferences choose the
events and the address; a server that is down leads to retries, then to a visible failed state,
and a message is never lost or sent twice on the way."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from cloud.config import Settings, SmtpSettings
from cloud.database import transaction, utcnow
from cloud.dispatch import flows as dispatch_flows
from cloud.messaging.delivery import OutboxDelivery
from cloud.messaging.email import Email, SmtpMailer
from cloud.messaging.models import Channel, OutboxMessage, RetryPolicy
from cloud.notifications import service as notifications
from cloud.notifications.models import NotificationEvent
from cloud.orders import service as orders_service
from cloud.orders.models import OrderOperation
from cloud.registry.models import Machine
from glonet.broker import free_port
from tests.cloud.conftest import Tenants
from tests.cloud.orders.network import ROBOT_CELL, auth, served

PASSWORD = "alice's long password"


class Inbox:
    """The SMTP server's handler: keeps every message it accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def settings(self) -> SmtpSettings:
        return SmtpSettings(
            host="127.0.0.1", port=self.port, security="none", sender="GloNet <net@example.com>"
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with served(settings) as served_api:
        yield served_api


def person(client: TestClient, keys: dict[str, str], username: str, **spec: Any) -> int:
    answer = client.post(
        "/api/people",
        json={"name": username.title(), "username": username, **spec},
        headers=auth(keys, "coordinator"),
    ).json()
    token = answer["invitation"]["token"]
    client.post("/api/invitations/accept", json={"token": token, "password": PASSWORD})
    return int(answer["id"])


def delivery(client: TestClient, mailer: SmtpMailer, clock: list[Any]) -> OutboxDelivery:
    return OutboxDelivery(
        session_factory=client.app.state.context.session_factory,  # type: ignore[attr-defined]
        publish=None,
        mailer=mailer,
        policy=RetryPolicy(max_attempts=3, retry_base=timedelta(seconds=2)),
        clock=lambda: clock[0],
    )


def test_an_emails_page_is_its_last_line_absolute_on_the_link_base() -> None:
    mail = Email(to="a@b.example", subject="s", body="Hello.", link="/orders/o-1")
    assert mail.text(None) == "Hello.\n\nOpen it: /orders/o-1"
    assert mail.text("https://glonet.example.org/") == (
        "Hello.\n\nOpen it: https://glonet.example.org/orders/o-1"
    )
    assert Email(to="a@b.example", subject="s", body="Hello.").text("https://x.example") == "Hello."
    for bad in ("orders/o-1", "/orders/o 1", "https://evil.example/"):
        with pytest.raises(ValidationError):
            Email(to="a@b.example", subject="s", body="", link=bad)
    with pytest.raises(ValidationError):
        SmtpSettings(link_base="glonet.example.org")  # type: ignore[arg-type]


def order_for_alice(client: TestClient, keys: dict[str, str]) -> str:
    created = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=auth(keys, "alice"),
    ).json()
    quote = client.post(
        "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
    ).json()
    order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
    assert order.status_code == 201, order.text
    return str(order.json()["id"])


def test_an_orders_emails_reach_its_customers_people_over_smtp(
    api: tuple[TestClient, dict[str, str]], smtp: SmtpServer
) -> None:
    client, keys = api
    person(client, keys, "alice1", role="customer", customer_id="alice", email="a1@alice.example")
    person(client, keys, "alice2", role="customer", customer_id="alice", email="a2@alice.example")
    person(client, keys, "bob1", role="customer", customer_id="bob", email="b1@bob.example")
    order_id = order_for_alice(client, keys)
    clock = [utcnow()]
    outbox = delivery(client, SmtpMailer(smtp.settings()), clock)
    outbox.run_once()

    assert sorted(to for to, _ in smtp.inbox.received) == [
        ["a1@alice.example"],
        ["a2@alice.example"],
    ]
    _, message = smtp.inbox.received[0]
    assert message["Subject"] == f"GloNet order {order_id} is confirmed"
    assert message["From"] == "GloNet <net@example.com>"
    body = message.get_content()
    assert f"Your order {order_id} (robotic-cell) is confirmed." in body
    assert "EUR" in body and "Promised by:" in body
    # No smtp.link_base: the page's path alone, the email's last line.
    assert body.rstrip().endswith(f"Open it: /orders/{order_id}")

    # Completed (all its operations ended) and delivered: one email each, to each person.
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        session.execute(
            update(OrderOperation)
            .where(OrderOperation.order_id == order_id)
            .values(status="ended", progress=1.0)
        )
        orders_service.advance_orders(session=session, now=clock[0])
    delivered = client.post(f"/api/orders/{order_id}/deliver", headers=auth(keys, "coordinator"))
    assert delivered.status_code == 200, delivered.text
    clock[0] = utcnow()
    outbox.run_once()
    subjects = [
        message["Subject"] for to, message in smtp.inbox.received if to == ["a1@alice.example"]
    ]
    assert subjects == [
        f"GloNet order {order_id} is confirmed",
        f"GloNet order {order_id} is completed",
        f"GloNet order {order_id} is delivered",
    ]
    sent = client.get("/api/notifications/emails", headers=auth(keys, "coordinator")).json()
    assert {row["status"] for row in sent} == {"sent"} and len(sent) == 6
    assert client.get("/api/notifications/emails", headers=auth(keys, "alice")).status_code == 403


def test_a_planned_order_is_emailed_with_its_planned_end(
    api: tuple[TestClient, dict[str, str]], smtp: SmtpServer
) -> None:
    client, keys = api
    person(client, keys, "alice1", role="customer", customer_id="alice", email="a1@alice.example")
    order_id = order_for_alice(client, keys)
    context = client.app.state.context  # type: ignore[attr-defined]
    with transaction(context.session_factory) as session:  # the dispatcher's planning round
        dispatch_flows.replan(
            session=session,
            network_id=context.settings.network,
            settings=context.settings.orders,
            now=utcnow(),
        )
    delivery(client, SmtpMailer(smtp.settings()), [utcnow()]).run_once()

    subjects = [message["Subject"] for _, message in smtp.inbox.received]
    assert subjects == [
        f"GloNet order {order_id} is confirmed",
        f"GloNet order {order_id} is planned",
    ]
    body = smtp.inbox.received[1][1].get_content()
    assert f"Your order {order_id} (robotic-cell) is planned." in body
    order = client.get(f"/api/orders/{order_id}", headers=auth(keys, "alice")).json()
    assert order["status"] == "planned" and order["planned_end"] is not None
    planned_end = datetime.fromisoformat(order["planned_end"]).astimezone(UTC)
    assert f"Planned to be finished: {planned_end:%Y-%m-%d %H:%M} UTC" in body


def test_a_service_request_is_emailed_to_its_customer_without_internal_notes(
    api: tuple[TestClient, dict[str, str]], smtp: SmtpServer
) -> None:
    client, keys = api
    person(client, keys, "alice1", role="customer", customer_id="alice", email="a1@alice.example")
    person(client, keys, "bob1", role="customer", customer_id="bob", email="b1@bob.example")
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:  # test-1 at the lead plant is Alice's installed asset
        machine = session.scalars(
            select(Machine).where(Machine.unit_id == "lead", Machine.machine == "test-1")
        ).one()
        machine.static_data = {**machine.static_data, "customer": "alice"}
    coordinator = auth(keys, "coordinator")
    ticket = client.post(
        "/api/maintenance/tickets",
        json={"unit_id": "lead", "asset": "test-1", "title": "Tester drifts"},
        headers=coordinator,
    ).json()
    note = client.post(
        f"/api/maintenance/tickets/{ticket['id']}/notes",
        json={"text": "internal: the probe supplier is late again"},
        headers=coordinator,
    )
    assert note.status_code == 201, note.text
    resolved = client.post(f"/api/maintenance/tickets/{ticket['id']}/resolve", headers=coordinator)
    assert resolved.status_code == 200, resolved.text
    delivery(client, SmtpMailer(smtp.settings()), [utcnow()]).run_once()

    to_alice = [message for to, message in smtp.inbox.received if to == ["a1@alice.example"]]
    assert [m["Subject"] for m in to_alice] == [
        f"GloNet service request {ticket['id']}: open",
        f"GloNet service request {ticket['id']}: resolved",
    ]
    assert all(to != ["b1@bob.example"] for to, _ in smtp.inbox.received)
    resolved_body = to_alice[1].get_content()
    assert f"Your service request {ticket['id']}, Tester drifts, is now resolved." in resolved_body
    assert "Asset: test-1 (lead)" in resolved_body
    assert all("supplier" not in m.get_content() for m in to_alice)


def test_preferences_choose_the_events_and_the_address(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    person(client, keys, "alice1", role="customer", customer_id="alice", email="a1@alice.example")
    assert client.post("/api/session", json={"username": "alice1", "password": PASSWORD}).is_success
    defaults = client.get("/api/me/notifications").json()
    assert defaults["enabled"] and defaults["address"] == "a1@alice.example"
    assert "order_delivered" in defaults["events"] and "ticket_assigned" not in defaults["events"]

    chosen = client.put(
        "/api/me/notifications",
        json={"events": ["order_delivered"], "address": "buyer@alice.example"},
    )
    assert chosen.status_code == 200, chosen.text
    wrong_role = client.put("/api/me/notifications", json={"events": ["ticket_assigned"]})
    assert wrong_role.status_code == 422
    bad_address = client.put("/api/me/notifications", json={"address": "not an address"})
    assert [f["field"] for f in bad_address.json()["fields"]] == ["body.address"]

    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]

    def queued(event: NotificationEvent) -> list[str]:
        with transaction(factory) as session:
            notifications.email_customer(
                session=session,
                customer_id="alice",
                event=event,
                subject="s",
                body="b",
                origin="test",
                ref=event.value,
                now=utcnow(),
            )
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.subject == event))
            return [row.target for row in rows]

    assert queued(NotificationEvent.ORDER_CONFIRMED) == []
    assert queued(NotificationEvent.ORDER_DELIVERED) == ["buyer@alice.example"]
    assert client.put("/api/me/notifications", json={"enabled": False}).status_code == 200
    assert queued(NotificationEvent.ORDER_PLANNED) == []


def test_a_down_smtp_server_is_retried_then_the_email_fails_visibly(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    person(client, keys, "alice1", role="customer", customer_id="alice", email="a1@alice.example")
    down = SmtpServer(free_port())  # not started: nothing listens there yet
    clock = [utcnow()]
    outbox = delivery(client, SmtpMailer(down.settings()), clock)
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]

    def row(order_id: str) -> OutboxMessage:
        with transaction(factory) as session:
            found = session.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.subject == order_id, OutboxMessage.channel == Channel.EMAIL
                )
            )
            assert found is not None
            session.expunge(found)
            return found

    first = order_for_alice(client, keys)
    clock[0] = utcnow()
    outbox.run_once()
    failed_once = row(first)
    assert failed_once.status == "pending" and failed_once.attempts == 1
    assert "Connect" in (failed_once.last_error or "") or "refused" in (
        failed_once.last_error or ""
    )
    outbox.run_once()  # not due yet: no attempt
    assert row(first).attempts == 1
    clock[0] += timedelta(seconds=2)
    outbox.run_once()
    assert row(first).attempts == 2 and row(first).status == "pending"

    down.start()  # the server is back before the last attempt: the email goes, once
    try:
        clock[0] += timedelta(seconds=4)
        outbox.run_once()
        clock[0] += timedelta(minutes=10)
        outbox.run_once()
        assert row(first).status == "sent" and row(first).attempts == 3
        assert [to for to, _ in down.inbox.received] == [["a1@alice.example"]]
    finally:
        down.stop()

    second = order_for_alice(client, keys)  # and now down for good
    for _ in range(3):
        outbox.run_once()
        clock[0] += timedelta(minutes=5)
    given_up = row(second)
    assert given_up.status == "failed" and given_up.attempts == 3 and given_up.last_error
    failed = client.get(
        "/api/notifications/emails?status=failed", headers=auth(keys, "coordinator")
    ).json()
    assert [(f["subject"], f["target"], f["action"]) for f in failed] == [
        (second, "a1@alice.example", "order_confirmed")
    ]
    outbox.run_once()  # failed stays failed, kept with its content
    assert row(second).status == "failed" and "confirmed" in row(second).payload


def test_a_ticket_assigned_to_a_technician_is_emailed_to_them(
    client: TestClient, tenants: Tenants, smtp: SmtpServer
) -> None:
    coordinator = tenants.headers("coordinator")
    invited = client.post(
        "/api/people",
        json={
            "name": "Tina",
            "username": "tina",
            "role": "technician",
            "technician_id": "tech-plant-a",
            "email": "tina@plant-a.example",
        },
        headers=coordinator,
    )
    assert invited.status_code == 201, invited.text
    ticket = client.post(
        "/api/maintenance/tickets",
        json={"unit_id": "plant-a", "asset": "m1", "title": "Spindle noisy"},
        headers=coordinator,
    ).json()
    assigned = client.post(
        f"/api/maintenance/tickets/{ticket['id']}/assign",
        json={"technician_id": "tech-plant-a"},
        headers=coordinator,
    )
    assert assigned.status_code == 200, assigned.text
    delivery(client, SmtpMailer(smtp.settings()), [utcnow()]).run_once()

    (to, message), *_ = smtp.inbox.received
    assert to == ["tina@plant-a.example"]
    assert message["Subject"] == f"GloNet ticket {ticket['id']} assigned to you: Spindle noisy"
    assert "Asset: m1 (plant-a)" in message.get_content()
    seen_by_plant = client.get(
        f"/api/maintenance/tickets/{ticket['id']}", headers=tenants.headers("plant-a")
    ).json()
    emails = [n for n in seen_by_plant["notifications"] if n["channel"] == "email"]
    assert [n["target"] for n in emails] == ["[a person's address]"]
    assert [n["status"] for n in emails] == ["sent"]
