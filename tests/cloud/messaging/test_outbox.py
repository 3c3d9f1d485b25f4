"""The one outbox on a real Mosquitto: a dispatch written in the decision's transaction reaches
the gateway's broker session once, through a broker outage and through a coordinator killed
(SIGKILL) between its commit and its publish.

Delivery is at least once by design (a kill between the broker's PUBACK and the commit of
"sent" publishes again, with the same message id, which the gateway de-duplicates); these
tests show the cases the outbox must survive end with exactly one copy at the broker. To know
that no second copy follows, a marker message is delivered after the dispatch: QoS 1 keeps one
publisher's order on a topic, so once the marker arrived, any copy of the dispatch has too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from sqlalchemy import select

from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import transaction, utcnow
from cloud.main import build_context
from cloud.messaging import outbox
from cloud.messaging.models import DeliveryStatus, OutboxMessage
from cloud.services import Wanted, services
from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from tests.cloud.conftest import mqtt_settings, onboard
from tests.waiting import eventually

UNIT = "plant-a"
JOB_ORDER = {"machine": "m1", "operation": "mill", "process": "milling", "planned_duration_s": 60}


class CommandListener:
    """The gateway's side: a subscription to the unit's commands that survives reconnections,
    keeping every command received, in order."""

    def __init__(self, broker: MosquittoBroker, network: str) -> None:
        self.received: list[messages.Command] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        topic = topics.command(network, UNIT)
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="gw-outbox")

        def on_connect(client: paho.Client, *_args: object) -> None:
            client.subscribe(topic, qos=1)

        def on_message(_client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
            command = codec.decode(bytes(message.payload), expected=messages.Command)
            with self._lock:
                self.received.append(command)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = on_message
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def ids(self) -> list[str]:
        with self._lock:
            return [command.id for command in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listener(running_mosquitto: MosquittoBroker, network: str) -> Iterator[CommandListener]:
    listening = CommandListener(running_mosquitto, network)
    yield listening
    listening.close()


@pytest.fixture
def context(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker, request: Any
) -> Iterator[AppContext]:
    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"coord-outbox-{request.node.name}"[:60]),
        ingest={"isolation": "thread"},
    )
    made = build_context(settings)
    onboard(made, UNIT)
    yield made
    made.engine.dispose()


def _dispatch(context: AppContext, job_order_id: str) -> str:
    """Queue a dispatch as the dispatcher's tick does, in a transaction of its own; its id."""
    body = {
        "kind": "dispatch",
        "job_orders": [JOB_ORDER | {"job_order_id": job_order_id}],
    }
    with transaction(context.session_factory) as session:
        outbound = outbox.command(
            session,
            origin="dispatch",
            network=context.settings.network,
            unit=UNIT,
            body=body,
            now=utcnow(),
        )
    return codec.decode(outbound.payload, expected=messages.Command).id


def _rows(context: AppContext) -> list[OutboxMessage]:
    with transaction(context.session_factory) as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


async def _delivered_once(context: AppContext, listener: CommandListener, message_id: str) -> None:
    """The dispatch is marked sent, and a marker queued after it arrives after exactly one
    copy of it."""
    await eventually(lambda: message_id in listener.ids(), timeout=60)
    marker = _dispatch(context, "marker.1.1")
    await eventually(lambda: marker in listener.ids(), timeout=30)
    assert listener.ids().count(message_id) == 1
    await eventually(lambda: all(row.status == DeliveryStatus.SENT.value for row in _rows(context)))


async def test_a_dispatch_committed_before_a_kill_is_delivered_once_after_the_restart(
    context: AppContext, listener: CommandListener, tmp_path: Path
) -> None:
    """The coordinator process commits the dispatch and is killed before it publishes: the
    next coordinator's delivery sends it, once."""
    options = {
        "network": context.settings.network,
        "data_dir": str(tmp_path),
        "database_url": context.settings.resolved_database_url,
    }
    script = textwrap.dedent(
        f"""
        import os, signal
        from cloud.config import load_settings
        from cloud.main import build_context
        from tests.cloud.messaging.test_outbox import _dispatch
        context = build_context(load_settings(None, **{options!r}))
        print(_dispatch(context, "order-1.1.1"), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr
    message_id = killed.stdout.strip()
    (row,) = _rows(context)
    assert row.status == DeliveryStatus.PENDING.value and row.attempts == 0
    async with services(context, Wanted(domains=False)):
        await _delivered_once(context, listener, message_id)


async def test_a_dispatch_waits_out_a_broker_outage_and_is_delivered_once(
    context: AppContext, listener: CommandListener, running_mosquitto: MosquittoBroker
) -> None:
    """Written while the broker is away, the dispatch stays pending (attempted, its error and
    the pending count visible) and is delivered once the broker is back."""
    async with services(context, Wanted(domains=False)):
        await context.ingest.wait_subscribed()  # type: ignore[union-attr]
        running_mosquitto.stop()
        message_id = _dispatch(context, "order-2.1.1")
        # The attempt is committed, then the pending count set: wait for both.
        await eventually(
            lambda: (
                _rows(context)[0].attempts >= 1
                and context.metrics.outbox_messages.value(status="pending") == 1
            ),
            timeout=30,
        )
        (row,) = _rows(context)
        assert row.status == DeliveryStatus.PENDING.value
        assert row.last_error == "broker not connected"
        assert context.metrics.outbox_messages.value(status="pending") == 1
        running_mosquitto.start()
        await _delivered_once(context, listener, message_id)
        sent = context.metrics.outbox_attempts.value(channel="command", outcome="sent")
        assert sent == 2  # the dispatch and the marker
