"""One asyncua client per OPC UA endpoint, serving the machines behind it.

Each connection resolves the mapping afresh (so a restarted server with new node ids is handled),
subscribes to every mapped variable with its sampling interval and deadband and to the alarm
events, and hands what arrives to a :class:`MachineListener`. A missing or invalid node is
reported once and skipped; the rest keeps working. When the connection is lost the machines are
reported disconnected and the client reconnects with backoff, restoring every subscription.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from asyncua import Client, Node, ua
from asyncua.common.subscription import DataChangeEvent, OpcEvent, Subscription
from asyncua.ua.uaerrors import UaError
from pydantic import ValidationError

from edge.config import MachineConfig, MachineMapping, MetricMapping, SecurityConfig
from edge.errors import MachineError
from edge.health import Metrics
from edge.nodes import NodeResolver, metric_name
from protocols.enums import Quality
from protocols.messages import Capability, MetricDescription
from protocols.topics import IDENTIFIER_PATTERN

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 15.0
QUEUE_SIZE = 100_000
FIRST_HANDLE = 10_000_000
NETWORK_ERRORS = (UaError, OSError, TimeoutError, ConnectionError)


class Role(Enum):
    METRIC = "metric"
    STATE = "state"
    MODE = "mode"
    ORDER_LIST = "order_list"
    RESPONSE_LIST = "response_list"
    MAX_JOB_ORDERS = "max_job_orders"


@dataclass(frozen=True, slots=True)
class Binding:
    machine: str
    role: Role
    metric: str | None = None


@dataclass(frozen=True)
class MachineIdentity:
    manufacturer: str = ""
    model: str = ""
    serial_number: str = ""
    asset_kind: str = "machine"
    capabilities: tuple[Capability, ...] = ()
    metrics: tuple[MetricDescription, ...] = ()
    max_job_orders: int = 0


class MachineListener(Protocol):
    def machine_connected(self, machine: str, identity: MachineIdentity) -> None: ...

    def machine_disconnected(self, machine: str) -> None: ...

    def value_changed(
        self, binding: Binding, value: Any, source_time: datetime | None, quality: Quality
    ) -> None: ...

    def alarm_event(self, machine: str, fields: Mapping[str, Any]) -> None: ...


@dataclass
class _Monitored:
    node: Node
    binding: Binding
    sampling_ms: float
    deadband: float = 0.0


@dataclass
class MachineControl:
    """The job control and maintenance methods of one machine, while it is connected."""

    machine: str
    jobs_object: Node | None = None
    methods: dict[str, Node] = field(default_factory=dict)
    repair_object: Node | None = None

    @property
    def connected(self) -> bool:
        return self.jobs_object is not None or self.repair_object is not None

    async def call(self, method: str, *arguments: str) -> Any:
        """Call a job control method (``store``, ``store_and_start``, ``cancel``)."""
        node = self.methods.get(method)
        if self.jobs_object is None or node is None:
            raise MachineError(f"machine {self.machine} is not connected or has no {method}")
        return await self._call(self.jobs_object, node, *arguments)

    async def repair(self) -> Any:
        node = self.methods.get("repair")
        if self.repair_object is None or node is None:
            raise MachineError(f"machine {self.machine} is not connected or has no repair method")
        return await self._call(self.repair_object, node)

    async def _call(self, parent: Node, method: Node, *arguments: str) -> Any:
        variants = [ua.Variant(a, ua.VariantType.String) for a in arguments]
        try:
            return await parent.call_method(method.nodeid, *variants)
        except NETWORK_ERRORS as exc:
            raise MachineError(f"{self.machine}: method call failed: {exc}") from exc

    def clear(self) -> None:
        self.jobs_object = None
        self.repair_object = None
        self.methods.clear()


class EndpointConnection:
    """The machines served by one OPC UA endpoint, over one self-reconnecting client."""

    def __init__(
        self,
        endpoint: str,
        security: SecurityConfig,
        machines: list[tuple[MachineConfig, MachineMapping]],
        *,
        publishing_interval_ms: float,
        listener: MachineListener,
        metrics: Metrics,
    ) -> None:
        self.endpoint = endpoint
        self._security = security
        self._machines = machines
        self._publishing_interval = publishing_interval_ms
        self._listener = listener
        self._metrics = metrics
        self.controls = {config.id: MachineControl(config.id) for config, _ in machines}
        self.missing: dict[str, set[str]] = {config.id: set() for config, _ in machines}
        self.connected = False
        self.last_error: str | None = None
        self._bindings: dict[int, Binding] = {}
        self._event_sources: dict[int, list[str]] = {}
        self._machine_nodes: dict[ua.NodeId, str] = {}
        self._handle = FIRST_HANDLE
        self._connections = 0

    async def run(self) -> None:
        delay = RECONNECT_MIN_S
        while True:
            try:
                await self._session()
                delay = RECONNECT_MIN_S
            except (*NETWORK_ERRORS, MachineError) as exc:
                self._report(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _report(self, error: str) -> None:
        if error != self.last_error:
            _LOGGER.warning("OPC UA %s: %s; reconnecting with backoff", self.endpoint, error)
        self.last_error = error

    # One connection -----------------------------------------------------------------------

    async def _session(self) -> None:
        client = Client(self.endpoint, timeout=REQUEST_TIMEOUT)
        if self._security.security_string is not None:
            await client.set_security_string(self._security.security_string)
        if self._security.username is not None:
            client.set_user(self._security.username)
            client.set_password(self._security.password or "")
        lost = asyncio.Event()

        async def connection_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = connection_lost
        await client.connect()
        try:
            await self._serve(client, lost)
        finally:
            self._disconnected()
            try:
                await asyncio.wait_for(client.disconnect(), REQUEST_TIMEOUT)
            except (*NETWORK_ERRORS, asyncio.CancelledError):
                pass

    async def _serve(self, client: Client, lost: asyncio.Event) -> None:
        namespaces = await client.get_namespace_array()
        self._machine_nodes = {}
        monitored: list[_Monitored] = []
        identities: dict[str, MachineIdentity] = {}
        alarm_sources: dict[ua.NodeId, tuple[Node, Node, list[str]]] = {}
        for config, mapping in self._machines:
            resolver = NodeResolver(client, namespaces, mapping.namespaces)
            root = await self._bind(config, mapping, resolver, monitored, alarm_sources)
            if root is not None:
                metrics = [
                    m.binding.metric
                    for m in monitored
                    if m.binding.machine == config.id and m.binding.metric is not None
                ]
                identities[config.id] = await self._identity(
                    config, mapping, resolver, root, metrics
                )
        # One subscription for values and events: a second one may get its first publish
        # response before asyncua has registered it, and lose it.
        sub = await client.create_subscription(self._publishing_interval, queue_maxsize=QUEUE_SIZE)
        await self._monitor_values(sub, monitored)
        await self._monitor_events(sub, alarm_sources)
        self._connections += 1
        if self._connections > 1:
            self._metrics.inc("opcua_reconnects_total", endpoint=self.endpoint)
        self.connected = True
        self.last_error = None
        _LOGGER.info("OPC UA %s connected: %d monitored items", self.endpoint, len(monitored))
        for machine, identity in identities.items():
            self._metrics.set("machine_connected", 1.0, machine=machine)
            self._listener.machine_connected(machine, identity)
        consumer = asyncio.create_task(self._consume(sub))
        waiter = asyncio.create_task(lost.wait())
        try:
            await asyncio.wait([waiter, consumer], return_when=asyncio.FIRST_COMPLETED)
            if consumer.done() and consumer.exception() is not None:
                raise MachineError(f"subscription consumer failed: {consumer.exception()!r}")
        finally:
            waiter.cancel()
            consumer.cancel()
        raise ConnectionError("connection lost")

    def _disconnected(self) -> None:
        was_connected = self.connected
        self.connected = False
        for config, _ in self._machines:
            self.controls[config.id].clear()
            if was_connected:
                self._metrics.set("machine_connected", 0.0, machine=config.id)
                self._listener.machine_disconnected(config.id)

    # Mapping ------------------------------------------------------------------------------

    def _missing(self, machine: str, what: str, exc: Exception) -> None:
        if what not in self.missing[machine]:
            self.missing[machine].add(what)
            _LOGGER.warning("%s: skipping %s: %s", machine, what, exc)

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

    async def _bind(
        self,
        config: MachineConfig,
        mapping: MachineMapping,
        resolver: NodeResolver,
        monitored: list[_Monitored],
        alarm_sources: dict[ua.NodeId, tuple[Node, Node, list[str]]],
    ) -> Node | None:
        machine = config.id
        try:
            root_path = mapping.root.replace("{machine}", config.browse_name)
            root = await resolver.resolve(root_path, None)
        except MachineError as exc:
            self._missing(machine, "the machine root", exc)
            return None
        self._machine_nodes[root.nodeid] = machine
        for role, path in ((Role.STATE, mapping.state), (Role.MODE, mapping.mode)):
            node = await self._optional(machine, role.value, resolver, path, root)
            if node is not None:
                monitored.append(_Monitored(node, Binding(machine, role), 0.0))
        for name, metric in (await self._metrics_of(machine, mapping, resolver, root)).items():
            node = await self._optional(machine, f"metric {name}", resolver, metric.path, root)
            if node is not None:
                binding = Binding(machine, Role.METRIC, name)
                monitored.append(_Monitored(node, binding, metric.sampling_ms, metric.deadband))
        await self._bind_jobs(config, mapping, resolver, root, monitored)
        await self._bind_alarms(machine, mapping, resolver, root, alarm_sources)
        return root

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

    async def _bind_jobs(
        self,
        config: MachineConfig,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        monitored: list[_Monitored],
    ) -> None:
        machine, control, jobs = config.id, self.controls[config.id], mapping.jobs
        if mapping.repair is not None:
            control.repair_object = await self._optional(
                machine, "the repair object", resolver, mapping.repair.object, root
            )
            if control.repair_object is not None:
                method = await self._optional(
                    machine, "repair", resolver, mapping.repair.method, control.repair_object
                )
                if method is not None:
                    control.methods["repair"] = method
        if jobs is None:
            return
        jobs_object = await self._optional(machine, "job management", resolver, jobs.object, root)
        if jobs_object is None:
            return
        for name in ("store", "store_and_start", "cancel"):
            method = await self._optional(machine, name, resolver, getattr(jobs, name), jobs_object)
            if method is not None:
                control.methods[name] = method
        control.jobs_object = jobs_object
        for role, path in (
            (Role.ORDER_LIST, jobs.order_list),
            (Role.RESPONSE_LIST, jobs.response_list),
            (Role.MAX_JOB_ORDERS, jobs.max_job_orders),
        ):
            node = await self._optional(machine, role.value, resolver, path, root)
            if node is not None:
                monitored.append(_Monitored(node, Binding(machine, role), 0.0))

    async def _bind_alarms(
        self,
        machine: str,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        alarm_sources: dict[ua.NodeId, tuple[Node, Node, list[str]]],
    ) -> None:
        if mapping.alarms is None:
            return
        source = await self._optional(
            machine, "the alarm source", resolver, mapping.alarms.source, root
        )
        event_type = await self._optional(
            machine, "the alarm event type", resolver, mapping.alarms.event_type, root
        )
        if source is None or event_type is None:
            return
        alarm_sources.setdefault(source.nodeid, (source, event_type, []))[2].append(machine)

    async def _identity(
        self,
        config: MachineConfig,
        mapping: MachineMapping,
        resolver: NodeResolver,
        root: Node,
        metrics: list[str],
    ) -> MachineIdentity:
        ident = mapping.identification
        values: dict[str, str] = {}
        for key in ("manufacturer", "model", "serial_number", "asset_kind", "capabilities"):
            node = await self._optional(config.id, key, resolver, getattr(ident, key), root)
            if node is not None:
                try:
                    values[key] = str(await node.read_value())
                except NETWORK_ERRORS as exc:
                    self._missing(config.id, key, exc)
        capabilities = tuple(config.capabilities) or self._capabilities(
            config.id, values.get("capabilities")
        )
        max_jobs = await self._read_max_job_orders(config.id, mapping, resolver, root)
        kind = values.get("asset_kind", "machine")
        return MachineIdentity(
            manufacturer=values.get("manufacturer", "")[:200],
            model=values.get("model", "")[:200],
            serial_number=values.get("serial_number", "")[:200],
            asset_kind=kind if kind in ("machine", "product") else "machine",
            capabilities=capabilities,
            metrics=tuple(MetricDescription(name=name) for name in metrics),
            max_job_orders=max_jobs,
        )

    async def _read_max_job_orders(
        self, machine: str, mapping: MachineMapping, resolver: NodeResolver, root: Node
    ) -> int:
        path = mapping.jobs.max_job_orders if mapping.jobs else None
        node = await self._optional(machine, "max_job_orders", resolver, path, root)
        try:
            value = await node.read_value() if node is not None else 0
        except NETWORK_ERRORS as exc:
            self._missing(machine, "max_job_orders", exc)
            return 0
        return value if isinstance(value, int) and value >= 0 else 0

    def _capabilities(self, machine: str, text: str | None) -> tuple[Capability, ...]:
        if not text:
            return ()
        try:
            return tuple(Capability.model_validate(_scalar_parameters(c)) for c in json.loads(text))
        except (ValueError, TypeError, AttributeError, ValidationError) as exc:
            self._missing(machine, "capabilities (not a JSON list of capabilities)", exc)
            return ()

    # Subscriptions ------------------------------------------------------------------------

    async def _monitor_values(self, sub: Subscription, monitored: list[_Monitored]) -> None:
        self._bindings = {}
        if not monitored:
            return
        requests = [self._request(item) for item in monitored]
        results = await sub.create_monitored_items(requests)
        for item, request, result in zip(monitored, requests, results, strict=True):
            if isinstance(result, ua.StatusCode):
                what = f"{item.binding.role.value} {item.binding.metric or ''}".strip()
                self._missing(item.binding.machine, what, MachineError(result.name))
            else:
                self._bindings[request.RequestedParameters.ClientHandle] = item.binding

    def _request(self, item: _Monitored) -> ua.MonitoredItemCreateRequest:
        self._handle += 1
        params = ua.MonitoringParameters()
        params.ClientHandle = self._handle
        params.SamplingInterval = item.sampling_ms
        # Job lists and states keep every change; metrics only the newest per sample.
        params.QueueSize = 1 if item.binding.role is Role.METRIC else 100
        params.DiscardOldest = True
        if item.deadband > 0:
            params.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue,
                DeadbandType=ua.DeadbandType.Absolute,
                DeadbandValue=item.deadband,
            )
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = ua.ReadValueId(
            NodeId=item.node.nodeid, AttributeId=ua.AttributeIds.Value
        )
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        return request

    async def _monitor_events(
        self, sub: Subscription, sources: dict[ua.NodeId, tuple[Node, Node, list[str]]]
    ) -> None:
        self._event_sources = {}
        for source, event_type, machines in sources.values():
            try:
                handle = await sub.subscribe_events(source, event_type)
            except NETWORK_ERRORS as exc:
                for machine in machines:
                    self._missing(machine, "alarm events", exc)
                continue
            self._event_sources[handle] = machines

    async def _consume(self, sub: Subscription) -> None:
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                self._data_change(event)
            elif isinstance(event, OpcEvent):
                self._opc_event(event)

    def _data_change(self, event: DataChangeEvent) -> None:
        binding = self._bindings.get(event.data.subscription_data.client_handle or 0)
        if binding is None:
            return
        self._metrics.inc("data_changes_total")
        value = event.data.monitored_item.Value
        status = value.StatusCode
        quality = Quality.GOOD
        if not status.is_good():
            quality = Quality.BAD if status.is_bad() else Quality.UNCERTAIN
        source_time = value.SourceTimestamp or value.ServerTimestamp
        self._listener.value_changed(binding, event.value, source_time, quality)

    def _opc_event(self, event: OpcEvent) -> None:
        hidden = event.event.internal_properties
        values = {k: v for k, v in vars(event.event).items() if k not in hidden}
        machines = self._event_sources.get(event.event.server_handle or -1, [])
        machine = machines[0] if len(machines) == 1 else None
        source = values.get("SourceNode")
        if isinstance(source, ua.NodeId) and source in self._machine_nodes:
            machine = self._machine_nodes[source]
        if machine is None:
            return
        self._metrics.inc("opcua_events_total")
        self._listener.alarm_event(machine, values)


def _scalar_parameters(capability: dict[str, Any]) -> dict[str, Any]:
    """Capability parameters are scalars in the protocol: a list becomes ``"650 x 520 x 475"``."""
    parameters = {
        name: " x ".join(str(v) for v in value) if isinstance(value, list) else value
        for name, value in capability.get("parameters", {}).items()
    }
    return {**capability, "parameters": parameters}
