"""Fixtures for the simulator tests: plants built in code, servers on free ports, clients.

Servers run at 3600x (one wall-clock second is one simulated hour) with 50 ms ticks, so jobs
planned in minutes end in a fraction of a second and wear moves visibly within a test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from asyncua import Client, Node, ua

from firmware_sim.address_space import NAMESPACE_URI
from firmware_sim.companion import ISA95_JOB_CONTROL_URI, MACHINERY_JOBS_URI, MACHINERY_URI
from firmware_sim.plant import Plant, parse_plant
from firmware_sim.server import PlantServer, ServerOptions
from glonet.broker import free_port
from protocols.messages import JobOrder

TIME_SCALE = 3600.0
TICK_S = 0.05
WAIT_S = 20.0  # upper bound for anything a test waits for (never a timing assertion)


def machine(
    machine_id: str, type_: str = "cnc_mill", process: str = "milling", **extra: Any
) -> dict[str, Any]:
    return {
        "id": machine_id,
        "type": type_,
        "capabilities": [{"process": process, "parameters": {"tolerance_mm": 0.01}}],
        **extra,
    }


def plant_data(*machines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "unit": "test-plant",
        "name": "Test plant",
        "location": {"lat": 44.5, "lon": 11.3},
        "port": 4840,
        "update_interval_s": TICK_S,
        "machines": list(machines),
        **extra,
    }


def make_plant(*machines: dict[str, Any], **extra: Any) -> Plant:
    return parse_plant(plant_data(*machines, **extra))


def options(**extra: Any) -> ServerOptions:
    return ServerOptions(time_scale=TIME_SCALE, seed=7, port=free_port(), **extra)


JOB_CONTROL = "ma:MachineryBuildingBlocks/mj:JobManagement/mj:JobOrderControl"
JOB_RESULTS = "ma:MachineryBuildingBlocks/mj:JobManagement/mj:JobOrderResults"
ITEM_STATE = "ma:MachineryBuildingBlocks/ma:MachineryItemState/0:CurrentState"
OPERATION_MODE = "ma:MachineryBuildingBlocks/ma:MachineryOperationMode/0:CurrentState"
ISA95_JOB_ORDER = 3008  # ISA95JobOrderDataType in the job control namespace


def job_order(job_id: str, machine_id: str, **extra: Any) -> JobOrder:
    order = {
        "job_order_id": job_id,
        "machine": machine_id,
        "operation": "mill housing",
        "process": "milling",
        "quantity": 4,
        "planned_duration_s": 600,
        **extra,
    }
    return JobOrder.model_validate(order)


def isa95_order(
    cls: type,
    job_id: str,
    *,
    operation: str = "mill housing",
    process: str = "milling",
    quantity: str = "4",
    duration_s: float | None = 600.0,
    parameters: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Any:
    """An ISA95JobOrderDataType as a plain asyncua client builds it, field by field
    (``parameters``: more scalar job order parameters, as the gateway sends them)."""
    work_master = ua.extension_objects_by_datatype[
        ua.NodeId(3007, cls.data_type.NamespaceIndex)  # type: ignore[attr-defined]
    ]
    parameter = ua.extension_objects_by_datatype[
        ua.NodeId(3003, cls.data_type.NamespaceIndex)  # type: ignore[attr-defined]
    ]
    material = ua.extension_objects_by_datatype[
        ua.NodeId(3010, cls.data_type.NamespaceIndex)  # type: ignore[attr-defined]
    ]
    listed = [
        parameter(ID=name, Value=ua.Variant(value)) for name, value in (parameters or {}).items()
    ]
    if duration_s is not None:
        listed.append(
            parameter(ID="PlannedDuration", Value=ua.Variant(duration_s, ua.VariantType.Double))
        )
    return cls(
        JobOrderID=job_id,
        Description=[ua.LocalizedText(operation)],
        WorkMasterID=[work_master(ID=process)],
        JobOrderParameters=listed,
        MaterialRequirements=[material(MaterialUse="Produced", Quantity=quantity)],
        **fields,
    )


@dataclass
class Collector:
    """Subscription handler that keeps every data change and event."""

    changes: list[tuple[Node, Any, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.changes.append((node, value, data))

    def event_notification(self, event: Any) -> None:
        self.events.append(event)

    def codes(self, active: bool | None = None, source: str | None = None) -> list[str]:
        """The alarm codes (ConditionName slugged) of the condition events, in order;
        ``source`` is the machine (its conditions are ``<machine>.Alarms.<Name>``)."""
        return [
            alarm_code(e)
            for e in self.events
            if (active is None or is_active(e) == active) and (source is None or asset(e) == source)
        ]


def alarm_code(event: Any) -> str:
    return str(event.ConditionName).lower().replace(" ", "_")


def is_active(event: Any) -> bool:
    return bool(getattr(event, "ActiveState/Id"))


def asset(event: Any) -> str:
    """The machine of a condition event, from its ConditionId."""
    return str(event.NodeId.Identifier).split(".", 1)[0]


@dataclass
class Machine:
    """Client-side handles on one machine object."""

    client: Client
    idx: int
    node: Node
    prefixes: dict[str, int]

    async def child(self, *path: str) -> Node:
        return await self.node.get_child([f"{self.idx}:{p}" for p in path])

    async def at(self, path: str) -> Node:
        """The node at a browse path of ``prefix:Name`` segments (sim, ma, mj, isa, 0)."""
        segments = []
        for segment in path.split("/"):
            prefix, name = segment.split(":")
            segments.append(f"{self.prefixes.get(prefix, prefix)}:{name}")
        return await self.node.get_child(segments)

    async def call(self, folder: str, method: str, *args: Any) -> Any:
        return await (await self.child(folder)).call_method(f"{self.idx}:{method}", *args)

    async def job_call(self, method: str, *args: ua.Variant) -> ua.CallMethodResult:
        """Call a job control method; the result as the server sent it (Uncertain included)."""
        control = await self.at(JOB_CONTROL)
        method_node = await control.get_child(f"{self.prefixes['isa']}:{method}")
        request = ua.CallMethodRequest(
            ObjectId=control.nodeid, MethodId=method_node.nodeid, InputArguments=list(args)
        )
        return (await self.client.uaclient.call([request]))[0]

    async def job(self, method: str, target: JobOrder | str | Any) -> int:
        """ReturnStatus of a job control call with a job order (or id) and an empty comment."""
        if isinstance(target, JobOrder):
            target = isa95_order(
                await self.order_class(),
                target.job_order_id,
                operation=target.operation,
                process=target.process.value,
                quantity=str(target.quantity),
                duration_s=target.planned_duration_s,
                parameters=target.parameters,
            )
        first = ua.Variant(target, ua.VariantType.String if isinstance(target, str) else None)
        result = await self.job_call(method, first, ua.Variant([], ua.VariantType.LocalizedText))
        assert not result.StatusCode.is_bad(), result.StatusCode
        assert result.StatusCode.is_good() == (result.OutputArguments[0].Value == 1)
        return int(result.OutputArguments[0].Value)

    async def order_class(self) -> type:
        return ua.extension_objects_by_datatype[ua.NodeId(ISA95_JOB_ORDER, self.prefixes["isa"])]

    async def state(self) -> str:
        return str((await (await self.at(ITEM_STATE)).read_value()).Text)

    async def value(self, *path: str) -> Any:
        return await (await self.child(*path)).read_value()

    async def jobs(self) -> dict[str, Any]:
        """The JobOrderList entries (ISA95JobOrderAndStateDataType) by job order id."""
        entries = await (await self.at(f"{JOB_CONTROL}/isa:JobOrderList")).read_value()
        return {e.JobOrder.JobOrderID: e for e in entries or []}

    async def responses(self) -> dict[str, Any]:
        """The JobOrderResponseList entries (ISA95JobResponseDataType) by job order id."""
        entries = await (await self.at(f"{JOB_RESULTS}/isa:JobOrderResponseList")).read_value()
        return {e.JobOrderID: e for e in entries or []}


def state_of(entry: Any) -> str:
    """The top-level state of a JobOrderList or JobOrderResponseList entry."""
    states = getattr(entry, "State", None) or entry.JobState
    return str(states[0].StateText.Text)


async def connect(endpoint: str, **kwargs: Any) -> Client:
    client = Client(endpoint, **kwargs)
    await client.connect()
    return client


async def machine_handle(client: Client, machine_id: str) -> Machine:
    uris = await client.get_namespace_array()
    idx = uris.index(NAMESPACE_URI)
    prefixes = {
        "sim": idx,
        "ma": uris.index(MACHINERY_URI),
        "mj": uris.index(MACHINERY_JOBS_URI),
        "isa": uris.index(ISA95_JOB_CONTROL_URI),
    }
    node = await client.nodes.objects.get_child([f"{idx}:Machines", f"{idx}:{machine_id}"])
    return Machine(client, idx, node, prefixes)


async def subscribe_alarms(client: Client, node: Node | None = None) -> Collector:
    idx = await client.get_namespace_index(NAMESPACE_URI)
    collector = Collector()
    subscription = await client.create_subscription(20, collector)
    if node is None:
        node = await client.nodes.objects.get_child(f"{idx}:Machines")
    event_type = client.get_node(ua.NodeId(ua.ObjectIds.AlarmConditionType))
    await subscription.subscribe_events(node, event_type)
    return collector


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def plant_server() -> AsyncIterator[PlantServer]:
    """One plant shared by the model and machine-fault tests (starting a server costs seconds
    of CPU): every test drives machines of its own."""
    plant = make_plant(
        machine("mill-1", max_job_orders=3, manufacturer="DMG MORI", model="DMU 65"),
        *(machine(f"mill-{n}") for n in (2, 3, 5)),
        machine("mill-4", max_job_orders=2),
        machine("worn-1", initial_wear=0.6, wear_rate_per_hour=0.5),
        machine("cell-1", "robotic_cell", "assembly"),
        *(machine(f"mill-{fault}") for fault in ("freeze", "range", "burst", "estop", "broken")),
        machine("mill-bad"),
        machine("mill-alarm"),
    )
    async with PlantServer(plant, options()) as server:
        yield server


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def client(plant_server: PlantServer) -> AsyncIterator[Client]:
    client = await connect(plant_server.endpoint)
    await client.load_data_type_definitions()
    yield client
    await client.disconnect()


@pytest_asyncio.fixture
async def running() -> AsyncIterator[Callable[..., Awaitable[PlantServer]]]:
    """Start plant servers for one test; all are stopped afterwards."""
    servers: list[PlantServer] = []

    async def start(plant: Plant, opts: ServerOptions | None = None) -> PlantServer:
        server = PlantServer(plant, opts or options())
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
