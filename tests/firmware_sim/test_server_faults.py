"""Server-level fault injection: dropped connections, a hung server, a crash and restart.

The tests share one server (starting one takes asyncua seconds) and leave it serving; the crash
test comes last in the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client

from firmware_sim.errors import FaultSpecError
from firmware_sim.server import PlantServer
from protocols.enums import ReturnStatus
from tests.firmware_sim.conftest import (
    connect,
    job_order,
    machine,
    machine_handle,
    make_plant,
    options,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[PlantServer]:
    # A slow tick (its first one runs at start): what a client reads right after a restart
    # then comes from the restart itself, not from a tick that happened to run in between.
    plant = make_plant(machine("mill-1"), update_interval_s=60)
    async with PlantServer(plant, options()) as server:
        yield server


async def inject(client: Client, kind: str, duration_s: float) -> bool:
    m = await machine_handle(client, "mill-1")
    return bool(await m.call("Maintenance", "InjectFault", kind, float(duration_s)))


async def test_disconnect_drops_every_client(server: PlantServer) -> None:
    first = await connect(server.endpoint)
    second = await connect(server.endpoint)
    assert await inject(first, "disconnect", 0)
    for client in (first, second):

        async def dropped(client: Client = client) -> bool:
            try:
                await client.check_connection()
            except Exception:
                return True
            return False

        await eventually(dropped, what="client connection dropped")
    again = await connect(server.endpoint)
    assert await (await machine_handle(again, "mill-1")).state() == "NotExecuting"
    await again.disconnect()


async def test_hang_stops_answering_for_a_while(server: PlantServer) -> None:
    client = await connect(server.endpoint)
    m = await machine_handle(client, "mill-1")
    assert await inject(client, "hang", 2.0)
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await asyncio.wait_for(m.state(), timeout=0.5)
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await asyncio.wait_for(connect(server.endpoint), timeout=0.5)

    async def answers() -> bool:
        try:
            late = await asyncio.wait_for(connect(server.endpoint), timeout=1.0)
        except (TimeoutError, OSError):
            return False
        await late.disconnect()
        return True

    await eventually(answers, what="server answering after the hang")
    await client.disconnect()


async def test_crash_restarts_on_the_same_port(server: PlantServer) -> None:
    client = await connect(server.endpoint)
    m = await machine_handle(client, "mill-1")
    assert await m.job("Store", job_order("K-1", "mill-1")) == int(ReturnStatus.NO_ERROR)
    assert await inject(client, "emergency_stop", 0)  # until Repair
    assert await inject(client, "crash", 0.5)

    async def gone() -> bool:
        return not server.online

    await eventually(gone, what="server down")
    with pytest.raises(FaultSpecError, match="crashed already"):
        await server.inject("crash", 1)
    with pytest.raises(OSError):
        await connect(server.endpoint)

    async def back() -> bool:
        return server.online

    await eventually(back, what="server back", timeout=60)  # a rebuild takes seconds of CPU
    again = await connect(server.endpoint)
    m = await machine_handle(again, "mill-1")
    assert "K-1" in await m.jobs()  # the machine's job list survives its server
    # So does its active alarm: the new server's condition is active, not yet acknowledged.
    estop = await m.child("Alarms", "EmergencyStop")
    assert await (await estop.get_child(["0:ActiveState", "0:Id"])).read_value() is True
    assert await (await estop.get_child(["0:AckedState", "0:Id"])).read_value() is False
    assert await (await estop.get_child("0:Retain")).read_value() is True
    await again.disconnect()
