"""The OPC UA address space of one asset, and publishing its state into it.

Node ids are strings in the simulator's namespace, built from the browse path below the
``Machines`` folder joined with dots (``mill-1.Monitoring.SpindleSpeed``), so they are stable
across restarts and readable in any client. See docs/machines.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import cast

from asyncua import Node, Server, ua

from firmware_sim.alarms import AlarmEvent
from firmware_sim.companion import (
    ITEM_STATE_TYPE,
    JOB_MANAGEMENT_TYPE,
    JOB_RESPONSE_TYPE,
    MACHINES_FOLDER,
    OPERATION_MODE_TYPE,
    RECEIVER_TYPE,
    Namespaces,
)
from firmware_sim.conditions import FLAGS, ConditionBook
from firmware_sim.job_control import JobReceiver
from firmware_sim.machine import SimMachine
from firmware_sim.profiles import MetricSpec

NAMESPACE_URI = "urn:glonet:firmware-sim"
UNECE_UNITS_URI = "http://www.opcfoundation.org/UA/units/un/cefact"

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
    item_state: StateMachine
    mode: StateMachine
    sim_time: Node
    metrics: dict[str, Node] = field(default_factory=dict)
    flags: dict[str, Node] = field(default_factory=dict)
    """The Boolean inputs of the OffNormal conditions, by alarm code."""
    job_list: Node | None = None
    response_list: Node | None = None
    receiver: JobReceiver | None = None


@dataclass(frozen=True)
class StateMachine:
    """An instance of an OPC 40001-1 state machine: CurrentState, its Id, the type's states."""

    current: Node
    current_id: Node
    states: dict[str, ua.NodeId]


class AddressSpace:
    """Builds the ``Machines`` folder of one server and writes simulation results into it."""

    def __init__(
        self,
        server: Server,
        idx: int,
        models: Namespaces,
        stamp: Callable[[datetime], datetime] = lambda plant: plant,
    ) -> None:
        self.server = server
        self._stamp = stamp
        """The wall-clock time of a simulated (plant) time: what SourceTimestamps and event
        times say (:meth:`firmware_sim.clock.SimClock.wall`)."""
        self.idx = idx
        self.models = models
        self.nodes: dict[str, MachineNodes] = {}
        self._published: dict[ua.NodeId, object] = {}
        self.folder: Node | None = None
        self.conditions = ConditionBook(server, idx)
        self._states: dict[int, dict[str, ua.NodeId]] = {}

    async def build_root(self) -> None:
        objects = self.server.nodes.objects
        self.folder = await objects.add_folder(self._id("Machines"), self._qn("Machines"))
        await self.conditions.install([self.folder, self.server.nodes.server])
        for type_id in (ITEM_STATE_TYPE, OPERATION_MODE_TYPE):
            self._states[type_id] = await self._state_ids(type_id)

    async def _state_ids(self, type_id: int) -> dict[str, ua.NodeId]:
        """The states of a Machinery state machine type, by name (CurrentState/Id points there)."""
        machine_type = self.server.get_node(self.models.machinery_id(type_id))
        children = await machine_type.get_children(refs=ua.ObjectIds.HasComponent)
        states: dict[str, ua.NodeId] = {}
        for child in children:
            if await child.read_type_definition() == ua.NodeId(ua.Int32(ua.ObjectIds.StateType)):
                states[str((await child.read_browse_name()).Name)] = child.nodeid
        return states

    async def add_machine(
        self,
        machine: SimMachine,
        receiver: JobReceiver | None,
        maintenance: Sequence[MethodSpec],
    ) -> None:
        assert self.folder is not None
        mid = machine.id
        node = await self.folder.add_object(self._id(mid), self._qn(mid))
        # OPC 40001-1: every machine is also found in the Machinery ``Machines`` folder.
        machines = self.server.get_node(self.models.machinery_id(MACHINES_FOLDER))
        await machines.add_reference(node.nodeid, ua.ObjectIds.Organizes)
        await self._identification(node, machine)
        blocks = await node.add_object(
            self._id(f"{mid}.MachineryBuildingBlocks"),
            self._machinery_qn("MachineryBuildingBlocks"),
        )
        state = await self._state_machine(blocks, mid, "MachineryItemState", ITEM_STATE_TYPE)
        mode = await self._state_machine(blocks, mid, "MachineryOperationMode", OPERATION_MODE_TYPE)
        sim_time = await self._variable(
            node, f"{mid}.SimulationTime", machine.time, ua.VariantType.DateTime
        )
        nodes = MachineNodes(node, state, mode, sim_time)
        monitoring = await self._object(node, f"{mid}.Monitoring", "Monitoring")
        for spec in machine.profile.metrics:
            nodes.metrics[spec.name] = await self._metric(monitoring, mid, spec, machine)
        if receiver is not None:
            await self._job_management(blocks, nodes, receiver)
        maint = await self._object(node, f"{mid}.Maintenance", "Maintenance")
        for method in maintenance:
            await self._method(maint, f"{mid}.Maintenance", method)
        await self._conditions(node, nodes, machine)
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

    async def _state_machine(self, parent: Node, mid: str, name: str, type_id: int) -> StateMachine:
        obj = await parent.add_object(
            self._id(f"{mid}.MachineryBuildingBlocks.{name}"),
            self._machinery_qn(name),
            objecttype=self.models.machinery_id(type_id),
        )
        current = await obj.get_child("0:CurrentState")
        return StateMachine(current, await current.get_child("0:Id"), self._states[type_id])

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
        self, blocks: Node, nodes: MachineNodes, receiver: JobReceiver
    ) -> None:
        """OPC 40001-3 JobManagement: JobOrderControl (an OPC 10031-4 job order receiver with
        Store, StoreAndStart, Start, Cancel and Clear) and JobOrderResults (the responses)."""
        models, mid = self.models, receiver.machine_id
        qn = ua.QualifiedName("JobManagement", models.machinery_jobs)
        management = await blocks.add_object(
            self._id(f"{mid}.JobManagement"), qn, objecttype=models.jobs_id(JOB_MANAGEMENT_TYPE)
        )
        control = await management.get_child(f"{models.machinery_jobs}:JobOrderControl")
        results = await management.get_child(f"{models.machinery_jobs}:JobOrderResults")
        receiver_type = self.server.get_node(models.job_control_id(RECEIVER_TYPE))
        for name, callback in receiver.methods().items():
            declaration = await receiver_type.get_child(f"{models.job_control}:{name}")
            inputs = await (await declaration.get_child("0:InputArguments")).read_value()
            outputs = await (await declaration.get_child("0:OutputArguments")).read_value()
            await control.add_method(
                self._id(f"{mid}.JobManagement.JobOrderControl.{name}"),
                ua.QualifiedName(name, models.job_control),
                callback,
                inputs,
                outputs,
            )
        await self.server.write_attribute_value(
            (await control.get_child(f"{models.job_control}:MaxDownloadableJobOrders")).nodeid,
            ua.DataValue(ua.Variant(receiver.jobs.max_orders, ua.VariantType.UInt16)),
        )
        nodes.job_list = await control.get_child(f"{models.job_control}:JobOrderList")
        nodes.response_list = await results.add_variable(
            self._id(f"{mid}.JobManagement.JobOrderResults.JobOrderResponseList"),
            ua.QualifiedName("JobOrderResponseList", models.job_control),
            ua.Variant([], ua.VariantType.ExtensionObject),
            datatype=models.job_control_id(JOB_RESPONSE_TYPE),
        )
        await nodes.response_list.write_value_rank(1)
        nodes.receiver = receiver

    async def _conditions(self, node: Node, nodes: MachineNodes, machine: SimMachine) -> None:
        """The asset's standard conditions (see conditions.py) in its ``Alarms`` object: a limit
        alarm per threshold rule, OffNormal alarms on the ``Status`` flags."""
        assert self.folder is not None
        mid = machine.id
        await node.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
        status = await self._object(node, f"{mid}.Status", "Status")
        for code, name in FLAGS.items():
            nodes.flags[code] = await self._variable(
                status, f"{mid}.Status.{name}", False, ua.VariantType.Boolean
            )
        normal = await self._variable(
            status, f"{mid}.Status.NormalValue", False, ua.VariantType.Boolean
        )
        alarms = await self._object(node, f"{mid}.Alarms", "Alarms")
        for rule in machine.profile.alarms:
            source = nodes.metrics[rule.metric]
            await self.conditions.add_limit_alarm(alarms, node, mid, rule, source, self.folder)
        for code, flag in nodes.flags.items():
            await self.conditions.add_off_normal_alarm(
                alarms, node, mid, code, flag, normal, self.folder
            )
        await self.conditions.restore(mid, [self._stamped(a) for a in machine.alarms.active()])

    # Publishing -------------------------------------------------------------------------------

    async def publish(self, machine: SimMachine, now: datetime) -> None:
        nodes = self.nodes[machine.id]
        await self._write_state(nodes.item_state, machine.item_state.value, now)
        await self._write_state(nodes.mode, machine.mode.value, now)
        await self._write(nodes.sim_time, now, now)
        for code, flag in nodes.flags.items():
            await self._write(flag, machine.alarms.is_active(code), now)
        values = machine.published_values()
        if values is not None:
            for name, value in values.items():
                await self._write(nodes.metrics[name], value, now)
        await self.publish_jobs(machine, now)

    async def publish_jobs(self, machine: SimMachine, now: datetime) -> None:
        nodes = self.nodes[machine.id]
        receiver = nodes.receiver
        if receiver is None or nodes.job_list is None or nodes.response_list is None:
            return
        await self._write(nodes.job_list, receiver.order_list(), now)
        await self._write(nodes.response_list, receiver.response_list(), now)

    async def _write_state(self, machine: StateMachine, state: str, now: datetime) -> None:
        await self._write(machine.current, ua.LocalizedText(state), now)
        await self._write(machine.current_id, machine.states[state], now)

    async def fire(self, event: AlarmEvent) -> None:
        """An alarm raised or cleared: its condition's new state and event."""
        await self.conditions.update(self._stamped(event))

    def _stamped(self, event: AlarmEvent) -> AlarmEvent:
        return replace(event, time=self._stamp(event.time))

    async def _write(self, node: Node, value: object, now: datetime) -> None:
        """Write a changed value with the wall-clock time of the simulated ``now`` as its
        SourceTimestamp.

        Unchanged values are not written again: in OPC UA the SourceTimestamp says when the
        value last changed, and skipping them spares every subscriber a notification.
        """
        if self._published.get(node.nodeid) == value:
            return
        self._published[node.nodeid] = value
        variant_type = _variant_type(value)
        data_value = ua.DataValue(
            Value=ua.Variant(value, variant_type),
            SourceTimestamp=_opc_time(self._stamp(now)),
            ServerTimestamp=_opc_time(datetime.now(UTC)),
        )
        await self.server.write_attribute_value(node.nodeid, data_value)

    # Node helpers -----------------------------------------------------------------------------

    def _id(self, path: str) -> ua.NodeId:
        return ua.NodeId(ua.String(path), ua.Int16(self.idx))

    def _qn(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.idx)

    def _machinery_qn(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.models.machinery)

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
    if isinstance(value, ua.NodeId):
        return ua.VariantType.NodeId
    if isinstance(value, list):
        return ua.VariantType.ExtensionObject  # the job lists: arrays of ISA-95 structures
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
