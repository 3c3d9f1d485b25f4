"""The OPC UA address space of one asset, and publishing its state into it.

Node ids are strings in the simulator's namespace, built from the browse path below the
``Machines`` folder joined with dots (``mill-1.Monitoring.SpindleSpeed``), so they are stable
across restarts and readable in any client. See docs/machines.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from asyncua import Node, Server, ua
from asyncua.server.event_generator import EventGenerator

from firmware_sim.alarms import AlarmEvent
from firmware_sim.companion import Namespaces
from firmware_sim.machine import SimMachine
from firmware_sim.profiles import MetricSpec

NAMESPACE_URI = "urn:glonet:firmware-sim"
EVENT_TYPE_NAME = "MachineAlarmEventType"
UNECE_UNITS_URI = "http://www.opcfoundation.org/UA/units/un/cefact"
EVENT_FIELDS = (
    ("AlarmCode", ua.VariantType.String),
    ("Active", ua.VariantType.Boolean),
    ("ConditionId", ua.VariantType.String),
    ("Metric", ua.VariantType.String),
    ("Value", ua.VariantType.Double),
)

MethodCallback = Callable[..., Awaitable[list[ua.Variant]]]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    inputs: Sequence[tuple[str, ua.VariantType, str]]
    outputs: Sequence[tuple[str, ua.VariantType, str]]
    callback: MethodCallback


@dataclass
class MachineNodes:
    """The nodes of one asset that change while the simulation runs."""

    machine: Node
    item_state: Node
    mode: Node
    sim_time: Node
    metrics: dict[str, Node] = field(default_factory=dict)
    job_list: Node | None = None
    response_list: Node | None = None
    generators: list[EventGenerator] = field(default_factory=list)


class AddressSpace:
    """Builds the ``Machines`` folder of one server and writes simulation results into it."""

    def __init__(self, server: Server, idx: int, models: Namespaces) -> None:
        self.server = server
        self.idx = idx
        self.models = models
        self.nodes: dict[str, MachineNodes] = {}
        self._published: dict[ua.NodeId, object] = {}
        self.folder: Node | None = None
        self.event_type: Node | None = None

    async def build_root(self) -> None:
        objects = self.server.nodes.objects
        self.folder = await objects.add_folder(self._id("Machines"), self._qn("Machines"))
        self.event_type = await self._event_type()

    async def _event_type(self) -> Node:
        """``MachineAlarmEventType`` with string node ids (``Server.create_custom_event_type``
        would number them, and they must stay the same across restarts)."""
        base = self.server.get_node(ua.NodeId(ua.Int32(ua.ObjectIds.BaseEventType)))
        event_type = await base.add_object_type(
            self._id(EVENT_TYPE_NAME), self._qn(EVENT_TYPE_NAME)
        )
        for name, vtype in EVENT_FIELDS:
            prop = await event_type.add_property(
                self._id(f"{EVENT_TYPE_NAME}.{name}"),
                self._qn(name),
                ua.get_default_value(vtype),
                varianttype=vtype,
            )
            await prop.set_modelling_rule(True)
        return event_type

    async def add_machine(
        self,
        machine: SimMachine,
        job_methods: Sequence[MethodSpec],
        maintenance: Sequence[MethodSpec],
    ) -> None:
        assert self.folder is not None and self.event_type is not None
        mid = machine.id
        node = await self.folder.add_object(self._id(mid), self._qn(mid))
        await self._identification(node, machine)
        blocks = await self._object(
            node, f"{mid}.MachineryBuildingBlocks", "MachineryBuildingBlocks"
        )
        state = await self._current_state(blocks, mid, "MachineryItemState", machine.item_state)
        mode = await self._current_state(blocks, mid, "MachineryOperationMode", machine.mode)
        sim_time = await self._variable(
            node, f"{mid}.SimulationTime", machine.time, ua.VariantType.DateTime
        )
        nodes = MachineNodes(node, state, mode, sim_time)
        monitoring = await self._object(node, f"{mid}.Monitoring", "Monitoring")
        for spec in machine.profile.metrics:
            nodes.metrics[spec.name] = await self._metric(monitoring, mid, spec, machine)
        if machine.jobs is not None:
            await self._job_management(node, nodes, machine, job_methods)
        maint = await self._object(node, f"{mid}.Maintenance", "Maintenance")
        for method in maintenance:
            await self._method(maint, f"{mid}.Maintenance", method)
        nodes.generators = await self._generators(node)
        self.nodes[mid] = nodes

    # Building blocks --------------------------------------------------------------------------

    async def _identification(self, node: Node, machine: SimMachine) -> None:
        spec, mid = machine.spec, machine.id
        ident = await self._object(node, f"{mid}.Identification", "Identification")
        serial = spec.serial_number or f"SIM-{mid.upper()}"
        fields = {
            "Manufacturer": spec.manufacturer,
            "Model": spec.model or machine.profile.description,
            "SerialNumber": serial,
            "ProductInstanceUri": f"urn:glonet:asset:{spec.manufacturer}:{serial}".replace(
                " ", "-"
            ),
            "AssetKind": machine.profile.kind.value,
            "AssetType": spec.type,
            "Capabilities": json.dumps([c.model_dump(mode="json") for c in spec.capabilities]),
        }
        for name, value in fields.items():
            await self._variable(
                ident, f"{mid}.Identification.{name}", value, ua.VariantType.String
            )

    async def _current_state(self, parent: Node, mid: str, name: str, value: str) -> Node:
        obj = await self._object(parent, f"{mid}.MachineryBuildingBlocks.{name}", name)
        return await self._variable(
            obj,
            f"{mid}.MachineryBuildingBlocks.{name}.CurrentState",
            ua.LocalizedText(value),
            ua.VariantType.LocalizedText,
        )

    async def _metric(self, parent: Node, mid: str, spec: MetricSpec, machine: SimMachine) -> Node:
        path = f"{mid}.Monitoring.{spec.name}"
        var = await self._variable(parent, path, machine.values[spec.name], ua.VariantType.Double)
        await var.add_property(
            self._id(f"{path}.EngineeringUnits"),
            ua.QualifiedName("EngineeringUnits", 0),
            _eu_information(spec),
        )
        await var.add_property(
            self._id(f"{path}.EURange"),
            ua.QualifiedName("EURange", 0),
            ua.Range(Low=spec.low, High=spec.high),
        )
        return var

    async def _job_management(
        self, node: Node, nodes: MachineNodes, machine: SimMachine, methods: Sequence[MethodSpec]
    ) -> None:
        assert machine.jobs is not None
        mid = machine.id
        jm = await self._object(node, f"{mid}.JobManagement", "JobManagement")
        await self._variable(
            jm,
            f"{mid}.JobManagement.MaxDownloadableJobOrders",
            machine.jobs.max_orders,
            ua.VariantType.UInt16,
        )
        nodes.job_list = await self._variable(
            jm, f"{mid}.JobManagement.JobOrderList", "[]", ua.VariantType.String
        )
        nodes.response_list = await self._variable(
            jm, f"{mid}.JobManagement.JobOrderResponseList", "[]", ua.VariantType.String
        )
        for method in methods:
            await self._method(jm, f"{mid}.JobManagement", method)

    async def _generators(self, node: Node) -> list[EventGenerator]:
        """One generator per node a client may subscribe on: the asset, Machines, Server."""
        generators = []
        assert self.folder is not None
        for emitter in (node, self.folder, self.server.nodes.server):
            generator = await self.server.get_event_generator(self.event_type, emitter.nodeid)
            generators.append(generator)
        return generators

    # Publishing -------------------------------------------------------------------------------

    async def publish(self, machine: SimMachine, now: datetime) -> None:
        nodes = self.nodes[machine.id]
        await self._write(nodes.item_state, ua.LocalizedText(machine.item_state.value), now)
        await self._write(nodes.mode, ua.LocalizedText(machine.mode.value), now)
        await self._write(nodes.sim_time, now, now)
        values = machine.published_values()
        if values is not None:
            for name, value in values.items():
                await self._write(nodes.metrics[name], value, now)
        await self.publish_jobs(machine, now)

    async def publish_jobs(self, machine: SimMachine, now: datetime) -> None:
        nodes = self.nodes[machine.id]
        if machine.jobs is None or nodes.job_list is None or nodes.response_list is None:
            return
        await self._write(nodes.job_list, machine.jobs.order_list_json(), now)
        await self._write(nodes.response_list, machine.jobs.response_list_json(), now)

    async def fire(self, event: AlarmEvent) -> None:
        nodes = self.nodes[event.machine_id]
        for generator in nodes.generators:
            ev = generator.event
            ev.SourceNode = nodes.machine.nodeid
            ev.SourceName = event.machine_id
            ev.Severity = event.severity
            ev.AlarmCode = event.code
            ev.Active = event.active
            ev.ConditionId = event.condition_id
            ev.Metric = event.metric
            ev.Value = float(event.value)
            await generator.trigger(time_attr=event.time, message=event.message)

    async def _write(self, node: Node, value: object, now: datetime) -> None:
        """Write a changed value with the simulated ``now`` as its SourceTimestamp.

        Unchanged values are not written again: in OPC UA the SourceTimestamp says when the
        value last changed, and skipping them spares every subscriber a notification.
        """
        if self._published.get(node.nodeid) == value:
            return
        self._published[node.nodeid] = value
        variant_type = _variant_type(value)
        data_value = ua.DataValue(
            Value=ua.Variant(value, variant_type),
            SourceTimestamp=_opc_time(now),
            ServerTimestamp=_opc_time(datetime.now(UTC)),
        )
        await self.server.write_attribute_value(node.nodeid, data_value)

    # Node helpers -----------------------------------------------------------------------------

    def _id(self, path: str) -> ua.NodeId:
        return ua.NodeId(ua.String(path), ua.Int16(self.idx))

    def _qn(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.idx)

    async def _object(self, parent: Node, path: str, name: str) -> Node:
        return await parent.add_object(self._id(path), self._qn(name))

    async def _variable(
        self, parent: Node, path: str, value: object, vtype: ua.VariantType
    ) -> Node:
        return await parent.add_variable(
            self._id(path), self._qn(path.rsplit(".", 1)[-1]), ua.Variant(value, vtype)
        )

    async def _method(self, parent: Node, path: str, method: MethodSpec) -> None:
        await parent.add_method(
            self._id(f"{path}.{method.name}"),
            self._qn(method.name),
            method.callback,
            [_argument(*arg) for arg in method.inputs],
            [_argument(*arg) for arg in method.outputs],
        )


def _variant_type(value: object) -> ua.VariantType:
    """The variant type of a value published by the simulator."""
    if isinstance(value, bool):
        return ua.VariantType.Boolean
    if isinstance(value, float | int):
        return ua.VariantType.Double
    if isinstance(value, datetime):
        return ua.VariantType.DateTime
    if isinstance(value, ua.LocalizedText):
        return ua.VariantType.LocalizedText
    return ua.VariantType.String


def _opc_time(value: datetime) -> ua.DateTime:
    """asyncua's annotations ask for its ``DateTime`` subclass; it encodes any datetime."""
    return cast(ua.DateTime, value)


def _argument(name: str, vtype: ua.VariantType, description: str) -> ua.Argument:
    return ua.Argument(
        Name=name,
        DataType=ua.NodeId(ua.Int32(vtype.value)),
        ValueRank=-1,
        Description=ua.LocalizedText(description),
    )


def _eu_information(spec: MetricSpec) -> ua.EUInformation:
    return ua.EUInformation(
        NamespaceUri=UNECE_UNITS_URI,
        UnitId=_unece_unit_id(spec.unit),
        DisplayName=ua.LocalizedText(spec.symbol),
        Description=ua.LocalizedText(spec.unit),
    )


def _unece_unit_id(code: str) -> int:
    """OPC UA Part 8 UnitId of a UNECE common code: its ASCII bytes packed big-endian."""
    unit_id = 0
    for char in code[:3]:
        unit_id = (unit_id << 8) | ord(char)
    return unit_id
