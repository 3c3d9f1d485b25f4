"""Webhook URLs carry their receivers' tokens: only the coordinator reads them (issue 20, M2)."""

from __future__ import annotations

import pytest

from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import MaintenanceTicket
from cloud.maintenance.webhooks.models import Webhook
from glonet.broker import free_port
from tests.cloud.maintenance.conftest import Harness, alarm

API = "/api/maintenance"
TOKEN = "s3cr3t-t0ken"


@pytest.fixture
def failed_webhook(harness: Harness) -> tuple[Harness, str]:
    """Ticket 2 (ACME's robot cell at weld-co, Marco) with a webhook that failed for good."""
    url = f"http://hook-user:{TOKEN}@127.0.0.1:{free_port()}/hooks/{TOKEN}?token={TOKEN}"
    with harness.session() as session:
        session.add(Webhook(url=url, description="ops", active=True))
        session.commit()
    harness.ingest(alarm("laser-1"))
    harness.ingest(alarm("cell-7", unit="weld-co", seq=2))
    harness.worker(webhook_max_attempts=1).run_once()
    return harness, url


@pytest.mark.parametrize("who", ["weld-co", "marco"])
def test_members_see_no_webhook_url_in_the_api_the_timeline_or_the_page(failed_webhook, who):
    harness, _url = failed_webhook
    client = harness.client
    detail = client.get(f"{API}/tickets/2", headers=harness.seeded.headers(who))
    assert detail.status_code == 200
    body = detail.json()
    [hook] = [n for n in body["notifications"] if n["channel"] == "webhook"]
    assert hook["status"] == "failed"
    assert hook["target"] == "http://127.0.0.1/[redacted]"
    [failure] = [e for e in body["timeline"] if e["kind"] == "notification_failed"]
    assert "http://127.0.0.1/[redacted]" in failure["detail"]
    assert TOKEN not in detail.text
    page = _ticket_page(harness, who)
    assert page.status_code == 200 and "notification failed" in page.text
    assert TOKEN not in page.text and "127.0.0.1/[redacted]" in page.text


def test_the_customer_sees_no_notification_at_all(failed_webhook):
    """Notifications are the network's internal business (docs/maintenance.md, "timeline
    audiences"): the customer's ticket has none, nor their failures, on the API or the page."""
    harness, _url = failed_webhook
    detail = harness.client.get(f"{API}/tickets/2", headers=harness.seeded.headers("acme"))
    assert detail.status_code == 200
    body = detail.json()
    assert body["notifications"] == []
    assert not [e for e in body["timeline"] if e["kind"] == "notification_failed"]
    page = _ticket_page(harness, "acme")
    assert page.status_code == 200
    for text in (detail.text, page.text):
        assert TOKEN not in text and "127.0.0.1" not in text and "notification failed" not in text


def _ticket_page(harness, who):
    client = harness.client
    client.cookies.set("glonet_key", harness.seeded.keys[who])
    try:
        return client.get("/maintenance/tickets/2")
    finally:
        client.cookies.clear()


def test_the_coordinator_sees_the_webhook_url_but_the_timeline_keeps_no_token(failed_webhook):
    harness, url = failed_webhook
    detail = harness.client.get(f"{API}/tickets/2", headers=harness.seeded.headers("coordinator"))
    body = detail.json()
    [hook] = [n for n in body["notifications"] if n["channel"] == "webhook"]
    assert hook["target"] == url
    [failure] = [e for e in body["timeline"] if e["kind"] == "notification_failed"]
    assert TOKEN not in failure["detail"]
    client = harness.client
    client.cookies.set("glonet_key", harness.seeded.keys["coordinator"])
    page = client.get("/maintenance/tickets/2")
    client.cookies.clear()
    assert url.replace("&", "&amp;") in page.text or url in page.text


def test_a_timeline_entry_from_before_redaction_is_redacted_when_read(failed_webhook):
    """Rows written before the timeline stored redacted URLs still show none to members."""
    harness, url = failed_webhook
    with harness.session() as session:
        ticket = session.get(MaintenanceTicket, 2)
        assert ticket is not None
        ticket_service.record(
            session=session,
            ticket=ticket,
            at=harness.clock(),
            actor="system",
            kind="note",
            detail=f"old entry: {url}",
        )
        session.commit()
    for who, shown in [("marco", False), ("coordinator", True)]:
        text = harness.client.get(f"{API}/tickets/2", headers=harness.seeded.headers(who)).text
        assert (TOKEN in text) is shown, who
