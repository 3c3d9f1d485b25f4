"""Turns what the gateway observes into enveloped messages in the outbox.

Events (job, alarm, capacity) are written at once, each in its own transaction with the state
that explains it. Telemetry samples are collected per machine and written all machines in one
transaction, one message per machine and write: as soon as the OPC UA publish response that
brought them is handled when the batch window is no longer than the publishing interval (the
server already batched them), else every batch window on a fixed cadence.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from edge.config import GatewayConfig
from edge.health import Metrics
from edge.mqtt import OutgoingMessage, SessionMessages
from edge.outbox import Outbox, PendingMessage, Priority
from protocols import ProtocolError, RejectReason, codec, messages, topics
from protocols.codec import MAX_TEXT_VALUE, SampleRow, SampleStatus
from protocols.enums import Quality, UnitStatus
from protocols.messages import SAMPLE_INTEGER_END, SAMPLE_INTEGER_MIN
from protocols.topics import TopicKind

_LOGGER = logging.getLogger(__name__)

PRIORITY = {
    TopicKind.TELEMETRY: Priority.TELEMETRY,
    TopicKind.CAPACITY: Priority.CAPACITY,
    TopicKind.JOB: Priority.EVENT,
    TopicKind.ALARM: Priority.EVENT,
}
TOPIC = {
    TopicKind.TELEMETRY: topics.telemetry,
    TopicKind.CAPACITY: topics.capacity,
    TopicKind.JOB: topics.job,
    TopicKind.ALARM: topics.alarm,
}


class Uplink:
    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        metrics: Metrics,
        *,
        on_written: Callable[[], None],
    ) -> None:
        self._network = config.network
        self._unit = config.unit
        self._window = config.telemetry.batch_window_ms / 1000
        self._per_response = (
            config.telemetry.batch_window_ms <= config.telemetry.publishing_interval_ms
        )
        self._max_batch = config.telemetry.max_batch_samples
        self._outbox = outbox
        self._metrics = metrics
        self._on_written = on_written
        self._samples: dict[str, list[SampleRow]] = defaultdict(list)
        self._collected = asyncio.Event()

    # Events -------------------------------------------------------------------------------

    def send(
        self,
        kind: TopicKind,
        machine: str,
        message_type: type[messages.Envelope],
        body: Any,
        *,
        state: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue one machine message (job, alarm or capacity) with ``state`` in one transaction."""
        envelope = message_type.create(unit=self._unit, seq=self._outbox.next_seq(), body=body)
        pending = PendingMessage(
            topic=TOPIC[kind](self._network, self._unit, machine),
            payload=codec.encode(envelope),
            priority=PRIORITY[kind],
            lane=machine,
            retain=topics.is_retained(kind),
        )
        self._write([pending], state)
        if isinstance(body, messages.JobEvent):
            self._metrics.inc("job_events_total", event=body.event.value)
        elif isinstance(body, messages.AlarmEvent):
            self._metrics.inc("alarms_total", state=body.state.value)

    def _write(
        self, batch: list[PendingMessage], state: Mapping[str, str | None] | None = None
    ) -> None:
        result = self._outbox.put(batch, state)
        if result.evicted:
            self._metrics.inc("messages_evicted_total", result.evicted)
        if result.dropped:
            self._metrics.inc("telemetry_dropped_total", result.dropped)
        self._on_written()

    # Telemetry ----------------------------------------------------------------------------

    def add_sample(
        self,
        machine: str,
        metric: str,
        value: Any,
        source_time: datetime | None,
        quality: Quality,
        status: SampleStatus | None = None,
    ) -> str | None:
        """Queue a sample; or count it and say why not, when the protocol cannot carry it."""
        if type(value) is not float:  # the common case first: a finite float is checked below
            value = getattr(value, "Text", value)  # a LocalizedText is its text
        problem = _problem(value, quality)
        if problem is not None:
            self._metrics.inc("samples_invalid_total", reason=problem[0])
            return problem[1]
        if source_time is None:
            source_time = datetime.now(UTC)
        elif source_time.tzinfo is None:
            source_time = source_time.replace(tzinfo=UTC)
        self._samples[machine].append((machine, metric, value, source_time, quality, status))
        self._collected.set()
        return None

    async def run(self) -> None:
        if self._per_response:
            await self._write_per_response()
        else:
            await self._write_every_window()

    async def _write_per_response(self) -> None:
        """The OPC UA consumer hands over all the notifications of a publish response without
        yielding to the event loop, so this task, woken by the first of them, runs when they are
        all collected: a sample waits for no timer."""
        while True:
            await self._collected.wait()
            self._collected.clear()
            self.flush_telemetry()

    async def _write_every_window(self) -> None:
        """On a fixed cadence: a write's own duration does not push the next one back."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            while due <= loop.time():
                due += self._window
            await asyncio.sleep(due - loop.time())
            self.flush_telemetry()

    def flush_telemetry(self) -> None:
        if not self._samples:
            return
        collected, self._samples = self._samples, defaultdict(list)
        batch: list[PendingMessage] = []
        for machine, samples in collected.items():
            topic = topics.telemetry(self._network, self._unit, machine)
            for start in range(0, len(samples), self._max_batch):
                for payload in self._encode_samples(samples[start : start + self._max_batch]):
                    batch.append(PendingMessage(topic, payload, Priority.TELEMETRY, machine))
        self._write(batch)

    def _encode_samples(self, samples: list[SampleRow]) -> list[bytes]:
        seq = self._outbox.next_seq()
        try:
            return [codec.encode_telemetry(unit=self._unit, seq=seq, samples=samples)]
        except ProtocolError as exc:
            if exc.reason is not RejectReason.TOO_LARGE or len(samples) == 1:
                # add_sample checked every row: this is a bug, not bad input; keep running.
                _LOGGER.error("Dropping %d samples that do not encode: %s", len(samples), exc)
                self._metrics.inc("samples_invalid_total", len(samples), reason="encoding")
                return []
        half = len(samples) // 2
        return self._encode_samples(samples[:half]) + self._encode_samples(samples[half:])

    # Unit-level messages (sent around each MQTT connection, not queued) -------------------

    def session_messages(self, description: messages.UnitDescription) -> SessionMessages:
        """Online and birth for the next connection, and a will that sorts after online."""
        online = self._state(UnitStatus.ONLINE, None)
        birth = self._birth(description)
        will = self._state(UnitStatus.OFFLINE, "connection lost")
        self._outbox.commit_seq()
        return SessionMessages(will=will, announcements=(online, birth))

    def birth_message(self, description: messages.UnitDescription) -> OutgoingMessage:
        message = self._birth(description)
        self._outbox.commit_seq()
        return message

    def offline_message(self, reason: str) -> OutgoingMessage:
        message = self._state(UnitStatus.OFFLINE, reason)
        self._outbox.commit_seq()
        return message

    def _state(self, status: UnitStatus, reason: str | None) -> OutgoingMessage:
        envelope = messages.UnitState.create(
            unit=self._unit,
            seq=self._outbox.next_seq(),
            body=messages.Availability(state=status, reason=reason),
        )
        topic = topics.unit_state(self._network, self._unit)
        return OutgoingMessage(topic, codec.encode(envelope), retain=True)

    def _birth(self, description: messages.UnitDescription) -> OutgoingMessage:
        envelope = messages.UnitBirth.create(
            unit=self._unit, seq=self._outbox.next_seq(), body=description
        )
        topic = topics.birth(self._network, self._unit)
        return OutgoingMessage(topic, codec.encode(envelope), retain=True)


def _problem(value: Any, quality: Quality) -> tuple[str, str] | None:
    """Why the protocol cannot carry ``value`` (a counter reason and a text), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else ("range", f"{value} is not a finite number")
    if isinstance(value, str):
        if len(value) <= MAX_TEXT_VALUE:
            return None
        return ("range", f"a text of {len(value)} characters (at most {MAX_TEXT_VALUE})")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if SAMPLE_INTEGER_MIN <= value < SAMPLE_INTEGER_END:
            return None
        return ("range", f"{value} is outside the 64-bit integer range")
    if value is None:
        return (
            None if quality is not Quality.GOOD else ("no_value", "a Good sample without a value")
        )
    kind = "an array" if isinstance(value, list | tuple) else f"a {type(value).__name__}"
    return ("type", f"{kind} cannot be carried (booleans, numbers and texts can)")
