"""Capacity reports: what each machine can take, published on change and at a heartbeat."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from edge.jobs import ACTIVE, WAITING, JobOrderView
from edge.uplink import Uplink
from protocols import messages
from protocols.enums import MachineryItemState, MachineryOperationMode
from protocols.topics import TopicKind

UNAVAILABLE_STATES = frozenset(
    {MachineryItemState.NOT_AVAILABLE, MachineryItemState.OUT_OF_SERVICE}
)


@dataclass
class MachineStatus:
    """The live state of one machine as the gateway sees it."""

    connected: bool = False
    state: MachineryItemState = MachineryItemState.NOT_AVAILABLE
    mode: MachineryOperationMode = MachineryOperationMode.NONE
    max_job_orders: int = 0
    jobs: dict[str, JobOrderView] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)
    """``state``/``mode`` → a vendor value the mapping does not translate (state/mode unknown)."""


def capacity_report(
    machine: str, status: MachineStatus, now: datetime, outbox_depth: int | None = None
) -> messages.CapacityReport:
    running = [j for j in status.jobs.values() if j.state in ACTIVE]
    waiting = [j for j in status.jobs.values() if j.state in WAITING]
    remaining = sum(j.planned_duration_s * (1.0 - (j.progress or 0.0)) for j in running)
    remaining += sum(j.planned_duration_s for j in waiting)
    return messages.CapacityReport(
        machine=machine,
        available=status.connected and status.state not in UNAVAILABLE_STATES,
        state=status.state if status.connected else MachineryItemState.NOT_AVAILABLE,
        mode=status.mode,
        running_job_order=running[0].job_order_id if running else None,
        stored_job_orders=[j.job_order_id for j in waiting],
        free_slots=max(0, status.max_job_orders - len(running) - len(waiting)),
        queue_free_at=now + timedelta(seconds=remaining),
        reported_at=now,
        unmapped_values=[
            messages.UnmappedValue(variable=variable, value=value[:200])  # type: ignore[arg-type]
            for variable, value in sorted(status.unmapped.items())
        ],
        outbox_depth=outbox_depth,
    )


class CapacityReporter:
    """Publishes a machine's capacity when it changes and every ``heartbeat_s`` seconds.

    The expected free time moves continuously while a job runs; it counts as a change only when
    it moved by more than ``tolerance_s``. Every report carries the outbox's depth
    (``outbox_depth``), which is no change of the machine's: the heartbeat brings it along.
    """

    def __init__(
        self,
        uplink: Uplink,
        *,
        heartbeat_s: float,
        tolerance_s: float,
        outbox_depth: Callable[[], int] | None = None,
    ) -> None:
        self._uplink = uplink
        self._outbox_depth = outbox_depth
        self._heartbeat = heartbeat_s
        self._tolerance = timedelta(seconds=tolerance_s)
        self._last: dict[str, messages.CapacityReport] = {}
        self.statuses: dict[str, MachineStatus] = {}

    def update(self, machine: str) -> None:
        report = capacity_report(machine, self.statuses[machine], datetime.now(UTC), self._depth())
        last = self._last.get(machine)
        if last is None or self._changed(last, report):
            self._publish(report)

    def publish_all(self) -> None:
        now, depth = datetime.now(UTC), self._depth()
        for machine, status in self.statuses.items():
            self._publish(capacity_report(machine, status, now, depth))

    def _depth(self) -> int | None:
        return self._outbox_depth() if self._outbox_depth is not None else None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self.publish_all()

    def _changed(self, last: messages.CapacityReport, new: messages.CapacityReport) -> bool:
        fixed = {"queue_free_at", "reported_at", "outbox_depth"}
        if last.model_dump(exclude=fixed) != new.model_dump(exclude=fixed):
            return True
        return abs(new.queue_free_at - last.queue_free_at) > self._tolerance

    def _publish(self, report: messages.CapacityReport) -> None:
        self._last[report.machine] = report
        self._uplink.send(TopicKind.CAPACITY, report.machine, messages.Capacity, report)
