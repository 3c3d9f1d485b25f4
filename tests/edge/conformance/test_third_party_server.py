"""The node-opcua press itself, read by a plain asyncua client: what the scenarios rely on.

Its values and StatusCodes follow the control channel, and its ISA-95 job order receiver takes
``ISA95JobOrderDataType``, answers the ReturnStatus bitmask and moves job orders through
AllowedToStart → Running → Ended with produced quantities in JobOrderResponseList.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from asyncua import Client, Node, ua

from protocols.enums import ReturnStatus
from tests.opcua_server import MACHINE, NAMESPACE, AcmePress
from tests.waiting import eventually

pytestmark = pytest.mark.integration
JOB_CONTROL = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/"
MACHINERY = "http://opcfoundation.org/UA/Machinery/"


@dataclass
class Press:
    client: Client
    machine: Node
    receiver: Node
    jc: int
    acme: int

    async def node(self, *names: str) -> Node:
        return await self.machine.get_child([f"{self.acme}:{n}" for n in names])

    async def call(self, method: str, *arguments: Any) -> ReturnStatus:
        node = await self.receiver.get_child(f"{self.jc}:{method}")
        comment = ua.Variant([], ua.VariantType.LocalizedText)
        return ReturnStatus(await self.receiver.call_method(node.nodeid, *arguments, comment))

    async def list_states(self) -> dict[str, str]:
        orders = await (await self.receiver.get_child(f"{self.jc}:JobOrderList")).read_value()
        return {o.JobOrder.JobOrderID: o.State[0].StateText.Text for o in orders}


@pytest.fixture
async def press(acme_press: AcmePress) -> AsyncIterator[Press]:
    async with Client(acme_press.endpoint) as client:
        await client.load_data_type_definitions()
        namespaces = await client.get_namespace_array()
        acme, jc = namespaces.index(NAMESPACE), namespaces.index(JOB_CONTROL)
        machines = f"{namespaces.index(MACHINERY)}:Machines"
        machine = await client.nodes.objects.get_child([machines, f"{acme}:{MACHINE}"])
        receiver = await machine.get_child(f"{acme}:JobOrderControl")
        yield Press(client, machine, receiver, jc, acme)


def job_order(job_id: str, quantity: int) -> Any:
    material = ua.ISA95MaterialDataType(MaterialUse="Produced", Quantity=str(quantity))
    return ua.Variant(ua.ISA95JobOrderDataType(JobOrderID=job_id, MaterialRequirements=[material]))


async def test_values_and_status_codes_follow_the_control_channel(
    press: Press, acme_press: AcmePress
) -> None:
    speed = await press.node("Process", "SpindleSpeed")
    acme_press.set("SpindleSpeed", 1500.0, "BadSensorFailure")  # Bad with a value
    value = await speed.read_data_value(raise_on_bad_status=False)
    assert value.StatusCode.name == "BadSensorFailure" and value.Value.Value == 1500.0
    acme_press.set("SpindleSpeed", None, "BadCommunicationError")  # Bad with null
    value = await speed.read_data_value(raise_on_bad_status=False)
    assert value.StatusCode.name == "BadCommunicationError" and value.Value.Value is None
    acme_press.set("SpindleSpeed", 900.0)
    assert await speed.read_value() == 900.0


async def test_job_orders_run_to_the_end_with_their_quantities(
    press: Press, acme_press: AcmePress
) -> None:
    acme_press.configure(job_seconds=0)  # runs until the test finishes it
    assert await press.call("StoreAndStart", job_order("J-1", 5)) is ReturnStatus.NO_ERROR
    assert await press.call("Store", job_order("J-2", 1)) is ReturnStatus.NO_ERROR
    assert await press.list_states() == {"J-1": "Running", "J-2": "AllowedToStart"}
    assert await press.call("Store", job_order("J-1", 5)) is ReturnStatus.INVALID_JOB_ORDER_STATUS
    assert await press.call("Cancel", "nope") is ReturnStatus.UNKNOWN_JOB_ORDER_ID
    assert await press.call("Cancel", "J-2") is ReturnStatus.NO_ERROR
    acme_press.finish("J-1")
    assert await press.list_states() == {"J-1": "Ended", "J-2": "Aborted"}
    results = await press.node("JobOrderResults")
    responses = await (await results.get_child(f"{press.jc}:JobOrderResponseList")).read_value()
    ended = next(r for r in responses if r.JobOrderID == "J-1")
    assert ended.MaterialActuals[0].Quantity == "5" and ended.EndTime > ended.StartTime
    assert await press.call("Clear", "J-1") is ReturnStatus.NO_ERROR
    assert "J-1" not in await press.list_states()
    assert await (await press.node("Process", "PartsProduced")).read_value() >= 5


async def test_a_full_receiver_refuses_and_a_timed_job_ends_by_itself(
    press: Press, acme_press: AcmePress
) -> None:
    acme_press.configure(job_seconds=0.3, max_job_orders=1)
    assert await press.call("StoreAndStart", job_order("J-3", 2)) is ReturnStatus.NO_ERROR
    refused = await press.call("Store", job_order("J-4", 1))
    assert refused is ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER

    async def ended() -> bool:
        return (await press.list_states()).get("J-3") == "Ended"

    await eventually(ended)
    acme_press.configure(max_job_orders=4)
