"""The ingest's live events: what a unit's applied message changed of the live state, for the
network, machine and plan pages (server-sent events).

On the wire an event is its ``type`` (the message's topic kind), the unit, ``clock_ahead_s``
when the unit's clock ran ahead, and the message's own fields, flattened as the pages read them.
"""

from __future__ import annotations

from typing import Any, Literal

from cloud.events import BroadcastEvent, Event
from protocols import messages
from protocols.enums import UnitStatus
from protocols.topics import TopicKind


class UnitEvent(BroadcastEvent):
    """A unit's message applied to the live state."""

    type: TopicKind
    unit_id: str
    clock_ahead_s: float | None = None
    """Set when the unit's clock ran ahead: by how many seconds (its times were moved back)."""

    def wire(self) -> Event:
        return self.model_dump(mode="json", exclude_none=True)


class UnitStateChanged(UnitEvent):
    status: UnitStatus


class UnitBorn(UnitEvent):
    machines: list[str]
    """The machines the unit described, by id."""


class _Reported(UnitEvent):
    """A machine's report, its fields flattened into the event on the wire."""

    def wire(self) -> Event:
        return {**self.model_dump(mode="json", exclude_none=True, exclude={"body"}), **self._body()}

    def _body(self) -> Event:
        raise NotImplementedError


class CapacityReported(_Reported):
    body: messages.CapacityReport

    def _body(self) -> Event:
        return self.body.model_dump(mode="json")  # every field, unset ones as null


class JobReported(_Reported):
    body: messages.JobEvent

    def _body(self) -> Event:
        return self.body.model_dump(mode="json", exclude_none=True)


class AlarmReported(_Reported):
    body: messages.AlarmEvent

    def _body(self) -> Event:
        return self.body.model_dump(mode="json", exclude_none=True)


class TelemetryArrived(BroadcastEvent):
    """A batch's samples of one machine: each metric's last-arrived value (one event per
    machine and batch, as the compiled sample batch gathers them)."""

    type: Literal[TopicKind.TELEMETRY] = TopicKind.TELEMETRY
    unit_id: str
    machine: str
    metrics: dict[str, Any]

    def wire(self) -> Event:
        # Every field is of JSON's types already (a sample's value is a bool, a number, a text
        # or null): no model_dump walk over the metrics, which cost half of an event's 12 µs
        # (a batch has one per machine).
        return {
            "type": self.type.value,
            "unit_id": self.unit_id,
            "machine": self.machine,
            "metrics": dict(self.metrics),
        }
