"""Operations endpoints: ``/healthz`` (JSON) and ``/metrics`` (Prometheus text format).

A tiny asyncio HTTP/1.0 server: two read-only pages do not justify a web framework in the
gateway's process. The metrics are ``prometheus_client``'s, in a registry per gateway (not the
library's global one: tests run several gateways in one process).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

_LOGGER = logging.getLogger(__name__)

# One sample per series: the ``_created`` companions would double the exposition.
prometheus_client.disable_created_metrics()

PREFIX = "glonet_edge_"
COUNTERS = {
    "messages_published_total": "Messages acknowledged by the broker (PUBACK), by kind",
    "messages_failed_total": "Publications lost with the connection before their PUBACK",
    "messages_evicted_total": "Messages evicted from the full outbox (telemetry only)",
    "telemetry_dropped_total": "Telemetry batches refused because events fill the outbox quota",
    "samples_invalid_total": (
        "Samples rejected because the protocol cannot carry their value, by reason (type, range,"
        " no_value: a Good sample without a value)"
    ),
    "notifications_dropped_total": (
        "OPC UA notifications lost, by endpoint and where: gateway (asyncua's queue was full) or"
        " server (the Overflow bit: the server discarded values of a monitored item)"
    ),
    "mqtt_reconnects_total": "MQTT connections established after the first one",
    "mqtt_auth_failures_total": "Connection attempts the broker refused for bad credentials",
    "opcua_reconnects_total": "OPC UA connections established after the first one, by endpoint",
    "data_changes_total": "OPC UA data change notifications received",
    "opcua_events_total": "OPC UA alarm events received",
    "commands_total": "Commands received from the coordinator, by kind",
    "commands_rejected_total": "Commands or job orders rejected, by reason",
    "job_events_total": "Job events queued, by event",
    "alarms_total": "Alarm messages queued, by state",
    "alarm_acknowledgements_total": "Acknowledge calls on alarm conditions, by result",
}
GAUGES = {
    "outbox_depth": "Messages waiting in the outbox",
    "outbox_bytes": "Payload bytes waiting in the outbox",
    "outbox_oldest_age_seconds": "Age of the oldest unsent message",
    "outbox_quota_exceeded": "1 when only job events and alarms fill the outbox past its quota",
    "broker_connected": "1 while connected to the MQTT broker",
    "coordinator_online": (
        "1 while the outbox is forwarded: the coordinator's state is online (or the broker has"
        " none); 0 while it says offline or is not yet known after a (re)connect"
    ),
    "machine_connected": "1 while the machine's OPC UA server is connected, by machine",
}

LABELS = {
    "messages_published_total": ("kind",),
    "samples_invalid_total": ("reason",),
    "notifications_dropped_total": ("endpoint", "where"),
    "opcua_reconnects_total": ("endpoint",),
    "commands_total": ("kind",),
    "commands_rejected_total": ("reason",),
    "job_events_total": ("event",),
    "alarms_total": ("state",),
    "alarm_acknowledgements_total": ("result",),
    "machine_connected": ("machine",),
}
"""The label names of the metrics that have any."""


class Metrics:
    """The gateway's counters and gauges in a ``prometheus_client`` registry of their own,
    updated by name (``metrics.inc("commands_total", kind="dispatch")``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Any] = {}
        for kind, help_texts in ((Counter, COUNTERS), (Gauge, GAUGES)):
            for name, help_text in help_texts.items():
                self._metrics[name] = kind(
                    PREFIX + name, help_text, LABELS.get(name, ()), registry=self.registry
                )
        self._collectors: list[Callable[[Metrics], None]] = []

    def _series(self, name: str, labels: dict[str, str]) -> Any:
        metric = self._metrics[name]
        return metric.labels(**labels) if name in LABELS else metric

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        assert name in COUNTERS, name
        self._series(name, labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        assert name in GAUGES, name
        self._series(name, labels).set(value)

    def value(self, name: str, **labels: str) -> float:
        """A counter summed over the label values not given, or a gauge."""
        wanted = set(labels.items())
        return sum(
            sample.value
            for family in self._metrics[name].collect()
            for sample in family.samples
            if sample.name == PREFIX + name and wanted <= set(sample.labels.items())
        )

    def add_collector(self, collect: Callable[[Metrics], None]) -> None:
        """``collect(metrics)`` refreshes gauges just before each rendering."""
        self._collectors.append(collect)

    def render(self) -> str:
        for collect in self._collectors:
            collect(self)
        return generate_latest(self.registry).decode()


class HealthServer:
    """Serves ``/healthz`` from ``health()`` and ``/metrics`` from ``metrics``."""

    def __init__(
        self, host: str, port: int, health: Callable[[], dict[str, Any]], metrics: Metrics
    ) -> None:
        self.host = host
        self.port = port
        self._health = health
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Health endpoint on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            method, path, *_ = request.decode("latin-1").split(" ", 2)
            status, content_type, body = self._respond(method, path.split("?", 1)[0])
            header = (
                f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(header.encode() + body)
            await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/healthz":
            health = self._health()
            status = "200 OK" if health["status"] == "ok" else "503 Service Unavailable"
            return status, "application/json", json.dumps(health, indent=1).encode()
        if path == "/metrics":
            return "200 OK", "text/plain; version=0.0.4", self._metrics.render().encode()
        return "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
