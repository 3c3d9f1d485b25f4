"""Job orders on a machine: its OPC UA job lists, and the job events derived from their changes.

The machine publishes ``JobOrderList`` and ``JobOrderResponseList`` (OPC 10031-4 structures: state
number, actual times, ``ProducedQuantity`` or the produced material, ``Progress``). Each change is
compared with what was already reported for every job order, and the missing events are queued in
order (``accepted`` → ``started`` → ``progress`` … → ``ended`` or ``aborted``), even when several
steps happened while the gateway was away. What was reported is committed with each event, so a
restarted gateway neither repeats nor skips an event.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import messages
from protocols.enums import MATERIAL_PRODUCED, JobEventKind, JobOrderParameter, JobOrderState
from protocols.topics import IDENTIFIER_PATTERN, TopicKind

_LOGGER = logging.getLogger(__name__)

ACTIVE = frozenset({JobOrderState.RUNNING, JobOrderState.INTERRUPTED})
WAITING = frozenset({JobOrderState.ALLOWED_TO_START, JobOrderState.NOT_ALLOWED_TO_START})
STARTED_OR_LATER = ACTIVE | {JobOrderState.ENDED}
TERMINAL_PHASES = frozenset({JobEventKind.ENDED, JobEventKind.ABORTED})
WAITING_DEFAULT = JobOrderState.NOT_ALLOWED_TO_START
KEEP_FINISHED = 500
"""Finished job order ids remembered per machine, so that a late duplicate dispatch is known."""


@dataclass(frozen=True, slots=True)
class JobOrderView:
    """One job order as the machine lists it (order list merged with its response)."""

    job_order_id: str
    state: JobOrderState
    planned_duration_s: float = 0.0
    progress: float | None = None
    produced_quantity: int | None = None
    actual_start: datetime | None = None
    actual_end: datetime | None = None


def parse_job_lists(order_list: Any, response_list: Any) -> dict[str, JobOrderView]:
    """Merge ``JobOrderList`` (ISA95JobOrderAndStateDataType[]) with ``JobOrderResponseList``
    (ISA95JobResponseDataType[]); entries that are not such structures are skipped."""
    responses = {r.JobOrderID: r for r in _entries(response_list, _response_id)}
    jobs: dict[str, JobOrderView] = {}
    for entry in _entries(order_list, _listed_id):
        job_id = entry.JobOrder.JobOrderID
        jobs[job_id] = _view(job_id, entry.JobOrder, entry.State, responses.get(job_id))
    for job_id, response in responses.items():
        if job_id not in jobs:
            jobs[job_id] = _view(job_id, None, response.JobState, response)
    return jobs


def _entries(value: Any, job_id: Callable[[Any], Any]) -> list[Any]:
    if not isinstance(value, list):
        return []
    return [e for e in value if isinstance(i := job_id(e), str) and IDENTIFIER_PATTERN.fullmatch(i)]


def _listed_id(entry: Any) -> Any:
    return getattr(getattr(entry, "JobOrder", None), "JobOrderID", None)


def _response_id(entry: Any) -> Any:
    return getattr(entry, "JobOrderID", None)


def _view(job_id: str, order: Any, states: Any, response: Any) -> JobOrderView:
    data = _parameters(getattr(response, "JobResponseData", None))
    produced = _count(data.get(JobOrderParameter.PRODUCED_QUANTITY))
    if produced is None:
        produced = _count(_produced(getattr(response, "MaterialActuals", None)))
    planned = _produced(getattr(order, "MaterialRequirements", None))
    progress = _fraction(data.get(JobOrderParameter.PROGRESS))
    if progress is None and produced is not None and planned:
        progress = _fraction(produced / planned)
    return JobOrderView(
        job_order_id=job_id,
        state=_state(states) or _state(getattr(response, "JobState", None)) or WAITING_DEFAULT,
        planned_duration_s=_planned_duration(order),
        progress=progress,
        produced_quantity=produced,
        actual_start=_time(getattr(response, "StartTime", None)),
        actual_end=_time(getattr(response, "EndTime", None)),
    )


def _state(states: Any) -> JobOrderState | None:
    """The top-level state (first entry) by StateNumber, else by its text."""
    if not isinstance(states, list) or not states:
        return None
    top = states[0]
    number = getattr(top, "StateNumber", None)
    if isinstance(number, int) and (state := JobOrderState.from_number(number)) is not None:
        return state
    try:
        return JobOrderState(str(getattr(getattr(top, "StateText", None), "Text", "")))
    except ValueError:
        return None


def _parameters(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, list):
        return {}
    return {
        str(p.ID): getattr(p.Value, "Value", p.Value)
        for p in parameters
        if isinstance(getattr(p, "ID", None), str)
    }


def _produced(materials: Any) -> float | None:
    """The quantity of the ``Produced`` material (a DecimalString)."""
    for material in materials if isinstance(materials, list) else []:
        if getattr(material, "MaterialUse", None) in (MATERIAL_PRODUCED, None):
            try:
                return float(Decimal(str(material.Quantity)))
            except (InvalidOperation, ValueError):
                return None
    return None


def _planned_duration(order: Any) -> float:
    duration = _number(
        _parameters(getattr(order, "JobOrderParameters", None)).get(
            JobOrderParameter.PLANNED_DURATION
        )
    )
    start, end = getattr(order, "StartTime", None), getattr(order, "EndTime", None)
    if duration is None and isinstance(start, datetime) and isinstance(end, datetime):
        duration = (end - start).total_seconds()
    return max(duration or 0.0, 0.0)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else min(1.0, max(0.0, number))


def _count(value: Any) -> int | None:
    """A machine's count of parts, or None when it is no count a message may carry (negative,
    or past ``COUNT_END``): a bad answer is left out, it does not stop the job's events."""
    number = _number(value)
    return None if number is None or not 0 <= number < messages.COUNT_END else int(number)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Reported:
    phase: JobEventKind
    progress_step: int = 0
    listed: bool = True
    """Seen in the machine's order list; False for a job order accepted from a dispatch until a
    listing shows it, since a listing without it may have been sampled before the Store call."""


class JobTracker:
    """What was reported for each job order of one machine, and the next events to report."""

    def __init__(self, machine: str, uplink: Uplink, outbox: Outbox, progress_step: float):
        self.machine = machine
        self._uplink = uplink
        self._step = progress_step
        self._key = f"jobs/{machine}"
        self._reported = self._load(outbox.get_state(self._key))

    def _load(self, text: str | None) -> dict[str, Reported]:
        if not text:
            return {}
        data = json.loads(text)
        return {
            k: Reported(JobEventKind(v["phase"]), v["progress_step"], v.get("listed", True))
            for k, v in data.items()
        }

    def _dump(self) -> str:
        return json.dumps({k: asdict(v) for k, v in self._reported.items()})

    def knows(self, job_order_id: str) -> bool:
        return job_order_id in self._reported

    def accepted(self, job_order_id: str, return_status: int | None, reason: str | None) -> None:
        """The machine stored the job order (or already had it): report ``accepted`` once."""
        if job_order_id in self._reported:
            return
        self._reported[job_order_id] = Reported(JobEventKind.ACCEPTED, listed=False)
        self._emit(
            job_order_id,
            JobEventKind.ACCEPTED,
            return_status=return_status,
            reason=reason,
            state=JobOrderState.ALLOWED_TO_START,
        )

    def acknowledge_duplicate(self, job_order_id: str) -> None:
        """A dispatch of a job order the machine already has: acknowledge it, store nothing."""
        self._emit(
            job_order_id,
            JobEventKind.ACCEPTED,
            reason="duplicate dispatch: the machine already has this job order",
        )

    def rejected(self, job_order_id: str, reason: str, return_status: int | None = None) -> None:
        self._emit(job_order_id, JobEventKind.REJECTED, reason=reason, return_status=return_status)

    def update(self, jobs: dict[str, JobOrderView]) -> None:
        """Report what changed since the last report, in order, for every listed job order."""
        for view in jobs.values():
            self._advance(view)
        for job_order_id in [j for j in self._reported if j not in jobs]:
            reported = self._reported[job_order_id]
            if reported.listed and reported.phase not in TERMINAL_PHASES:
                self._finish(
                    job_order_id,
                    JobEventKind.ABORTED,
                    reason="the machine no longer lists this job order",
                )
        self._forget_old_finished()

    def _advance(self, view: JobOrderView) -> None:
        job_id = view.job_order_id
        if job_id not in self._reported:
            self.accepted(job_id, None, None)
        reported = self._reported[job_id]
        reported.listed = True
        if reported.phase in TERMINAL_PHASES:
            return
        if view.state in STARTED_OR_LATER and reported.phase is JobEventKind.ACCEPTED:
            reported.phase = JobEventKind.STARTED
            self._emit(job_id, JobEventKind.STARTED, view=view)
        if view.state in ACTIVE and view.progress is not None:
            step = math.floor(view.progress / self._step + 1e-9)
            if step > reported.progress_step and view.progress < 1.0:
                reported.progress_step = step
                self._emit(job_id, JobEventKind.PROGRESS, view=view)
        if view.state is JobOrderState.ENDED:
            self._finish(job_id, JobEventKind.ENDED, view=view)
        elif view.state is JobOrderState.ABORTED:
            self._finish(job_id, JobEventKind.ABORTED, view=view)

    def _finish(self, job_id: str, kind: JobEventKind, **details: Any) -> None:
        self._reported[job_id].phase = kind
        self._emit(job_id, kind, **details)

    def _forget_old_finished(self) -> None:
        finished = [k for k, v in self._reported.items() if v.phase in TERMINAL_PHASES]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._reported[job_id]

    def _emit(
        self,
        job_id: str,
        kind: JobEventKind,
        *,
        view: JobOrderView | None = None,
        state: JobOrderState | None = None,
        reason: str | None = None,
        return_status: int | None = None,
    ) -> None:
        body = messages.JobEvent(
            machine=self.machine,
            job_order_id=job_id,
            event=kind,
            state=view.state if view else state,
            reason=reason,
            return_status=return_status,
            progress=view.progress if view else None,
            produced_quantity=view.produced_quantity if view else None,
            actual_start=view.actual_start if view else None,
            actual_end=view.actual_end if view else None,
            occurred_at=datetime.now(UTC),
        )
        self._uplink.send(
            TopicKind.JOB,
            self.machine,
            messages.JobStatus,
            body,
            state={self._key: self._dump()},
        )
