"""Moves messages from the outbox to the broker: in order, rate-limited, deleted on PUBACK.

Publishing pauses while the broker is away and while the coordinator's retained state says it is
offline (buffering on disk rather than publishing into the void). After each (re)connect it stays
paused until the coordinator's state is known: the broker delivers the retained state right after
confirming the subscription, or, when it has none (a coordinator that never ran or cleared its
state), a short grace period after that confirmation ends the wait.

After a reconnect the cursor goes back to the oldest row, so everything not yet acknowledged is
sent again in its original order (receivers de-duplicate by message id).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time

from edge.errors import BrokerError
from edge.health import Metrics
from edge.mqtt import MqttLink, OutgoingMessage
from edge.outbox import Outbox, StoredMessage
from protocols import topics

_LOGGER = logging.getLogger(__name__)

ACK_FLUSH_INTERVAL = 0.02


class TokenBucket:
    """At most ``rate`` tokens a second, with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)


class Hold(enum.Enum):
    """Why the outbox is not forwarded (besides a broker that is away)."""

    AWAITING_COORDINATOR_STATE = "awaiting_coordinator_state"
    COORDINATOR_OFFLINE = "coordinator_offline"


class Forwarder:
    def __init__(
        self,
        outbox: Outbox,
        link: MqttLink,
        metrics: Metrics,
        *,
        rate: float,
        max_inflight: int,
        coordinator_state_grace_s: float,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._metrics = metrics
        self._max_inflight = max_inflight
        self._bucket = TokenBucket(rate, burst=max_inflight)
        self._cursor = 0
        self._inflight: dict[int, str] = {}
        self._acked: list[tuple[int, str]] = []
        self._wakeup = asyncio.Event()
        self._hold: Hold | None = Hold.AWAITING_COORDINATOR_STATE
        self._coordinator_online: bool | None = None
        self._grace_s = coordinator_state_grace_s
        self._grace: asyncio.TimerHandle | None = None
        self._epoch = 0

    # Signals from the rest of the gateway -------------------------------------------------

    def wake(self) -> None:
        """New rows are in the outbox, or the link came back."""
        self._wakeup.set()

    def link_established(self) -> None:
        """A new connection: hold until its subscription tells the coordinator's state."""
        self._cancel_grace()
        self._hold = Hold.AWAITING_COORDINATOR_STATE
        _LOGGER.debug("Connected: waiting for the coordinator's state before forwarding")
        self.wake()

    def link_lost(self) -> None:
        self._cancel_grace()
        self._flush_acks()
        self._metrics.inc("messages_failed_total", len(self._inflight))
        self._inflight.clear()
        self._cursor = 0
        self._epoch += 1

    def coordinator_state_subscribed(self) -> None:
        """The broker confirmed the subscription to the coordinator's state: a retained state,
        if there is one, comes next; without one, forward after the grace period."""
        if self._hold is Hold.AWAITING_COORDINATOR_STATE:
            self._cancel_grace()
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self._grace_s, self._no_coordinator_state)

    def set_coordinator_online(self, online: bool) -> None:
        self._cancel_grace()
        if online != self._coordinator_online:
            if online:
                _LOGGER.info("Coordinator is online: forwarding the outbox")
            else:
                _LOGGER.warning("Coordinator is offline: buffering in the outbox")
        self._coordinator_online = online
        self._hold = None if online else Hold.COORDINATOR_OFFLINE
        self.wake()

    def _no_coordinator_state(self) -> None:
        self._grace = None
        if self._hold is not Hold.AWAITING_COORDINATOR_STATE:
            return
        if self._coordinator_online is not True:
            _LOGGER.info(
                "The broker has no coordinator state %.1f s after the subscription:"
                " forwarding the outbox",
                self._grace_s,
            )
        self._coordinator_online = True
        self._hold = None
        self.wake()

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    @property
    def hold(self) -> Hold | None:
        return self._hold

    @property
    def held(self) -> bool:
        return self._hold is not None

    @property
    def idle(self) -> bool:
        return not self._inflight and self._outbox.depth == 0

    @property
    def inflight(self) -> int:
        """Publications waiting for their PUBACK."""
        return len(self._inflight)

    @property
    def woken(self) -> bool:
        """A wake-up the loop has not yet acted on (what it has not sent once this is false, it
        holds or waits a token for)."""
        return self._wakeup.is_set()

    # The loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_acks_periodically())
        try:
            while True:
                # Cleared before forwarding, not after: a wake-up that arrives while forwarding
                # (a reconnect during a rate-limit wait) must run the loop once more.
                self._wakeup.clear()
                await self._forward_available()
                await self._wakeup.wait()
        finally:
            flusher.cancel()
            self._flush_acks()

    async def _forward_available(self) -> None:
        epoch = self._epoch
        while self._link.connected and self._hold is None:
            room = self._max_inflight - len(self._inflight)
            if room <= 0:
                return
            rows = self._outbox.fetch(self._cursor, room)
            if not rows:
                return
            for row in rows:
                await self._bucket.take()
                if epoch != self._epoch or not self._link.connected or self._hold is not None:
                    return
                self._send(row)

    def _send(self, row: StoredMessage) -> None:
        kind = topics.parse(row.topic).kind.value
        future = self._link.publish(OutgoingMessage(row.topic, row.payload, row.retain))
        self._cursor = row.row_id
        self._inflight[row.row_id] = kind
        future.add_done_callback(lambda f: self._settled(f, row.row_id))

    def _settled(self, future: asyncio.Future[None], row_id: int) -> None:
        kind = self._inflight.pop(row_id, None)
        if kind is None:
            return
        if future.exception() is None:
            self._acked.append((row_id, kind))
        else:
            self._metrics.inc("messages_failed_total")
            if not isinstance(future.exception(), BrokerError):
                _LOGGER.error("Unexpected publish failure", exc_info=future.exception())
        self.wake()

    async def _flush_acks_periodically(self) -> None:
        while True:
            await asyncio.sleep(ACK_FLUSH_INTERVAL)
            self._flush_acks()

    def _flush_acks(self) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        self._outbox.delete(row_id for row_id, _ in acked)
        for _, kind in acked:
            self._metrics.inc("messages_published_total", kind=kind)
