"""Real services for the gateway's integration tests: a simulated plant, the gateway as a
subprocess, and an MQTT observer playing the coordinator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import yaml

from firmware_sim.plant import parse_plant
from firmware_sim.server import PlantServer, ServerOptions
from glonet.broker import MosquittoBroker, free_port
from protocols import codec, messages, topics
from tests.waiting import wait_until

NETWORK = "testnet"
UNIT = "plant-a"
ROOT = Path(__file__).resolve().parents[2]


class SimPlant:
    """A firmware_sim plant server running in its own thread and event loop."""

    def __init__(
        self, machines: list[dict[str, Any]], *, time_scale: float = 60.0, **options: Any
    ) -> None:
        self.port = free_port()
        plant = parse_plant(
            {
                "unit": UNIT,
                "name": "Test plant",
                "location": {"lat": 44.6, "lon": 10.9},
                "port": self.port,
                "update_interval_s": 0.1,
                "machines": machines,
            }
        )
        options = ServerOptions(time_scale=time_scale, seed=1, **options)
        self.server = PlantServer(plant, options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def machine_configs(self) -> list[dict[str, Any]]:
        """The gateway's ``machines:`` entries for this plant."""
        return [
            {"id": spec.id, "endpoint": self.endpoint, "mapping": "firmware-sim"}
            for spec in self.server.plant.machines
        ]

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        self.run(self.server.start())

    def stop(self) -> None:
        self.run(self.server.stop())

    def inject(self, kind: str, duration_s: float, machine: str | None = None) -> None:
        self.run(self.server.inject(kind, duration_s, machine))

    def close(self) -> None:
        self.stop()
        self.run(_cancel_remaining_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def _cancel_remaining_tasks() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


MILL = {
    "id": "mill-1",
    "type": "cnc_mill",
    "max_job_orders": 20,
    "capabilities": [{"process": "milling", "parameters": {"axes": 5, "size_mm": [650, 520]}}],
}
LASER = {"id": "laser-1", "type": "laser_cutter", "max_job_orders": 20}


class Plant(Protocol):
    def machine_configs(self) -> list[dict[str, Any]]: ...


def gateway_config(
    tmp_path: Path, broker: MosquittoBroker, plant: Plant, /, **overrides: Any
) -> dict[str, Any]:
    machines = plant.machine_configs()
    config: dict[str, Any] = {
        "network": NETWORK,
        "unit": UNIT,
        "broker": {"url": broker.url, "reconnect_min_s": 0.2, "reconnect_max_s": 2.0},
        "buffer": {"path": str(tmp_path / "outbox.sqlite"), "replay_rate": 2000},
        "telemetry": {"publishing_interval_ms": 50, "batch_window_ms": 50},
        "capacity": {"heartbeat_s": 30},
        "health": {"port": free_port()},
        "machines": machines,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


class GatewayProcess:
    """``python -m glonet edge CONFIG.yaml`` as a child process, as a plant would run it."""

    def __init__(self, tmp_path: Path, config: dict[str, Any]) -> None:
        self.config = config
        self.config_path = tmp_path / "gateway.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp_path / "gateway.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glonet", "edge", str(self.config_path)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        wait_until(self._health_or_exit, 20, "the gateway's health endpoint")

    def _health_or_exit(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the gateway exited early:\n{self.log()}")
        try:
            self.health()
        except OSError:
            return False
        return True

    def health(self) -> dict[str, Any]:
        return json.loads(self._get("/healthz"))

    def metrics(self) -> str:
        return self._get("/metrics")

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(f"glonet_edge_{name}"):
                continue
            series, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def _get(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.config['health']['port']}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except urllib.error.HTTPError as exc:  # 503 while degraded still carries the document
            return exc.read().decode()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def kill_if_running(self) -> None:
        """At a test's end, whether it passed or not: no gateway outlives its test."""
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the gateway did not stop on SIGTERM:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class Coordinator:
    """An MQTT client playing the coordinator: records everything, sends commands."""

    def __init__(
        self,
        broker: MosquittoBroker,
        *,
        credentials: tuple[str, str] | None = None,
        tls: dict[str, str] | None = None,
    ) -> None:
        self.received: list[tuple[str, messages.Envelope]] = []
        self.raw: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # A persistent session, as the real coordinator has: nothing is missed across a broker
        # restart even if the gateway replays before this client has reconnected.
        client_id = f"coordinator-{time.time_ns()}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.reconnect_delay_set(0.1, 1)
        if credentials:
            self.client.username_pw_set(*credentials)
        if tls:
            self.client.tls_set(**tls)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topics.network_filter(NETWORK), 1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        kind = topics.parse(message.topic).kind
        with self._lock:
            self.raw.append((message.topic, message.payload))
            if message.payload and kind is not topics.TopicKind.COMMAND:
                self.received.append((message.topic, codec.decode_for_topic(kind, message.payload)))

    def messages(self, schema: type[messages.Envelope]) -> list[Any]:
        """Messages of one type, first delivery of each id only, in arrival order."""
        seen: set[str] = set()
        found = []
        with self._lock:
            for _, message in self.received:
                if isinstance(message, schema) and message.id not in seen:
                    seen.add(message.id)
                    found.append(message)
        return found

    def job_events(self, job_order_id: str | None = None) -> list[messages.JobEvent]:
        events = [m.body for m in self.messages(messages.JobStatus)]
        return [e for e in events if job_order_id is None or e.job_order_id == job_order_id]

    def send(self, body: Any) -> messages.Command:
        command = messages.Command.create(unit="coordinator", seq=1, body=body)
        self.send_raw(codec.encode(command))
        return command

    def send_raw(self, payload: bytes) -> None:
        info = self.client.publish(topics.command(NETWORK, UNIT), payload, qos=1)
        info.wait_for_publish(5)

    def announce(self, status: str) -> None:
        """Publish the coordinator's retained online/offline state."""
        state = messages.CoordinatorState.create(
            unit="coordinator", seq=time.time_ns(), body=messages.Availability(state=status)
        )
        info = self.client.publish(
            topics.coordinator_state(NETWORK), codec.encode(state), qos=1, retain=True
        )
        info.wait_for_publish(5)

    def clear_state(self) -> None:
        """Remove the retained coordinator state: the broker then has none to deliver."""
        info = self.client.publish(topics.coordinator_state(NETWORK), b"", qos=1, retain=True)
        info.wait_for_publish(5)

    def close(self) -> None:
        # Forget any retained coordinator state this test announced (if the broker is up).
        with contextlib.suppress(RuntimeError, ValueError):
            self.clear_state()
        self.client.disconnect()
        self.client.loop_stop()


def job_order(job_id: str, machine: str = "mill-1", **fields: Any) -> messages.JobOrder:
    values: dict[str, Any] = {
        "job_order_id": job_id,
        "machine": machine,
        "operation": "rough milling",
        "process": "milling",
        "planned_duration_s": 120.0,
    }
    values.update(fields)
    return messages.JobOrder.model_validate(values)


def dispatch(*orders: messages.JobOrder) -> messages.DispatchCommand:
    return messages.DispatchCommand(job_orders=list(orders))


def assert_in_order_per_machine(coordinator: Coordinator) -> None:
    """Job events and alarms: first deliveries per machine arrive in the order they were made."""
    per_machine: dict[str, list[int]] = {}
    seen: set[str] = set()
    with coordinator._lock:
        arrivals = list(coordinator.received)
    for _, message in arrivals:
        if not isinstance(message, messages.JobStatus | messages.Alarm) or message.id in seen:
            continue
        seen.add(message.id)
        machine = (
            message.body.machine if isinstance(message, messages.JobStatus) else message.body.asset
        )
        per_machine.setdefault(machine, []).append(message.seq)
    for machine, seqs in per_machine.items():
        assert seqs == sorted(seqs), f"{machine}: events out of order: {seqs}"


def assert_complete_job(coordinator: Coordinator, job_id: str) -> None:
    """accepted → started → progress… → ended, each once."""
    kinds = [e.event.value for e in coordinator.job_events(job_id)]
    assert kinds[:2] == ["accepted", "started"], kinds
    assert kinds[-1] == "ended", kinds
    assert set(kinds[2:-1]) <= {"progress"}, kinds
    steps = [e.progress for e in coordinator.job_events(job_id) if e.event.value == "progress"]
    assert steps == sorted(steps), kinds
