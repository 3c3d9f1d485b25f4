"""The forwarder: outbox → broker in order, deleted on PUBACK, replayed after a lost link, held
while the coordinator is offline or its state is not yet known. The link is a fake built on the
real MqttLink."""

import asyncio
import time

from edge.config import BrokerConfig
from edge.forwarder import Forwarder, Hold
from edge.health import Metrics
from edge.mqtt import MqttLink, OutgoingMessage, SessionMessages
from edge.outbox import Outbox, PendingMessage, Priority
from tests.waiting import eventually


class FakeLink(MqttLink):
    """Accepts publications without a broker; the test decides when PUBACKs arrive."""

    def __init__(self) -> None:
        super().__init__(
            BrokerConfig(),
            client_id="test",
            subscriptions=[],
            session_messages=lambda: SessionMessages(OutgoingMessage("t", b""), ()),
            on_message=self._ignore,
            on_connected=lambda: None,
            on_subscribed=lambda _topic_filter: None,
            on_disconnected=lambda: None,
            max_inflight=10,
            metrics=Metrics(),
        )
        self.connected = True
        self.sent: list[tuple[str, asyncio.Future[None]]] = []

    async def _ignore(self, topic: str, payload: bytes) -> None:
        return None

    def publish(self, message: OutgoingMessage) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((message.topic, future))
        return future

    def ack_all(self) -> None:
        for _, future in self.sent:
            if not future.done():
                future.set_result(None)

    def drop(self) -> None:
        self.connected = False
        for _, future in self.sent:
            if not future.done():
                future.set_exception(ConnectionError("lost"))


def _topics(link: FakeLink) -> list[str]:
    return [topic for topic, _ in link.sent]


async def _handled(forwarder: Forwarder, *, past_grace: bool = False) -> None:
    """Until the forwarder's loop has acted on every wake-up and (``past_grace``) a grace period
    started now would have ended: what it has not sent by then, it holds."""
    grace_over = time.monotonic() + (2 * GRACE_S if past_grace else 0)
    await eventually(lambda: not forwarder.woken and time.monotonic() > grace_over)


GRACE_S = 0.05


def _forwarder(
    outbox: Outbox, link: FakeLink, metrics: Metrics, *, online: bool = True, **options
) -> Forwarder:
    """A forwarder on a link whose subscription has delivered ``online`` (unless told not)."""
    options = {"rate": 10_000, "max_inflight": 10, "coordinator_state_grace_s": GRACE_S, **options}
    forwarder = Forwarder(outbox, link, metrics, **options)
    if online:
        forwarder.set_coordinator_online(True)
    return forwarder


def _reconnect(link: FakeLink, forwarder: Forwarder) -> None:
    """What the gateway does when the link drops and comes back."""
    link.drop()
    forwarder.link_lost()
    link.sent.clear()
    link.connected = True
    forwarder.link_established()


async def test_in_order_deleted_on_ack_replayed_after_loss(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    topics = [f"glonet/v1/n/u/m{i % 2}/job" for i in range(6)]
    outbox.put(PendingMessage(t, f"{i}".encode(), Priority.EVENT, t) for i, t in enumerate(topics))
    link, metrics = FakeLink(), Metrics()
    forwarder = _forwarder(outbox, link, metrics, max_inflight=4)
    task = asyncio.create_task(forwarder.run())
    await eventually(lambda: len(link.sent) == 4 and not forwarder.woken)
    assert _topics(link) == topics[:4]  # the in-flight window
    link.sent[0][1].set_result(None)
    link.sent[1][1].set_result(None)
    await eventually(lambda: len(link.sent) == 6 and outbox.depth == 4)  # acks flushed
    assert _topics(link) == topics
    assert outbox.depth == 4
    _reconnect(link, forwarder)
    forwarder.set_coordinator_online(True)
    await eventually(lambda: len(link.sent) == 4)
    assert _topics(link) == topics[2:]  # everything unacknowledged, in the original order
    link.ack_all()
    await eventually(lambda: outbox.depth == 0)
    assert outbox.depth == 0 and forwarder.idle
    assert metrics.value("messages_published_total", kind="job") == 6
    assert metrics.value("messages_failed_total") == 4
    task.cancel()


async def test_held_while_the_coordinator_is_offline(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    link = FakeLink()
    forwarder = _forwarder(outbox, link, Metrics())
    forwarder.set_coordinator_online(False)
    task = asyncio.create_task(forwarder.run())
    outbox.put([PendingMessage("glonet/v1/n/u/m/alarm", b"a", Priority.EVENT, "m")])
    forwarder.wake()
    await _handled(forwarder)
    assert link.sent == [] and forwarder.held
    forwarder.set_coordinator_online(True)
    await eventually(lambda: link.sent)
    assert _topics(link) == ["glonet/v1/n/u/m/alarm"]
    task.cancel()


async def test_a_reconnect_while_waiting_for_a_token_is_not_missed(tmp_path):
    # The link drops and comes back while the forwarder waits for the rate limit: the wake-up of
    # the reconnect must not be lost, or the unacknowledged rows wait for the next outbox write.
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    topics = [f"glonet/v1/n/u/m{i}/alarm" for i in range(3)]
    outbox.put(PendingMessage(t, b"x", Priority.EVENT, "m") for t in topics)
    link = FakeLink()
    forwarder = _forwarder(outbox, link, Metrics(), rate=2, max_inflight=1)
    task = asyncio.create_task(forwarder.run())
    await eventually(lambda: link.sent)
    assert _topics(link) == topics[:1]
    link.ack_all()
    # Acknowledged: the forwarder now waits ~0.3 s for a token.
    await eventually(lambda: forwarder.inflight == 0 and not forwarder.woken)
    _reconnect(link, forwarder)
    forwarder.set_coordinator_online(True)  # the retained state, delivered on the new connection
    await eventually(lambda: link.sent)
    assert _topics(link)[:1] == topics[1:2]
    task.cancel()


async def test_after_a_reconnect_held_until_the_retained_state_says_online(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    link = FakeLink()
    forwarder = _forwarder(outbox, link, Metrics())
    task = asyncio.create_task(forwarder.run())
    _reconnect(link, forwarder)
    outbox.put([PendingMessage("glonet/v1/n/u/m/alarm", b"a", Priority.EVENT, "m")])
    forwarder.wake()
    await _handled(forwarder)
    assert link.sent == [] and forwarder.hold is Hold.AWAITING_COORDINATOR_STATE
    forwarder.coordinator_state_subscribed()
    forwarder.set_coordinator_online(False)  # the retained state, right after the SUBACK
    await _handled(forwarder, past_grace=True)  # the grace period, which a known state cancels
    assert link.sent == [] and forwarder.hold is Hold.COORDINATOR_OFFLINE
    forwarder.set_coordinator_online(True)
    await eventually(lambda: link.sent)
    assert _topics(link) == ["glonet/v1/n/u/m/alarm"] and forwarder.hold is None
    task.cancel()


async def test_without_a_retained_state_forwarding_starts_after_the_grace_period(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    outbox.put([PendingMessage("glonet/v1/n/u/m/alarm", b"a", Priority.EVENT, "m")])
    link = FakeLink()
    forwarder = _forwarder(outbox, link, Metrics(), online=False)
    task = asyncio.create_task(forwarder.run())
    forwarder.link_established()
    # The grace period counts from the subscription's confirmation, not before.
    await _handled(forwarder, past_grace=True)
    assert link.sent == [] and forwarder.hold is Hold.AWAITING_COORDINATOR_STATE
    forwarder.coordinator_state_subscribed()
    await eventually(lambda: link.sent)
    assert _topics(link) == ["glonet/v1/n/u/m/alarm"] and forwarder.hold is None
    task.cancel()


async def test_a_lost_link_cancels_the_grace_period(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10**6)
    outbox.put([PendingMessage("glonet/v1/n/u/m/alarm", b"a", Priority.EVENT, "m")])
    link = FakeLink()
    forwarder = _forwarder(outbox, link, Metrics())
    task = asyncio.create_task(forwarder.run())
    await eventually(lambda: link.sent)
    _reconnect(link, forwarder)
    forwarder.coordinator_state_subscribed()
    _reconnect(link, forwarder)  # dropped again before the grace period ended
    await _handled(forwarder, past_grace=True)
    assert link.sent == [] and forwarder.hold is Hold.AWAITING_COORDINATOR_STATE
    task.cancel()
