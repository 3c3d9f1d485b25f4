"""Metrics text and the health endpoint."""

import asyncio
import json

from edge.health import HealthServer, Metrics
from edge.nodes import metric_name


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
