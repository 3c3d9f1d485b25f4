"""The gateway daemon: wires the OPC UA machines, the outbox, the MQTT link and the endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

from edge import __version__
from edge.binding import Binding, MachineIdentity, Role
from edge.capacity import CapacityReporter, MachineStatus
from edge.commands import CommandHandler
from edge.config import GatewayConfig, MachineMapping
from edge.errors import GatewayError, MachineError
from edge.forwarder import Forwarder, Hold
from edge.health import HealthServer, Metrics
from edge.jobs import JobTracker, parse_job_lists
from edge.mqtt import MqttLink, SessionMessages
from edge.opcua import EndpointConnection
from edge.outbox import Outbox
from edge.rules import RuleEngine
from edge.uplink import Uplink
from edge.vendor import Unmapped, VendorTranslation
from protocols import ProtocolError, codec, messages, topics
from protocols.codec import SampleStatus
from protocols.enums import MachineryItemState, MachineryOperationMode, Quality, UnitStatus
from protocols.topics import TopicKind

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_FLUSH_S = 5.0


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.outbox = Outbox(config.buffer.path, quota_bytes=config.buffer.quota_bytes)
        self.uplink = Uplink(config, self.outbox, self.metrics, on_written=self._written)
        network, unit = config.network, config.unit
        self.link = MqttLink(
            config.broker,
            client_id=config.client_id,
            subscriptions=[topics.command(network, unit), topics.coordinator_state(network)],
            session_messages=self._session_messages,
            on_message=self._mqtt_message,
            on_connected=self._broker_connected,
            on_subscribed=self._subscribed,
            on_disconnected=self._broker_disconnected,
            max_inflight=config.buffer.max_inflight,
            metrics=self.metrics,
        )
        self.forwarder = Forwarder(
            self.outbox,
            self.link,
            self.metrics,
            rate=config.buffer.replay_rate,
            max_inflight=config.buffer.max_inflight,
            coordinator_state_grace_s=config.buffer.coordinator_state_grace_s,
        )
        self.capacity = CapacityReporter(
            self.uplink,
            heartbeat_s=config.capacity.heartbeat_s,
            tolerance_s=config.capacity.free_at_tolerance_s,
            outbox_depth=lambda: self.outbox.depth,
        )
        self.trackers = {
            m.id: JobTracker(m.id, self.uplink, self.outbox, config.jobs.progress_step)
            for m in config.machines
        }
        self.rules = RuleEngine(config.rules, self.uplink, self.outbox)
        self._mappings: dict[str, MachineMapping] = {
            m.id: config.mapping_for(m) for m in config.machines
        }
        self.endpoints = self._endpoints()
        self._identities: dict[str, MachineIdentity] = {}
        self._job_lists: dict[str, dict[Role, Any]] = defaultdict(dict)
        self._job_lists_dirty: set[str] = set()
        self.findings = {m: f for e in self.endpoints for m, f in e.findings.by_machine.items()}
        self._translations: dict[tuple[str, Role], VendorTranslation[Any]] = {}
        for machine in config.machines:
            # The capacity report shows the unmapped values the findings hold (the same dict).
            unmapped = self.findings[machine.id].unmapped
            self.capacity.statuses[machine.id] = MachineStatus(unmapped=unmapped)
            mapping = self._mappings[machine.id]
            if mapping.state is not None:
                self._translations[(machine.id, Role.STATE)] = VendorTranslation(
                    mapping.state, MachineryItemState, MachineryItemState.NOT_AVAILABLE
                )
            if mapping.mode is not None:
                self._translations[(machine.id, Role.MODE)] = VendorTranslation(
                    mapping.mode, MachineryOperationMode, MachineryOperationMode.NONE
                )
        self.commands = CommandHandler(
            controls={m: c for e in self.endpoints for m, c in e.controls.items()},
            trackers=self.trackers,
            listed_jobs=lambda machine: set(self.capacity.statuses[machine].jobs),
            rebirth=self.rebirth,
            acknowledge=self.acknowledge_alarms,
            uplink=self.uplink,
            metrics=self.metrics,
        )
        self.health = HealthServer(
            config.health.host, config.health.port, self.status, self.metrics
        )
        self.metrics.add_collector(self._collect)
        self._started = time.monotonic()

    def _endpoints(self) -> list[EndpointConnection]:
        groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        for machine in self.config.machines:
            # The JSON shows the password as "**********": machines that differ only in their
            # password need sessions of their own.
            password = machine.security.password
            secret = password.get_secret_value() if password else ""
            key = (machine.endpoint, machine.security.model_dump_json(), secret)
            groups[key].append((machine, self._mappings[machine.id]))
        return [
            EndpointConnection(
                machines[0][0].endpoint,
                machines[0][0].security,
                machines,
                publishing_interval_ms=self.config.telemetry.publishing_interval_ms,
                subscription_queue=self.config.telemetry.subscription_queue,
                reconnect=self.config.opcua,
                listener=self,
                metrics=self.metrics,
            )
            for machines in groups.values()
        ]

    # Running ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        await self.health.start()
        self.capacity.publish_all()
        workers = [
            self.link.run(),
            self.forwarder.run(),
            self.uplink.run(),
            self.capacity.run(),
            self.rules.run(),
            self.outbox.run_checkpoints(),
        ]
        tasks = [asyncio.create_task(w) for w in workers]
        machine_tasks = [asyncio.create_task(e.run()) for e in self.endpoints]
        _LOGGER.info(
            "Gateway %s/%s running: %d machines on %d OPC UA endpoints, outbox %s (%d queued)",
            self.config.network,
            self.config.unit,
            len(self.config.machines),
            len(self.endpoints),
            self.config.buffer.path,
            self.outbox.depth,
        )
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                [stopper, *tasks, *machine_tasks], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task is not stopper:
                    raise GatewayError(f"a gateway task ended: {task.exception()!r}")
        finally:
            stopper.cancel()
            await self._shutdown(machine_tasks, tasks)

    async def _shutdown(self, machine_tasks: list[asyncio.Task[Any]], tasks: list[Any]) -> None:
        _LOGGER.info("Stopping: flushing the outbox for up to %.0f s", SHUTDOWN_FLUSH_S)
        await _cancel(machine_tasks)
        self.uplink.flush_telemetry()
        deadline = time.monotonic() + SHUTDOWN_FLUSH_S
        while self.link.connected and not self.forwarder.idle and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self.link.stop(self.uplink.offline_message("gateway stopped"))
        await _cancel(tasks)
        await self.health.stop()
        _LOGGER.info("Stopped with %d messages kept in the outbox", self.outbox.depth)
        self.outbox.close()

    # MQTT side ----------------------------------------------------------------------------

    def _session_messages(self) -> SessionMessages:
        return self.uplink.session_messages(self.description())

    def _written(self) -> None:
        self.forwarder.wake()

    def _broker_connected(self) -> None:
        self.forwarder.link_established()

    def _subscribed(self, topic_filter: str) -> None:
        if topic_filter == topics.coordinator_state(self.config.network):
            self.forwarder.coordinator_state_subscribed()

    def _broker_disconnected(self) -> None:
        self.forwarder.link_lost()

    async def _mqtt_message(self, topic: str, payload: bytes) -> None:
        try:
            kind = topics.parse(topic).kind
        except ProtocolError:
            return
        if kind is TopicKind.COMMAND:
            await self.commands.handle(payload)
        elif kind is TopicKind.COORDINATOR_STATE:
            self._coordinator_state(payload)

    def _coordinator_state(self, payload: bytes) -> None:
        if not payload:
            self.forwarder.set_coordinator_online(True)
            return
        try:
            message = codec.decode(payload, expected=messages.CoordinatorState)
        except ProtocolError as exc:
            _LOGGER.warning("Ignoring an invalid coordinator state: %s", exc)
            return
        self.forwarder.set_coordinator_online(message.body.state is UnitStatus.ONLINE)

    def description(self) -> messages.UnitDescription:
        machines = []
        for config in self.config.machines:
            identity = self._identities.get(config.id, MachineIdentity())
            machines.append(
                messages.MachineDescription(
                    machine=config.id,
                    name=config.name or config.id,
                    asset_kind="product" if identity.asset_kind == "product" else "machine",
                    manufacturer=identity.manufacturer,
                    model=identity.model,
                    serial_number=identity.serial_number,
                    capabilities=list(identity.capabilities),
                    metrics=list(identity.metrics),
                    max_job_orders=self.capacity.statuses[config.id].max_job_orders,
                )
            )
        return messages.UnitDescription(gateway_version=__version__, machines=machines)

    def rebirth(self) -> None:
        """Publish the birth and every capacity report again."""
        self.link.announce(self.uplink.birth_message(self.description()))
        self.capacity.publish_all()

    # OPC UA side (MachineListener) --------------------------------------------------------

    def machine_connected(self, machine: str, identity: MachineIdentity) -> None:
        changed = self._identities.get(machine) != identity
        self._identities[machine] = identity
        status = self.capacity.statuses[machine]
        status.connected = True
        status.max_job_orders = identity.max_job_orders
        self.capacity.update(machine)
        if changed:
            self.link.announce(self.uplink.birth_message(self.description()))

    def machine_disconnected(self, machine: str) -> None:
        self._job_lists.pop(machine, None)
        for role in (Role.STATE, Role.MODE):
            translation = self._translations.get((machine, role))
            if translation is not None:
                translation.reset()
        self.capacity.statuses[machine].connected = False
        self.capacity.update(machine)

    def value_changed(
        self,
        binding: Binding,
        value: Any,
        source_time: datetime | None,
        quality: Quality,
        status: SampleStatus | None,
    ) -> None:
        machine, role = binding.machine, binding.role
        if role is Role.METRIC:
            self._metric_changed(binding, value, source_time, quality, status)
            return
        machine_status = self.capacity.statuses[machine]
        if role is Role.STATE or role is Role.MODE:
            if not self._vendor_value(binding, value):
                return
        elif role is Role.MAX_JOB_ORDERS:
            machine_status.max_job_orders = value if isinstance(value, int) and value >= 0 else 0
        else:
            self._job_list_changed(machine, role, value)
            return
        self.capacity.update(machine)

    def _metric_changed(
        self,
        binding: Binding,
        value: Any,
        source_time: datetime | None,
        quality: Quality,
        status: SampleStatus | None,
    ) -> None:
        machine, metric = binding.machine, binding.metric
        assert metric is not None
        findings = self.findings[machine]
        problem = self.uplink.add_sample(machine, metric, value, source_time, quality, status)
        if problem is not None:
            findings.rejected_value(metric, problem)
        elif findings.rejected:
            findings.rejected.pop(metric, None)
        if status is not None:
            findings.status[metric] = status[1]
        elif findings.status:
            findings.status.pop(metric, None)
        self.rules.observe(machine, metric, value)

    def _vendor_value(self, binding: Binding, value: Any) -> bool:
        """Translate a state or mode variable; whether the machine's status may have changed."""
        machine, role = binding.machine, binding.role
        result = self._translations[(machine, role)].update(binding.part, value)
        if result is None:
            return False  # a derived value still waits for some of its variables
        findings, status = self.findings[machine], self.capacity.statuses[machine]
        if isinstance(result, Unmapped):
            findings.unmapped_value(role.value, result.value)
            result = self._translations[(machine, role)].unknown
        else:
            findings.mapped_value(role.value)
        if role is Role.STATE:
            status.state = result
        else:
            status.mode = result
        return True

    def _job_list_changed(self, machine: str, role: Role, value: Any) -> None:
        # Both lists usually change together: compare once both notifications are in.
        if machine not in self._job_lists_dirty:
            self._job_lists_dirty.add(machine)
            asyncio.get_running_loop().call_soon(self._compare_job_lists, machine)
        self._job_lists[machine][role] = value

    def _compare_job_lists(self, machine: str) -> None:
        self._job_lists_dirty.discard(machine)
        lists = self._job_lists.get(machine, {})
        # The order list is authoritative: without it, every job would look gone.
        if Role.ORDER_LIST not in lists:
            return
        jobs = parse_job_lists(lists[Role.ORDER_LIST], lists.get(Role.RESPONSE_LIST))
        self.capacity.statuses[machine].jobs = jobs
        self.trackers[machine].update(jobs)
        self.capacity.update(machine)

    def alarm(self, body: messages.AlarmEvent) -> None:
        self.uplink.send(TopicKind.ALARM, body.asset, messages.Alarm, body)

    async def acknowledge_alarms(self, command: messages.AcknowledgeCommand) -> None:
        """Acknowledge each condition at the machine; a refusal is logged and counted, not fatal."""
        endpoint = next(e for e in self.endpoints if command.machine in e.controls)
        comment = f"acknowledged at the coordinator (ticket {command.ticket_id}) {command.comment}"
        for code in command.codes:
            try:
                await endpoint.conditions.acknowledge(command.machine, code, comment.strip())
            except MachineError as exc:
                self.metrics.inc("alarm_acknowledgements_total", result="failed")
                _LOGGER.warning("Alarm acknowledgement not delivered: %s", exc)
            else:
                self.metrics.inc("alarm_acknowledgements_total", result="acknowledged")
                _LOGGER.info("Acknowledged %s on %s", code, command.machine)

    # Health -------------------------------------------------------------------------------

    def _collect(self, metrics: Metrics) -> None:
        metrics.set("outbox_depth", self.outbox.depth)
        metrics.set("outbox_bytes", self.outbox.size_bytes)
        metrics.set("outbox_oldest_age_seconds", round(self.outbox.oldest_age(), 3))
        metrics.set("outbox_quota_exceeded", 1.0 if self.outbox.quota_exceeded else 0.0)
        metrics.set("broker_connected", 1.0 if self.link.connected else 0.0)
        metrics.set("coordinator_online", 0.0 if self.forwarder.held else 1.0)

    def status(self) -> dict[str, Any]:
        """The ``/healthz`` document."""
        machines = {}
        endpoints = {}
        problems = []
        for endpoint in self.endpoints:
            endpoints[endpoint.endpoint] = {
                "connected": endpoint.connected,
                "last_error": None if endpoint.connected else endpoint.last_error,
                "notifications_dropped": dict(endpoint.dropped),
            }
            for machine, findings in endpoint.findings.by_machine.items():
                status = self.capacity.statuses[machine]
                machines[machine] = {
                    "connected": status.connected,
                    "endpoint": endpoint.endpoint,
                    "state": status.state.value,
                    "mode": status.mode.value,
                    "last_error": None if endpoint.connected else endpoint.last_error,
                    **findings.health(),
                }
                if status.connected:
                    problems += findings.problems
        outbox = {
            "depth": self.outbox.depth,
            "bytes": self.outbox.size_bytes,
            "quota_bytes": self.outbox.quota_bytes,
            "oldest_age_s": round(self.outbox.oldest_age(), 3),
            "quota_exceeded": self.outbox.quota_exceeded,
            "held_while_coordinator_offline": self.forwarder.hold is Hold.COORDINATOR_OFFLINE,
            "hold": self.forwarder.hold.value if self.forwarder.hold else None,
        }
        if not self.link.connected:
            problems.insert(0, "broker disconnected")
        if self.outbox.quota_exceeded:
            problems.insert(0, "outbox quota exceeded: only job events and alarms are kept")
        problems += [f"machine {m} disconnected" for m, s in machines.items() if not s["connected"]]
        return {
            "status": "ok" if not problems else "degraded",
            "problems": problems,
            "network": self.config.network,
            "unit": self.config.unit,
            "uptime_s": round(time.monotonic() - self._started, 1),
            "broker": {
                "url": self.config.broker.url,
                "connected": self.link.connected,
                "last_error": self.link.last_error,
                "auth_failures": self.link.auth_failures,
            },
            "endpoints": endpoints,
            "machines": machines,
            "outbox": outbox,
        }


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:
                _LOGGER.exception("A gateway task failed")
