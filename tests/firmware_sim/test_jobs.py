"""Job list rules on exact simulated times (no server, no waiting)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from firmware_sim.jobs import JobList
from protocols.enums import JobOrderState, ProcessKind, ReturnStatus
from tests.firmware_sim.conftest import job_order

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def job_list(speed_factor: float = 1.0, max_orders: int = 5) -> JobList:
    return JobList(
        machine_id="mill-1",
        processes=frozenset({ProcessKind.MILLING}),
        max_orders=max_orders,
        speed_factor=speed_factor,
        rng=random.Random(1),
    )


def test_short_jobs_ending_within_one_step_get_exact_times() -> None:
    jobs = job_list(speed_factor=2.0)
    for name in ("A", "B"):
        assert jobs.store(job_order(name, "mill-1", planned_duration_s=60), start=True, now=T0)
    step = jobs.advance(start=T0, dt_s=3600, can_run=True)
    a, b = jobs.find("A"), jobs.find("B")
    assert a is not None and b is not None
    assert a.state is b.state is JobOrderState.ENDED
    assert a.actual_start == T0 and a.actual_end == b.actual_start
    assert a.actual_end is not None and b.actual_end is not None
    assert 0.8 * 120 < (a.actual_end - a.actual_start).total_seconds() < 1.25 * 120
    assert abs(step.busy_s - (b.actual_end - T0).total_seconds()) < 1e-3
    assert step.produced == 8


def test_interrupted_job_resumes_first_and_keeps_its_start() -> None:
    jobs = job_list()
    jobs.store(job_order("A", "mill-1", planned_duration_s=600), start=True, now=T0)
    jobs.store(job_order("B", "mill-1", planned_duration_s=600), start=True, now=T0)
    jobs.advance(start=T0, dt_s=100, can_run=True)
    jobs.advance(start=T0 + timedelta(seconds=100), dt_s=100, can_run=False)
    a = jobs.find("A")
    assert a is not None and a.state is JobOrderState.INTERRUPTED
    jobs.advance(start=T0 + timedelta(seconds=200), dt_s=10, can_run=True)
    assert a.state is JobOrderState.RUNNING and a.actual_start == T0
    b = jobs.find("B")
    assert b is not None and b.state is JobOrderState.ALLOWED_TO_START


def test_store_refusals() -> None:
    jobs = job_list(max_orders=1)
    assert jobs.store(job_order("A", "mill-1"), start=False, now=T0) is ReturnStatus.NO_ERROR
    full = jobs.store(job_order("B", "mill-1"), start=False, now=T0)
    assert full is ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
    duplicate = jobs.store(job_order("A", "mill-1"), start=False, now=T0)
    assert duplicate is ReturnStatus.INVALID_JOB_ORDER_STATUS
    another = jobs.store(job_order("C", "mill-2"), start=False, now=T0)
    assert another is ReturnStatus.INVALID_REQUEST
    welding = jobs.store(job_order("D", "mill-1", process="welding"), start=False, now=T0)
    assert welding is ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
