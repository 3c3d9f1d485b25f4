"""Fixtures for the simulator tests: plants built in code, servers on free ports, clients.

Servers run at 3600x (one wall-clock second is one simulated hour) with 50 ms ticks, so jobs
planned in minutes end in a fraction of a second and wear moves visibly within a test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from asyncua import Client, Node, ua

from firmware_sim.address_space import EVENT_TYPE_NAME, NAMESPACE_URI
from firmware_sim.plant import Plant, parse_plant
from firmware_sim.server import PlantServer, ServerOptions
from glonet.broker import free_port

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


def job_order(job_id: str, machine_id: str, **extra: Any) -> str:
    order = {
        "job_order_id": job_id,
        "machine": machine_id,
        "operation": "mill housing",
        "process": "milling",
        "quantity": 4,
        "planned_duration_s": 600,
        **extra,
    }
    return json.dumps(order)


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
        return [
            e.AlarmCode
            for e in self.events
            if (active is None or e.Active == active) and (source is None or e.SourceName == source)
        ]


@dataclass
class Machine:
    """Client-side handles on one machine object."""

    client: Client
    idx: int
    node: Node

    async def child(self, *path: str) -> Node:
        return await self.node.get_child([f"{self.idx}:{p}" for p in path])

    async def call(self, folder: str, method: str, *args: Any) -> Any:
        return await (await self.child(folder)).call_method(f"{self.idx}:{method}", *args)

    async def job(self, method: str, *args: Any) -> int:
        return int(await self.call("JobManagement", method, *args, ""))

    async def state(self) -> str:
        node = await self.child("MachineryBuildingBlocks", "MachineryItemState", "CurrentState")
        return str((await node.read_value()).Text)

    async def value(self, *path: str) -> Any:
        return await (await self.child(*path)).read_value()

    async def jobs(self) -> dict[str, dict[str, Any]]:
        raw = await self.value("JobManagement", "JobOrderList")
        return {j["job_order_id"]: j for j in json.loads(raw)}

    async def responses(self) -> dict[str, dict[str, Any]]:
        raw = await self.value("JobManagement", "JobOrderResponseList")
        return {j["job_order_id"]: j for j in json.loads(raw)}


async def connect(endpoint: str, **kwargs: Any) -> Client:
    client = Client(endpoint, **kwargs)
    await client.connect()
    return client


async def machine_handle(client: Client, machine_id: str) -> Machine:
    idx = await client.get_namespace_index(NAMESPACE_URI)
    node = await client.nodes.objects.get_child([f"{idx}:Machines", f"{idx}:{machine_id}"])
    return Machine(client, idx, node)


async def subscribe_alarms(client: Client, node: Node | None = None) -> Collector:
    idx = await client.get_namespace_index(NAMESPACE_URI)
    collector = Collector()
    subscription = await client.create_subscription(20, collector)
    if node is None:
        node = await client.nodes.objects.get_child(f"{idx}:Machines")
    event_type = client.get_node(ua.NodeId(EVENT_TYPE_NAME, idx))
    await subscription.subscribe_events(node, event_type)
    return collector


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(TICK_S)


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
    )
    async with PlantServer(plant, options()) as server:
        yield server


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def client(plant_server: PlantServer) -> AsyncIterator[Client]:
    client = await connect(plant_server.endpoint)
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
