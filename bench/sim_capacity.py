"""How many simulated machines one process serves, at what update rate, with what CPU use.

For each plant size, one PlantServer (one process, one asyncua server) runs for a measurement
window at each update interval; the script reports the CPU share of the process, the achieved
tick rate against the target, the mean tick time, and the values published per second. The
baseline, measured in the same run, is the simulation alone (the machine models stepped without
OPC UA): the difference is what publishing into the asyncua address space costs. A second row
per configuration adds one client in the same process subscribed to every monitoring variable
(so its CPU is included), as a gateway would be.

    .venv/bin/python bench/sim_capacity.py [--sizes 10 50 100] [--intervals 1 0.5 0.1]
        [--window 3] [--json bench/results/sim_capacity.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _harness.cpu import own_cpu
from _harness.report import Column, Table
from asyncua import Client
from asyncua.common.subscription import Subscription

from firmware_sim.address_space import NAMESPACE_URI
from firmware_sim.plant import parse_plant
from firmware_sim.server import PlantServer, ServerOptions
from glonet.broker import free_port

DEFAULT_SIZES = (10, 50, 100, 200)
DEFAULT_INTERVALS = (1.0, 0.5, 0.1)
TYPES = ("cnc_mill", "laser_cutter", "welding_robot", "assembly_station", "paint_booth")


@dataclass
class Row:
    machines: int
    interval_s: float
    client: bool
    target_ticks_per_s: float
    ticks_per_s: float
    cpu_percent: float
    cpu_ms_per_tick: float
    model_ms_per_tick: float
    values_per_s: float


def plant(size: int) -> dict[str, Any]:
    machines = [
        {"id": f"m-{i}", "type": TYPES[i % len(TYPES)], "capabilities": []} for i in range(size)
    ]
    return {
        "unit": "bench",
        "name": "Bench",
        "location": {"lat": 0, "lon": 0},
        "port": 4840,
        "machines": machines,
    }


def model_step_ms(server: PlantServer, repeats: int = 50) -> float:
    """Baseline: CPU time of stepping every machine model, without OPC UA."""
    start = time.process_time()
    for _ in range(repeats):
        now = server.clock.now()
        for machine in server.machines.values():
            machine.step(now)
    return (time.process_time() - start) / repeats * 1000


async def subscribe_all(client: Client, server: PlantServer, interval_s: float) -> Subscription:
    """What a gateway does: one subscription to every monitoring variable, at the tick rate."""
    idx = await client.get_namespace_index(NAMESPACE_URI)
    nodes = [
        client.get_node(f"ns={idx};s={machine.id}.Monitoring.{metric}")
        for machine in server.machines.values()
        for metric in machine.profile.metric_names
    ]
    subscription = await client.create_subscription(interval_s * 1000, _Ignore())
    await subscription.subscribe_data_change(nodes, sampling_interval=interval_s * 1000)
    return subscription


class _Ignore:
    def datachange_notification(self, *args: object) -> None:
        pass


async def measure(
    server: PlantServer, interval_s: float, window_s: float, client: Client | None
) -> Row:
    server.update_interval_s = interval_s
    subscription = None
    if client is not None:
        subscription = await subscribe_all(client, server, interval_s)
    ticks = 0
    original = server.tick

    async def counted_tick() -> None:
        nonlocal ticks
        await original()
        ticks += 1

    server.tick = counted_tick  # type: ignore[method-assign]
    await asyncio.sleep(2 * interval_s)  # let the new interval take effect
    ticks = 0
    cpu0, wall0 = own_cpu(), time.perf_counter()
    await asyncio.sleep(window_s)
    cpu, wall = own_cpu() - cpu0, time.perf_counter() - wall0
    server.tick = original  # type: ignore[method-assign]
    if subscription is not None:
        await subscription.delete()
    metrics = sum(len(m.profile.metrics) for m in server.machines.values())
    return Row(
        machines=len(server.machines),
        interval_s=interval_s,
        client=client is not None,
        target_ticks_per_s=round(1 / interval_s, 2),
        ticks_per_s=round(ticks / wall, 2),
        cpu_percent=round(100 * cpu / wall, 1),
        cpu_ms_per_tick=round(1000 * cpu / max(ticks, 1), 2),
        model_ms_per_tick=round(model_step_ms(server), 2),
        values_per_s=round(metrics * ticks / wall),
    )


async def run(sizes: list[int], intervals: list[float], window_s: float) -> list[Row]:
    rows = []
    for size in sizes:
        options = ServerOptions(time_scale=60, port=free_port())
        async with PlantServer(parse_plant(plant(size)), options) as server:
            for interval in intervals:
                rows.append(await measure(server, interval, window_s, None))
                print_row(rows[-1])
            async with Client(server.endpoint) as client:
                for interval in intervals:
                    rows.append(await measure(server, interval, window_s, client))
                    print_row(rows[-1])
    return rows


TABLE = Table(
    [
        Column("machines", 8, lambda r: r.machines),
        Column("interval", 8, lambda r: r.interval_s),
        Column("client", 6, lambda r: "yes" if r.client else "no"),
        Column("target/s", 8, lambda r: r.target_ticks_per_s),
        Column("ticks/s", 8, lambda r: r.ticks_per_s),
        Column("CPU %", 6, lambda r: r.cpu_percent),
        Column("CPU ms/tick", 11, lambda r: r.cpu_ms_per_tick),
        Column("model ms/tick", 13, lambda r: r.model_ms_per_tick),
        Column("values/s", 9, lambda r: r.values_per_s),
    ],
    separator=" ",
)


def print_row(row: Row) -> None:
    print(TABLE.row(row), flush=True)


def print_capacity(rows: list[Row]) -> None:
    """Machines one core could serve, from the largest plant's CPU time per machine and tick."""
    largest = max(r.machines for r in rows)
    for client in (False, True):
        costs = [
            r.cpu_ms_per_tick / r.machines
            for r in rows
            if r.machines == largest and r.client == client
        ]
        if not costs:
            continue
        per_machine_ms = max(costs)
        capacity = ", ".join(
            f"{int(1000 * interval / per_machine_ms)} at {interval:g} s"
            for interval in sorted({r.interval_s for r in rows}, reverse=True)
        )
        label = "with a subscribed client" if client else "without clients"
        print(f"one core, {label}: {per_machine_ms:.2f} ms CPU per machine and tick -> {capacity}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--intervals", type=float, nargs="+", default=list(DEFAULT_INTERVALS))
    parser.add_argument("--window", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--json", type=Path, default=Path("bench/results/sim_capacity.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(TABLE.title())
    rows = asyncio.run(run(args.sizes, args.intervals, args.window))
    print_capacity(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
