"""Job lists → job events: in order, nothing skipped, nothing repeated across restarts."""

from datetime import UTC, datetime
from types import SimpleNamespace as S

from asyncua import ua

from edge.jobs import JobTracker, parse_job_lists
from protocols.enums import JobOrderState
from tests.edge.fakes import Queue

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
END = datetime(2026, 11, 22, 8, 1, tzinfo=UTC)


def state(name: str, number: bool = True) -> list[S]:
    """An ISA95StateDataType[] as a server lists it: the top-level state first."""
    top = JobOrderState(name)
    return [S(StateText=ua.LocalizedText(name), StateNumber=top.number if number else 0)]


def order(job_id: str, name: str, quantity: str = "1", **order_fields) -> S:
    """An ISA95JobOrderAndStateDataType."""
    duration = S(ID="PlannedDuration", Value=ua.Variant(60.0))
    job = S(
        JobOrderID=job_id,
        JobOrderParameters=[duration],
        MaterialRequirements=[S(MaterialUse="Produced", Quantity=quantity)],
        **order_fields,
    )
    return S(JobOrder=job, State=state(name))


def response(job_id: str, name: str, produced: int | None = None, **data) -> S:
    """An ISA95JobResponseDataType."""
    parameters = [S(ID=k, Value=ua.Variant(v)) for k, v in data.items()]
    actuals = [] if produced is None else [S(MaterialUse="Produced", Quantity=str(produced))]
    return S(
        JobOrderID=job_id,
        StartTime=START,
        EndTime=END if name == "Ended" else None,
        JobState=state(name),
        JobResponseData=parameters,
        MaterialActuals=actuals,
    )


def _lists(*jobs: tuple[str, str, float]) -> dict:
    orders = [order(j, s) for j, s, _ in jobs]
    responses = [
        response(j, s, ProducedQuantity=1 if s == "Ended" else 0, Progress=p)
        for j, s, p in jobs
        if s != "AllowedToStart"
    ]
    return parse_job_lists(orders, responses)


def _events(queue: Queue) -> list[tuple[str, str]]:
    return [(b.job_order_id, b.event.value) for b in queue.bodies()]


def test_parse_merges_the_lists_and_skips_garbage():
    jobs = parse_job_lists(
        [order("jo-1", "Running", quantity="4"), order("bad id!", "Running"), "nonsense"],
        [response("jo-1", "Running", produced=1), response("jo-0", "Ended", ProducedQuantity=3)],
    )
    assert set(jobs) == {"jo-1", "jo-0"}
    assert jobs["jo-0"].produced_quantity == 3 and jobs["jo-0"].state is JobOrderState.ENDED
    # No Progress parameter: the produced material against the planned quantity.
    assert jobs["jo-1"].progress == 0.25 and jobs["jo-1"].planned_duration_s == 60
    assert jobs["jo-1"].actual_start == START
    assert parse_job_lists("not a list", None) == {}
    assert parse_job_lists(None, [ua.ExtensionObject()]) == {}


def test_a_count_no_message_may_carry_is_left_out_and_the_job_still_ends(tmp_path):
    """A machine answering a count past what a message carries (or a negative one) has its
    count left out; the job's end is still reported."""
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.25)
    tracker.accepted("jo-1", 1, None)
    for produced in (2**40, -3, 1e300):
        jobs = parse_job_lists(
            [order("jo-1", "Ended", quantity="40")],
            [response("jo-1", "Ended", produced=2**41, ProducedQuantity=produced)],
        )
        assert jobs["jo-1"].produced_quantity is None
    tracker.update(jobs)
    ended = queue.bodies()[-1]
    assert (ended.event.value, ended.produced_quantity) == ("ended", None)
    counted = parse_job_lists(
        [order("jo-2", "Ended", quantity="40")], [response("jo-2", "Ended", ProducedQuantity=40)]
    )
    assert counted["jo-2"].produced_quantity == 40


def test_the_state_comes_from_its_number_or_else_its_text():
    by_text = order("jo-1", "Interrupted")
    by_text.State = state("Interrupted", number=False)
    assert parse_job_lists([by_text], None)["jo-1"].state is JobOrderState.INTERRUPTED
    unknown = order("jo-2", "Running")
    unknown.State = [S(StateText=ua.LocalizedText("Vendor-Busy"), StateNumber=99)]
    assert parse_job_lists([unknown], None)["jo-2"].state is JobOrderState.NOT_ALLOWED_TO_START


def test_a_job_run_gives_accepted_started_progress_ended(tmp_path):
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.25)
    tracker.accepted("jo-1", 1, None)
    for state, progress in [
        ("AllowedToStart", 0.0),
        ("Running", 0.1),
        ("Running", 0.3),
        ("Running", 0.35),
        ("Running", 0.8),
        ("Ended", 1.0),
    ]:
        tracker.update(_lists(("jo-1", state, progress)))
    assert [e for _, e in _events(queue)] == [
        "accepted",
        "started",
        "progress",
        "progress",
        "ended",
    ]
    ended = queue.bodies()[-1]
    assert ended.produced_quantity == 1 and ended.actual_end is not None


def test_steps_missed_while_away_are_reported_in_order(tmp_path):
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.1)
    tracker.update(_lists(("jo-1", "AllowedToStart", 0), ("jo-2", "AllowedToStart", 0)))
    tracker.update(_lists(("jo-1", "Ended", 1.0), ("jo-2", "Aborted", 0)))
    assert _events(queue) == [
        ("jo-1", "accepted"),
        ("jo-2", "accepted"),
        ("jo-1", "started"),
        ("jo-1", "ended"),
        ("jo-2", "aborted"),
    ]


def test_a_job_the_machine_forgot_is_aborted(tmp_path):
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.1)
    tracker.update(_lists(("jo-1", "Running", 0.05)))
    tracker.update(_lists())
    aborted = queue.bodies()[-1]
    assert aborted.event.value == "aborted" and "no longer lists" in aborted.reason
    tracker.update(_lists())
    assert len(queue.bodies()) == 3


def test_a_listing_older_than_the_dispatch_does_not_abort_it(tmp_path):
    # The order list sampled before the Store call returned arrives after `accepted`: it does
    # not list the new job order yet, which is no sign that the machine forgot it.
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.5)
    tracker.accepted("jo-1", 1, None)
    tracker.accepted("jo-2", 1, None)
    tracker.update(_lists(("jo-1", "AllowedToStart", 0)))
    tracker.update(_lists(("jo-1", "Running", 0.1), ("jo-2", "AllowedToStart", 0)))
    tracker.update(_lists(("jo-1", "Ended", 1.0), ("jo-2", "Ended", 1.0)))
    assert _events(queue) == [
        ("jo-1", "accepted"),
        ("jo-2", "accepted"),
        ("jo-1", "started"),
        ("jo-1", "ended"),
        ("jo-2", "started"),
        ("jo-2", "ended"),
    ]
    # Once listed, a job order that disappears is aborted, across a restart too.
    tracker.accepted("jo-3", 1, None)
    tracker.update(_lists(("jo-3", "Running", 0.1)))
    queue.reopen()
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.5)
    tracker.update(_lists())
    assert _events(queue)[-1] == ("jo-3", "aborted")


def test_a_restarted_gateway_neither_repeats_nor_skips(tmp_path):
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.5)
    tracker.update(_lists(("jo-1", "Running", 0.1)))
    queue.reopen()
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.5)
    assert tracker.knows("jo-1")
    tracker.update(_lists(("jo-1", "Running", 0.2)))
    tracker.update(_lists(("jo-1", "Ended", 1.0)))
    assert [e for _, e in _events(queue)] == ["accepted", "started", "ended"]


def test_duplicates_and_rejections(tmp_path):
    queue = Queue(tmp_path)
    tracker = JobTracker("mill-1", queue.uplink, queue.outbox, 0.1)
    tracker.accepted("jo-1", 1, None)
    tracker.accepted("jo-1", 1, None)
    tracker.acknowledge_duplicate("jo-1")
    tracker.rejected("jo-2", "the machine refused: UnableToAcceptJobOrder", 16)
    bodies = queue.bodies()
    assert [b.event.value for b in bodies] == ["accepted", "accepted", "rejected"]
    assert "duplicate" in bodies[1].reason
    assert bodies[2].return_status == 16 and not tracker.knows("jo-2")
