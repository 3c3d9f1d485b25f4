"""The ingest against a real Mosquitto, with messages published as a gateway would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from cloud.config import IngestSettings, Settings
from cloud.context import AppContext
from cloud.exceptions import DatabaseError
from cloud.ingest import service as ingest_service
from cloud.ingest.applier import (
    AppliedBatch,
    BatchApplier,
    ProcessApplier,
    ThreadApplier,
)
from cloud.ingest.models import SeenMessage
from cloud.ingest.worker import IngestWorker, UnitLanes
from cloud.main import build_context
from cloud.messaging.hooks import Decoded
from cloud.messaging.mqtt import InboundMessage
from cloud.network.models import ActiveAlarm, JobProgress, MachineState, UnitPresence
from cloud.registry.models import Machine
from cloud.services import Wanted, make_ingest, services
from cloud.telemetry.models import MetricRollup
from glonet.broker import MosquittoBroker
from protocols import codec, messages, topics
from tests.cloud.conftest import (
    Gateway,
    make_pipeline,
    mqtt_settings,
    onboard,
    retained_coordinator_state,
    stored_samples,
)
from tests.waiting import eventually, wait_until

pytestmark = pytest.mark.integration


def _query(context: AppContext, statement: Any) -> Callable[[], Any]:
    def run() -> Any:
        with context.session_factory() as session:
            return session.execute(statement).scalar()

    return run


def _status(context: AppContext, unit: str) -> Callable[[], str | None]:
    return _query(context, select(UnitPresence.status).where(UnitPresence.unit_id == unit))


def _seen(context: AppContext, message_id: str) -> Callable[[], Any]:
    return _query(context, select(SeenMessage.id).where(SeenMessage.id == message_id))


async def test_unit_online_birth_capacity_job_and_will(
    ingest_context: AppContext, gateways: Callable[[str], Gateway]
) -> None:
    gateway = gateways("plant-a")
    gateway.online()
    await eventually(lambda: _status(ingest_context, "plant-a")() == "online")

    gateway.birth("mill-1", "laser-1")
    machines = _query(
        ingest_context,
        select(func.count()).select_from(Machine).where(Machine.unit_id == "plant-a"),
    )
    await eventually(lambda: machines() == 2)

    gateway.capacity("mill-1", state="Executing", free=3)
    state = _query(
        ingest_context, select(MachineState.state).where(MachineState.machine == "mill-1")
    )
    await eventually(lambda: state() == "Executing")

    gateway.job("mill-1", "job-7", "started", state="Running")
    gateway.job("mill-1", "job-7", "progress", state="Running", progress=0.5)
    progress = _query(ingest_context, select(JobProgress.progress))
    await eventually(lambda: progress() == 0.5)

    gateway.alarm("mill-1", "a-1", "raised")
    alarms = _query(ingest_context, select(func.count()).select_from(ActiveAlarm))
    await eventually(lambda: alarms() == 1)
    gateway.alarm("mill-1", "a-1", "cleared")
    await eventually(lambda: alarms() == 0)

    gateway.crash()
    await eventually(lambda: _status(ingest_context, "plant-a")() == "offline")


async def test_replay_changes_nothing_and_stale_updates_are_ignored(
    ingest_context: AppContext, gateways: Callable[[str], Gateway]
) -> None:
    gateway = gateways("plant-a")
    gateway.birth("mill-1")
    old = gateway.capacity("mill-1", state="Executing", free=1)
    new = gateway.capacity("mill-1", state="NotExecuting", free=4)
    batch = gateway.telemetry("mill-1", [1.0, 2.0, 3.0])
    await eventually(_seen(ingest_context, batch.id))

    # Replay everything, then a marker: once the marker is applied, so are the replays.
    for message in (old, new, batch):
        gateway.send(
            topics.telemetry(gateway.network, "plant-a", "mill-1")
            if message is batch
            else topics.capacity(gateway.network, "plant-a", "mill-1"),
            message,
        )
    # A message with a fresh id but an old seq is stale and must not win either.
    stale = type(old).create(unit="plant-a", seq=old.seq, body=old.body)
    gateway.send(topics.capacity(gateway.network, "plant-a", "mill-1"), stale)
    marker = gateway.telemetry("mill-1", [10.0], metric="marker")
    await eventually(_seen(ingest_context, marker.id))

    assert len(stored_samples(ingest_context.session_factory, "spindle_rpm")) == 3
    rollup_count = _query(
        ingest_context, select(MetricRollup.count).where(MetricRollup.metric == "spindle_rpm")
    )
    assert rollup_count() == 3
    free = _query(ingest_context, select(MachineState.free_slots))
    assert free() == 4
    metrics = ingest_context.metrics
    # A child's counters reach this process with its batch's result, a moment after the
    # commit that made the marker visible.
    await eventually(lambda: metrics.ignored.value(reason="duplicate") >= 3)
    await eventually(lambda: metrics.ignored.value(reason="stale") >= 1)
    assert metrics.ignored.value(reason="duplicate") == 3
    assert metrics.ignored.value(reason="stale") == 1


async def test_malformed_payloads_are_counted_and_ignored(
    ingest_context: AppContext, gateways: Callable[[str], Gateway]
) -> None:
    gateway = gateways("plant-a")
    telemetry_topic = topics.telemetry(gateway.network, "plant-a", "mill-1")
    gateway.send(telemetry_topic, b"{not json")
    gateway.send(telemetry_topic, b"\xff\xfe")
    sample = {"machine": "mill-1", "metric": "x", "value": 1, "source_time": datetime.now(UTC)}
    batch = gateway.envelope(messages.Telemetry, {"samples": [sample]})
    gateway.send(topics.capacity(gateway.network, "plant-a", "mill-1"), batch)
    gateway.client.publish(
        f"glonet/v1/{gateway.network}/plant-a/mill-1/bogus", b"{}", qos=1
    ).wait_for_publish(5)
    # Another unit's message on plant-a's topic, and a unit that is not onboarded.
    intruder = messages.Telemetry.create(unit="plant-z", seq=1, body={"samples": [sample]})
    gateway.send(telemetry_topic, intruder)
    # An integer no float holds (it once failed the batch that carried it, again and again).
    valid = codec.encode(gateway.envelope(messages.Telemetry, {"samples": [sample]}))
    huge = valid.replace(b'"value":1,', b'"value":1' + b"0" * 400 + b",")
    assert huge != valid
    gateway.send(telemetry_topic, huge)
    marker = gateway.telemetry("mill-1", [3.0], metric="marker")
    await eventually(_seen(ingest_context, marker.id))
    await eventually(lambda: ingest_context.metrics.samples.value() >= 1)  # see the replay test

    rejects = ingest_context.metrics.rejects
    assert rejects.value(reason="not_json") == 1
    assert rejects.value(reason="not_utf8") == 1
    assert rejects.value(reason="wrong_schema") == 1
    assert rejects.value(reason="bad_topic") == 1
    assert rejects.value(reason="unit_mismatch") == 1
    assert rejects.value(reason="invalid") == 1
    # Only the marker's sample got through: the wrong-schema batch was refused.
    assert ingest_context.metrics.samples.value() == 1


def _sample_total(context: AppContext) -> Callable[[], int]:
    return lambda: len(stored_samples(context.session_factory, "spindle_rpm"))


async def test_coordinator_crash_and_restart_lose_nothing_acknowledged(
    ingest_context: AppContext,
    gateways: Callable[[str], Gateway],
    running_mosquitto: MosquittoBroker,
) -> None:
    gateway = gateways("plant-a")
    for _ in range(100):
        gateway.telemetry("mill-1", [1.0, 2.0])
    # Crash mid-stream: whatever was not committed was not acknowledged either.
    assert ingest_context.ingest is not None
    await ingest_context.ingest.abort()
    network = ingest_context.settings.network
    # The coordinator's will: the broker announces it offline.
    await eventually(lambda: retained_coordinator_state(running_mosquitto, network) == "offline")
    for _ in range(50):
        gateway.telemetry("mill-1", [3.0, 4.0])

    ingest_context.ingest = make_ingest(ingest_context)
    await ingest_context.ingest.start()
    await eventually(lambda: _sample_total(ingest_context)() >= 300)
    marker = gateway.telemetry("mill-1", [0.0], metric="marker")
    await eventually(_seen(ingest_context, marker.id))
    assert _sample_total(ingest_context)() == 300
    count = _query(
        ingest_context,
        select(func.sum(MetricRollup.count)).where(MetricRollup.metric == "spindle_rpm"),
    )
    assert count() == 300


async def test_two_workers_sharing_a_subscription_apply_every_message_once(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
) -> None:
    contexts: list[AppContext] = []
    for name in ("one", "two"):
        settings = settings_factory(
            mqtt=mqtt_settings(
                running_mosquitto, f"worker-{name}-{uuid.uuid4().hex[:6]}", share_group="ingest"
            ),
            ingest={"batch_size": 20},
        )
        context = build_context(settings)
        if not contexts:
            onboard(context, "plant-a")
        context.ingest = make_ingest(context)
        await context.ingest.start()
        assert await context.ingest.wait_subscribed()
        contexts.append(context)
    try:
        gateway = gateways("plant-a")
        sent = [gateway.telemetry("mill-1", [float(i)] * 5) for i in range(200)]
        for message in sent[::4]:  # redeliveries, as after a gateway outbox replay
            gateway.send(topics.telemetry(gateway.network, "plant-a", "mill-1"), message)
        gateway.job("mill-1", "job-1", "started", state="Running")
        await eventually(lambda: _sample_total(contexts[0])() >= 1000)
        marker_done = [gateway.telemetry("mill-1", [0.0], metric="marker") for _ in range(4)]
        for marker in marker_done:
            await eventually(_seen(contexts[0], marker.id))
        assert _sample_total(contexts[0])() == 1000

        def applied() -> list[float]:
            return [c.metrics.messages.value(kind="telemetry") for c in contexts]

        # A child's counts reach the serving process once its result is back, a moment after
        # its commit made the markers visible: wait for them, then check none came twice.
        await eventually(lambda: sum(applied()) >= 204)
        assert sum(applied()) == 204 and all(applied()), applied()
    finally:
        for context in contexts:
            assert context.ingest is not None
            await context.ingest.stop()
            context.engine.dispose()


async def test_a_shared_worker_asks_members_for_a_rebirth_when_it_connects(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
) -> None:
    """Retained births are not delivered to shared subscriptions: members announce again."""
    gateway = gateways("plant-a")
    commands: list[bytes] = []
    gateway.client.on_message = lambda _c, _u, message: commands.append(bytes(message.payload))
    gateway.client.subscribe(topics.command(gateway.network, "plant-a"), qos=1)
    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"rebirth-{uuid.uuid4().hex[:6]}", share_group="g")
    )
    context = build_context(settings)
    onboard(context, "plant-a")
    try:
        # The requests go through the outbox: the ingest with its delivery, no domains.
        async with services(context, Wanted(domains=False)):
            await eventually(lambda: commands)
        command = codec.decode(commands[0], expected=messages.Command)
        assert command.body.kind == "rebirth" and command.unit == "coordinator"
    finally:
        context.engine.dispose()


async def test_the_coordinator_stays_online_while_one_of_its_workers_runs(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker, network: str
) -> None:
    """One retained state for all workers: a worker that stops (farewell) or dies (will) must not
    leave "offline" for the gateways, which would hold their outboxes, while another runs."""
    contexts = []
    for name in ("one", "two", "three"):
        client_id = f"state-{name}-{uuid.uuid4().hex[:6]}"
        settings = settings_factory(
            mqtt=mqtt_settings(running_mosquitto, client_id, share_group="ingest"),
            ingest={"isolation": "thread"},
        )
        context = build_context(settings)
        context.ingest = make_ingest(context)
        await context.ingest.start()
        assert await context.ingest.wait_subscribed()
        contexts.append(context)
    one, two, three = (context.ingest for context in contexts)
    assert one is not None and two is not None and three is not None

    said: list[tuple[str, str | None]] = []  # the states published from now on, in order

    def record(_client: object, _userdata: object, message: paho.MQTTMessage) -> None:
        if not message.retain:
            body = codec.decode(message.payload, expected=messages.CoordinatorState).body
            said.append((body.state.value, body.reason))

    listener = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"listen-{network}")
    listener.on_message = record
    subscribed = threading.Event()
    listener.on_subscribe = lambda *_args: subscribed.set()
    listener.connect(running_mosquitto.host, running_mosquitto.port)
    listener.subscribe(topics.coordinator_state(network), qos=1)
    listener.loop_start()

    def after(state: str, reason: str) -> bool:
        """``state`` for ``reason``, then "online" again."""
        index = said.index((state, reason)) if (state, reason) in said else len(said)
        return ("online", None) in said[index + 1 :]

    def state() -> str | None:
        return retained_coordinator_state(running_mosquitto, network, timeout=1)

    try:
        await eventually(subscribed.is_set, 10, "the listener subscribed")
        await one.stop()  # its farewell
        await eventually(lambda: after("offline", "shutdown"))
        assert state() == "online"
        await two.abort()  # a crash: the broker publishes its will
        await eventually(lambda: after("offline", "connection lost"))
        assert state() == "online"
    finally:
        await three.stop()
        listener.disconnect()
        listener.loop_stop()
        for context in contexts:
            context.engine.dispose()
    assert state() == "offline"  # the last one stopped: nobody says otherwise


def _worker(context: AppContext, applier: BatchApplier) -> IngestWorker:
    return IngestWorker(
        settings=context.settings,
        session_factory=context.session_factory,
        sink=context.sink,
        metrics=context.metrics,
        broadcaster=context.broadcaster,
        applier=applier,
    )


def _context(
    settings_factory: Callable[..., Settings],
    broker: MosquittoBroker,
    name: str,
    units: Sequence[str],
    **ingest: Any,
) -> AppContext:
    """A coordinator context of its own broker client, with ``units`` onboarded."""
    settings = settings_factory(
        mqtt=mqtt_settings(broker, f"coord-{name}-{uuid.uuid4().hex[:6]}"), ingest=ingest
    )
    context = build_context(settings)
    for unit in units:
        onboard(context, unit)
    return context


@contextlib.asynccontextmanager
async def _running(context: AppContext, worker: IngestWorker) -> AsyncIterator[None]:
    """``worker`` started and subscribed; stopped, and the context's engine disposed, after."""
    await worker.start()
    try:
        assert await worker.wait_subscribed()
        yield
    finally:
        await worker.stop()
        context.engine.dispose()


async def test_a_killed_ingest_child_process_is_replaced_and_loses_nothing(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
) -> None:
    context = _context(
        settings_factory,
        running_mosquitto,
        "child",
        ["plant-a", "plant-b"],
        processes=2,
        enabled=False,
    )
    applier = ProcessApplier(settings=context.settings, metrics=context.metrics, hooks=None)
    worker = _worker(context, applier)
    async with _running(context, worker):
        plant_a, plant_b = gateways("plant-a"), gateways("plant-b")
        first = plant_a.telemetry("mill-1", [1.0])  # plant-a is dealt lane 0, plant-b lane 1
        await eventually(_seen(context, first.id))
        # The child counts its samples and hands the count back just after its commit: killed
        # in between, the sample is kept but not counted. Wait for the count before the kill.
        await eventually(lambda: context.metrics.samples.value() == 1)
        killed, other = applier.child_pids
        assert killed is not None and other is not None
        assert len({killed, other, os.getpid()}) == 3
        os.kill(killed, signal.SIGKILL)
        sent = [
            gateway.telemetry("mill-1", [float(i)] * 3)
            for i in range(20)
            for gateway in (plant_a, plant_b)
        ]
        for message in sent:
            await eventually(_seen(context, message.id), timeout=30)
        assert applier.child_pids[0] not in (None, killed)
        assert applier.child_pids[1] == other  # the other lane went on undisturbed
        assert len(stored_samples(context.session_factory)) == 121
        # Counted in the children and merged here once a child's batch returns, which is just
        # after its commit made the samples visible above.
        await eventually(lambda: context.metrics.samples.value() == 121)


def _message(topic: str, mid: int) -> InboundMessage:
    return InboundMessage(topic, b"{}", mid, 1, False)


def test_lanes_deal_units_in_turn_and_keep_each_unit_in_one_lane_in_order() -> None:
    lanes = UnitLanes(2)
    a, b, c = (topics.telemetry("net", unit, "mill-1") for unit in ("a", "b", "c"))
    batch = [
        _message(topic, mid)
        for mid, topic in enumerate([a, b, a, c, "not/a/topic", b, topics.unit_state("net", "a")])
    ]
    shares = lanes.split(batch)
    assert [(lane, [m.mid for m in share]) for lane, share in shares] == [
        (0, [0, 2, 3, 4, 6]),  # a, then c dealt after b; a refused topic goes to lane 0
        (1, [1, 5]),
    ]
    assert lanes.split([_message(c, 7), _message(b, 8)]) == [
        (0, [_message(c, 7)]),
        (1, [_message(b, 8)]),
    ]
    assert UnitLanes(1).split(batch) == [(0, batch)]


def test_lanes_past_the_remembered_units_hash_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(UnitLanes, "REMEMBERED", 2)
    lanes = UnitLanes(3)
    units = [f"unit-{index}" for index in range(40)]
    first = [lanes.lane(topics.unit_state("net", unit)) for unit in units]
    again = [lanes.lane(topics.unit_state("net", unit)) for unit in reversed(units)]
    assert first[:2] == [0, 1]
    assert first == list(reversed(again))  # stable whatever the order units come back in
    assert set(first[2:]) == {0, 1, 2}


def _thread_applier(context: AppContext) -> ThreadApplier:
    return ThreadApplier(make_pipeline(context))


def _recorded_acks(worker: IngestWorker, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the QoS 1 messages ``worker`` acknowledges, in the order it does."""
    acknowledged: list[int] = []
    link_ack = worker._link.ack

    def ack(batch: Sequence[InboundMessage]) -> None:
        acknowledged.extend(inbound.mid for inbound in batch if inbound.qos > 0)
        link_ack(batch)

    monkeypatch.setattr(worker._link, "ack", ack)
    return acknowledged


class _HeldThreadApplier:
    """The real thread applier with two batches in flight; subclasses hold some calls back."""

    in_flight = 2
    lanes = 1

    def __init__(self, applier: ThreadApplier) -> None:
        self._applier = applier

    async def start(self) -> None:
        await self._applier.start()

    async def stop(self) -> None:
        await self._applier.stop()


class _SecondBatchFirst(_HeldThreadApplier):
    """The first of two batches in flight is applied only once the second is: the worker must
    still acknowledge in the order messages arrived."""

    def __init__(self, applier: ThreadApplier) -> None:
        super().__init__(applier)
        self._second_applied = asyncio.Event()
        self._calls = 0
        self.applied: list[list[int]] = []

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch:
        self._calls += 1
        first = self._calls == 1
        if first:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._second_applied.wait(), 10)
        result = await self._applier.apply(batch)
        self.applied.append([inbound.mid for inbound in batch])
        if not first:
            self._second_applied.set()
        return result


async def test_batches_in_flight_are_acknowledged_in_arrival_order(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = _context(settings_factory, running_mosquitto, "order", ["plant-a"], batch_size=1)
    applier = _SecondBatchFirst(_thread_applier(context))
    worker = _worker(context, applier)
    acknowledged = _recorded_acks(worker, monkeypatch)
    async with _running(context, worker):
        gateway = gateways("plant-a")
        sent = [gateway.telemetry("mill-1", [float(i)]) for i in range(6)]
        for message in sent:
            await eventually(_seen(context, message.id))
        applied = [mid for batch in applier.applied for mid in batch]
        await eventually(lambda: len(acknowledged) == len(applied))
        assert applier.applied[0][0] > applier.applied[1][0]  # applied out of order
        assert acknowledged == sorted(applied)
        assert len(stored_samples(context.session_factory)) == 6


class _TwoLanes(_HeldThreadApplier):
    """Two lanes, lane 1 applied before lane 0 of a batch: the worker must keep each unit in one
    lane and still acknowledge in arrival order."""

    lanes = 2

    def __init__(self, applier: ThreadApplier) -> None:
        super().__init__(applier)
        self.shares: list[tuple[int, list[str]]] = []
        self.handed_over = 0
        self.mids: list[int] = []
        self.gate = asyncio.Event()
        """Set once every message arrived: the batches after the first ones mix the units."""
        self._lane_one_done = asyncio.Event()

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch:
        self.handed_over += sum(m.topic.endswith("/telemetry") for m in batch)
        self.mids.extend(m.mid for m in batch)
        await self.gate.wait()
        if lane == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lane_one_done.wait(), 0.2)
        result = await self._applier.apply(batch)
        self.shares.append((lane, [topics.parse(m.topic).unit or "" for m in batch]))
        if lane == 1:
            self._lane_one_done.set()
        return result


async def test_a_batch_is_shared_between_lanes_by_unit_and_acknowledged_in_order(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    units = ["plant-a", "plant-b", "plant-c"]
    context = _context(
        settings_factory, running_mosquitto, "lanes", units, batch_size=50, enabled=False
    )
    applier = _TwoLanes(_thread_applier(context))
    worker = _worker(context, applier)
    acknowledged = _recorded_acks(worker, monkeypatch)
    async with _running(context, worker):
        plants = [gateways(unit) for unit in units]
        # Well inside the broker's window of unacknowledged messages (max_inflight_messages):
        # they all arrive while the first batches are held.
        sent = [plant.telemetry("mill-1", [float(i)]) for i in range(5) for plant in plants]
        arrived = worker._link._arrived
        await eventually(
            lambda: (
                applier.handed_over + sum(m.topic.endswith("/telemetry") for m in arrived)
                == len(sent)
            )
        )
        applier.gate.set()
        for message in sent:
            await eventually(_seen(context, message.id))
        await eventually(lambda: len(acknowledged) == len(applier.mids))
        assert acknowledged == sorted(applier.mids)
        lanes_of = {u: {lane for lane, share in applier.shares if u in share} for u in units}
        assert lanes_of == {"plant-a": {0}, "plant-b": {1}, "plant-c": {0}}
        assert any(len(set(share)) > 1 for _, share in applier.shares)  # units shared a batch
        assert len(stored_samples(context.session_factory)) == 15


class _Recording(_HeldThreadApplier):
    """The real thread applier, recording the batches it is given."""

    def __init__(self, applier: ThreadApplier) -> None:
        super().__init__(applier)
        self.batches: list[list[str]] = []

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch:
        self.batches.append([inbound.topic for inbound in batch])
        return await self._applier.apply(batch)


async def test_a_batch_that_is_not_full_lingers_for_more_messages(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
) -> None:
    """Messages arriving one by one, 30 ms apart, within the linger of the batch the first one
    opened: they are applied together, one transaction instead of five."""
    context = _context(
        settings_factory,
        running_mosquitto,
        "linger",
        ["plant-a"],
        batch_size=50,
        linger_ms=1000,
        enabled=False,
    )
    applier = _Recording(_thread_applier(context))
    worker = _worker(context, applier)
    async with _running(context, worker):
        gateway = gateways("plant-a")
        sent = []
        for index in range(5):
            sent.append(gateway.telemetry("mill-1", [float(index)]))
            await asyncio.sleep(0.03)  # the scenario: messages spaced out within one linger
        for message in sent:
            await eventually(_seen(context, message.id))
        telemetry = [
            [topic for topic in batch if topic.endswith("/telemetry")] for batch in applier.batches
        ]
        assert [len(topics) for topics in telemetry if topics] == [5]


def test_the_broker_lets_the_ingest_hold_three_full_batches(
    running_mosquitto: MosquittoBroker,
) -> None:
    """The coordinator acknowledges a batch only once it is committed, so the broker's in-flight
    window must hold two batches being applied and one gathering, or batches never fill."""
    wanted = 3 * IngestSettings().batch_size
    topic = f"test/{uuid.uuid4().hex}/telemetry"
    received: list[int] = []
    subscribed = threading.Event()
    holder = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"holder-{uuid.uuid4().hex[:8]}",
        clean_session=False,
        manual_ack=True,  # acknowledges nothing, as an ingest with batches in flight
    )
    holder.on_message = lambda _c, _u, message: received.append(message.mid)
    holder.on_subscribe = lambda *_args: subscribed.set()
    holder.connect(running_mosquitto.host, running_mosquitto.port)
    holder.loop_start()
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    try:
        holder.subscribe(topic, qos=1)
        assert subscribed.wait(5)
        publisher.connect(running_mosquitto.host, running_mosquitto.port)
        publisher.loop_start()
        for index in range(wanted + 100):
            publisher.publish(topic, str(index).encode(), qos=1).wait_for_publish(5)
        wait_until(lambda: len(received) >= wanted, 10, f"{wanted} messages in flight")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        holder.loop_stop()
        holder.disconnect()


async def test_a_database_error_on_connecting_is_retried_on_the_loop_not_paho_thread(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building the "online" state needs the database. It used to run in paho's on_connect,
    where an exception ended paho's network loop for good; now paho's thread only hands the
    connection to the loop, which tries again."""
    context = _context(settings_factory, running_mosquitto, "connect", ["plant-a"])
    worker = _worker(context, _thread_applier(context))
    on_connect = worker._on_connect
    threads: list[str] = []
    failures = iter([True])

    def flaky() -> list[Any]:
        threads.append(threading.current_thread().name)
        if next(failures, False):
            raise DatabaseError("database operation failed: OperationalError")
        return on_connect()

    monkeypatch.setattr(worker._link, "_on_connect_messages", flaky)
    network = context.settings.network
    async with _running(context, worker):
        await eventually(
            lambda: retained_coordinator_state(running_mosquitto, network, 1) == "online", 30
        )
        assert worker._link.announce_failures == 1
        message = gateways("plant-a").telemetry("mill-1", [1.0])
        await eventually(_seen(context, message.id))  # paho's loop lives on
    assert len(threads) == 2 and not any("paho" in name for name in threads)


def _decoded_job(**times: datetime) -> Decoded:
    body = {"machine": "m1", "job_order_id": "j-1", "event": "ended"} | times
    message = messages.JobStatus.create(unit="plant-a", seq=1, body=body)
    return Decoded(topics.parse(topics.job("net", "plant-a", "m1")), message)


def test_a_job_event_from_a_clock_ahead_keeps_its_order_and_durations() -> None:
    """Its times move back together, by as much as the latest was ahead, so the latest is the
    receive time; a time that would go before 1970 stops there; within the skew, nothing moves."""
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    skew = timedelta(minutes=5)
    ahead = _decoded_job(
        actual_start=now + timedelta(minutes=4),
        actual_end=now + timedelta(minutes=9),
        occurred_at=now + timedelta(minutes=9),
    )
    kept = ingest_service.within_skew(ahead, now=now, max_future_skew=skew)
    body = kept.message.body
    assert isinstance(body, messages.JobEvent)
    assert kept.clock_ahead_s == 9 * 60
    assert body.occurred_at == body.actual_end == now
    assert body.actual_start == now - timedelta(minutes=5)

    far = _decoded_job(
        actual_start=messages.EARLIEST_TIME, occurred_at=datetime(9999, 1, 1, tzinfo=UTC)
    )
    moved = ingest_service.within_skew(far, now=now, max_future_skew=skew).message.body
    assert isinstance(moved, messages.JobEvent)
    assert (moved.actual_start, moved.occurred_at) == (messages.EARLIEST_TIME, now)

    close = _decoded_job(occurred_at=now + timedelta(minutes=4))
    assert ingest_service.within_skew(close, now=now, max_future_skew=skew) is close
