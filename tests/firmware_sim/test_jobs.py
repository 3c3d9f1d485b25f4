"""Job list rules on exact simulated times (no server, no waiting)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from firmware_sim.jobs import JobList
from protocols.enums import JobOrderState, ProcessKind, ReturnStatus
from protocols.messages import JobOrder, setup_parameters
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


def painting(job_id: str, colour: str, **extra: Any) -> JobOrder:
    # Grey after orange: 45 minutes of change-over, 30 after any other colour.
    rules = {"*": 1800.0, "orange": 2700.0} if colour == "grey" else {"*": 1800.0}
    return job_order(
        job_id, "mill-1", planned_duration_s=60, parameters=setup_parameters(colour, rules), **extra
    )


def test_a_change_of_setup_family_takes_its_change_over_first() -> None:
    # Orange, grey, grey: nothing before the first job (the machine's setup is unknown), 45
    # minutes from orange to grey, nothing between two greys; the job runs from its change-over.
    jobs = job_list()
    for job_id, colour in (("A", "orange"), ("B", "grey"), ("C", "grey")):
        jobs.store(painting(job_id, colour), start=True, now=T0)
    jobs.advance(start=T0, dt_s=200, can_run=True)
    a, b, c = (jobs.find(name) for name in "ABC")
    assert a is not None and b is not None and c is not None
    assert a.state is JobOrderState.ENDED and b.state is JobOrderState.RUNNING
    assert b.actual_start == a.actual_end and b.progress == 0.0, "changing over, nothing made"
    # A breakdown during the change-over: it resumes where it stopped.
    jobs.advance(start=T0 + timedelta(seconds=200), dt_s=600, can_run=False)
    jobs.advance(start=T0 + timedelta(seconds=800), dt_s=7200, can_run=True)
    assert b.actual_end is not None and c.actual_start == b.actual_end and c.actual_end
    spans = {
        job.job_order_id: (job.actual_end - job.actual_start).total_seconds() for job in (a, b, c)
    }
    assert 0.8 * 60 < spans["A"] < 1.25 * 60
    assert 2700 + 600 + 0.8 * 60 < spans["B"] < 2700 + 600 + 1.25 * 60
    assert 0.8 * 60 < spans["C"] < 1.25 * 60


def test_a_job_without_a_setup_family_needs_no_change_over() -> None:
    # As the plan counts setups: none after or before a job with no family.
    jobs = job_list()
    jobs.store(painting("A", "orange"), start=True, now=T0)
    jobs.store(job_order("B", "mill-1", planned_duration_s=60), start=True, now=T0)
    jobs.store(painting("C", "grey"), start=True, now=T0)
    jobs.advance(start=T0, dt_s=3600, can_run=True)
    c = jobs.find("C")
    assert c is not None and c.actual_start is not None and c.actual_end is not None
    assert (c.actual_end - c.actual_start).total_seconds() < 1.25 * 60
