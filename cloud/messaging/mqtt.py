"""The coordinator's MQTT clients (the ingest's, the live-event bus's): the only module that
touches paho. The ingest's link also carries what the outbox delivers
(:meth:`MqttLink.publish_confirmed`).

paho runs its network loop in its own thread; its callback only queues a message, and the ingest
takes what arrived when it is ready for more (:meth:`MqttLink.receive`). The loop is woken only
while the ingest waits for messages: under load it takes them without any wake-up.
Messages are acknowledged (PUBACK) by :meth:`MqttLink.ack` after the ingest committed them, so a
crash before the commit makes the broker deliver them again (persistent session, QoS 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from cloud.config import MqttSettings
from cloud.exceptions import BrokerConnectionError
from protocols import topics

_LOGGER = logging.getLogger(__name__)
RECONNECT_MIN_DELAY = 1
RECONNECT_MAX_DELAY = 10
PUBACK_TIMEOUT = 10.0
"""How long a delivery waits for the broker's acknowledgements before trying again later."""
BROKER_AWAY = "broker not connected"
NO_PUBACK = "no acknowledgement (PUBACK) from the broker in time"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    serial: int = 0
    """Its place in the order this link received messages (unique, unlike ``mid``)."""


@dataclass(frozen=True, slots=True)
class Outbound:
    topic: str
    payload: bytes
    retain: bool = False
    qos: int = topics.QOS


class MqttLink:
    """Connects, (re)subscribes, publishes ``on_connect`` messages, and forwards messages.

    ``on_connect`` runs on the event loop, in a worker thread (it may use the database), at each
    connection; paho's thread only hands it over, so that nothing failing there can end paho's
    network loop. When it raises, it is tried again until it succeeds or the connection drops.
    ``on_state(True)`` is called once the broker confirmed the subscriptions, ``on_state(False)``
    when the connection is lost. A ``persistent`` link (the ingest's) keeps its session and
    subscriptions at the broker while it is away, so nothing published meanwhile is lost; the
    others start afresh at each connection and subscribe with ``qos``.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        subscriptions: Sequence[str],
        will: Outbound | None,
        on_connect: Callable[[], Sequence[Outbound]],
        on_state: Callable[[bool], None] = lambda ready: None,
        persistent: bool = True,
        qos: int = topics.QOS,
    ) -> None:
        self._settings = settings
        self._subscriptions = list(subscriptions)
        self._qos = qos
        self._on_connect_messages = on_connect
        self._on_state = on_state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: deque[InboundMessage] = deque()
        self._arrived_lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self._subscribed = threading.Event()
        self._serials = 0
        self._unacked: OrderedDict[int, float] = OrderedDict()
        """Serial -> monotonic arrival time of each QoS 1 message not yet acknowledged."""
        self._announcing: asyncio.Task[None] | None = None
        self.announce_failures = 0
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            clean_session=not persistent,
            manual_ack=True,
        )
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls_ca_file:
            self._client.tls_set(ca_certs=str(settings.tls_ca_file), cert_reqs=ssl.CERT_REQUIRED)
        self._client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_subscribe = self._handle_subscribe

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect in the background; :meth:`receive` on ``loop`` takes the messages."""
        self._loop = loop
        try:
            self._client.connect_async(
                self._settings.host, self._settings.port, keepalive=self._settings.keepalive
            )
        except (OSError, ValueError) as exc:
            raise BrokerConnectionError(f"cannot connect to the broker: {exc}") from exc
        self._client.loop_start()

    def stop(self, farewell: Outbound | None = None) -> None:
        """Publish ``farewell`` (a clean disconnect sends no will), then disconnect."""
        if farewell is not None and self._client.is_connected():
            info = self._publish(farewell)
            info.wait_for_publish(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()

    def abort(self) -> None:
        """Drop the connection without DISCONNECT, as a crash would (used by tests)."""
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()

    async def receive(self, limit: int) -> list[InboundMessage]:
        """Wait for messages, then take up to ``limit`` of them in arrival order (one receiver
        at a time)."""
        assert self._loop is not None, "start() the link first"
        while True:
            with self._arrived_lock:
                if self._arrived:
                    return self._take(limit)
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                with self._arrived_lock:
                    if self._waiter is waiter:  # cancelled before a message came
                        self._waiter = None

    def take(self, limit: int) -> list[InboundMessage]:
        """Up to ``limit`` of the messages that have arrived, in arrival order, without waiting."""
        with self._arrived_lock:
            return self._take(limit)

    def _take(self, limit: int) -> list[InboundMessage]:
        count = min(limit, len(self._arrived))
        return [self._arrived.popleft() for _ in range(count)]

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until the broker confirmed the subscriptions of the current connection."""
        return self._subscribed.wait(timeout)

    def ack(self, batch: Sequence[InboundMessage]) -> None:
        """Acknowledge ``batch``, in order. Blocking for as long as a system call per message:
        each PUBACK wakes paho's thread through its socket pair, which takes the interpreter
        lock from the caller every time; so the ingest acknowledges from a thread of its own,
        never on the event loop, which would serve no request meanwhile."""
        with self._arrived_lock:
            for inbound in batch:
                self._unacked.pop(inbound.serial, None)
        for inbound in batch:
            if inbound.qos > 0:
                self._client.ack(inbound.mid, inbound.qos)

    def requeue(self, messages: Sequence[InboundMessage]) -> None:
        """Give back messages taken but not acknowledged (a consumer that failed), first in
        line, in their order."""
        with self._arrived_lock:
            self._arrived.extendleft(reversed(messages))
            waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_wake, waiter)

    def oldest_unacknowledged_age(self) -> float:
        """Seconds since the oldest message not yet acknowledged arrived (0: none waits)."""
        with self._arrived_lock:
            if not self._unacked:
                return 0.0
            first = next(iter(self._unacked.values()))
        return max(0.0, time.monotonic() - first)

    def publish(self, message: Outbound) -> bool:
        """Hand ``message`` to the broker connection; False while disconnected."""
        return self._publish(message).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_confirmed(
        self, outbound: Sequence[Outbound], timeout: float = PUBACK_TIMEOUT
    ) -> list[str | None]:
        """Publish ``outbound`` in order and wait for the broker's acknowledgements (PUBACK, by
        paho's ``on_publish``); per message None once acknowledged, else why not. Blocking: for
        a worker thread, never the loop nor paho's thread. Nothing is handed to paho while the
        connection is down, so that paho does not queue a copy of its own to send on
        reconnecting beside the caller's retry."""
        if not self._client.is_connected():
            return [BROKER_AWAY] * len(outbound)
        infos = [self._publish(message) for message in outbound]
        deadline = time.monotonic() + timeout
        errors: list[str | None] = []
        for info in infos:
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                errors.append(f"not published: {paho.error_string(info.rc)}")
                continue
            with contextlib.suppress(RuntimeError, ValueError):  # the connection dropped
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            errors.append(None if info.is_published() else NO_PUBACK)
        return errors

    def _publish(self, message: Outbound) -> paho.MQTTMessageInfo:
        return self._client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )

    # paho thread ------------------------------------------------------------------------------

    def _handle_connect(
        self, client: paho.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            _LOGGER.warning("broker refused the connection: %s", reason)
            return
        _LOGGER.info("connected to the broker at %s:%s", self._settings.host, self._settings.port)
        client.subscribe([(topic, self._qos) for topic in self._subscriptions])
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._announce_on_loop)

    # event loop -------------------------------------------------------------------------------

    def _announce_on_loop(self) -> None:
        if self._announcing is not None and not self._announcing.done():
            self._announcing.cancel()
        self._announcing = asyncio.get_running_loop().create_task(
            self._announce(), name="mqtt-on-connect"
        )

    async def _announce(self) -> None:
        """Publish the ``on_connect`` messages, building them off the loop; retried with
        backoff while that fails (the database away) and the connection holds."""
        delay = RECONNECT_MIN_DELAY
        while self._client.is_connected():
            try:
                outbound = await asyncio.to_thread(self._on_connect_messages)
            except Exception as exc:
                self.announce_failures += 1
                _LOGGER.warning("on connecting: %s; trying again in %s s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)
                continue
            for message in outbound:
                self._publish(message)
            return

    async def close(self) -> None:
        """Stop what runs on the loop for this link."""
        if self._announcing is not None:
            self._announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcing
            self._announcing = None

    def _handle_subscribe(self, *_args: object) -> None:
        self._subscribed.set()
        self._on_state(True)

    def _handle_disconnect(
        self,
        _client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _props: object,
    ) -> None:
        self._subscribed.clear()
        self._on_state(False)
        if reason != MQTTErrorCode.MQTT_ERR_SUCCESS and str(reason) != "Normal disconnection":
            _LOGGER.warning("lost the broker connection (%s); reconnecting", reason)

    def _handle_message(
        self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage
    ) -> None:
        if self._loop is None:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:  # the ingest rejects it as a bad topic
            topic = "\ufffd"
        with self._arrived_lock:
            self._serials += 1
            inbound = InboundMessage(
                topic=topic,
                payload=bytes(message.payload),
                mid=message.mid,
                qos=message.qos,
                retain=bool(message.retain),
                serial=self._serials,
            )
            if inbound.qos > 0:
                self._unacked[inbound.serial] = time.monotonic()
            self._arrived.append(inbound)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:  # a system call: only when the ingest waits for messages
            self._loop.call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
