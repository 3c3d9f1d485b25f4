"""Coordinator commands: validated, then executed as OPC UA job control calls.

``dispatch`` → ``Store``/``StoreAndStart`` with an ``ISA95JobOrderDataType`` on the target
machine, answered by an ``accepted`` or ``rejected`` job event carrying the decoded ReturnStatus
and a reason whose category says who has to act (the machine refused, the job control mapping
does not fit the server, the machine is unavailable); a job order id the machine already has is
acknowledged again without storing it twice. ``cancel`` → ``Cancel``, or ``Abort`` once the job
order has started (the machine's job list then reports the abort), ``repair`` → the machine's
repair method, ``acknowledge`` → each named alarm condition's Acknowledge method, ``rebirth`` →
birth and every capacity report again. Anything malformed or aimed at an unknown machine is
rejected with a reason and counted; nothing a coordinator sends can crash the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from edge.binding import MachineControl
from edge.errors import CommandRejected, MachineError
from edge.health import Metrics
from edge.job_control import CallOutcome, Category
from edge.jobs import JobTracker
from edge.uplink import Uplink
from protocols import ProtocolError, codec, messages
from protocols.enums import JobEventKind, ReturnStatus
from protocols.topics import TopicKind

_LOGGER = logging.getLogger(__name__)

SEEN_COMMANDS = 1024
MACHINE_WAIT_S = 10.0
"""How long a command waits for its machine's OPC UA session, e.g. right after a restart when
commands queued in the broker arrive before the machines are connected."""


class CommandHandler:
    def __init__(
        self,
        *,
        controls: dict[str, MachineControl],
        trackers: dict[str, JobTracker],
        listed_jobs: Callable[[str], set[str]],
        rebirth: Callable[[], None],
        acknowledge: Callable[[messages.AcknowledgeCommand], Awaitable[None]],
        uplink: Uplink,
        metrics: Metrics,
    ) -> None:
        self._controls = controls
        self._trackers = trackers
        self._listed_jobs = listed_jobs
        self._rebirth = rebirth
        self._acknowledge = acknowledge
        self._uplink = uplink
        self._metrics = metrics
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def handle(self, payload: bytes) -> None:
        try:
            command = codec.decode(payload, expected=messages.Command)
        except ProtocolError as exc:
            self._rejected(exc.reason.value, exc.detail)
            return
        if self._already_seen(command.id):
            return
        body = command.body
        self._metrics.inc("commands_total", kind=body.kind)
        try:
            await self._execute(body, command.id)
        except CommandRejected as exc:
            self._rejected(exc.reason, exc.detail)

    def _already_seen(self, message_id: str) -> bool:
        if message_id in self._seen:
            return True
        self._seen[message_id] = None
        if len(self._seen) > SEEN_COMMANDS:
            self._seen.popitem(last=False)
        return False

    def _rejected(self, reason: str, detail: str) -> None:
        self._metrics.inc("commands_rejected_total", reason=reason)
        _LOGGER.warning("Rejected a command (%s): %s", reason, detail)

    async def _execute(self, body: Any, command_id: str) -> None:
        if isinstance(body, messages.DispatchCommand):
            for order in body.job_orders:
                await self._dispatch(order, command_id)
        elif isinstance(body, messages.CancelCommand):
            await self._cancel(body, command_id)
        elif isinstance(body, messages.RepairCommand):
            await self._repair(body)
        elif isinstance(body, messages.AcknowledgeCommand):
            self._machine(body.machine)
            await self._acknowledge(body)
        else:
            self._rebirth()

    def _machine(self, machine: str) -> tuple[MachineControl, JobTracker]:
        control, tracker = self._controls.get(machine), self._trackers.get(machine)
        if control is None or tracker is None:
            raise CommandRejected("unknown_machine", f"this unit has no machine {machine!r}")
        return control, tracker

    async def _dispatch(self, order: messages.JobOrder, command_id: str) -> None:
        try:
            control, tracker = self._machine(order.machine)
        except CommandRejected as exc:
            self._rejected(exc.reason, exc.detail)
            self._reject_job(order, exc.detail)
            return
        async with self._locks[order.machine]:
            job_id = order.job_order_id
            if tracker.knows(job_id) or job_id in self._listed_jobs(order.machine):
                tracker.acknowledge_duplicate(job_id)
                return
            method = "store_and_start" if order.start else "store"
            await control.wait_ready(MACHINE_WAIT_S)
            outcome = await control.job_call(method, order)
            status = None if outcome.status is None else int(outcome.status)
            if outcome.ok:
                tracker.accepted(job_id, status, None)
                return
            category = outcome.category or Category.FAILED
            self._metrics.inc("commands_rejected_total", reason=category.value)
            _LOGGER.warning("Dispatch %s of %s rejected: %s", command_id, job_id, outcome.reason)
            tracker.rejected(job_id, outcome.reason, status)

    def _reject_job(self, order: messages.JobOrder, reason: str) -> None:
        """Tell the coordinator about a job order aimed at a machine this unit does not have."""
        body = messages.JobEvent(
            machine=order.machine,
            job_order_id=order.job_order_id,
            event=JobEventKind.REJECTED,
            reason=reason,
            occurred_at=datetime.now(UTC),
        )
        self._uplink.send(TopicKind.JOB, order.machine, messages.JobStatus, body)

    async def _cancel(self, body: messages.CancelCommand, command_id: str) -> None:
        control, _ = self._machine(body.machine)
        async with self._locks[body.machine]:
            await control.wait_ready(MACHINE_WAIT_S)
            outcome = await control.job_call("cancel", body.job_order_id)
            if _started(
                outcome
            ):  # OPC 10031-4: Cancel is for waiting job orders, Abort for started
                aborted = await control.job_call("abort", body.job_order_id)
                if aborted.category is not Category.MISMATCH:  # the machine has Abort
                    outcome = aborted
            if outcome.category is Category.REFUSED:
                raise CommandRejected(
                    "cancel_refused", f"{body.job_order_id} on {body.machine}: {outcome.reason}"
                )
            if not outcome.ok:
                category = outcome.category or Category.FAILED
                raise CommandRejected(category.value, f"cancel {command_id}: {outcome.reason}")

    async def _repair(self, body: messages.RepairCommand) -> None:
        control, _ = self._machine(body.machine)
        async with self._locks[body.machine]:
            await control.wait_ready(MACHINE_WAIT_S)
            try:
                done = await control.repair()
            except MachineError as exc:
                raise CommandRejected("machine_unavailable", str(exc)) from exc
        if done is False:
            raise CommandRejected("repair_refused", f"{body.machine} refused the repair")
        _LOGGER.info("Repaired %s (ticket %s)", body.machine, body.ticket_id)


def _started(outcome: CallOutcome) -> bool:
    """Cancel refused because the job order is no longer waiting: it has started."""
    status = outcome.status
    return (
        outcome.category is Category.REFUSED
        and status is not None
        and (ReturnStatus.INVALID_JOB_ORDER_STATUS in status)
    )
