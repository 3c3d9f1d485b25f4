"""A real asyncua client against a real plant server: model, monitoring, job control, wear."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import Client, ua

from firmware_sim.server import PlantServer
from protocols.enums import ReturnStatus
from protocols.messages import MAX_JOB_QUANTITY, setup_parameters
from tests.firmware_sim.conftest import (
    JOB_CONTROL,
    OPERATION_MODE,
    TIME_SCALE,
    Collector,
    Machine,
    alarm_code,
    asset,
    is_active,
    isa95_order,
    job_order,
    machine_handle,
    state_of,
    subscribe_alarms,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="package")]

OK = int(ReturnStatus.NO_ERROR)
CLOCK_SKEW = timedelta(seconds=1)
"""How far a reported time may be ahead of the test's clock (the same host's)."""


def _utc(time: datetime) -> datetime:
    """asyncua gives UTC times naive or aware."""
    return time if time.tzinfo is not None else time.replace(tzinfo=UTC)


async def job_state(m: Machine, job_id: str) -> str | None:
    job = (await m.jobs()).get(job_id)
    return None if job is None else state_of(job)


async def wait_job(m: Machine, job_id: str, state: str) -> None:
    async def reached() -> bool:
        return await job_state(m, job_id) == state

    await eventually(reached, what=f"job order {job_id} {state}")


async def test_browse_the_model(client: Client, plant_server: PlantServer) -> None:
    m = await machine_handle(client, "mill-1")
    folder = await client.nodes.objects.get_child(f"{m.idx}:Machines")
    names = {(await n.read_browse_name()).Name for n in await folder.get_children()}
    assert names == set(plant_server.machines)
    assert await m.value("Identification", "Manufacturer") == "DMG MORI"
    assert await m.value("Identification", "AssetKind") == "machine"
    capabilities = json.loads(await m.value("Identification", "Capabilities"))
    assert capabilities == [{"process": "milling", "parameters": {"tolerance_mm": 0.01}}]
    assert await m.state() in {"NotExecuting", "Executing"}
    spindle = await m.child("Monitoring", "SpindleSpeed")
    assert spindle.nodeid == ua.NodeId("mill-1.Monitoring.SpindleSpeed", m.idx)
    units = await (await spindle.get_child("0:EngineeringUnits")).read_value()
    assert units.DisplayName.Text == "1/min"
    control = await m.at(JOB_CONTROL)
    assert await (await m.at(f"{JOB_CONTROL}/isa:MaxDownloadableJobOrders")).read_value() == 3
    store = await control.get_child(f"{m.prefixes['isa']}:Store")
    arguments = await (await store.get_child("0:InputArguments")).read_value()
    assert [a.Name for a in arguments] == ["JobOrder", "Comment"]
    assert arguments[0].DataType == ua.NodeId(3008, m.prefixes["isa"])  # ISA95JobOrderDataType
    outputs = await (await store.get_child("0:OutputArguments")).read_value()
    assert [(a.Name, a.DataType) for a in outputs] == [("ReturnStatus", ua.NodeId(9))]  # UInt64
    methods = {(await n.read_browse_name()).Name for n in await control.get_methods()}
    assert methods == {"Store", "StoreAndStart", "Start", "Cancel", "Abort", "Clear"}
    assert isinstance(await m.value("SimulationTime"), datetime)

    cell = await machine_handle(client, "cell-1")
    assert await cell.value("Identification", "AssetKind") == "product"
    with pytest.raises(ua.UaError):
        await cell.child("JobManagement")


async def test_subscription_sees_values_change(client: Client) -> None:
    m = await machine_handle(client, "mill-2")
    collector = Collector()
    subscription = await client.create_subscription(20, collector)
    vibration = await m.child("Monitoring", "VibrationRms")
    await subscription.subscribe_data_change(vibration)

    async def several_values() -> bool:
        return len({value for _, value, _ in collector.changes}) >= 3

    await eventually(several_values, what="three different vibration values")
    await subscription.delete()
    stamps = [data.monitored_item.Value.SourceTimestamp for _, _, data in collector.changes]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # Stamped with the wall clock, not the (compressed) simulated clock ahead of it.
    assert _utc(stamps[-1]) <= datetime.now(UTC) + CLOCK_SKEW


async def test_stored_job_waits_then_runs_to_end_on_the_simulated_clock(client: Client) -> None:
    """Its duration runs on the simulated clock; its StartTime and EndTime are wall-clock times
    (the simulator compresses durations, never the times it reports)."""
    m = await machine_handle(client, "mill-1")
    before = await m.value("SimulationTime")
    assert await m.job("Store", job_order("J-A", "mill-1", planned_duration_s=1800)) == OK
    first_tick = await m.value("SimulationTime")

    async def later_tick() -> bool:
        return await m.value("SimulationTime") > first_tick

    await eventually(later_tick, what="a simulation tick")
    assert await job_state(m, "J-A") == "NotAllowedToStart"

    assert await m.job("Start", "J-A") == OK
    await wait_job(m, "J-A", "Running")
    await wait_job(m, "J-A", "Ended")
    response = (await m.responses())["J-A"]
    start, end = response.StartTime, response.EndTime
    # Planned 1800 s x speed factor 1.0 x noise (sigma 5 %), on the simulated clock.
    assert 1800 * 0.8 < (end - start).total_seconds() * TIME_SCALE < 1800 * 1.25
    assert before < await m.value("SimulationTime")
    assert start < end and _utc(end) <= datetime.now(UTC) + CLOCK_SKEW
    assert state_of(response) == "Ended" and response.JobState[0].StateNumber == 5
    data = {p.ID: p.Value.Value for p in response.JobResponseData}
    assert data == {"ProducedQuantity": 4, "Progress": 1.0}
    assert [(a.MaterialUse, a.Quantity) for a in response.MaterialActuals] == [("Produced", "4")]
    listed = (await m.jobs())["J-A"]
    assert listed.JobOrder.Description[0].Text == "mill housing"  # the order, listed back
    assert listed.State[0].StateNumber == 5
    assert await m.value("Monitoring", "PartsProduced") >= 4


async def test_second_job_queues_behind_the_first(client: Client) -> None:
    m = await machine_handle(client, "mill-2")
    assert await m.job("StoreAndStart", job_order("Q-1", "mill-2", planned_duration_s=1800)) == OK
    assert await m.job("StoreAndStart", job_order("Q-2", "mill-2", planned_duration_s=600)) == OK
    await wait_job(m, "Q-1", "Running")
    assert await job_state(m, "Q-2") == "AllowedToStart"
    await wait_job(m, "Q-2", "Ended")
    responses = await m.responses()
    assert state_of(responses["Q-1"]) == "Ended"
    assert responses["Q-2"].StartTime >= responses["Q-1"].EndTime


async def test_a_colour_change_runs_before_the_job_that_needs_it(client: Client) -> None:
    # The job orders carry their setup family and change-over rules as the gateway sends them:
    # the grey job after the orange one changes over for an hour (simulated) first.
    m = await machine_handle(client, "mill-2")
    for job_id, colour in (("C-1", "orange"), ("C-2", "grey")):
        order = job_order(
            job_id,
            "mill-2",
            planned_duration_s=600,
            parameters=setup_parameters(colour, {"*": 3600.0}),
        )
        assert await m.job("StoreAndStart", order) == OK
    await wait_job(m, "C-2", "Ended")
    responses = await m.responses()
    first, second = responses["C-1"], responses["C-2"]
    # The responses carry wall-clock times (docs/machines.md, "Time"): plant seconds / scale.
    assert 600 * 0.8 < (first.EndTime - first.StartTime).total_seconds() * TIME_SCALE < 600 * 1.25
    assert second.StartTime >= first.EndTime
    changed_over = (second.EndTime - second.StartTime).total_seconds() * TIME_SCALE
    assert 3600 + 600 * 0.8 < changed_over < 3600 + 750


async def test_abort_a_running_and_cancel_a_waiting_job(client: Client) -> None:
    m = await machine_handle(client, "mill-3")
    assert await m.job("StoreAndStart", job_order("C-1", "mill-3", planned_duration_s=36000)) == OK
    assert await m.job("Store", job_order("C-2", "mill-3")) == OK
    await wait_job(m, "C-1", "Running")
    # OPC 10031-4: Cancel is for job orders that have not started, Abort for started ones.
    assert await m.job("Cancel", "C-1") == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)
    assert await m.job("Abort", "C-2") == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)
    assert await m.job("Abort", "C-1") == OK
    assert await m.job("Cancel", "C-2") == OK
    jobs, responses = await m.jobs(), await m.responses()
    assert state_of(jobs["C-1"]) == state_of(jobs["C-2"]) == "Aborted"
    assert responses["C-1"].EndTime is not None
    # OPC 40001-3: a job order past AllowedToStart has a response, started or not.
    assert responses["C-2"].StartTime is None and state_of(responses["C-2"]) == "Aborted"
    assert await m.job("Cancel", "C-1") == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)
    assert await m.job("Clear", "C-1") == OK
    assert "C-1" not in await m.jobs()

    async def idle() -> bool:
        return await m.state() == "NotExecuting"

    await eventually(idle, what="machine idle after the cancel")


async def test_bad_requests_get_the_right_return_status(client: Client) -> None:
    m = await machine_handle(client, "mill-5")
    invalid = int(ReturnStatus.INVALID_REQUEST)
    order = await m.order_class()
    assert await m.job("Store", isa95_order(order, "X-1", duration_s=None)) == invalid
    assert await m.job("Store", isa95_order(order, "X-1", quantity="0")) == invalid
    assert await m.job("Store", isa95_order(order, "X-1", quantity="many")) == invalid
    # Not a whole number of parts within what a job order may ask: refused, never truncated.
    for hostile in ("1.5", "-40", "NaN", "Infinity", "1e999999", str(MAX_JOB_QUANTITY + 1)):
        assert await m.job("Store", isa95_order(order, "X-1", quantity=hostile)) == invalid
    assert "X-1" not in await m.jobs()
    assert await m.job("Store", isa95_order(order, "bad id!")) == invalid
    unable = int(ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER)
    assert await m.job("Store", isa95_order(order, "X-1", process="welding")) == unable

    assert await m.job("Store", job_order("X-1", "mill-5")) == OK
    duplicate = await m.job("StoreAndStart", job_order("X-1", "mill-5"))
    assert duplicate == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)
    assert await m.job("Start", "X-404") == int(ReturnStatus.UNKNOWN_JOB_ORDER_ID)
    assert await m.job("Cancel", "X-404") == int(ReturnStatus.UNKNOWN_JOB_ORDER_ID)
    assert await m.job("Start", "") == invalid
    assert await m.job("Start", "bad id!") == invalid
    assert await m.job("Clear", "X-1") == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)
    assert await m.job("Start", "X-1") == OK
    assert await m.job("Start", "X-1") == int(ReturnStatus.INVALID_JOB_ORDER_STATUS)


async def test_a_refusal_is_uncertain_and_still_carries_the_return_status(client: Client) -> None:
    """OPC 10031-4 B.2: no Bad call result when a ReturnStatus is returned."""
    m = await machine_handle(client, "mill-5")
    result = await m.job_call(
        "Start", ua.Variant("X-405"), ua.Variant([], ua.VariantType.LocalizedText)
    )
    assert result.StatusCode.value == ua.StatusCodes.Uncertain
    assert result.OutputArguments[0].Value == int(ReturnStatus.UNKNOWN_JOB_ORDER_ID)


async def test_arguments_of_the_wrong_number_or_type_are_bad_call_results(client: Client) -> None:
    m = await machine_handle(client, "mill-5")
    order = isa95_order(await m.order_class(), "W-1")
    comment = ua.Variant([], ua.VariantType.LocalizedText)
    cases = [
        ("Store", [ua.Variant(order), comment, ua.Variant(1)], "BadTooManyArguments"),
        ("Store", [], "BadArgumentsMissing"),
        ("Store", [ua.Variant('{"job_order_id": "W-1"}'), comment], "BadInvalidArgument"),
        ("Store", [ua.Variant(order), ua.Variant("a comment")], "BadInvalidArgument"),
        ("Cancel", [ua.Variant(42), comment], "BadInvalidArgument"),
    ]
    for method, args, expected in cases:
        result = await m.job_call(method, *args)
        assert result.StatusCode.name == expected, (method, args)
        assert not result.OutputArguments
    assert "W-1" not in await m.jobs()


async def test_full_job_list_is_unable_to_accept(client: Client) -> None:
    m = await machine_handle(client, "mill-4")
    assert await m.job("Store", job_order("F-1", "mill-4")) == OK
    assert await m.job("Store", job_order("F-2", "mill-4")) == OK
    refused = await m.job("Store", job_order("F-3", "mill-4"))
    assert refused == int(ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER)
    assert "F-3" not in await m.jobs()
    assert await m.job("Cancel", "F-1") == OK  # a finished job order no longer counts
    assert await m.job("Store", job_order("F-3", "mill-4")) == OK


async def test_wear_raises_alarms_before_breakdown_and_repair_clears(client: Client) -> None:
    m = await machine_handle(client, "worn-1")
    alarms = await subscribe_alarms(client)
    long_job = job_order("W-1", "worn-1", planned_duration_s=360000)
    assert await m.job("StoreAndStart", long_job) == OK

    async def broken() -> bool:
        return "breakdown" in alarms.codes(active=True, source="worn-1")

    await eventually(broken, what="a breakdown alarm")
    raised = [e for e in alarms.events if is_active(e) and asset(e) == "worn-1"]
    codes = [alarm_code(e) for e in raised]
    assert codes.index("tool_wear") < codes.index("breakdown")
    assert "high_vibration" in codes[: codes.index("breakdown")]
    breakdown = raised[codes.index("breakdown")]
    assert breakdown.Severity == 1000 and breakdown.NodeId.Identifier == "worn-1.Alarms.Breakdown"
    assert isinstance(breakdown.Message.Text, str) and breakdown.Message.Text

    async def out_of_service() -> bool:
        return await m.state() == "OutOfService"

    await eventually(out_of_service, what="OutOfService")
    await wait_job(m, "W-1", "Interrupted")
    mode = await m.at(OPERATION_MODE)
    assert (await mode.read_value()).Text == "Maintenance"
    mode_id = await (await mode.get_child("0:Id")).read_value()
    assert (await client.get_node(mode_id).read_browse_name()).Name == "Maintenance"

    assert await m.call("Maintenance", "Repair") is True

    async def cleared() -> bool:
        return "breakdown" in alarms.codes(active=False, source="worn-1")

    await eventually(cleared, what="breakdown cleared")
    await wait_job(m, "W-1", "Running")
    assert await m.state() == "Executing"
    assert await m.value("Monitoring", "ToolWear") < 50
    assert await m.job("Abort", "W-1") == OK
