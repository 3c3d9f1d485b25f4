"""Job control of one machine: a subset of OPC 10031-4 (ISA-95 job order receiver).

``Store`` puts a job order in the list as NotAllowedToStart; ``Start`` (or ``StoreAndStart``)
makes it AllowedToStart. The machine runs one job order at a time, the oldest allowed one
first; an Interrupted one (breakdown, emergency stop) resumes before any other. The effective
duration is the planned duration * the machine's speed factor * a noise factor drawn when the
job starts. A job whose setup family (``SetupFamily``) differs from the one the machine last ran
starts with its change-over, for the seconds its parameters give after that family (as the plan
counts setups, see :func:`protocols.messages.setup_after`): the job runs, producing nothing,
until the machine is changed over. Finished job orders (Ended, Aborted) stay listed with their
response until ``Clear``; only unfinished ones count against the maximum.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from protocols.enums import JobOrderParameter, JobOrderState, ProcessKind, ReturnStatus
from protocols.messages import JobOrder, setup_after
from protocols.topics import IDENTIFIER_PATTERN

_LOGGER = logging.getLogger(__name__)

DURATION_NOISE = 0.05  # lognormal sigma of the actual/planned duration ratio
MAX_FINISHED_KEPT = 50  # finished job orders beyond this are dropped, oldest first
UNFINISHED = frozenset(
    {
        JobOrderState.NOT_ALLOWED_TO_START,
        JobOrderState.ALLOWED_TO_START,
        JobOrderState.RUNNING,
        JobOrderState.INTERRUPTED,
    }
)
WAITING = frozenset({JobOrderState.NOT_ALLOWED_TO_START, JobOrderState.ALLOWED_TO_START})
STARTED = frozenset({JobOrderState.RUNNING, JobOrderState.INTERRUPTED})
DEFAULT_LOAD = 1.0
# Machine load during a change-over (cleaning a booth, changing a nozzle or a fixture): the
# machine is mostly idle while people work on it.
SETUP_LOAD = 0.2


@dataclass
class Job:
    order: JobOrder
    state: JobOrderState
    stored_at: datetime
    duration_s: float = 0.0  # effective duration, fixed when the job first starts
    setup_left_s: float = 0.0  # change-over still to do, fixed when the job first starts
    progress: float = 0.0
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    produced: int = 0
    payload: Any = None
    """The job order as the client stored it, listed back unchanged."""

    @property
    def job_order_id(self) -> str:
        return self.order.job_order_id

    @property
    def load(self) -> float:
        """Machine load while running this job: the ``load`` parameter if given, else 1.0."""
        value = self.order.parameters.get("load", DEFAULT_LOAD)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return DEFAULT_LOAD
        return min(max(float(value), 0.1), 1.5)

    @property
    def has_response(self) -> bool:
        """OPC 40001-3: every job order past AllowedToStart has a job response."""
        return self.actual_start is not None or self.state not in WAITING


@dataclass(frozen=True)
class JobTransition:
    """A job order changed state during a step."""

    job_order_id: str
    state: JobOrderState


@dataclass
class JobStep:
    """What one step of job execution did."""

    busy_s: float = 0.0  # simulated seconds spent executing
    load_s: float = 0.0  # the same, weighted by each job's load
    produced: int = 0  # parts finished during the step
    transitions: list[JobTransition] = field(default_factory=list)

    @property
    def mean_load(self) -> float:
        return self.load_s / self.busy_s if self.busy_s else 0.0


class JobList:
    def __init__(
        self,
        *,
        machine_id: str,
        processes: frozenset[ProcessKind],
        max_orders: int,
        speed_factor: float,
        rng: random.Random,
    ) -> None:
        self.machine_id = machine_id
        self.processes = processes
        self.max_orders = max_orders
        self.speed_factor = speed_factor
        self._rng = rng
        self._jobs: list[Job] = []
        self.family: str | None = None  # the setup family of the last job started

    # Commands ---------------------------------------------------------------------------------

    def store(
        self, order: JobOrder, *, start: bool, now: datetime, payload: Any = None
    ) -> ReturnStatus:
        refusal = self._refusal(order)
        if refusal is not None:
            return refusal
        if self.find(order.job_order_id) is not None:
            _LOGGER.info("%s: job order %s already stored", self.machine_id, order.job_order_id)
            return ReturnStatus.INVALID_JOB_ORDER_STATUS
        if self.unfinished_count() >= self.max_orders:
            _LOGGER.info("%s: job order list full, refused %s", self.machine_id, order.job_order_id)
            return ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
        state = JobOrderState.ALLOWED_TO_START if start else JobOrderState.NOT_ALLOWED_TO_START
        self._jobs.append(Job(order=order, state=state, stored_at=now, payload=payload))
        self._drop_old_finished()
        _LOGGER.info("%s: stored job order %s (%s)", self.machine_id, order.job_order_id, state)
        return ReturnStatus.NO_ERROR

    def start(self, job_order_id: object) -> ReturnStatus:
        job, status = self._lookup(job_order_id)
        if job is None:
            return status
        if job.state is not JobOrderState.NOT_ALLOWED_TO_START:
            return ReturnStatus.INVALID_JOB_ORDER_STATUS
        job.state = JobOrderState.ALLOWED_TO_START
        return ReturnStatus.NO_ERROR

    def cancel(self, job_order_id: object) -> ReturnStatus:
        """OPC 10031-4 Cancel: a job order that has not started (NotAllowed/AllowedToStart)."""
        job, status = self._lookup(job_order_id)
        if job is None:
            return status
        if job.state not in WAITING:
            return ReturnStatus.INVALID_JOB_ORDER_STATUS
        job.state = JobOrderState.ABORTED
        _LOGGER.info("%s: job order %s cancelled", self.machine_id, job.job_order_id)
        return ReturnStatus.NO_ERROR

    def abort(self, job_order_id: object, *, now: datetime) -> ReturnStatus:
        """OPC 10031-4 Abort: a job order that has started (Running or Interrupted)."""
        job, status = self._lookup(job_order_id)
        if job is None:
            return status
        if job.state not in STARTED:
            return ReturnStatus.INVALID_JOB_ORDER_STATUS
        job.actual_end = now
        job.state = JobOrderState.ABORTED
        _LOGGER.info("%s: job order %s aborted", self.machine_id, job.job_order_id)
        return ReturnStatus.NO_ERROR

    def clear(self, job_order_id: object) -> ReturnStatus:
        job, status = self._lookup(job_order_id)
        if job is None:
            return status
        if job.state in UNFINISHED:
            return ReturnStatus.INVALID_JOB_ORDER_STATUS
        self._jobs.remove(job)
        return ReturnStatus.NO_ERROR

    # Execution --------------------------------------------------------------------------------

    def advance(self, *, start: datetime, dt_s: float, can_run: bool) -> JobStep:
        """Run jobs for ``dt_s`` simulated seconds from ``start``.

        Several short jobs can end within one step; each gets its exact end time inside it.
        """
        step = JobStep()
        if not can_run:
            self._interrupt(step.transitions)
            return step
        while step.busy_s < dt_s:
            job = self.running() or self._next(start + timedelta(seconds=step.busy_s), step)
            if job is None:
                break
            if job.setup_left_s > 0:
                used = min(dt_s - step.busy_s, job.setup_left_s)
                job.setup_left_s -= used
                step.busy_s += used
                step.load_s += used * SETUP_LOAD
                continue
            used = min(dt_s - step.busy_s, (1.0 - job.progress) * job.duration_s)
            job.progress = min(1.0, job.progress + used / job.duration_s)
            produced = math.floor(job.progress * job.order.quantity + 1e-9)
            step.produced += produced - job.produced
            job.produced = produced
            step.busy_s += used
            step.load_s += used * job.load
            if job.progress >= 1.0:
                job.state = JobOrderState.ENDED
                job.actual_end = start + timedelta(seconds=step.busy_s)
                step.transitions.append(JobTransition(job.job_order_id, job.state))
        return step

    def _next(self, now: datetime, step: JobStep) -> Job | None:
        candidates = [j for j in self._jobs if j.state is JobOrderState.INTERRUPTED]
        candidates += [j for j in self._jobs if j.state is JobOrderState.ALLOWED_TO_START]
        if not candidates:
            return None
        job = candidates[0]
        if job.actual_start is None:
            job.actual_start = now
            noise = self._rng.lognormvariate(0.0, DURATION_NOISE)
            job.duration_s = job.order.planned_duration_s * self.speed_factor * noise
            job.setup_left_s = setup_after(job.order.parameters, self.family)
            family = job.order.parameters.get(JobOrderParameter.SETUP_FAMILY.value)
            self.family = family if isinstance(family, str) else None
        job.state = JobOrderState.RUNNING
        step.transitions.append(JobTransition(job.job_order_id, job.state))
        return job

    def _interrupt(self, transitions: list[JobTransition]) -> None:
        job = self.running()
        if job is not None:
            job.state = JobOrderState.INTERRUPTED
            transitions.append(JobTransition(job.job_order_id, job.state))

    # Views ------------------------------------------------------------------------------------

    def running(self) -> Job | None:
        return next((j for j in self._jobs if j.state is JobOrderState.RUNNING), None)

    def find(self, job_order_id: str) -> Job | None:
        return next((j for j in self._jobs if j.job_order_id == job_order_id), None)

    def unfinished_count(self) -> int:
        return sum(1 for j in self._jobs if j.state in UNFINISHED)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs))

    # Helpers ----------------------------------------------------------------------------------

    def _refusal(self, order: JobOrder) -> ReturnStatus | None:
        if order.machine != self.machine_id:
            _LOGGER.info("%s: job order is for machine %s", self.machine_id, order.machine)
            return ReturnStatus.INVALID_REQUEST
        if order.process not in self.processes:
            _LOGGER.info("%s: process %s not offered", self.machine_id, order.process)
            return ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
        return None

    def _lookup(self, job_order_id: object) -> tuple[Job | None, ReturnStatus]:
        if not isinstance(job_order_id, str) or not IDENTIFIER_PATTERN.match(job_order_id):
            return None, ReturnStatus.INVALID_REQUEST
        job = self.find(job_order_id)
        if job is None:
            return None, ReturnStatus.UNKNOWN_JOB_ORDER_ID
        return job, ReturnStatus.NO_ERROR

    def _drop_old_finished(self) -> None:
        finished = [j for j in self._jobs if j.state not in UNFINISHED]
        for job in finished[: max(0, len(finished) - MAX_FINISHED_KEPT)]:
            self._jobs.remove(job)
