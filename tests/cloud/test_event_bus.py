"""Live events cross coordinator processes: an API-only ``serve`` streams what a separate
``glonet cloud ingest`` applied, each client still sees only its own units, and no process gets
its own events twice. Real Mosquitto, real processes, real SSE over HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient

from cloud.config import MqttSettings, Settings
from cloud.event_bus import EventBus, wanted
from cloud.events import EventBroadcaster, sse_frame
from cloud.operations.metrics import Metrics
from glonet.broker import MosquittoBroker
from protocols import topics
from tests.cloud.conftest import Gateway, mqtt_settings, populate, retained_coordinator_state
from tests.cloud.serving import capacity_events_for_plant_a, serve
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_the_bus_runs_where_a_process_is_one_of_several(
    settings_factory: Callable[..., Settings],
) -> None:
    def joins(bus: str, *, ingest_only: bool = False, **overrides: object) -> bool:
        settings = settings_factory(events={"bus": bus}, **overrides)
        return wanted(settings, ingest_only=ingest_only)

    assert joins("auto", ingest={"enabled": False})  # an API-only serve
    assert joins("auto", ingest={"enabled": True}, ingest_only=True)  # glonet cloud ingest
    assert joins("auto", ingest={"enabled": True}, mqtt={"share_group": "ingest"})
    assert not joins("auto", ingest={"enabled": True})  # serve alone: nobody to share with
    assert joins("on", ingest={"enabled": True})
    assert not joins("off", ingest_only=True)


def test_an_api_only_process_streams_what_another_process_ingested(
    settings_factory: Callable[..., Settings],
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
    network: str,
    tmp_path: Path,
) -> None:
    from cloud.main import create_app

    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"api-{network}"), events={"bus": "auto"}
    )
    app = create_app(settings)
    tenants = populate(app.state.context)
    config = tmp_path / "ingest.json"
    config.write_text(
        json.dumps(
            {
                "network": network,
                "database_url": settings.resolved_database_url,
                "mqtt": mqtt_settings(running_mosquitto, f"ingest-{network}"),
            }
        )
    )
    ingest = subprocess.Popen(
        [sys.executable, "-m", "glonet", "cloud", "ingest", "--config", str(config)],
        stderr=subprocess.DEVNULL,
    )
    try:
        with serve(app) as base_url:
            bus = app.state.context.event_bus
            assert bus is not None and bus.wait_subscribed(10)
            assert app.state.context.ingest is None  # nothing is ingested in this process
            wait_until(
                lambda: retained_coordinator_state(running_mosquitto, network, 1) == "online",
                60,
                "the ingest process online",
            )

            seen = capacity_events_for_plant_a(base_url, tenants.headers("plant-a"), gateways)
            metrics = httpx.get(f"{base_url}/metrics").text
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(20)
        app.state.context.engine.dispose()
    assert [event["unit_id"] for event in seen] == ["plant-a"]  # plant-b's is not for plant-a
    assert seen[0]["type"] == "capacity" and seen[0]["state"] == "NotExecuting"
    assert 'glonet_event_bus_events_total{direction="received"}' in metrics
    assert ingest.returncode == 0


def test_health_tells_when_the_bus_is_away(
    settings_factory: Callable[..., Settings], running_mosquitto: MosquittoBroker, network: str
) -> None:
    from cloud.main import create_app

    settings = settings_factory(
        mqtt=mqtt_settings(running_mosquitto, f"api-{network}"), events={"bus": "auto"}
    )
    with TestClient(create_app(settings)) as client:
        bus = client.app.state.context.event_bus  # type: ignore[attr-defined]
        assert bus is not None and bus.wait_subscribed(10)
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["checks"] == {"database": "ok", "event_bus": "ok"}
        running_mosquitto.stop()
        health = wait_until(
            lambda: (answer := client.get("/healthz")).status_code != 200 and answer,
            10,
            "the bus's lost connection noticed",
        )
        assert health.status_code == 503
        assert health.json()["checks"]["event_bus"] == "disconnected"
        assert "glonet_event_bus_connected 0" in client.get("/metrics").text
        running_mosquitto.start()
        assert bus.wait_subscribed(15)  # it reconnects by itself
        assert client.get("/healthz").status_code == 200


async def test_each_process_gets_the_others_events_once_and_never_its_own(
    running_mosquitto: MosquittoBroker, network: str
) -> None:
    mqtt = MqttSettings(**mqtt_settings(running_mosquitto, "coord"))
    here, there = EventBroadcaster(), EventBroadcaster()
    metrics = Metrics()
    buses = [
        EventBus(settings=mqtt, network=network, broadcaster=b, metrics=metrics)
        for b in (here, there)
    ]
    for bus in buses:
        await bus.start()
    try:
        for bus in buses:
            assert await asyncio.to_thread(bus.wait_subscribed, 10)
        at = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
        async with here.subscribe() as local, there.subscribe() as remote:
            here.publish({"type": "capacity", "unit_id": "plant-a", "at": at})
            here.publish({"type": "job", "unit_id": "plant-b", "progress": 0.5})
            first = await asyncio.wait_for(remote.get(), 10)
            second = await asyncio.wait_for(remote.get(), 10)
            assert [first["type"], second["type"]] == ["capacity", "job"]  # in order
            # The frame a client reads is the same as if the event had been published here.
            local_event = {"type": "capacity", "unit_id": "plant-a", "at": at}
            assert sse_frame(first) == sse_frame(local_event)

            there.publish({"type": "marker", "unit_id": "plant-a"})  # the way back
            assert [local.get_nowait()["type"] for _ in range(2)] == ["capacity", "job"]
            assert (await asyncio.wait_for(local.get(), 10))["type"] == "marker"
            assert (await asyncio.wait_for(remote.get(), 10))["type"] == "marker"  # its own, once
            await asyncio.sleep(0.5)  # an echo of its own would have come back by now
            assert local.empty() and remote.empty()
        assert metrics.event_bus.value(direction="sent") == 3
        assert metrics.event_bus.value(direction="received") == 3
    finally:
        for bus in buses:
            await bus.stop()


async def test_a_message_that_is_not_a_list_of_events_is_ignored(
    running_mosquitto: MosquittoBroker, network: str
) -> None:
    mqtt = MqttSettings(**mqtt_settings(running_mosquitto, "coord"))
    broadcaster = EventBroadcaster()
    bus = EventBus(settings=mqtt, network=network, broadcaster=broadcaster, metrics=Metrics())
    await bus.start()
    forger = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"forger-{network}")
    forger.connect(running_mosquitto.host, running_mosquitto.port)
    forger.loop_start()
    try:
        assert await asyncio.to_thread(bus.wait_subscribed, 10)
        async with broadcaster.subscribe() as queue:
            topic = topics.coordinator_events(network, "elsewhere")
            for payload in (b"not json", b'{"type": "state"}', b"[1, 2]", b'[{"type": "ok"}]'):
                forger.publish(topic, payload, qos=1).wait_for_publish(5)
            assert (await asyncio.wait_for(queue.get(), 10)) == {"type": "ok"}
            assert queue.empty()
    finally:
        forger.disconnect()
        forger.loop_stop()
        await bus.stop()


async def test_a_subscriber_for_some_event_types_gets_only_those() -> None:
    broadcaster = EventBroadcaster()
    async with (
        broadcaster.subscribe(types={"maintenance"}) as some,
        broadcaster.subscribe() as all_,
    ):
        for kind in ("telemetry", "maintenance", "capacity"):
            broadcaster.publish({"type": kind})
        assert [some.get_nowait()["type"] for _ in range(some.qsize())] == ["maintenance"]
        assert all_.qsize() == 3
    assert broadcaster.subscribers == 0
