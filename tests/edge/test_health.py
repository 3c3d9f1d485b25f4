"""Metrics text and the health endpoint."""

import asyncio
import json

from edge.health import HealthServer, Metrics
from edge.nodes import metric_name
from tests.exposition import families


def test_metrics_render_in_prometheus_text_format():
    metrics = Metrics()
    metrics.inc("messages_published_total", kind="job")
    metrics.inc("messages_published_total", 2, kind="telemetry")
    metrics.set("machine_connected", 1, machine='odd"name')
    metrics.add_collector(lambda m: m.set("outbox_depth", 7))
    text = metrics.render()
    assert "# TYPE glonet_edge_messages_published_total counter" in text
    assert 'glonet_edge_messages_published_total{kind="telemetry"} 2' in text
    assert 'glonet_edge_machine_connected{machine="odd\\"name"} 1' in text
    assert "glonet_edge_outbox_depth 7" in text
    assert metrics.value("messages_published_total") == 3


LABELS = {
    "messages_published_total": ["kind"],
    "samples_invalid_total": ["reason"],
    "notifications_dropped_total": ["endpoint", "where"],
    "opcua_reconnects_total": ["endpoint"],
    "commands_total": ["kind"],
    "commands_rejected_total": ["reason"],
    "job_events_total": ["event"],
    "alarms_total": ["state"],
    "alarm_acknowledgements_total": ["result"],
    "machine_connected": ["machine"],
}
"""The label names each metric is updated with, the way the gateway updates it."""

EXPECTED = {
    "messages_published_total": (
        "counter",
        "Messages acknowledged by the broker (PUBACK), by kind",
    ),
    "messages_failed_total": (
        "counter",
        "Publications lost with the connection before their PUBACK",
    ),
    "messages_evicted_total": ("counter", "Messages evicted from the full outbox (telemetry only)"),
    "telemetry_dropped_total": (
        "counter",
        "Telemetry batches refused because events fill the outbox quota",
    ),
    "samples_invalid_total": (
        "counter",
        "Samples rejected because the protocol cannot carry their value, by reason (type, range,"
        " no_value: a Good sample without a value)",
    ),
    "notifications_dropped_total": (
        "counter",
        "OPC UA notifications lost, by endpoint and where: gateway (asyncua's queue was full) or"
        " server (the Overflow bit: the server discarded values of a monitored item)",
    ),
    "mqtt_reconnects_total": ("counter", "MQTT connections established after the first one"),
    "mqtt_auth_failures_total": (
        "counter",
        "Connection attempts the broker refused for bad credentials",
    ),
    "opcua_reconnects_total": (
        "counter",
        "OPC UA connections established after the first one, by endpoint",
    ),
    "data_changes_total": ("counter", "OPC UA data change notifications received"),
    "opcua_events_total": ("counter", "OPC UA alarm events received"),
    "commands_total": ("counter", "Commands received from the coordinator, by kind"),
    "commands_rejected_total": ("counter", "Commands or job orders rejected, by reason"),
    "job_events_total": ("counter", "Job events queued, by event"),
    "alarms_total": ("counter", "Alarm messages queued, by state"),
    "alarm_acknowledgements_total": ("counter", "Acknowledge calls on alarm conditions, by result"),
    "outbox_depth": ("gauge", "Messages waiting in the outbox"),
    "outbox_bytes": ("gauge", "Payload bytes waiting in the outbox"),
    "outbox_oldest_age_seconds": ("gauge", "Age of the oldest unsent message"),
    "outbox_quota_exceeded": (
        "gauge",
        "1 when only job events and alarms fill the outbox past its quota",
    ),
    "broker_connected": ("gauge", "1 while connected to the MQTT broker"),
    "coordinator_online": (
        "gauge",
        "1 while the outbox is forwarded: the coordinator's state is online (or the broker has"
        " none); 0 while it says offline or is not yet known after a (re)connect",
    ),
    "machine_connected": ("gauge", "1 while the machine's OPC UA server is connected, by machine"),
}
"""Every metric the gateway had before prometheus_client: type and help."""


def test_every_family_keeps_its_name_type_help_and_labels():
    metrics = Metrics()
    for name, (kind, _) in EXPECTED.items():
        update = metrics.inc if kind == "counter" else metrics.set
        update(name, 1, **{label: "x" for label in LABELS.get(name, ())})
    expected = {
        f"glonet_edge_{name}": (kind, help_text, set(LABELS.get(name, ())))
        for name, (kind, help_text) in EXPECTED.items()
    }
    assert families(metrics.render()) == expected


async def _get(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    writer.write_eof()
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_health_server_answers_healthz_and_metrics():
    state = {"status": "ok"}
    server = HealthServer("127.0.0.1", 0, lambda: dict(state), Metrics())
    await server.start()
    try:
        ok = await _get(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.0 200") and json.loads(ok.split(b"\r\n\r\n")[1]) == state
        state["status"] = "degraded"
        assert (await _get(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")).startswith(
            b"HTTP/1.0 503"
        )
        assert b"glonet_edge_" in await _get(server.port, b"GET /metrics HTTP/1.0\r\n\r\n")
        assert b"404" in await _get(server.port, b"GET /nope HTTP/1.0\r\n\r\n")
        assert b"405" in await _get(server.port, b"POST /healthz HTTP/1.0\r\n\r\n")
        assert await _get(server.port, b"garbage") == b""
    finally:
        await server.stop()


def test_metric_names_are_snake_case():
    assert metric_name("SpindleTemperature") == "spindle_temperature"
    assert metric_name("VibrationRMS") == "vibration_rms"
    assert metric_name("power") == "power"
