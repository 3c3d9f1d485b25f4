"""The ingest worker: MQTT messages in, batches applied (by a :mod:`cloud.ingest.applier`, in a
thread or a child process), acknowledgements out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from cloud.config import Settings
from cloud.database import transaction, utcnow
from cloud.events import EventBroadcaster
from cloud.exceptions import DatabaseError
from cloud.ingest import quarantine, service
from cloud.ingest.applier import (
    AppliedBatch,
    ApplierCrashed,
    BatchApplier,
    Pipeline,
    ThreadApplier,
)
from cloud.messaging import outbox
from cloud.messaging import service as messaging_service
from cloud.messaging.hooks import BatchHook
from cloud.messaging.mqtt import InboundMessage, MqttLink, Outbound
from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all, supervise
from cloud.registry import service as registry_service
from cloud.telemetry import service as telemetry_service
from cloud.telemetry.sink import TelemetrySink
from protocols import ProtocolError, codec, messages, topics
from protocols.enums import UnitStatus

_LOGGER = logging.getLogger(__name__)
COORDINATOR = topics.COORDINATOR
ORIGIN = "ingest"
"""The outbox's name for the messages the ingest itself asks for (rebirth requests)."""
RETRY_DELAY = 1.0
"""Before applying a share again after the database was away; doubled at each failure in a
row, up to :data:`MAX_RETRY_DELAY`."""
MAX_RETRY_DELAY = 30.0
CONTENTION_DELAY = 0.01
"""Before applying it again after it lost to another transaction (a lane's deadlock victim)."""
PRUNE_INTERVAL = 600.0


def retry_delay(exc: DatabaseError, failures: int = 1) -> float:
    """How long to wait after the ``failures``-th failure in a row of the same share."""
    if exc.contended:
        return CONTENTION_DELAY
    return min(RETRY_DELAY * 2 ** (failures - 1), MAX_RETRY_DELAY)


def _log_ack_failure(done: Future[None]) -> None:
    if done.exception() is not None:
        _LOGGER.error("acknowledging a batch failed", exc_info=done.exception())


class UnitLanes:
    """Splits a batch into one share per lane of the applier, by unit: a unit's messages always
    go to the same lane, so they are applied in the order they arrived. Units are dealt to the
    lanes in turn as they first appear (even shares for a handful of plants, which a hash would
    not promise); past :attr:`REMEMBERED` units a hash decides."""

    REMEMBERED = 10_000

    def __init__(self, lanes: int) -> None:
        self._lanes = lanes
        self._lane_of: dict[str, int] = {}

    def split(self, batch: Sequence[InboundMessage]) -> list[tuple[int, list[InboundMessage]]]:
        """The non-empty shares, as (lane, messages in arrival order)."""
        if self._lanes == 1:
            return [(0, list(batch))]
        shares: list[list[InboundMessage]] = [[] for _ in range(self._lanes)]
        for inbound in batch:
            shares[self.lane(inbound.topic)].append(inbound)
        return [(lane, share) for lane, share in enumerate(shares) if share]

    def lane(self, topic: str) -> int:
        try:
            unit = topics.parse(topic).unit
        except ProtocolError:  # refused in lane 0
            return 0
        if unit is None:
            return 0
        lane = self._lane_of.get(unit)
        if lane is None:
            if len(self._lane_of) >= self.REMEMBERED:
                return zlib.crc32(unit.encode()) % self._lanes
            lane = self._lane_of[unit] = len(self._lane_of) % self._lanes
        return lane


class IngestWorker:
    """Consumes the network's topics (or a share of them) until stopped."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: sessionmaker[Session],
        sink: TelemetrySink,
        metrics: Metrics,
        broadcaster: EventBroadcaster,
        hooks: Sequence[BatchHook] = (),
        applier: BatchApplier | None = None,
    ) -> None:
        """``applier`` decodes and applies the batches; by default threads of this process do,
        with ``sink`` and ``hooks``."""
        self._settings = settings
        self._pipeline = Pipeline.for_settings(
            settings, session_factory=session_factory, sink=sink, metrics=metrics, hooks=hooks
        )
        """Also where a message the applier cannot handle at all is set aside."""
        self._applier = applier or ThreadApplier(self._pipeline)
        self._network = settings.network
        self._session_factory = session_factory
        self._metrics = metrics
        self._broadcaster = broadcaster
        self._tasks: list[asyncio.Task[None]] = []
        self._state_topic = topics.coordinator_state(self._network)
        self._last_state_id: str | None = None
        self._saying_online: asyncio.Task[None] | None = None
        self.outbox_written: Callable[[], None] = lambda: None
        """Called (from any thread) after this worker wrote to the outbox: the delivery's
        wake-up, set by whoever runs it (:mod:`cloud.services`)."""
        self._link = MqttLink(
            settings.mqtt,
            subscriptions=self._subscriptions(),
            will=self._availability(UnitStatus.OFFLINE, "connection lost"),
            on_connect=self._on_connect,
            on_state=lambda up: metrics.mqtt_connected.set(1 if up else 0),
        )
        self._acks: ThreadPoolExecutor | None = None
        """One thread acknowledges the committed batches, in order (while started)."""
        self._taken: dict[int, InboundMessage] = {}
        """Messages taken from the link and not yet acknowledged, by serial: given back to the
        link when the consumer fails, so that a restarted one applies them."""
        metrics.ingest_oldest_unacked.set_reader(self._link.oldest_unacknowledged_age)

    def stalled(self) -> bool:
        """Whether a message has waited for its acknowledgement longer than the stall limit."""
        return self._link.oldest_unacknowledged_age() > self._settings.ingest.stall_after_s

    def _subscriptions(self) -> list[str]:
        """The network's topics; in shared mode also the coordinator state, directly: every
        worker must see another's farewell or will (see :meth:`_watch_coordinator_state`), not
        the one the broker hands a shared message to."""
        network_filter = topics.network_filter(self._network)
        group = self._settings.mqtt.share_group
        if not group:
            return [network_filter]
        return [topics.shared(group, network_filter), self._state_topic]

    def _availability(self, state: UnitStatus, reason: str | None = None) -> Outbound:
        with transaction(self._session_factory) as session:
            seq = messaging_service.next_sequence(session=session, sender=COORDINATOR)
        message = messages.CoordinatorState.create(
            unit=COORDINATOR, seq=seq, body={"state": state.value, "reason": reason}
        )
        return Outbound(topics.coordinator_state(self._network), codec.encode(message), retain=True)

    def _on_connect(self) -> list[Outbound]:
        """Online, and in shared mode a rebirth request to every member (through the outbox):
        retained messages are not delivered to shared subscriptions, so the units announce
        themselves again."""
        if self._settings.mqtt.share_group:
            self._request_rebirths()
        return [self._availability(UnitStatus.ONLINE)]

    def _request_rebirths(self) -> None:
        now = utcnow()
        with transaction(self._session_factory) as session:
            units = registry_service.network_units(session=session, network_id=self._network)
            for unit in units:
                outbox.command(
                    session,
                    origin=ORIGIN,
                    network=self._network,
                    unit=unit.id,
                    body={"kind": "rebirth"},
                    now=now,
                )
        self.outbox_written()

    async def start(self) -> None:
        await self._applier.start()
        self._acks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-ack")
        loop = asyncio.get_running_loop()
        self._link.start(loop)
        self._tasks = [
            asyncio.create_task(supervise("ingest-consume", self._consume, metrics=self._metrics)),
            asyncio.create_task(
                supervise("ingest-prune", self._prune_periodically, metrics=self._metrics)
            ),
        ]
        _LOGGER.info("ingest subscribed to %s", ", ".join(self._subscriptions()))

    async def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return await asyncio.to_thread(self._link.wait_subscribed, timeout)

    async def stop(self) -> None:
        """Stop consuming, announce the coordinator offline, disconnect. Whatever fails on the
        way, the applier (its child processes) is stopped too."""
        try:
            await self._cancel_tasks()
            await self._link.close()
            try:
                farewell = await asyncio.to_thread(
                    self._availability, UnitStatus.OFFLINE, "shutdown"
                )
            except DatabaseError as exc:  # then the broker publishes the will instead
                _LOGGER.warning("no farewell (%s)", exc.message)
                farewell = None
            await asyncio.to_thread(self._link.stop, farewell)
        finally:
            await self._applier.stop()

    async def abort(self) -> None:
        """Stop as a crash would: nothing acknowledged that was not committed, no farewell."""
        try:
            await self._cancel_tasks()
            await self._link.close()
            self._link.abort()
        finally:
            await self._applier.stop()

    async def _cancel_tasks(self) -> None:
        if self._saying_online is not None:
            self._tasks.append(self._saying_online)
            self._saying_online = None
        await cancel_all(self._tasks, name="ingest")
        self._tasks = []
        if self._acks is not None:  # the committed batches' acknowledgements go out first
            await asyncio.to_thread(self._acks.shutdown)
            self._acks = None

    async def _consume(self) -> None:
        """Apply batches in order, up to the applier's ``in_flight`` at a time; acknowledge and
        broadcast each one in order once it is committed.

        A batch is formed when a slot frees, i.e. as late as possible, so that it takes in all
        that arrived meanwhile, and is split by unit into the applier's lanes, which apply their
        shares at once. With child processes two batches in flight keep the children busy: each
        starts its share of the next batch while this process acknowledges the last one.
        """
        slots = asyncio.Semaphore(self._applier.in_flight)
        lanes = UnitLanes(self._applier.lanes)
        applied: asyncio.Queue[tuple[list[InboundMessage], list[asyncio.Task[AppliedBatch]]]]
        applied = asyncio.Queue()
        finishing = asyncio.create_task(self._finish_in_order(applied, slots))
        tasks: set[asyncio.Task[AppliedBatch]] = set()
        try:
            while True:
                await slots.acquire()
                batch = await self._next_batch()
                for inbound in batch:
                    self._taken[inbound.serial] = inbound
                self._watch_coordinator_state(batch)
                shares = [
                    asyncio.create_task(self._apply(share, lane))
                    for lane, share in lanes.split(batch)
                ]
                tasks.update(shares)
                for task in shares:
                    task.add_done_callback(tasks.discard)
                applied.put_nowait((batch, shares))
        finally:
            for pending in (finishing, *tasks):
                pending.cancel()
            for pending in (finishing, *tasks):
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await pending
            # What was taken and not acknowledged goes back: a restarted consumer applies it
            # (what was committed meanwhile is then a duplicate).
            self._link.requeue(sorted(self._taken.values(), key=lambda m: m.serial))
            self._taken.clear()

    async def _finish_in_order(
        self,
        applied: asyncio.Queue[tuple[list[InboundMessage], list[asyncio.Task[AppliedBatch]]]],
        slots: asyncio.Semaphore,
    ) -> None:
        while True:
            batch, shares = await applied.get()
            events: list[dict[str, object]] = []
            for share in shares:
                result = await share
                events.extend(result.events)
            for inbound in batch:  # committed: a failing consumer gives these back no more
                self._taken.pop(inbound.serial, None)
            self._acknowledge(batch)
            for event in events:
                try:
                    self._broadcaster.publish(event)
                except Exception:  # a listener's bug is not the ingest's
                    _LOGGER.exception("publishing a live event failed")
            slots.release()

    def _acknowledge(self, batch: list[InboundMessage]) -> None:
        """Hand a committed batch's acknowledgements to the ack thread, which sends them in the
        order the batches committed, off the loop (see :meth:`MqttLink.ack`) and without the
        loop waiting: once handed over they go out whole, even if the consumer is cancelled
        (stopping waits for them)."""
        if self._acks is None:  # not started: nothing runs beside the loop
            self._link.ack(batch)
            return
        self._acks.submit(self._link.ack, batch).add_done_callback(_log_ack_failure)

    def _watch_coordinator_state(self, batch: Sequence[InboundMessage]) -> None:
        """The coordinator state is one retained message for all workers: when one stops (its
        farewell) or dies (its will) while this one runs, the broker would keep telling the
        gateways "offline", and they hold their outboxes. A running worker says "online" again.
        Retained copies are old news (this worker said "online" when it connected); its own
        farewell never reaches it (it stops consuming first)."""
        for inbound in batch:
            if inbound.topic != self._state_topic or inbound.retain:
                continue
            try:
                state = codec.decode(inbound.payload, expected=messages.CoordinatorState)
            except ProtocolError:
                continue
            if state.id == self._last_state_id:  # in shared mode it may come twice
                continue
            self._last_state_id = state.id
            if state.body.state is UnitStatus.OFFLINE and self._saying_online is None:
                _LOGGER.info(
                    "another coordinator worker said offline (%s); saying online again",
                    state.body.reason,
                )
                self._saying_online = asyncio.create_task(self._say_online())

    async def _say_online(self) -> None:
        try:
            online = await asyncio.to_thread(self._availability, UnitStatus.ONLINE)
            if not self._link.publish(online):
                _LOGGER.warning("the broker is away; it gets the online state on reconnecting")
        except DatabaseError as exc:
            _LOGGER.warning("could not say online again: %s", exc.message)
        finally:
            self._saying_online = None

    def deliver(self, outbound: Sequence[Outbound]) -> list[str | None]:
        """Publish the outbox's messages with the coordinator's client and wait for the
        broker's acknowledgements (see :meth:`MqttLink.publish_confirmed`)."""
        return self._link.publish_confirmed(outbound)

    async def _next_batch(self) -> list[InboundMessage]:
        """The next batch: what has arrived, up to ``batch_size``; one that is not full waits
        ``linger_ms`` for more, since a batch's fixed cost (its statements, its commit, the
        hand-over) is worth tens of messages."""
        size = self._settings.ingest.batch_size
        batch = await self._link.receive(size)
        linger = self._settings.ingest.linger_ms
        if len(batch) < size and linger:
            await asyncio.sleep(linger / 1000)
            batch.extend(self._link.take(size - len(batch)))
        return batch

    async def _apply(self, share: Sequence[InboundMessage], lane: int) -> AppliedBatch:
        """Apply a lane's share of a batch. Only while the database is away is the share
        applied again, with backoff (its messages, unacknowledged, stay ours). When the applier
        fails otherwise (its child process died twice on the share, a bug), the share is split
        in halves, down to the one message that fails, which is set aside as a dead letter:
        never does the share stop the ingest."""
        failures = crashes = 0
        while True:
            try:
                return await self._applier.apply(share, lane)
            except DatabaseError as exc:
                if not exc.transient:
                    return await self._split(share, lane, exc)
                failures += 1
                delay = retry_delay(exc, failures)
                self._metrics.ingest_retries.inc(1)
                _LOGGER.warning(
                    "applying an ingest batch failed (%s); retrying in %.2f s", exc.message, delay
                )
                await asyncio.sleep(delay)
            except ApplierCrashed as exc:
                crashes += 1
                if crashes == 1:  # killed from outside, most likely: once more as it was
                    continue
                return await self._split(share, lane, exc)
            except Exception as exc:
                return await self._split(share, lane, exc)

    async def _split(
        self, share: Sequence[InboundMessage], lane: int, exc: Exception
    ) -> AppliedBatch:
        _LOGGER.error(
            "the ingest applier failed on a share of %d message(s): %s",
            len(share),
            quarantine.describe(exc),
            exc_info=exc,
        )
        if len(share) == 1:
            await self._set_aside(share[0], exc)
            return AppliedBatch([])
        middle = len(share) // 2
        first = await self._apply(share[:middle], lane)
        second = await self._apply(share[middle:], lane)
        return AppliedBatch(first.events + second.events)

    async def _set_aside(self, inbound: InboundMessage, exc: Exception) -> None:
        while True:
            try:
                await asyncio.to_thread(self._pipeline.set_aside, [(inbound, None, exc)])
                return
            except DatabaseError as away:  # only a transient one escapes
                _LOGGER.warning("cannot set a message aside yet (%s)", away.message)
                await asyncio.sleep(RETRY_DELAY)

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL)
            try:
                await asyncio.to_thread(self.prune)
            except DatabaseError as exc:
                _LOGGER.warning("pruning failed: %s", exc.message)

    def prune(self) -> None:
        """Drop expired de-duplication ids, dead letters, rollups and embedded samples."""
        now = utcnow()
        telemetry = self._settings.telemetry
        ingest = self._settings.ingest
        with transaction(self._session_factory) as session:
            service.prune_seen(
                session=session, now=now, retention=timedelta(hours=ingest.dedup_retention_hours)
            )
            quarantine.prune(
                session=session,
                now=now,
                retention=timedelta(hours=ingest.dead_letter_retention_hours),
            )
            telemetry_service.prune(
                session=session,
                now=now,
                rollup_retention=timedelta(minutes=telemetry.rollup_retention_minutes),
                sample_retention=timedelta(hours=telemetry.sample_retention_hours),
            )
