"""Binding a machine's mapping to a connected OPC UA server.

On every connection each machine's mapping is resolved again: the nodes to monitor (state, mode,
metrics, job lists), its job control and repair methods, its alarm event source, and its
identification for the birth. A node that is missing or invalid is reported once per machine and
skipped; the rest of the machine keeps working.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from asyncua import Client, Node, ua
from pydantic import ValidationError

from edge.alarms import EventField, event_fields
from edge.config import DerivedValue, MachineConfig, MachineMapping, MetricMapping, ValueMap
from edge.errors import MachineError
from edge.findings import Findings
from edge.job_control import (
    JOB_CONTROL_URI,
    CallOutcome,
    Category,
    JobControl,
    bind_job_control,
)
from edge.nodes import NETWORK_ERRORS, NodeResolver, metric_name
from protocols.messages import Capability, JobOrder, MetricDescription
from protocols.topics import IDENTIFIER_PATTERN

_LOGGER = logging.getLogger(__name__)


class Role(Enum):
    METRIC = "metric"
    STATE = "state"
    MODE = "mode"
    ORDER_LIST = "order_list"
    RESPONSE_LIST = "response_list"
    MAX_JOB_ORDERS = "max_job_orders"


@dataclass(frozen=True, slots=True)
class Binding:
    """What a monitored node is to the gateway: a machine's metric, state, mode or job list.

    ``part`` names the variable of a state or mode derived from several; ``server_time`` says
    the samples carry the server's timestamp rather than the source's (the mapping's choice).
    """

    machine: str
    role: Role
    metric: str | None = None
    part: str | None = None
    server_time: bool = False


@dataclass(frozen=True)
class MachineIdentity:
    manufacturer: str = ""
    model: str = ""
    serial_number: str = ""
    asset_kind: str = "machine"
    capabilities: tuple[Capability, ...] = ()
    metrics: tuple[MetricDescription, ...] = ()
    max_job_orders: int = 0


@dataclass(frozen=True)
class Monitored:
    node: Node
    binding: Binding
    sampling_ms: float
    deadband: float = 0.0


@dataclass(frozen=True)
class AlarmSource:
    """The node a machine's alarm events are subscribed on, their event type and fields."""

    source: Node
    event_type: Node
    fields: tuple[EventField, ...]


@dataclass(frozen=True)
class BoundMachine:
    machine: str
    root: Node
    monitored: list[Monitored]
    identity: MachineIdentity
    alarms: AlarmSource | None


@dataclass
class MachineControl:
    """The job control and maintenance methods of one machine, while it is connected."""

    machine: str
    jobs: JobControl | None = None
    jobs_problem: str | None = None
    """Why the mapped job control did not bind on this connection (a config finding)."""
    methods: dict[str, Node] = field(default_factory=dict)
    repair_object: Node | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def mark_ready(self) -> None:
        self._ready.set()

    async def wait_ready(self, timeout: float) -> bool:
        """Whether the machine is (or within ``timeout`` becomes) connected and bound."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def job_call(self, method: str, target: JobOrder | str) -> CallOutcome:
        """Call a job control method (``store``, ``store_and_start``, ``cancel`` …)."""
        if self.jobs is None:
            if self.jobs_problem is not None:  # connected, but its receiver does not fit
                return CallOutcome(None, Category.MISMATCH, self.jobs_problem)
            return CallOutcome.unavailable(f"machine {self.machine} is not connected")
        return await self.jobs.call(method, target)

    async def repair(self) -> Any:
        node = self.methods.get("repair")
        if self.repair_object is None or node is None:
            raise MachineError(f"machine {self.machine} is not connected or has no repair method")
        return await self._call(self.repair_object, node)

    async def _call(self, parent: Node, method: Node) -> Any:
        try:
            return await parent.call_method(method.nodeid)
        except NETWORK_ERRORS as exc:
            raise MachineError(f"{self.machine}: method call failed: {exc}") from exc

    def clear(self) -> None:
        self._ready.clear()
        self.jobs = None
        self.jobs_problem = None
        self.repair_object = None
        self.methods.clear()


class MachineBinder:
    """Binds machines on one connection of a client."""

    def __init__(self, client: Client, namespaces: list[str], findings: Findings):
        self._client = client
        self._namespaces = namespaces
        self._missing = findings.report
        self._data_types_loaded = False

    async def bind(
        self, config: MachineConfig, mapping: MachineMapping, control: MachineControl
    ) -> BoundMachine | None:
        """The machine's nodes, or None when its root node cannot be found."""
        machine = config.id
        resolver = NodeResolver(self._client, self._namespaces, mapping.namespaces)
        try:
            root_path = mapping.root.replace("{machine}", config.browse_name)
            root = await resolver.resolve(root_path, None)
        except MachineError as exc:
            self._missing(machine, "the machine root", exc)
            return None
        server_time = mapping.timestamps == "server"
        monitored: list[Monitored] = []
        for role, source in ((Role.STATE, mapping.state), (Role.MODE, mapping.mode)):
            for part, path in _source_paths(source):
                what = f"{role.value} variable {part}" if part else role.value
                node = await self._optional(machine, what, resolver, path, root)
                if node is not None:
                    binding = Binding(machine, role, part=part, server_time=server_time)
                    monitored.append(Monitored(node, binding, 0.0))
        metrics = await self._metrics_of(machine, mapping, resolver, root)
        metric_nodes: dict[str, Node] = {}
        for name, metric in metrics.items():
            node = await self._optional(machine, f"metric {name}", resolver, metric.path, root)
            if node is not None:
                metric_nodes[name] = node
                binding = Binding(machine, Role.METRIC, name, server_time=server_time)
                monitored.append(Monitored(node, binding, metric.sampling_ms, metric.deadband))
        await self._bind_repair(machine, mapping, resolver, root, control)
        monitored += await self._bind_jobs(machine, mapping, resolver, root, control)
        descriptions = await describe_metrics(self._client, metrics, metric_nodes)
        identity = await self._identity(config, mapping, resolver, root, descriptions, control)
        alarms = await self._alarm_source(machine, mapping, resolver, root)
        return BoundMachine(machine, root, monitored, identity, alarms)

    async def _optional(
        self, machine: str, what: str, resolver: NodeResolver, path: str | None, base: Node
    ) -> Node | None:
        if path is None:
            return None
        try:
            return await resolver.resolve(path, base)
        except MachineError as exc:
            self._missing(machine, what, exc)
            return None

    async def _metrics_of(
        self, machine: str, mapping: MachineMapping, resolver: NodeResolver, root: Node
    ) -> dict[str, MetricMapping]:
        found: dict[str, MetricMapping] = {}
        folder_config = mapping.metrics_folder
        folder = await self._optional(
            machine,
            "the metrics folder",
            resolver,
            folder_config.path if folder_config else None,
            root,
        )
        if folder is not None and folder_config is not None:
            try:
                children = await folder.get_children(nodeclassmask=ua.NodeClass.Variable)
                for child in children:
                    name = metric_name((await child.read_browse_name()).Name)
                    if IDENTIFIER_PATTERN.fullmatch(name):
                        found[name] = MetricMapping(
                            path=child.nodeid.to_string(),
                            sampling_ms=folder_config.sampling_ms,
                            deadband=folder_config.deadband,
                        )
            except NETWORK_ERRORS as exc:
                self._missing(machine, "the metrics folder", exc)
        found.update(mapping.metrics)
        return found

    async def _bind_repair(
        self,
        machine: str,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        control: MachineControl,
    ) -> None:
        if mapping.repair is None:
            return
        repair = mapping.repair
        parent = await self._optional(machine, "the repair object", resolver, repair.object, root)
        if parent is None:
            return
        method = await self._optional(machine, "repair", resolver, repair.method, parent)
        if method is not None:
            control.repair_object = parent
            control.methods["repair"] = method

    async def _bind_jobs(
        self,
        machine: str,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        control: MachineControl,
    ) -> list[Monitored]:
        """Standard job control; a machine without it stays a telemetry-only machine."""
        jobs = mapping.jobs
        if jobs is None:
            control.jobs_problem = "the machine's mapping has no job control (jobs:)"
            return []
        receiver = await self._optional(
            machine, "the job order receiver", resolver, jobs.receiver, root
        )
        results = await self._optional(
            machine, "the job response provider", resolver, jobs.results, root
        )
        if receiver is None:
            control.jobs_problem = f"the job order receiver {jobs.receiver} is missing"
            return []
        if JOB_CONTROL_URI not in self._namespaces:
            control.jobs_problem = f"the server has no namespace {JOB_CONTROL_URI}"
            self._missing(machine, "job control", control.jobs_problem)
            return []
        try:
            await self._load_data_types()
            bound = await bind_job_control(
                self._client, machine, receiver, results, self._namespaces.index(JOB_CONTROL_URI)
            )
        except (*NETWORK_ERRORS, MachineError) as exc:
            control.jobs_problem = f"the job order receiver does not fit OPC 10031-4: {exc}"
            self._missing(machine, "job control", exc)
            return []
        if bound.structures is None:
            self._missing(machine, "the job order data type", "not readable from the server")
        control.jobs = bound
        monitored = []
        for role, node in (
            (Role.ORDER_LIST, bound.order_list),
            (Role.RESPONSE_LIST, bound.response_list),
            (Role.MAX_JOB_ORDERS, bound.max_job_orders),
        ):
            if node is None:
                self._missing(machine, role.value, "not found below the receiver")
            else:
                monitored.append(Monitored(node, Binding(machine, role), 0.0))
        return monitored

    async def _load_data_types(self) -> None:
        """The server's structure types, once per connection, before anything subscribes."""
        if not self._data_types_loaded:
            await self._client.load_data_type_definitions()
            self._data_types_loaded = True

    async def _alarm_source(
        self, machine: str, mapping: MachineMapping, resolver: NodeResolver, root: Node
    ) -> AlarmSource | None:
        if mapping.alarms is None:
            return None
        alarms = mapping.alarms
        source = await self._optional(machine, "the alarm source", resolver, alarms.source, root)
        event_type = await self._optional(
            machine, "the alarm event type", resolver, alarms.event_type, root
        )
        if source is None or event_type is None:
            return None
        try:
            fields = event_fields(alarms, resolver.qualified)
        except MachineError as exc:
            self._missing(machine, "the alarm event fields", exc)
            return None
        return AlarmSource(source, event_type, fields)

    async def _identity(
        self,
        config: MachineConfig,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        metrics: list[MetricDescription],
        control: MachineControl | None = None,
    ) -> MachineIdentity:
        values: dict[str, Any] = {}
        paths = mapping.identification.model_dump()
        for key, path in paths.items():
            node = await self._optional(config.id, key, resolver, path, root)
            if node is not None:
                try:
                    values[key] = await node.read_value()
                except NETWORK_ERRORS as exc:
                    self._missing(config.id, key, exc)
        jobs = control.jobs if control is not None else None
        if jobs is not None and jobs.max_job_orders is not None:
            try:
                values["max_job_orders"] = await jobs.max_job_orders.read_value()
            except NETWORK_ERRORS as exc:
                self._missing(config.id, "max_job_orders", exc)
        max_jobs = values.get("max_job_orders", 0)
        kind = str(values.get("asset_kind", "machine"))
        return MachineIdentity(
            manufacturer=str(values.get("manufacturer", ""))[:200],
            model=str(values.get("model", ""))[:200],
            serial_number=str(values.get("serial_number", ""))[:200],
            asset_kind=kind if kind in ("machine", "product") else "machine",
            capabilities=tuple(config.capabilities)
            or self._capabilities(config.id, values.get("capabilities")),
            metrics=tuple(metrics),
            max_job_orders=max_jobs if isinstance(max_jobs, int) and max_jobs >= 0 else 0,
        )

    def _capabilities(self, machine: str, text: Any) -> tuple[Capability, ...]:
        if not text:
            return ()
        try:
            return tuple(Capability.model_validate(_scalar_parameters(c)) for c in json.loads(text))
        except (ValueError, TypeError, AttributeError, ValidationError) as exc:
            self._missing(machine, "capabilities (not a JSON list of capabilities)", exc)
            return ()


def _scalar_parameters(capability: dict[str, Any]) -> dict[str, Any]:
    """Capability parameters are scalars in the protocol: a list becomes ``"650 x 520 x 475"``."""
    parameters = {
        name: " x ".join(str(v) for v in value) if isinstance(value, list) else value
        for name, value in capability.get("parameters", {}).items()
    }
    return {**capability, "parameters": parameters}


def _source_paths(
    source: str | ValueMap[Any] | DerivedValue[Any] | None,
) -> list[tuple[str | None, str]]:
    """The variables of a state or mode: ``(part, path)``, part ``None`` for a single one."""
    if source is None:
        return []
    if isinstance(source, DerivedValue):
        return [(part, str(path)) for part, path in source.variables.items()]
    if isinstance(source, ValueMap):
        return [(None, str(source.path))]
    return [(None, source)]


UNIT_LENGTH, DESCRIPTION_LENGTH = 32, 200
ENGINEERING_UNITS = ua.QualifiedName("EngineeringUnits", 0)
HAS_PROPERTY = ua.NodeId.from_string("i=46")


async def describe_metrics(
    client: Client, metrics: dict[str, MetricMapping], nodes: dict[str, Node]
) -> list[MetricDescription]:
    """Every mapped metric with its unit and description: the mapping's, else the node's
    ``EngineeringUnits`` property and ``Description`` attribute (read in two batched requests;
    a server that has neither leaves them empty)."""
    asked = [
        name for name, m in metrics.items() if name in nodes and not (m.unit and m.description)
    ]
    units, texts = await _node_units(client, [nodes[n] for n in asked]), {}
    if asked:
        try:
            values = await client.read_attributes(
                [nodes[n] for n in asked], ua.AttributeIds.Description
            )
            texts = {
                n: _text(v.Value.Value if v.Value else None)
                for n, v in zip(asked, values, strict=True)
            }
        except NETWORK_ERRORS as exc:
            _LOGGER.debug("Reading the metrics' descriptions failed: %s", exc)
    found_units = dict(zip(asked, units, strict=True)) if units else {}
    return [
        MetricDescription(
            name=name,
            unit=(metric.unit or found_units.get(name, ""))[:UNIT_LENGTH],
            description=(metric.description or texts.get(name, ""))[:DESCRIPTION_LENGTH],
        )
        for name, metric in metrics.items()
    ]


async def _node_units(client: Client, nodes: list[Node]) -> list[str]:
    """Each node's EngineeringUnits display name (``°C``), ``""`` when it has none."""
    if not nodes:
        return []
    paths = []
    for node in nodes:
        element = ua.RelativePathElement(
            ReferenceTypeId=HAS_PROPERTY,
            IsInverse=False,  # type: ignore[arg-type]  # asyncua types it as a marker class
            IncludeSubtypes=True,  # type: ignore[arg-type]
            TargetName=ENGINEERING_UNITS,
        )
        paths.append(
            ua.BrowsePath(StartingNode=node.nodeid, RelativePath=ua.RelativePath([element]))
        )
    try:
        results = await client.uaclient.translate_browsepaths_to_nodeids(paths)
        found = {
            index: ua.NodeId(r.Targets[0].TargetId.Identifier, r.Targets[0].TargetId.NamespaceIndex)
            for index, r in enumerate(results)
            if r.StatusCode.is_good() and r.Targets
        }
        values = (
            await client.read_values([client.get_node(n) for n in found.values()]) if found else []
        )
    except NETWORK_ERRORS as exc:
        _LOGGER.debug("Reading the metrics' engineering units failed: %s", exc)
        return [""] * len(nodes)
    units = dict(zip(found, values, strict=True))
    return [_text(getattr(units.get(i), "DisplayName", None)) for i in range(len(nodes))]


def _text(value: Any) -> str:
    """The text of a LocalizedText (or a plain string); ``""`` otherwise."""
    text = getattr(value, "Text", value)
    return text if isinstance(text, str) else ""
