"""Commands: dispatch, duplicates, cancel, repair, rebirth; bad input rejected and counted."""

import pytest
from asyncua import ua

from edge.commands import CommandHandler
from edge.job_control import CallOutcome, Category, outcome_of, return_status
from edge.jobs import JobTracker
from protocols import codec, messages
from protocols.enums import ReturnStatus
from tests.edge.fakes import FakeMachine, Queue
from tests.edge.support import dispatch, job_order


class Harness:
    def __init__(self, tmp_path, results=None, listed=()):
        self.queue = Queue(tmp_path)
        self.machine = FakeMachine("mill-1", results)
        self.tracker = JobTracker("mill-1", self.queue.uplink, self.queue.outbox, 0.1)
        self.rebirths = 0
        self.acknowledged = []
        self.handler = CommandHandler(
            controls={"mill-1": self.machine},
            trackers={"mill-1": self.tracker},
            listed_jobs=lambda machine: set(listed),
            rebirth=self._rebirth,
            acknowledge=self._acknowledge,
            uplink=self.queue.uplink,
            metrics=self.queue.metrics,
        )

    def _rebirth(self):
        self.rebirths += 1

    async def _acknowledge(self, command):
        self.acknowledged.append(command)

    async def send(self, body):
        command = messages.Command.create(unit="coordinator", seq=1, body=body)
        await self.handler.handle(codec.encode(command))
        return command

    def rejected(self, reason=None):
        labels = {"reason": reason} if reason else {}
        return self.queue.metrics.value("commands_rejected_total", **labels)

    def events(self):
        return [(b.job_order_id, b.event.value) for b in self.queue.bodies()]


async def test_dispatch_stores_and_starts_and_acknowledges(tmp_path):
    h = Harness(tmp_path)
    await h.send(dispatch(job_order("jo-1"), job_order("jo-2", start=False)))
    assert [c[0] for c in h.machine.calls] == ["store_and_start", "store"]
    stored = h.machine.calls[0][1]
    assert isinstance(stored, messages.JobOrder) and stored.job_order_id == "jo-1"
    assert h.events() == [("jo-1", "accepted"), ("jo-2", "accepted")]
    assert h.queue.bodies()[0].return_status == 1
    assert h.queue.metrics.value("commands_total", kind="dispatch") == 1


async def test_duplicate_dispatch_is_acknowledged_without_storing_twice(tmp_path):
    h = Harness(tmp_path, listed={"jo-9"})
    first = await h.send(dispatch(job_order("jo-1")))
    await h.send(dispatch(job_order("jo-1")))
    await h.send(dispatch(job_order("jo-9")))
    await h.handler.handle(codec.encode(first))  # the same message delivered again
    assert len(h.machine.calls) == 1
    assert h.events() == [("jo-1", "accepted"), ("jo-1", "accepted"), ("jo-9", "accepted")]
    assert "duplicate" in h.queue.bodies()[1].reason


async def test_refusal_is_rejected_with_the_decoded_return_status(tmp_path):
    refused = int(ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER)
    h = Harness(tmp_path, {"store_and_start": refused})
    await h.send(dispatch(job_order("jo-1")))
    body = h.queue.bodies()[0]
    assert body.event.value == "rejected" and body.return_status == refused
    assert "UnableToAcceptJobOrder" in body.reason
    assert h.rejected("return_status") == 1


async def test_unreachable_machine_rejects_the_dispatch(tmp_path):
    h = Harness(tmp_path, {"store_and_start": CallOutcome.unavailable("not connected")})
    await h.send(dispatch(job_order("jo-1")))
    assert h.events() == [("jo-1", "rejected")]
    assert h.queue.bodies()[0].reason.startswith("machine unavailable")
    assert h.rejected("machine_unavailable") == 1


async def test_a_method_that_does_not_fit_is_a_job_control_mismatch(tmp_path):
    bad = outcome_of(
        ua.CallMethodResult(StatusCode=ua.StatusCode(ua.StatusCodes.BadTooManyArguments))
    )
    h = Harness(tmp_path, {"store_and_start": bad})
    await h.send(dispatch(job_order("jo-1")))
    body = h.queue.bodies()[0]
    assert body.event.value == "rejected" and body.return_status is None
    assert "mismatch" in body.reason and "BadTooManyArguments" in body.reason
    assert h.rejected("job_control_mismatch") == 1 and h.rejected("machine_unavailable") == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"schema": "command", "version": "1.0"}',
        b'{"schema": "command", "version": "2.0"}',
        b'{"schema": "alarm", "version": "1.0"}',
        b'{"schema": "command", "version": "1.0", "id": "x", "body": {"kind": "explode"}}',
        b"x" * 300_000,
    ],
)
async def test_malformed_commands_are_rejected_and_counted(tmp_path, payload):
    h = Harness(tmp_path)
    await h.handler.handle(payload)
    assert h.rejected() == 1 and not h.machine.calls and not h.queue.sent()


async def test_commands_for_unknown_machines_are_rejected(tmp_path):
    h = Harness(tmp_path)
    await h.send(dispatch(job_order("jo-1", machine="ghost"), job_order("jo-2")))
    await h.send(messages.CancelCommand(machine="ghost", job_order_id="jo-1"))
    await h.send(messages.RepairCommand(machine="ghost"))
    assert h.rejected("unknown_machine") == 3
    assert h.events() == [("jo-1", "rejected"), ("jo-2", "accepted")]
    assert h.queue.bodies()[0].machine == "ghost" and "no machine" in h.queue.bodies()[0].reason


async def test_cancel_repair_and_rebirth(tmp_path):
    h = Harness(tmp_path, {"cancel": int(ReturnStatus.UNKNOWN_JOB_ORDER_ID), "repair": False})
    await h.send(messages.CancelCommand(machine="mill-1", job_order_id="jo-1"))
    await h.send(messages.RepairCommand(machine="mill-1", ticket_id="T-1"))
    await h.send(messages.RebirthCommand())
    assert [c[0] for c in h.machine.calls] == ["cancel", "repair"]
    assert h.machine.calls[0][1] == "jo-1"
    assert h.rejected("cancel_refused") == 1 and h.rejected("repair_refused") == 1
    assert h.rebirths == 1


def test_return_status_decoding():
    assert return_status(1).ok
    assert return_status(16) == ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
    assert return_status("nonsense") == ReturnStatus.INVALID_REQUEST
    assert return_status(True) == ReturnStatus.INVALID_REQUEST


def _result(code, *outputs):
    variants = [ua.Variant(o, ua.VariantType.UInt64) for o in outputs]
    return outcome_of(ua.CallMethodResult(StatusCode=ua.StatusCode(code), OutputArguments=variants))


@pytest.mark.parametrize(
    ("code", "outputs", "category", "status"),
    [
        (ua.StatusCodes.Good, [1], None, ReturnStatus.NO_ERROR),
        (ua.StatusCodes.Good, [16], Category.REFUSED, ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER),
        # OPC 10031-4 B.2: a refusal may come as Uncertain, still with its ReturnStatus.
        (ua.StatusCodes.Uncertain, [2], Category.REFUSED, ReturnStatus.UNKNOWN_JOB_ORDER_ID),
        (ua.StatusCodes.Good, [], Category.MISMATCH, None),
        (ua.StatusCodes.BadInvalidArgument, [], Category.MISMATCH, None),
        (ua.StatusCodes.BadMethodInvalid, [], Category.MISMATCH, None),
        (ua.StatusCodes.BadArgumentsMissing, [], Category.MISMATCH, None),
        (ua.StatusCodes.BadTimeout, [], Category.UNAVAILABLE, None),
        (ua.StatusCodes.BadSessionClosed, [], Category.UNAVAILABLE, None),
        (ua.StatusCodes.BadUserAccessDenied, [], Category.FAILED, None),
    ],
)
def test_call_results_are_classified(code, outputs, category, status):
    outcome = _result(code, *outputs)
    assert outcome.category is category and outcome.status == status
    assert outcome.ok == (category is None)


async def test_cancel_of_a_started_job_order_falls_back_to_abort(tmp_path):
    # OPC 10031-4: Cancel refuses a job order that has started; Abort ends it.
    h = Harness(tmp_path, {"cancel": int(ReturnStatus.INVALID_JOB_ORDER_STATUS)})
    await h.send(messages.CancelCommand(machine="mill-1", job_order_id="jo-1"))
    assert [c[0] for c in h.machine.calls] == ["cancel", "abort"]
    assert h.rejected() == 0
    missing_abort = CallOutcome(None, Category.MISMATCH, "the receiver has no Abort method")
    h = Harness(tmp_path / "b", {"cancel": 8, "abort": missing_abort})
    await h.send(messages.CancelCommand(machine="mill-1", job_order_id="jo-1"))
    assert h.rejected("cancel_refused") == 1
