"""The one module that owns the paho-mqtt client.

paho runs on the gateway's asyncio loop, as in Home Assistant: its socket is watched with
``add_reader``/``add_writer`` and ``loop_misc`` runs every second, so there is no network thread
and its callbacks run on the loop (only the blocking connect, TCP and TLS handshake, runs in a
worker thread, which hands its socket callbacks over to the loop). Each connection attempt gets a
fresh paho client, so that nothing half-sent survives a disconnect inside paho: what was not
acknowledged is still in the outbox and is replayed from there, in order.

On every connection the will (``offline``, retained) is armed with a fresh sequence number one
above the ``online`` message's, then ``online`` and the birth are published, the command and
coordinator state topics are subscribed, and ``on_connected`` runs; ``on_subscribed`` runs with
each topic filter when the broker confirms it (its retained messages follow that confirmation).
The session is persistent (``clean_session=False`` with a stable client id), so commands queued
while away are delivered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from edge.backoff import Backoff
from edge.config import BrokerConfig
from edge.errors import BrokerAuthError, BrokerError
from edge.health import Metrics
from protocols import topics

_LOGGER = logging.getLogger(__name__)

MISC_INTERVAL_S = 1.0
TLS_DRAIN_READS = 100
"""``loop_read`` calls per readiness callback while TLS holds decrypted bytes; more continue on
the next loop iteration, so a flood cannot starve the rest of the gateway."""
AUTH_FAILURES = {"Bad user name or password", "Not authorized", "Bad username or password"}


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class SessionMessages:
    """What the link sends around each connection: the will, then online and birth."""

    will: OutgoingMessage
    announcements: Sequence[OutgoingMessage]


MessageHandler = Callable[[str, bytes], Awaitable[None]]


class MqttLink:
    """A persistent, self-reconnecting MQTT connection for one gateway."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        session_messages: Callable[[], SessionMessages],
        on_message: MessageHandler,
        on_connected: Callable[[], None],
        on_subscribed: Callable[[str], None],
        on_disconnected: Callable[[], None],
        max_inflight: int,
        metrics: Metrics,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._subscriptions = list(subscriptions)
        self._session_messages = session_messages
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_subscribed = on_subscribed
        self._on_disconnected = on_disconnected
        self._max_inflight = max_inflight
        self._metrics = metrics
        self._client: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._generation = 0
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._subscribing: dict[int, str] = {}
        self._session_end: asyncio.Future[str | None] | None = None
        self._announcements: Sequence[OutgoingMessage] = ()
        self._stopping = False
        self.connected = False
        self.connections = 0
        self.last_error: str | None = None
        self.auth_failures = 0

    # Public API ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, stay connected and reconnect with backoff until :meth:`stop`."""
        backoff = Backoff(self._config)
        while not self._stopping:
            error = await self._one_session()
            if self._stopping:
                break
            if error is None:
                backoff.reset()
            else:
                self._report(error)
            await asyncio.sleep(backoff.next_delay())

    def publish(self, message: OutgoingMessage) -> asyncio.Future[None]:
        """Publish with QoS 1; the future completes on PUBACK, fails if the link drops first."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client = self._client
        if client is None or not self.connected:
            future.set_exception(BrokerError("not connected to the broker"))
            return future
        info = client.publish(message.topic, message.payload, qos=topics.QOS, retain=message.retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            future.set_exception(BrokerError(f"publish failed: {paho.error_string(info.rc)}"))
            return future
        self._pending[info.mid] = future
        return future

    def announce(self, message: OutgoingMessage) -> None:
        """Publish a retained unit-level message now if connected; the next connection
        publishes the current birth and state anyway, so a failure needs no retry."""
        if self.connected:
            self.publish(message).add_done_callback(_ignore_failure)

    async def stop(self, announcement: OutgoingMessage | None = None, timeout: float = 2.0) -> None:
        """Publish ``announcement`` (e.g. offline) if connected, then disconnect cleanly."""
        self._stopping = True
        client = self._client
        if client is None:
            return
        if announcement is not None and self.connected:
            try:
                await asyncio.wait_for(self.publish(announcement), timeout)
            except (BrokerError, TimeoutError):
                _LOGGER.warning("Could not publish %s before disconnecting", announcement.topic)
        client.disconnect()
        if self._session_end is not None:
            await asyncio.wait([self._session_end], timeout=timeout)

    # One connection -----------------------------------------------------------------------

    async def _one_session(self) -> str | None:
        """Run one connection to its end; return why it failed, or None after a good one."""
        self._loop = loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._generation += 1
        session = self._session_messages()
        self._announcements = session.announcements
        client = self._new_client(self._generation, session.will)
        self._session_end = loop.create_future()
        try:
            await asyncio.to_thread(
                client.connect, self._config.host, self._config.port, self._config.keepalive_s
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            return f"cannot connect to {self._config.url}: {exc}"
        self._client = client
        misc = asyncio.create_task(self._misc(client))
        try:
            return await self._session_end
        finally:
            misc.cancel()

    @staticmethod
    async def _misc(client: paho.Client) -> None:
        """Keepalive pings and timeouts, which paho's own thread would otherwise do."""
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            client.loop_misc()

    def _on_loop(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` on the event loop: now when called there, else hand it over."""
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _watch_socket(self, client: paho.Client, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.add_reader(sock, self._read, client, sock)

    def _read(self, client: paho.Client, sock: socket.socket) -> None:
        """Read what arrived, including what TLS already decrypted.

        paho's ``loop_read`` ignores its ``max_packets`` argument: it reads as many packets as
        messages are in flight, at least one, so one packet when idle. Over TLS, reading one
        packet decrypts its whole record, and the other packets of that record wait in the SSL
        socket's buffer, which raises no readiness event: they would wait for the next packet or
        the keepalive. So read again while ``pending()`` says there is more, as paho's own
        ``loop()`` does.
        """
        assert self._loop is not None
        for _ in range(TLS_DRAIN_READS):
            if client.loop_read() != paho.MQTT_ERR_SUCCESS or client.socket() is not sock:
                return
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0):
                return
        self._loop.call_soon(self._read, client, sock)

    def _watch_writes(self, client: paho.Client, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.add_writer(sock, client.loop_write)

    def _forget_writes(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.remove_writer(sock)

    def _forget_socket(self, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _new_client(self, generation: int, will: OutgoingMessage) -> paho.Client:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(self._max_inflight)
        client.will_set(will.topic, will.payload, qos=topics.QOS, retain=will.retain)
        if self._config.username is not None:
            password = self._config.password
            client.username_pw_set(
                self._config.username, password.get_secret_value() if password else None
            )
        if self._config.uses_tls:
            self._configure_tls(client)

        def on_loop(handler: Callable[..., None]) -> Callable[..., None]:
            def callback(*args: Any) -> None:
                self._on_loop(handler, generation, *args)

            return callback

        client.on_connect = on_loop(self._connected)
        client.on_disconnect = on_loop(self._disconnected)
        client.on_publish = on_loop(self._acknowledged)
        client.on_subscribe = on_loop(self._subscribed)
        client.on_message = on_loop(self._received)
        client.on_socket_open = lambda c, _u, sock: self._on_loop(self._watch_socket, c, sock)
        client.on_socket_register_write = lambda c, _u, sock: self._on_loop(
            self._watch_writes, c, sock
        )
        client.on_socket_unregister_write = lambda _c, _u, sock: self._on_loop(
            self._forget_writes, sock
        )
        client.on_socket_close = lambda _c, _u, sock: self._on_loop(self._forget_socket, sock)
        return client

    def _configure_tls(self, client: paho.Client) -> None:
        tls = self._config.tls
        verify = tls is None or tls.verify
        try:
            client.tls_set(
                ca_certs=str(tls.ca) if tls and tls.ca else None,
                certfile=str(tls.cert) if tls and tls.cert else None,
                keyfile=str(tls.key) if tls and tls.key else None,
                cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise BrokerError(f"broker.tls: cannot load the TLS files: {exc}") from exc
        client.tls_insecure_set(not verify)

    # Callbacks, run on the event loop -----------------------------------------------------

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _connected(
        self, generation: int, client: paho.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any
    ) -> None:
        if not self._current(generation):
            return
        if code.is_failure:
            reason = str(code)
            if reason in AUTH_FAILURES:
                self.auth_failures += 1
                self._metrics.inc("mqtt_auth_failures_total")
                error = BrokerAuthError(
                    f"the broker refused the credentials of {self._client_id!r} ({reason}):"
                    " check broker.username and broker.password"
                )
                self._end_session(str(error))
            else:
                self._end_session(f"the broker refused the connection: {reason}")
            return
        self.connected = True
        self.connections += 1
        if self.connections > 1:
            self._metrics.inc("mqtt_reconnects_total")
        if self.last_error is not None or self.connections == 1:
            _LOGGER.info("Connected to the MQTT broker %s", self._config.url)
        self.last_error = None
        self._subscribing.clear()
        for topic_filter in self._subscriptions:
            result, mid = client.subscribe(topic_filter, qos=topics.QOS)
            if mid is None:  # the connection is already gone; the next one subscribes again
                _LOGGER.warning("Subscribing to %s failed: %s", topic_filter, result)
                continue
            self._subscribing[mid] = topic_filter
        for message in self._announcements:
            client.publish(message.topic, message.payload, qos=topics.QOS, retain=message.retain)
        self._on_connected()

    def _disconnected(
        self, generation: int, _c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any
    ) -> None:
        if not self._current(generation):
            return
        was_connected = self.connected
        self.connected = False
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrokerError("connection lost before the PUBACK"))
        self._pending.clear()
        if was_connected:
            self._on_disconnected()
            if not self._stopping:
                _LOGGER.warning("Lost the MQTT broker connection (%s)", code)
        self._end_session(None if was_connected else f"disconnected: {code}")

    def _acknowledged(
        self, generation: int, _c: Any, _u: Any, mid: int, _code: Any, _p: Any
    ) -> None:
        if not self._current(generation):
            return
        future = self._pending.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _subscribed(
        self, generation: int, _c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if not self._current(generation):
            return  # message ids restart with each connection's client: not ours
        topic_filter = self._subscribing.pop(mid, None)
        if topic_filter is None:
            return
        if any(code.is_failure for code in codes):
            # Nothing retained will come: the handler's wait for it ends as if there were none.
            _LOGGER.error("The broker refused the subscription to %s", topic_filter)
        self._on_subscribed(topic_filter)

    def _received(self, generation: int, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        if self._current(generation):
            task = asyncio.ensure_future(self._on_message(message.topic, bytes(message.payload)))
            task.add_done_callback(_log_failure)

    def _end_session(self, error: str | None) -> None:
        if self._session_end is not None and not self._session_end.done():
            self._session_end.set_result(error)

    def _report(self, error: str) -> None:
        if error != self.last_error:
            _LOGGER.warning("MQTT: %s; retrying with backoff", error)
        self.last_error = error


def _ignore_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _LOGGER.error("Handling an MQTT message failed", exc_info=task.exception())
