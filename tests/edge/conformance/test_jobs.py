"""Standard job control (OPC 10031-4) on any compliant server: the gateway dispatches an
``ISA95JobOrderDataType``, follows JobOrderList and JobOrderResults, and says why it refuses.

Each server runs in module scope and the scenarios share it, so each one uses its own job order
ids and leaves no unfinished job order behind (the receiver's list has a maximum).
"""

from __future__ import annotations

import pytest

from protocols import messages
from protocols.enums import ReturnStatus
from tests.edge.conformance.servers import JOB_SERVERS, JobServer
from tests.edge.support import Coordinator, GatewayProcess, dispatch, job_order
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", JOB_SERVERS, indirect=True),
]
WAIT_S = 30.0


def events(observer: Coordinator, job_id: str) -> list[messages.JobEvent]:
    return observer.job_events(job_id)


def kinds(observer: Coordinator, job_id: str) -> list[str]:
    return [e.event.value for e in events(observer, job_id)]


def reached(observer: Coordinator, job_id: str, kind: str) -> messages.JobEvent:
    """The first ``kind`` event of a job order, once it has arrived."""

    def find() -> list[messages.JobEvent]:
        return [e for e in events(observer, job_id) if e.event.value == kind]

    return wait_until(find, WAIT_S, f"{job_id} {kind}")[0]


def reached_any(observer: Coordinator, job_id: str, kinds: set[str]) -> messages.JobEvent:
    def find() -> list[messages.JobEvent]:
        return [e for e in events(observer, job_id) if e.event.value in kinds]

    return wait_until(find, WAIT_S, f"{job_id} {' or '.join(sorted(kinds))}")[0]


def stored(observer: Coordinator, server: JobServer) -> list[str]:
    """The waiting job orders of the newest capacity report of the machine."""
    reports = [m.body for m in observer.messages(messages.Capacity)]
    mine = [r for r in reports if r.machine == server.machine]
    return list(mine[-1].stored_job_orders) if mine else []


def order(server: JobServer, job_id: str, **fields: object) -> messages.JobOrder:
    values = {"machine": server.machine, "process": server.process, "planned_duration_s": 120.0}
    return job_order(job_id, **{**values, **fields})


@pytest.fixture(scope="module")
def connected(server: JobServer, gateway: GatewayProcess) -> GatewayProcess:
    wait_until(lambda: gateway.health()["machines"][server.machine]["connected"], WAIT_S)
    return gateway


def test_dispatch_is_accepted_started_and_ended_with_quantities(
    server: JobServer, observer: Coordinator, connected: GatewayProcess
) -> None:
    observer.send(dispatch(order(server, "cf-run", quantity=3, order_id="SO-1")))
    ended = reached(observer, "cf-run", "ended")
    assert kinds(observer, "cf-run")[:2] == ["accepted", "started"]
    assert set(kinds(observer, "cf-run")[2:-1]) <= {"progress"}
    accepted = events(observer, "cf-run")[0]
    assert accepted.return_status == int(ReturnStatus.NO_ERROR)
    assert ended.produced_quantity == 3
    assert ended.actual_start is not None and ended.actual_end is not None
    assert ended.actual_start <= ended.actual_end


def test_cancel_a_waiting_and_a_running_job_order(
    server: JobServer, observer: Coordinator, connected: GatewayProcess
) -> None:
    server.hold_jobs(True)
    try:
        observer.send(dispatch(order(server, "cf-long", planned_duration_s=36000)))
        observer.send(dispatch(order(server, "cf-wait", start=False)))
        reached(observer, "cf-long", "started")
        reached(observer, "cf-wait", "accepted")
        for job_id in ("cf-wait", "cf-long"):
            observer.send(messages.CancelCommand(machine=server.machine, job_order_id=job_id))
        assert reached(observer, "cf-wait", "aborted").state is not None
        aborted = reached(observer, "cf-long", "aborted")
    finally:
        server.hold_jobs(False)
    assert aborted.actual_start is not None
    assert "ended" not in kinds(observer, "cf-long")


def test_a_full_receiver_rejects_with_the_reason_and_its_category(
    server: JobServer, observer: Coordinator, connected: GatewayProcess
) -> None:
    ids = [f"cf-full-{n}" for n in range(server.max_job_orders + 1)]
    observer.send(dispatch(*(order(server, job_id, start=False) for job_id in ids)))
    answers = {job_id: reached_any(observer, job_id, {"accepted", "rejected"}) for job_id in ids}
    accepted = [j for j, e in answers.items() if e.event.value == "accepted"]
    rejected = [e for e in answers.values() if e.event.value == "rejected"]
    assert 0 < len(accepted) <= server.max_job_orders and rejected
    for event in rejected:
        assert event.return_status is not None
        assert ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER in ReturnStatus(event.return_status)
        assert event.reason is not None and "refused" in event.reason
        assert "UnableToAcceptJobOrder" in event.reason
    assert connected.metric("commands_rejected_total", reason="return_status") >= 1
    assert connected.metric("commands_rejected_total", reason="machine_unavailable") == 0
    for job_id in accepted:  # leave the list as it was
        observer.send(messages.CancelCommand(machine=server.machine, job_order_id=job_id))
        reached(observer, job_id, "aborted")


def test_a_duplicate_dispatch_is_acknowledged_and_stored_once(
    server: JobServer, observer: Coordinator, connected: GatewayProcess
) -> None:
    first = order(server, "cf-dup", start=False)
    observer.send(dispatch(first))
    reached(observer, "cf-dup", "accepted")
    observer.send(dispatch(first))
    wait_until(lambda: kinds(observer, "cf-dup").count("accepted") == 2, WAIT_S, "the repeat")
    assert "duplicate" in (events(observer, "cf-dup")[1].reason or "")
    # The machine lists it once: the gateway's capacity report shows one stored job order.
    wait_until(lambda: "cf-dup" in stored(observer, server), WAIT_S, "cf-dup listed")
    assert stored(observer, server).count("cf-dup") == 1
    observer.send(messages.CancelCommand(machine=server.machine, job_order_id="cf-dup"))
    reached(observer, "cf-dup", "aborted")
