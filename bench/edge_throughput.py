"""Edge gateway throughput: OPC UA data changes → MQTT, against a raw asyncua client.

For each offered rate, an asyncua server (its own process) changes N variables at a fixed rate.
(a) a raw asyncua client subscribes to all of them and counts data changes per second;
(b) the gateway (``glonet edge``, its own process, outbox on) subscribes the same way and an
MQTT subscriber counts the samples that arrive in telemetry messages per second;
(c) the ratio b/a; (d) latency from the value's source timestamp to MQTT delivery, p50/p99;
(e) the gateway's peak RSS; (f) the time from a dispatch to ``started`` on standard job control,
through the gateway and from a raw asyncua client, on firmware_sim and on the node-opcua press of
the conformance suite (``bench/dispatch_latency.py``).
Prints a table, writes JSON and a chart to ``bench/results/``.

    python bench/edge_throughput.py [--rates 1000 5000 10000] [--variables 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dispatch_latency  # a sibling script: bench/ is on sys.path when a script here runs
import paho.mqtt.client as mqtt
import yaml
from _harness.cpu import peak_rss_mb
from _harness.report import RESULTS, Column, Table, pyplot, save, write_json
from _harness.services import gateway_health, start_glonet, wait_gateway_connected
from asyncua import Client, Server, ua
from asyncua.common.subscription import DataChangeEvent

from firmware_sim.address_space import NAMESPACE_URI
from glonet.broker import MosquittoBroker, free_port

MACHINES = 10
PUBLISHING_INTERVAL_MS = 20
LATENCY_EVERY = 5
BATCH_WINDOW_MS = 20
TARGET = {"ratio": 0.8, "rate": 5000, "p99_ms": 100.0, "rss_mb": 150.0}


# The OPC UA server (a child process) ------------------------------------------------------


def serve(port: int, variables: int, rate: float, ready: Any, written: Any) -> None:
    asyncio.run(_serve(port, variables, rate, ready, written))


async def _serve(port: int, variables: int, rate: float, ready: Any, written: Any) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench")
    idx = await server.register_namespace(NAMESPACE_URI)
    folder = await server.nodes.objects.add_folder(ua.NodeId("Machines", idx), f"{idx}:Machines")
    nodes = []
    per_machine = variables // MACHINES
    for m in range(MACHINES):
        machine = await folder.add_object(ua.NodeId(f"m{m}", idx), f"{idx}:m{m}")
        monitoring = await machine.add_object(ua.NodeId(f"m{m}.Mon", idx), f"{idx}:Monitoring")
        for v in range(per_machine):
            node = await monitoring.add_variable(
                ua.NodeId(f"m{m}.v{v}", idx), f"{idx}:Value{v}", 0.0
            )
            nodes.append(node.nodeid)
    async with server:
        ready.set()
        await _change_values(server, nodes, rate, written)


async def _change_values(server: Server, nodes: list[ua.NodeId], rate: float, written: Any) -> None:
    """Write ``rate`` changes a second, spread over ticks of 10 ms, round-robin over nodes."""
    tick = 0.01
    per_tick = rate * tick
    owed = 0.0
    index = 0
    value = 0.0
    next_tick = time.monotonic()
    while True:
        owed += per_tick
        now = datetime.now(UTC)
        while owed >= 1:
            owed -= 1
            value += 1.0
            data = ua.DataValue(Value=ua.Variant(value, ua.VariantType.Double), SourceTimestamp=now)
            await server.write_attribute_value(nodes[index], data)
            index = (index + 1) % len(nodes)
            written.value += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))


# (a) the raw asyncua client ---------------------------------------------------------------


async def raw_rate(endpoint: str, variables: int, seconds: float) -> tuple[float, list[float]]:
    """Data changes a second, and OPC UA change → client latencies (ms) of one in 20."""
    client = Client(endpoint)
    await client.connect()
    try:
        idx = await client.get_namespace_index(NAMESPACE_URI)
        nodes = [
            client.get_node(ua.NodeId(f"m{m}.v{v}", idx))
            for m in range(MACHINES)
            for v in range(variables // MACHINES)
        ]
        sub = await client.create_subscription(PUBLISHING_INTERVAL_MS, queue_maxsize=1_000_000)
        await sub.subscribe_data_change(nodes, sampling_interval=0)
        count = 0
        deadline = None
        latencies: list[float] = []
        async for event in sub:
            count += 1
            if deadline is None and count == len(nodes):
                count, started = 0, time.monotonic()  # initial values are not changes
                deadline = started + seconds
            if deadline is None:
                continue
            if count % 20 == 0 and isinstance(event, DataChangeEvent):
                source = event.data.monitored_item.Value.SourceTimestamp
                if source is not None:
                    source = source if source.tzinfo else source.replace(tzinfo=UTC)
                    latencies.append((time.time() - source.timestamp()) * 1000)
            if time.monotonic() >= deadline:
                return count / (time.monotonic() - started), latencies
    finally:
        await client.disconnect()
    return 0.0, []


# (b) the gateway, end to end --------------------------------------------------------------


class TelemetryCounter:
    """An MQTT subscriber counting samples and their source → delivery latency."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.samples = 0
        self.messages = 0
        self.latencies: list[float] = []
        self.measuring = False
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-counter")
        self.client.on_message = self._message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("glonet/v1/bench/+/+/telemetry", qos=1)
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        if not self.measuring:
            return
        # Counting must not cost the machine more than the gateway does: samples are counted
        # in the raw bytes, and one message in LATENCY_EVERY is decoded for latencies.
        self.messages += 1
        with self._lock:
            self.samples += message.payload.count(b'"metric":')
        if self.messages % LATENCY_EVERY:
            return
        samples = json.loads(message.payload)["body"]["samples"]
        with self._lock:
            for sample in samples[:: max(1, len(samples) // 20)]:
                source = datetime.fromisoformat(sample["source_time"]).timestamp()
                self.latencies.append((now - source) * 1000)

    def measure(self, seconds: float) -> float:
        with self._lock:
            self.samples, self.latencies = 0, []
        self.measuring = True
        time.sleep(seconds)
        self.measuring = False
        return self.samples / seconds

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def gateway_config(folder: Path, broker: MosquittoBroker, endpoint: str, health_port: int) -> Path:
    mapping = {
        "namespaces": {"b": NAMESPACE_URI},
        "root": "/0:Objects/b:Machines/b:{machine}",
        "metrics_folder": {"path": "b:Monitoring", "sampling_ms": 0},
    }
    config = {
        "network": "bench",
        "unit": "bench-plant",
        "broker": {"url": broker.url},
        "buffer": {"path": str(folder / "outbox.sqlite"), "replay_rate": 5000},
        "telemetry": {
            "publishing_interval_ms": PUBLISHING_INTERVAL_MS,
            "batch_window_ms": BATCH_WINDOW_MS,
        },
        "health": {"port": health_port},
        "mappings": {"bench": mapping},
        "machines": [
            {"id": f"m{m}", "endpoint": endpoint, "mapping": "bench"} for m in range(MACHINES)
        ],
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def gateway_run(
    folder: Path, broker: MosquittoBroker, endpoint: str, seconds: float
) -> dict[str, float]:
    health_port = free_port()
    config = gateway_config(folder, broker, endpoint, health_port)
    counter = TelemetryCounter(broker)
    process = start_glonet("edge", str(config), log=folder / "gateway.log")
    try:
        wait_gateway_connected(health_port)
        time.sleep(2)  # warm up: initial values, first batches
        rate = counter.measure(seconds)
        latencies = sorted(counter.latencies)
        depth = gateway_health(health_port)["outbox"]["depth"]
        return {
            "gateway_rate": rate,
            "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99),
            "rss_mb": peak_rss_mb(process.pid),
            "outbox_depth_at_end": depth,
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        counter.close()


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[int((len(ordered) - 1) * fraction)] if ordered else float("nan")


# Driver -----------------------------------------------------------------------------------


class ChangeCounter:
    """How many changes the server really wrote during a measurement (it may fall behind)."""

    def __init__(self, written: Any) -> None:
        self._written = written
        self._start = (0, 0.0)

    def start(self) -> None:
        self._start = (self._written.value, time.monotonic())

    def rate(self) -> float:
        count, started = self._start
        return (self._written.value - count) / (time.monotonic() - started)


def run_rate(
    rate: float, variables: int, seconds: float, rounds: int, broker: MosquittoBroker
) -> dict:
    """Alternate raw and gateway measurements, so that both see the same machine load."""
    port = free_port()
    ready = multiprocessing.Event()
    written = multiprocessing.Value("q", 0, lock=False)
    server = multiprocessing.Process(target=serve, args=(port, variables, rate, ready, written))
    server.start()
    changes = ChangeCounter(written)
    raws, raw_latencies, gateways, server_rates = [], [], [], []
    try:
        if not ready.wait(60):
            raise RuntimeError("the bench OPC UA server did not start")
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench"
        for _ in range(rounds):
            changes.start()
            raw, latencies = asyncio.run(raw_rate(endpoint, variables, seconds))
            raws.append(raw)
            raw_latencies += latencies
            server_rates.append(changes.rate())
            with tempfile.TemporaryDirectory() as folder:
                gateways.append(gateway_run(Path(folder), broker, endpoint, seconds))
    finally:
        server.terminate()
        server.join(10)
    raw = statistics.mean(raws)
    gateway = statistics.mean(g["gateway_rate"] for g in gateways)
    raw_latencies.sort()
    return {
        "raw_p50_ms": _percentile(raw_latencies, 0.5),
        "raw_p99_ms": _percentile(raw_latencies, 0.99),
        "offered_rate": rate,
        "server_rate": statistics.mean(server_rates),
        "raw_rate": raw,
        "gateway_rate": gateway,
        "ratio": gateway / raw,
        "p50_ms": statistics.median(g["p50_ms"] for g in gateways),
        "p99_ms": max(g["p99_ms"] for g in gateways),
        "rss_mb": max(g["rss_mb"] for g in gateways),
        "rounds": {"raw": raws, "gateway": gateways},
    }


TABLE = Table(
    [
        Column("offered/s", 10, lambda r: r["offered_rate"], spec=".0f"),
        Column("written/s", 10, lambda r: r["server_rate"], spec=".0f"),
        Column("raw asyncua/s", 14, lambda r: r["raw_rate"], spec=".0f"),
        Column("gateway/s", 10, lambda r: r["gateway_rate"], spec=".0f"),
        Column("ratio", 6, lambda r: r["ratio"], spec=".2f"),
        Column("raw p50/p99 ms", 15, lambda r: f"{r['raw_p50_ms']:>7.0f}/{r['raw_p99_ms']:<7.0f}"),
        Column("gw p50/p99 ms", 14, lambda r: f"{r['p50_ms']:>6.0f}/{r['p99_ms']:<7.0f}"),
        Column("RSS MB", 7, lambda r: r["rss_mb"], spec=".1f"),
    ],
    separator=" ",
)


def print_table(results: list[dict]) -> None:
    TABLE.print(results)
    print(
        f"target: ratio ≥ {TARGET['ratio']} at ≥ {TARGET['rate']} changes/s,"
        f" p99 ≤ {TARGET['p99_ms']:.0f} ms, RSS ≤ {TARGET['rss_mb']:.0f} MB"
    )


def chart(results: list[dict], path: Path) -> None:
    plt = pyplot()
    offered = [r["offered_rate"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(offered, [r["raw_rate"] for r in results], "o-", label="raw asyncua client")
    left.plot(offered, [r["gateway_rate"] for r in results], "s-", label="gateway → MQTT")
    left.plot(offered, offered, ":", color="grey", label="offered")
    left.plot(offered, [r["server_rate"] for r in results], "^--", label="server wrote")
    left.set(xlabel="offered changes/s", ylabel="delivered changes/s", title="Throughput")
    left.legend()
    right.plot(offered, [r["p50_ms"] for r in results], "o-", label="p50")
    right.plot(offered, [r["p99_ms"] for r in results], "s-", label="p99")
    right.plot(offered, [r["raw_p99_ms"] for r in results], "x:", label="p99, raw client")
    right.axhline(TARGET["p99_ms"], color="red", linestyle=":", label="p99 target")
    right.set(xlabel="offered changes/s", ylabel="ms", title="OPC UA change → MQTT delivery")
    right.legend()
    save(fig, path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1000, 2500, 5000, 7500])
    parser.add_argument("--variables", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2, help="raw/gateway alternations")
    parser.add_argument("--dispatch-orders", type=int, default=20, help="0: skip (f)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as folder, MosquittoBroker(Path(folder)) as broker:
        for rate in args.rates:
            print(f"offered {rate:.0f} changes/s on {args.variables} variables…", flush=True)
            results.append(run_rate(rate, args.variables, args.seconds, args.rounds, broker))
        dispatch = None
        if args.dispatch_orders:
            print(f"dispatch → started, {args.dispatch_orders} job orders…", flush=True)
            dispatch = dispatch_latency.measure(Path(folder), broker, args.dispatch_orders)
    print_table(results)
    if dispatch is not None:
        dispatch_latency.print_summary(dispatch)
    document = {
        "benchmark": "edge_throughput",
        "when": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "variables": args.variables,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load_average": os.getloadavg(),
        "target": TARGET,
        "results": results,
        "dispatch_to_started": dispatch,
    }
    write_json(RESULTS / "edge_throughput.json", document)
    chart(results, RESULTS / "edge_throughput.png")
    print(f"results in {RESULTS / 'edge_throughput.json'} and edge_throughput.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
