"""Job orders on a machine: its OPC UA job lists, and the job events derived from their changes.

The machine publishes ``JobOrderList`` and ``JobOrderResponseList`` as JSON strings. Each change is
compared with what was already reported for every job order, and the missing events are queued in
order (``accepted`` → ``started`` → ``progress`` … → ``ended`` or ``aborted``), even when several
steps happened while the gateway was away. What was reported is committed with each event, so a
restarted gateway neither repeats nor skips an event.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import messages
from protocols.enums import JobEventKind, JobOrderState
from protocols.topics import IDENTIFIER_PATTERN, TopicKind

_LOGGER = logging.getLogger(__name__)

ACTIVE = frozenset({JobOrderState.RUNNING, JobOrderState.INTERRUPTED})
WAITING = frozenset({JobOrderState.ALLOWED_TO_START, JobOrderState.NOT_ALLOWED_TO_START})
STARTED_OR_LATER = ACTIVE | {JobOrderState.ENDED}
TERMINAL_PHASES = frozenset({JobEventKind.ENDED, JobEventKind.ABORTED})
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
    """Merge the two JSON lists; entries that do not parse are skipped."""
    responses = {r["job_order_id"]: r for r in _entries(response_list)}
    jobs: dict[str, JobOrderView] = {}
    for entry in _entries(order_list):
        job_id = entry["job_order_id"]
        jobs[job_id] = _view(entry, responses.get(job_id, {}))
    for job_id, response in responses.items():
        if job_id not in jobs:
            jobs[job_id] = _view(response, response)
    return {k: v for k, v in jobs.items() if v is not None}


def _entries(text: Any) -> list[dict[str, Any]]:
    if not isinstance(text, str) or not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [
        e
        for e in data
        if isinstance(e, dict)
        and isinstance(e.get("job_order_id"), str)
        and IDENTIFIER_PATTERN.fullmatch(e["job_order_id"])
    ]


def _view(order: dict[str, Any], response: dict[str, Any]) -> JobOrderView:
    try:
        state = JobOrderState(str(order.get("state") or response.get("state")))
    except ValueError:
        state = JobOrderState.NOT_ALLOWED_TO_START
    return JobOrderView(
        job_order_id=order["job_order_id"],
        state=state,
        planned_duration_s=_number(order.get("planned_duration_s")) or 0.0,
        progress=_fraction(order.get("progress")),
        produced_quantity=_count(response.get("produced_quantity")),
        actual_start=_time(response.get("actual_start")),
        actual_end=_time(response.get("actual_end")),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else min(1.0, max(0.0, number))


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
