"""The outbox's rows: the coordinator's listing (GET /api/outbox: filters, pages, webhook
URLs redacted) and the retention of sent messages (``outbox.keep_sent_s``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.context import AppContext
from cloud.database import transaction, utcnow
from cloud.messaging import delivery as delivery_module
from cloud.messaging import outbox
from cloud.messaging.delivery import OutboxDelivery
from cloud.messaging.models import Channel, DeliveryStatus, OutboxMessage
from tests.cloud.conftest import Tenants

HOOK = "https://hooks.example.com/services/T0/secret-token?key=abc"


def _write(
    context: AppContext,
    status: DeliveryStatus,
    *,
    channel: Channel = Channel.COMMAND,
    target: str = "plant-a",
    action: str = "dispatch",
    origin: str = "dispatch",
    sent_at: datetime | None = None,
    last_error: str | None = None,
) -> int:
    now = utcnow()
    with transaction(context.session_factory) as session:
        row = outbox.enqueue(
            session,
            origin=origin,
            channel=channel,
            target=target,
            action=action,
            payload="{}",
            now=now,
            topic="glonet/v1/x/plant-a/cmd" if channel is not Channel.WEBHOOK else None,
        )
        row.status = status.value
        row.sent_at = sent_at or (now if status is DeliveryStatus.SENT else None)
        row.last_error = last_error
        row.attempts = 0 if status is DeliveryStatus.PENDING else 1
        session.flush()
        return row.id


def _ids(context: AppContext) -> list[int]:
    with transaction(context.session_factory) as session:
        return list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


def test_the_coordinator_lists_the_outbox_newest_first_with_filters_and_pages(
    client: TestClient, tenants: Tenants
) -> None:
    context = tenants.context
    dispatch = _write(context, DeliveryStatus.SENT)
    rebirth = _write(context, DeliveryStatus.PENDING, action="rebirth", origin="ingest")
    webhook = _write(
        context,
        DeliveryStatus.FAILED,
        channel=Channel.WEBHOOK,
        target=HOOK,
        action="opened",
        origin="maintenance",
        last_error=f"ConnectError: cannot reach {HOOK}",
    )
    headers = tenants.headers("coordinator")

    listed = client.get("/api/outbox", headers=headers)
    assert listed.status_code == 200
    rows = listed.json()
    assert [row["id"] for row in rows] == [webhook, rebirth, dispatch]
    assert "secret-token" not in listed.text and "key=abc" not in listed.text
    hook = rows[0]
    assert hook["target"] == "https://hooks.example.com/[redacted]"
    assert hook["last_error"] == "ConnectError: cannot reach https://hooks.example.com/[redacted]"
    assert (hook["status"], hook["attempts"], hook["channel"]) == ("failed", 1, "webhook")
    assert rows[1]["action"] == "rebirth" and rows[1]["origin"] == "ingest"

    failed = client.get("/api/outbox?status=failed", headers=headers).json()
    assert [row["id"] for row in failed] == [webhook]
    commands = client.get("/api/outbox?channel=command&origin=dispatch", headers=headers).json()
    assert [row["id"] for row in commands] == [dispatch]
    first = client.get("/api/outbox?limit=2", headers=headers).json()
    after = client.get(f"/api/outbox?limit=2&before_id={first[-1]['id']}", headers=headers).json()
    assert [row["id"] for row in first + after] == [webhook, rebirth, dispatch]

    assert client.get("/api/outbox?status=lost", headers=headers).status_code == 422
    assert client.get("/api/outbox", headers=tenants.headers("plant-a")).status_code == 403


def test_sent_messages_are_pruned_after_keep_sent_in_small_batches(
    plant_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages sent longer ago than ``keep_sent`` go, a few per transaction and a bounded
    number per round (the next round goes on with a backlog); recent sent ones, pending and
    failed ones stay."""
    monkeypatch.setattr(delivery_module, "PRUNE_BATCH", 2)
    monkeypatch.setattr(delivery_module, "PRUNE_BATCHES", 2)
    context = plant_context
    now = utcnow()
    long_ago = now - timedelta(days=4)
    old = [_write(context, DeliveryStatus.SENT, sent_at=long_ago) for _ in range(5)]
    recent = _write(context, DeliveryStatus.SENT, sent_at=now - timedelta(hours=1))
    failed = _write(context, DeliveryStatus.FAILED, channel=Channel.WEBHOOK, target=HOOK)
    with transaction(context.session_factory) as session:  # waiting, not due: no attempt
        pending_row = outbox.enqueue(
            session,
            origin="dispatch",
            channel=Channel.COMMAND,
            target="plant-a",
            action="dispatch",
            payload="{}",
            now=long_ago,
        )
        pending_row.next_attempt_at = now + timedelta(hours=1)
        session.flush()
        pending = pending_row.id
    with httpx.Client() as http:
        delivery = OutboxDelivery(
            session_factory=context.session_factory,
            publish=None,
            http=http,
            metrics=context.metrics,
            clock=lambda: now,
            keep_sent=timedelta(days=3),
        )
        delivery.run_once()  # two transactions of two: one old message is left
        assert _ids(context) == sorted([old[-1], recent, failed, pending])
        delivery.run_once()  # a backlog was left: the next round goes on at once
        assert _ids(context) == sorted([recent, failed, pending])
        assert context.metrics.outbox_pruned.value() == 5
