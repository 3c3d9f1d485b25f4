"""End to end with a real Mosquitto: a gateway's alarm becomes a ticket, the technician's phone
(offline when the alert was sent) gets it on reconnecting, acknowledges over MQTT, resolves
through the API, the gateway receives the Repair command, and the repair time is recorded."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import pytest

from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from protocols.enums import AlertAction, ReplyAction
from protocols.topics import TopicKind
from tests.cloud.conftest import Gateway
from tests.waiting import wait_until as eventually

from .conftest import Served, alarm

pytestmark = pytest.mark.integration
API = "/api/maintenance"


class Device:
    """An MQTT client with a persistent session (a phone app, or a gateway's command inbox)."""

    def __init__(self, broker: MosquittoBroker, client_id: str, subscription: str) -> None:
        self.broker, self.client_id, self.subscription = broker, client_id, subscription
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client: paho.Client | None = None

    def connect(self) -> None:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False
        )
        subscribed = threading.Event()
        client.on_connect = lambda c, *a: c.subscribe(self.subscription, qos=1)
        client.on_subscribe = lambda *a: subscribed.set()
        client.on_message = lambda c, u, m: self.received.put((m.topic, bytes(m.payload)))
        client.connect(self.broker.host, self.broker.port, keepalive=10)
        client.loop_start()
        assert subscribed.wait(5)
        self.client = client

    def disconnect(self) -> None:
        assert self.client is not None
        self.client.disconnect()
        self.client.loop_stop()
        self.client = None

    def publish(self, topic: str, message: messages.Envelope) -> None:
        assert self.client is not None
        self.client.publish(topic, codec.encode(message), qos=1).wait_for_publish(5)

    def next(self, kind: TopicKind, timeout: float = 15) -> Any:
        _, payload = self.received.get(timeout=timeout)
        return codec.decode_for_topic(kind, payload)


def _alarm(unit: str, asset: str, seq: int) -> messages.Alarm:
    return alarm(
        asset,
        "tool_wear",
        unit=unit,
        severity=650,
        seq=seq,
        text="tool wear 93 %",
        metric="ToolWear",
        value=93.0,
        occurred_at=datetime.now(UTC),
    )


def _ticket(served: Served, who: str = "coordinator") -> dict[str, Any] | None:
    tickets = served.api("GET", f"{API}/tickets", who).json()
    return tickets[0] if tickets else None


def test_alarm_to_repair_over_mqtt(served: Served, running_mosquitto: MosquittoBroker):
    network = served.network
    phone = Device(
        running_mosquitto, f"phone-tina-{network}", topics.technician_alerts(network, "tina")
    )
    phone.connect()
    phone.disconnect()  # the phone is offline when the alert is sent
    gateway = Device(running_mosquitto, f"gw-cut-co-{network}", topics.command(network, "cut-co"))
    gateway.connect()
    online = messages.UnitState.create(unit="cut-co", seq=1, body={"state": "online"})
    gateway.publish(topics.unit_state(network, "cut-co"), online)
    for seq in range(2, 12):  # the alarm, and repeats of it
        gateway.publish(
            topics.alarm(network, "cut-co", "laser-1"), _alarm("cut-co", "laser-1", seq)
        )

    ticket = eventually(lambda: _ticket(served))
    assert ticket["status"] == "assigned" and ticket["assignee_id"] == "tina"
    eventually(
        lambda: all(
            n["status"] == "sent"
            for n in served.api("GET", f"{API}/notifications", "coordinator").json()
        )
    )
    phone.connect()  # back online: the broker delivers what was queued for the session
    alert = phone.next(TopicKind.TECHNICIAN_ALERTS)
    assert isinstance(alert, messages.TechnicianAlert)
    assert alert.body.action is AlertAction.NEW and alert.body.ticket_id == str(ticket["id"])
    assert alert.body.asset == "laser-1" and alert.body.asset_unit == "cut-co"
    assert phone.received.empty()  # ten repeats, one notification

    reply = messages.TechnicianReply.create(
        unit="tina",
        seq=1,
        body=messages.ReplyNotice(ticket_id=str(ticket["id"]), action=ReplyAction.ACKNOWLEDGE),
    )
    phone.publish(topics.technician_replies(network, "tina"), reply)
    eventually(lambda: _ticket(served, "tina")["status"] == "acknowledged")
    acknowledge = gateway.next(TopicKind.COMMAND)  # the alarm, acknowledged at the machine
    assert isinstance(acknowledge.body, messages.AcknowledgeCommand)
    assert acknowledge.body.machine == "laser-1" and acknowledge.body.codes == ["tool_wear"]

    resolved = served.api(
        "POST", f"{API}/tickets/{ticket['id']}/resolve", "tina", json={"note": "tool changed"}
    ).json()
    assert resolved["status"] == "resolved" and resolved["repair_minutes"] is not None
    command = gateway.next(TopicKind.COMMAND)
    assert isinstance(command.body, messages.RepairCommand)
    assert command.body.machine == "laser-1" and command.body.ticket_id == str(ticket["id"])

    figures = served.api("GET", f"{API}/figures?unit_id=cut-co", "coordinator").json()
    # Tool wear (severity 650) is a warning: a ticket and its repair, but the laser never stopped.
    assert figures["tickets"] == 1 and figures["failures"] == 0 and figures["mttr_minutes"] is None
    detail = served.api("GET", f"{API}/tickets/{ticket['id']}", "coordinator").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:3] == ["opened", "assigned", "acknowledged"]
    assert "repair_command" in kinds and "repair_time" in kinds
    phone.disconnect()
    gateway.disconnect()


def test_a_gateway_crash_fires_unit_offline_and_inhibits_its_machines(
    served: Served, running_mosquitto: MosquittoBroker
):
    network = served.network
    gateway = Gateway(running_mosquitto, "cut-co", network=network)
    gateway.online()
    eventually(lambda: _unit_status(served) == "online")
    gateway.crash()  # the broker publishes the will: unit offline

    offline = eventually(lambda: _alerts(served, code="unit_offline", state="firing"))
    assert offline[0]["asset"] == "cut-co"
    late = Device(running_mosquitto, f"late-{network}", topics.command(network, "cut-co"))
    late.connect()  # an alarm buffered before the crash arrives after the will
    late.publish(topics.alarm(network, "cut-co", "laser-1"), _alarm("cut-co", "laser-1", 99))
    late.disconnect()
    [machine] = eventually(lambda: _alerts(served, code="tool_wear"))
    assert machine["suppressed_by"] == "inhibited: unit-offline-inhibits-its-assets"
    assert served.api("GET", f"{API}/tickets", "coordinator").json() == []

    back = Gateway(running_mosquitto, "cut-co", network=network)
    back.online()
    eventually(lambda: _alerts(served, code="unit_offline", state="resolved"))
    back.close()


def _unit_status(served: Served) -> str | None:
    units = served.api("GET", "/api/overview", "coordinator").json()["units"]
    return next((u["status"] for u in units if u["unit_id"] == "cut-co"), None)


def _alerts(served: Served, **match: str) -> list[dict[str, Any]]:
    alerts = served.api("GET", f"{API}/alerts", "coordinator").json()
    return [a for a in alerts if all(a[k] == v for k, v in match.items())]
