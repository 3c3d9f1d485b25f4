"""Machine-level fault injection (InjectFault) does what it says, seen from a real client."""

from __future__ import annotations

import asyncio

import pytest
from asyncua import Client

from firmware_sim.faults import ALARM_BURST_SIZE
from protocols.enums import ReturnStatus
from tests.firmware_sim.conftest import (
    TICK_S,
    asset,
    job_order,
    machine_handle,
    state_of,
    subscribe_alarms,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="package")]


async def inject(client: Client, machine_id: str, kind: str, duration_s: float) -> bool:
    m = await machine_handle(client, machine_id)
    return bool(await m.call("Maintenance", "InjectFault", kind, float(duration_s)))


async def test_freeze_stops_values_then_they_move_again(client: Client) -> None:
    m = await machine_handle(client, "mill-freeze")
    vibration = await m.child("Monitoring", "VibrationRms")
    assert await inject(client, "mill-freeze", "freeze", 1.0)
    await asyncio.sleep(2 * TICK_S)  # the tick under way may still publish
    frozen = await vibration.read_data_value()
    await asyncio.sleep(6 * TICK_S)  # the scenario: six ticks without a new value
    assert await vibration.read_data_value() == frozen

    async def moving() -> bool:
        return (await vibration.read_data_value()).SourceTimestamp != frozen.SourceTimestamp

    await eventually(moving, what="values updating after the freeze")


async def test_out_of_range_values_leave_the_eu_range(client: Client) -> None:
    m = await machine_handle(client, "mill-range")
    temperature = await m.child("Monitoring", "SpindleTemperature")
    eu_range = await (await temperature.get_child("0:EURange")).read_value()
    assert await inject(client, "mill-range", "out_of_range", 1.0)

    async def out_of_range() -> bool:
        return float(await temperature.read_value()) > eu_range.High

    await eventually(out_of_range, what="a value above EURange")

    async def back_in_range() -> bool:
        return eu_range.Low <= float(await temperature.read_value()) <= eu_range.High

    await eventually(back_in_range, what="values back in range")


async def test_alarm_burst_reaches_server_object_subscribers(client: Client) -> None:
    alarms = await subscribe_alarms(client, client.nodes.server)
    assert await inject(client, "mill-burst", "alarm_burst", 0)

    async def whole_burst() -> bool:
        return len(alarms.events) >= 2 * ALARM_BURST_SIZE

    await eventually(whole_burst, what="the whole alarm burst")
    assert len(alarms.codes(active=True)) == len(alarms.codes(active=False)) == ALARM_BURST_SIZE
    assert {asset(e) for e in alarms.events} == {"mill-burst"}


async def test_emergency_stop_interrupts_the_job_until_released(client: Client) -> None:
    m = await machine_handle(client, "mill-estop")
    alarms = await subscribe_alarms(client)
    long_job = job_order("E-1", "mill-estop", planned_duration_s=36000)
    assert await m.job("StoreAndStart", long_job) == int(ReturnStatus.NO_ERROR)

    async def running() -> bool:
        return state_of((await m.jobs())["E-1"]) == "Running"

    await eventually(running, what="job running")
    assert await inject(client, "mill-estop", "emergency_stop", 1.0)

    async def stopped() -> bool:
        return (
            await m.state() == "NotAvailable" and state_of((await m.jobs())["E-1"]) == "Interrupted"
        )

    await eventually(stopped, what="machine NotAvailable, job Interrupted")

    async def alarm_raised() -> bool:
        return alarms.codes(active=True, source="mill-estop") == ["emergency_stop"]

    await eventually(alarm_raised, what="emergency_stop alarm event")

    await eventually(running, what="job running again after the e-stop is released")

    async def alarm_cleared() -> bool:
        return "emergency_stop" in alarms.codes(active=False, source="mill-estop")

    await eventually(alarm_cleared, what="emergency_stop cleared")


async def test_injected_breakdown_needs_a_repair(client: Client) -> None:
    m = await machine_handle(client, "mill-broken")
    alarms = await subscribe_alarms(client)
    assert await inject(client, "mill-broken", "breakdown", 0)

    async def out_of_service() -> bool:
        return await m.state() == "OutOfService"

    await eventually(out_of_service, what="OutOfService")
    await asyncio.sleep(4 * TICK_S)  # the scenario: four ticks without self-healing
    assert await m.state() == "OutOfService"
    assert await m.call("Maintenance", "Repair") is True

    async def repaired() -> bool:
        return await m.state() == "NotExecuting" and "breakdown" in alarms.codes(
            active=False, source="mill-broken"
        )

    await eventually(repaired, what="repaired")


async def test_bad_fault_requests_are_refused(client: Client) -> None:
    assert not await inject(client, "mill-bad", "meteor_strike", 1)
    assert not await inject(client, "mill-bad", "freeze", -1)
    assert not await inject(client, "mill-bad", "freeze", float("nan"))
    m = await machine_handle(client, "mill-bad")
    assert await m.state() == "NotExecuting"
