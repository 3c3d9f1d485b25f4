"""One asyncua client per OPC UA endpoint, serving the machines behind it.

Each connection binds the machines' mappings afresh (so a restarted server with new node ids is
followed), subscribes to every mapped variable with its sampling interval and deadband and to
the alarm events, and hands what arrives to a :class:`MachineListener`. When the connection is
lost the machines are reported disconnected and the client reconnects with backoff (with jitter,
one WARNING line per loss, the traceback at DEBUG), restoring every subscription.

Notifications are never lost without a trace: asyncua's queue of notifications for the gateway
drops the newest when it is full (the ``disconnect`` overflow policy, whose hook counts instead of
reconnecting), and a server that had to discard values of a monitored item says so with the
Overflow bit of the StatusCode; both are counted, logged and shown in ``/healthz``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime
from typing import Any, Protocol

from asyncua import Client, ua
from asyncua.common.subscription import (
    DataChangeEvent,
    OpcEvent,
    OverflowPolicy,
    Subscription,
)
from asyncua.ua.status_codes import get_name_and_doc

from edge.alarms import (
    STANDARD_FIELDS,
    ConditionTracker,
    EventField,
    event_filter,
    frames_refresh,
    refresh_filter,
)
from edge.backoff import Backoff
from edge.binding import (
    Binding,
    BoundMachine,
    MachineBinder,
    MachineControl,
    MachineIdentity,
    Monitored,
    Role,
)
from edge.config import MachineConfig, MachineMapping, OpcUaConfig, SecurityConfig
from edge.errors import MachineError
from edge.findings import Findings
from edge.health import Metrics
from edge.nodes import NETWORK_ERRORS
from edge.session import REQUEST_TIMEOUT, open_client
from protocols import messages
from protocols.codec import SampleStatus
from protocols.enums import Quality

_LOGGER = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 600_000
FIRST_HANDLE = 10_000_000
SEVERITY_MASK, UNCERTAIN = 0xC000_0000, 0x4000_0000
CODE_MASK = 0xFFFF_0000
OVERFLOW = 0x0480
"""InfoType DataValue (bit 10) and its Overflow bit (bit 7): the server discarded values."""
DROP_LOG_INTERVAL_S = 60.0
NULL_YEAR = 1601


class _DropsReportedHere(logging.Filter):
    """asyncua logs an ERROR per notification its full queue drops ("forcing reconnect", which
    our overflow hook replaces by a count); the gateway reports drops itself, once a minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Subscription %s event queue full")


logging.getLogger("asyncua.common.subscription").addFilter(_DropsReportedHere())


class _LossesReportedHere(logging.Filter):
    """On a lost connection asyncua logs an ERROR with a traceback ("Publish iteration crashed")
    and two WARNINGs about closing what is already closed. The gateway reports each loss as one
    WARNING line itself; asyncua's records about it go to DEBUG (anything else passes)."""

    LOSS_TEXTS = ("Publish iteration crashed", "was called but connection is closed")

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if not any(part in text for part in self.LOSS_TEXTS):
            return True
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and not isinstance(error, NETWORK_ERRORS):
            return True  # not a lost connection: asyncua's own report stands
        _LOGGER.debug("asyncua: %s", record.getMessage(), exc_info=record.exc_info)
        return False


for _name in ("asyncua.client.ua_session.UaSession", "asyncua.client.ua_client.UaClient"):
    logging.getLogger(_name).addFilter(_LossesReportedHere())


def sample_status(code: int) -> tuple[Quality, SampleStatus | None]:
    """The quality and (unless plain Good) the ``(number, symbolic name)`` of a StatusCode."""
    if code == 0:
        return Quality.GOOD, None
    severity = code & SEVERITY_MASK
    if severity == 0:
        quality = Quality.GOOD
    elif severity == UNCERTAIN:
        quality = Quality.UNCERTAIN
    else:  # Bad, and the reserved 11 that clients treat as Bad
        quality = Quality.BAD
    # The info bits (the low 16) are not part of the name: 0x808C0480 is BadSensorFailure.
    return quality, (code, get_name_and_doc(code & CODE_MASK)[0])


class MachineListener(Protocol):
    def machine_connected(self, machine: str, identity: MachineIdentity) -> None: ...

    def machine_disconnected(self, machine: str) -> None: ...

    def value_changed(
        self,
        binding: Binding,
        value: Any,
        source_time: datetime | None,
        quality: Quality,
        status: SampleStatus | None,
    ) -> None: ...

    def alarm(self, body: messages.AlarmEvent) -> None: ...


class EndpointConnection:
    """The machines served by one OPC UA endpoint, over one self-reconnecting client."""

    def __init__(
        self,
        endpoint: str,
        security: SecurityConfig,
        machines: list[tuple[MachineConfig, MachineMapping]],
        *,
        publishing_interval_ms: float,
        subscription_queue: int,
        reconnect: OpcUaConfig,
        listener: MachineListener,
        metrics: Metrics,
    ) -> None:
        self.endpoint = endpoint
        self._security = security
        self._machines = machines
        self._publishing_interval = publishing_interval_ms
        self._queue_size = subscription_queue
        self._reconnect = reconnect
        self._listener = listener
        self._metrics = metrics
        self.controls = {config.id: MachineControl(config.id) for config, _ in machines}
        self.findings = Findings([config.id for config, _ in machines])
        self.dropped = {"gateway": 0, "server": 0}
        """Notifications lost: in asyncua's queue for the gateway, and in the server's queues."""
        self._drops_logged_at = -DROP_LOG_INTERVAL_S
        self._drops_logged = 0
        self.connected = False
        self.last_error: str | None = None
        self._bindings: dict[int, Binding] = {}
        self._event_sources: dict[int, tuple[list[str], tuple[EventField, ...]]] = {}
        self.conditions = ConditionTracker(listener.alarm)
        self._machine_nodes: dict[ua.NodeId, str] = {}
        self._handle = FIRST_HANDLE
        self._connections = 0

    async def run(self) -> None:
        backoff = Backoff(self._reconnect)
        while True:
            connections = self._connections
            try:
                await self._session()
            except (*NETWORK_ERRORS, MachineError) as exc:
                if self._connections != connections:
                    backoff.reset()  # it was connected: this is a new loss
                    self.last_error = None
                delay = backoff.next_delay()
                self._report(exc, delay)
                await asyncio.sleep(delay)

    def _report(self, exc: Exception, delay: float) -> None:
        """One WARNING line per loss (and per new error while reconnecting), details at DEBUG."""
        error = f"{type(exc).__name__}: {exc}"
        level = logging.WARNING if error != self.last_error else logging.DEBUG
        _LOGGER.log(level, "OPC UA %s: %s; reconnecting in %.1f s", self.endpoint, error, delay)
        _LOGGER.debug("OPC UA %s: what failed", self.endpoint, exc_info=exc)
        self.last_error = error

    # One connection -----------------------------------------------------------------------

    async def _session(self) -> None:
        client = await open_client(self.endpoint, self._security)
        client.session_timeout = SESSION_TIMEOUT_MS
        lost = asyncio.Event()
        causes: list[Exception] = []

        async def connection_lost(exc: Exception) -> None:
            causes.append(exc)
            lost.set()

        client.connection_lost_callback = connection_lost
        await client.connect()
        try:
            await self._serve(client, lost)
            cause = causes[0] if causes else None
            raise ConnectionError(f"connection lost ({cause or 'no reason given'})") from cause
        finally:
            self._disconnected()
            try:
                await asyncio.wait_for(client.disconnect(), REQUEST_TIMEOUT)
            except (*NETWORK_ERRORS, asyncio.CancelledError):
                pass

    async def _serve(self, client: Client, lost: asyncio.Event) -> None:
        namespaces = await client.get_namespace_array()
        binder = MachineBinder(client, namespaces, self.findings)
        self.findings.binding_started()
        machines: list[BoundMachine] = []
        for config, mapping in self._machines:
            bound = await binder.bind(config, mapping, self.controls[config.id])
            if bound is not None:
                machines.append(bound)
        self._machine_nodes = {m.root.nodeid: m.machine for m in machines}
        # One subscription for values and events: a second one may get its first publish
        # response before asyncua has registered it, and lose it.
        sub = await client.create_subscription(
            self._publishing_interval,
            queue_maxsize=self._queue_size,
            overflow=OverflowPolicy.DISCONNECT,
        )
        sub.set_overflow_disconnect_handler(self._notification_dropped)
        monitored = [item for machine in machines for item in machine.monitored]
        await self._monitor_values(sub, monitored)
        await self._monitor_events(sub, machines)
        self.findings.binding_done()
        machines = [self._with_missing_metrics(machine) for machine in machines]
        self.conditions.connected(client, namespaces, _metric_nodes(monitored))
        self._connected(machines, len(monitored))
        consumer = asyncio.create_task(self._consume(sub))
        if self._event_sources and sub.subscription_id is not None:
            await self.conditions.refresh(sub.subscription_id)
        waiter = asyncio.create_task(lost.wait())
        try:
            await asyncio.wait([waiter, consumer], return_when=asyncio.FIRST_COMPLETED)
            if consumer.done() and consumer.exception() is not None:
                raise MachineError(f"subscription consumer failed: {consumer.exception()!r}")
        finally:
            waiter.cancel()
            consumer.cancel()

    def _with_missing_metrics(self, machine: BoundMachine) -> BoundMachine:
        """The birth announces a metric whose node is missing as missing, with the reason."""
        missing = self.findings.by_machine[machine.machine].missing
        metrics = tuple(
            m.model_copy(update={"missing": missing[f"metric {m.name}"][:200]})
            if f"metric {m.name}" in missing
            else m
            for m in machine.identity.metrics
        )
        identity = dataclasses.replace(machine.identity, metrics=metrics)
        return dataclasses.replace(machine, identity=identity)

    def _connected(self, machines: list[BoundMachine], monitored: int) -> None:
        self._connections += 1
        if self._connections > 1:
            self._metrics.inc("opcua_reconnects_total", endpoint=self.endpoint)
        self.connected = True
        self.last_error = None
        _LOGGER.info("OPC UA %s connected: %d monitored items", self.endpoint, monitored)
        for machine in machines:
            self._metrics.set("machine_connected", 1.0, machine=machine.machine)
            self._listener.machine_connected(machine.machine, machine.identity)
            self.controls[machine.machine].mark_ready()

    def _disconnected(self) -> None:
        was_connected = self.connected
        self.connected = False
        self.conditions.disconnected()
        for config, _ in self._machines:
            self.controls[config.id].clear()
            self.findings.by_machine[config.id].disconnected()
            if was_connected:
                self._metrics.set("machine_connected", 0.0, machine=config.id)
                self._listener.machine_disconnected(config.id)

    # Subscriptions ------------------------------------------------------------------------

    async def _monitor_values(self, sub: Subscription, monitored: list[Monitored]) -> None:
        self._bindings = {}
        if not monitored:
            return
        requests = [self._request(item) for item in monitored]
        results = await sub.create_monitored_items(requests)
        for item, request, result in zip(monitored, requests, results, strict=True):
            if isinstance(result, ua.StatusCode):
                self.findings.report(item.binding.machine, _what(item.binding), result.name)
            else:
                self._bindings[request.RequestedParameters.ClientHandle] = item.binding

    def _request(self, item: Monitored) -> ua.MonitoredItemCreateRequest:
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

    async def _monitor_events(self, sub: Subscription, machines: list[BoundMachine]) -> None:
        """Subscribe once per source node; machines sharing one are told apart by SourceNode."""
        self._event_sources = {}
        sources: dict[ua.NodeId, list[BoundMachine]] = {}
        for machine in machines:
            if machine.alarms is not None:
                sources.setdefault(machine.alarms.source.nodeid, []).append(machine)
        for sharing in sources.values():
            alarms = sharing[0].alarms
            assert alarms is not None
            evfilter = event_filter(alarms.fields, alarms.event_type.nodeid)
            try:
                handle = await sub.subscribe_events(alarms.source, evfilter=evfilter)
            except NETWORK_ERRORS as exc:
                for machine in sharing:
                    self.findings.report(machine.machine, "alarm events", exc)
                continue
            self._event_sources[handle] = ([machine.machine for machine in sharing], alarms.fields)
        if self._event_sources:
            await self._monitor_refresh(sub)

    async def _monitor_refresh(self, sub: Subscription) -> None:
        """Some servers (node-opcua) raise RefreshStart/RefreshEnd on the Server object only,
        not on every monitored event source: listen there too."""
        server = ua.NodeId(ua.Int32(ua.ObjectIds.Server))
        try:
            handle = await sub.subscribe_events(server, evfilter=refresh_filter())
        except NETWORK_ERRORS as exc:
            _LOGGER.debug(
                "OPC UA %s: no refresh events on the Server object: %s", self.endpoint, exc
            )
            return
        self._event_sources[handle] = ([], STANDARD_FIELDS)

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
        code = value.StatusCode.value if value.StatusCode is not None else 0
        quality, status = sample_status(code)
        if code & OVERFLOW == OVERFLOW:
            self._server_overflow()
        first, second = value.SourceTimestamp, value.ServerTimestamp
        if binding.server_time:
            first, second = second, first
        # A server without a timestamp sends null, which asyncua reads as 1601-01-01.
        if first is None or first.year <= NULL_YEAR:
            first = second if second is not None and second.year > NULL_YEAR else None
        self._listener.value_changed(binding, event.value, first, quality, status)

    # Lost notifications --------------------------------------------------------------------

    def _notification_dropped(self) -> None:
        """asyncua's queue for the gateway was full: the newest notification was dropped."""
        self.dropped["gateway"] += 1
        self._metrics.inc("notifications_dropped_total", endpoint=self.endpoint, where="gateway")
        self._log_drops()

    def _server_overflow(self) -> None:
        self.dropped["server"] += 1
        self._metrics.inc("notifications_dropped_total", endpoint=self.endpoint, where="server")
        self._log_drops()

    def _log_drops(self) -> None:
        """The first drop at once, then at most one line a minute with the totals."""
        now = time.monotonic()
        if now - self._drops_logged_at < DROP_LOG_INTERVAL_S:
            return
        self._drops_logged_at = now
        _LOGGER.warning(
            "OPC UA %s: notifications lost: %d dropped in the gateway's queue (full at %d),"
            " %d discarded by the server (Overflow bit)",
            self.endpoint,
            self.dropped["gateway"],
            self._queue_size,
            self.dropped["server"],
        )

    def _opc_event(self, event: OpcEvent) -> None:
        machines, fields = self._event_sources.get(event.event.server_handle or -1, ([], ()))
        values = {
            f.name: v.Value for f, v in zip(fields, event.event.event_fields or [], strict=False)
        }
        machine = machines[0] if len(machines) == 1 else None
        source = values.get("SourceNode")
        if isinstance(source, ua.NodeId) and source in self._machine_nodes:
            machine = self._machine_nodes[source]
        if machine is None and not frames_refresh(values):
            return
        self._metrics.inc("opcua_events_total")
        body = self.conditions.event(machine or "", values)
        if body is not None:
            self._listener.alarm(body)


def _metric_nodes(monitored: list[Monitored]) -> dict[ua.NodeId, str]:
    """Which metric each monitored node is: an alarm's SourceNode names its metric."""
    return {
        item.node.nodeid: item.binding.metric
        for item in monitored
        if item.binding.role is Role.METRIC and item.binding.metric is not None
    }


def _what(binding: Binding) -> str:
    """How a monitored node is named in findings: ``metric power``, ``state variable fault``."""
    if binding.metric is not None:
        return f"metric {binding.metric}"
    if binding.part is not None:
        return f"{binding.role.value} variable {binding.part}"
    return binding.role.value
