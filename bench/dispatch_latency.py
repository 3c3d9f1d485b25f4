"""Time from a dispatch to ``started``, through the gateway and raw, on both servers of the
conformance suite: firmware_sim and the node-opcua press (``tests/opcua_server``).

(a) raw: an asyncua client calls ``StoreAndStart`` with an ``ISA95JobOrderDataType`` and waits
for the job order's ``JobOrderList`` entry to reach Running (a subscription, sampling 0);
(b) gateway: a coordinator-like MQTT client publishes a dispatch command and waits for the
gateway's ``started`` job event. Both run the same short job orders, one after another: on a
one-mill firmware_sim plant (its own process, 50 ms ticks, 60x) a job order starts at the first
tick after it is stored; the node-opcua press (its own Node.js process, jobs of 50 ms) starts it
in the StoreAndStart call. Used by ``bench/edge_throughput.py``; runnable alone:

    python bench/dispatch_latency.py [--orders 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from _harness.report import Column, Table
from _harness.services import start_glonet, wait_gateway_connected
from asyncua import Client, Node, ua

from firmware_sim.address_space import NAMESPACE_URI
from glonet.broker import MosquittoBroker, free_port
from protocols import codec, messages, topics

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the node-opcua press is driven by the tests' own helper
from tests.edge.conformance.servers import ACME_MAPPING  # noqa: E402
from tests.opcua_server import MACHINE as PRESS_NODE  # noqa: E402
from tests.opcua_server import AcmePress  # noqa: E402

PRESS_JOB_S = 0.05
NETWORK, UNIT, MACHINE = "bench", "bench-plant", "mill-1"
JOB_CONTROL = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/"
TICK_S = 0.05
PLANNED_S = 1.0  # simulated seconds: ends within the tick after it starts


def _plant(port: int, ready: Any) -> None:
    from firmware_sim.plant import parse_plant
    from firmware_sim.server import PlantServer, ServerOptions

    plant = parse_plant(
        {
            "unit": UNIT,
            "name": "Bench plant",
            "location": {"lat": 44.6, "lon": 10.9},
            "port": port,
            "update_interval_s": TICK_S,
            "machines": [
                {
                    "id": MACHINE,
                    "type": "cnc_mill",
                    "max_job_orders": 50,
                    "capabilities": [{"process": "milling"}],
                }
            ],
        }
    )

    async def run() -> None:
        async with PlantServer(plant, ServerOptions(time_scale=60.0, seed=1)):
            ready.set()
            await asyncio.Event().wait()

    asyncio.run(run())


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max_ms": ordered[-1],
    }


async def sim_receiver(client: Client) -> Node:
    sim = await client.get_namespace_index(NAMESPACE_URI)
    return client.get_node(ua.NodeId(f"{MACHINE}.JobManagement.JobOrderControl", sim))


async def press_receiver(client: Client) -> Node:
    uris = await client.get_namespace_array()
    machinery = uris.index("http://opcfoundation.org/UA/Machinery/")
    acme = uris.index(ACME_MAPPING["namespaces"]["acme"])
    path = ["0:Objects", f"{machinery}:Machines", f"{acme}:{PRESS_NODE}", f"{acme}:JobOrderControl"]
    return await client.nodes.root.get_child(path)


async def raw_latencies(endpoint: str, orders: int, receiver: Any = sim_receiver) -> list[float]:
    async with Client(endpoint) as client:
        await client.load_data_type_definitions()
        jc = await client.get_namespace_index(JOB_CONTROL)
        control = await receiver(client)
        store = await control.get_child(f"{jc}:StoreAndStart")
        job_list = await control.get_child(f"{jc}:JobOrderList")
        order_type = ua.extension_objects_by_datatype[ua.NodeId(3008, jc)]
        parameter = ua.extension_objects_by_datatype[ua.NodeId(3003, jc)]
        work_master = ua.extension_objects_by_datatype[ua.NodeId(3007, jc)]
        running: dict[str, float] = {}
        changed = asyncio.Event()

        class Handler:
            def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
                for entry in value or []:
                    if entry.State[0].StateNumber >= 3:  # Running or later
                        running.setdefault(entry.JobOrder.JobOrderID, time.perf_counter())
                changed.set()

        sub = await client.create_subscription(10, Handler())
        await sub.subscribe_data_change(job_list, sampling_interval=0)
        latencies = []
        for n in range(orders):
            job_id = f"raw-{n}"
            order = order_type(
                JobOrderID=job_id,
                WorkMasterID=[work_master(ID="milling")],
                JobOrderParameters=[
                    parameter(
                        ID="PlannedDuration", Value=ua.Variant(PLANNED_S, ua.VariantType.Double)
                    )
                ],
            )
            start = time.perf_counter()
            await control.call_method(store, order, ua.Variant([], ua.VariantType.LocalizedText))
            while job_id not in running:
                changed.clear()
                await asyncio.wait_for(changed.wait(), 10)
            latencies.append((running[job_id] - start) * 1000)
            await asyncio.sleep(0.1)
        await sub.delete()
        return latencies


class StartedWatcher:
    """An MQTT client that sends dispatches and notes when each job order is ``started``."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.started: dict[str, float] = {}
        self._seen = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-dispatcher")
        self.client.on_message = self._message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topics.network_filter(NETWORK), qos=1)
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        if not message.topic.endswith("/job"):
            return
        body = json.loads(message.payload)["body"]
        if body["event"] == "started":
            with self._seen:
                self.started.setdefault(body["job_order_id"], now)
                self._seen.notify_all()

    def dispatch(self, job_id: str) -> float:
        order = messages.JobOrder(
            job_order_id=job_id,
            machine=MACHINE,
            operation="bench",
            process="milling",
            planned_duration_s=PLANNED_S,
        )
        command = messages.Command.create(
            unit="coordinator", seq=1, body=messages.DispatchCommand(job_orders=[order])
        )
        start = time.perf_counter()
        self.client.publish(topics.command(NETWORK, UNIT), codec.encode(command), qos=1)
        with self._seen:
            if not self._seen.wait_for(lambda: job_id in self.started, 15):
                raise TimeoutError(f"no started event for {job_id}")
        return (self.started[job_id] - start) * 1000

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def gateway_latencies(
    folder: Path, broker: MosquittoBroker, machine: dict[str, Any], orders: int
) -> list[float]:
    health = free_port()
    name = machine["id"]
    config = {
        "network": NETWORK,
        "unit": UNIT,
        "broker": {"url": broker.url},
        "buffer": {"path": str(folder / f"dispatch-outbox-{name}.sqlite")},
        "health": {"port": health},
        "machines": [{**machine, "id": MACHINE}],
    }
    path = folder / f"dispatch-gateway-{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    watcher = StartedWatcher(broker)
    process = start_glonet("edge", str(path), log=folder / f"dispatch-gateway-{name}.log")
    try:
        wait_gateway_connected(health)
        watcher.dispatch(f"warm-up-{name}")
        latencies = []
        for n in range(orders):
            latencies.append(watcher.dispatch(f"gw-{name}-{n}"))
            time.sleep(0.1)
        return latencies
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        watcher.close()


def measure(folder: Path, broker: MosquittoBroker, orders: int) -> dict[str, Any]:
    """Raw and through the gateway, on firmware_sim and on the node-opcua press."""
    return {
        "firmware_sim": measure_firmware_sim(folder, broker, orders),
        "node_opcua": measure_press(folder, broker, orders),
    }


def measure_firmware_sim(folder: Path, broker: MosquittoBroker, orders: int) -> dict[str, Any]:
    port = free_port()
    ready = multiprocessing.Event()
    plant = multiprocessing.Process(target=_plant, args=(port, ready), daemon=True)
    plant.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the plant server did not start")
        endpoint = f"opc.tcp://127.0.0.1:{port}/glonet/{UNIT}"
        raw = asyncio.run(raw_latencies(endpoint, orders))
        machine = {"id": "firmware-sim", "endpoint": endpoint, "mapping": "firmware-sim"}
        gateway = gateway_latencies(folder, broker, machine, orders)
    finally:
        plant.terminate()
        plant.join(10)
    return {
        "server": f"firmware_sim, {TICK_S * 1000:.0f} ms ticks",
        "raw": _summary(raw),
        "gateway": _summary(gateway),
    }


def measure_press(folder: Path, broker: MosquittoBroker, orders: int) -> dict[str, Any]:
    press = AcmePress(job_seconds=PRESS_JOB_S)
    press.start()
    try:
        raw = asyncio.run(raw_latencies(press.endpoint, orders, press_receiver))
        machine = {
            "id": "node-opcua",
            "endpoint": press.endpoint,
            "node_name": PRESS_NODE,
            "mapping": ACME_MAPPING,
        }
        gateway = gateway_latencies(folder, broker, machine, orders)
    finally:
        press.stop()
    return {
        "server": f"node-opcua press, {PRESS_JOB_S * 1000:.0f} ms jobs",
        "raw": _summary(raw),
        "gateway": _summary(gateway),
    }


SUMMARY = Table(
    [
        Column("server", 32, lambda m: m[0]["server"], "<"),
        Column("path", 8, lambda m: m[1], "<"),
        Column("n", 3, lambda m: m[0][m[1]]["n"], spec="d"),
        Column("p50", 7, lambda m: m[0][m[1]]["p50_ms"], spec=".1f"),
        Column("p95", 7, lambda m: m[0][m[1]]["p95_ms"], spec=".1f"),
        Column("max", 7, lambda m: m[0][m[1]]["max_ms"], spec=".1f"),
    ],
    separator=" ",
    indent="  ",
)


def print_summary(result: dict[str, Any]) -> None:
    print("dispatch → started (ms):")
    rows = [(measured, path) for measured in result.values() for path in ("raw", "gateway")]
    SUMMARY.print(rows, rule=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, MosquittoBroker(Path(folder)) as broker:
        print_summary(measure(Path(folder), broker, args.orders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
