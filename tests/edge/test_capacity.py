"""Capacity reports: computed from the machine's state and jobs, sent on change only."""

from datetime import UTC, datetime, timedelta

from edge.capacity import CapacityReporter, MachineStatus, capacity_report
from edge.jobs import JobOrderView
from protocols.enums import JobOrderState, MachineryItemState
from tests.edge.fakes import Queue

NOW = datetime(2026, 11, 22, 8, tzinfo=UTC)


def _status(**fields) -> MachineStatus:
    jobs = {
        "jo-1": JobOrderView("jo-1", JobOrderState.RUNNING, 100, progress=0.5),
        "jo-2": JobOrderView("jo-2", JobOrderState.ALLOWED_TO_START, 60),
        "jo-0": JobOrderView("jo-0", JobOrderState.ENDED, 60, progress=1.0),
    }
    values = {
        "connected": True,
        "state": MachineryItemState.EXECUTING,
        "max_job_orders": 5,
        "jobs": jobs,
    }
    return MachineStatus(**{**values, **fields})


def test_report_from_state_and_jobs():
    report = capacity_report("mill-1", _status(), NOW)
    assert report.available and report.running_job_order == "jo-1"
    assert report.stored_job_orders == ["jo-2"] and report.free_slots == 3
    assert report.queue_free_at == NOW + timedelta(seconds=110)


def test_disconnected_or_out_of_service_is_unavailable():
    assert not capacity_report("m", _status(connected=False), NOW).available
    assert capacity_report("m", _status(connected=False), NOW).state.value == "NotAvailable"
    out = _status(state=MachineryItemState.OUT_OF_SERVICE)
    assert not capacity_report("m", out, NOW).available


def test_published_on_change_not_on_every_update(tmp_path):
    queue = Queue(tmp_path)
    reporter = CapacityReporter(queue.uplink, heartbeat_s=60, tolerance_s=60)
    reporter.statuses["mill-1"] = _status()
    reporter.update("mill-1")
    reporter.update("mill-1")
    assert len(queue.sent()) == 1
    reporter.statuses["mill-1"].state = MachineryItemState.NOT_EXECUTING
    reporter.update("mill-1")
    reporter.publish_all()
    assert len(queue.sent()) == 3
    assert all(row.retain for row in queue.outbox.fetch(0, 10))
