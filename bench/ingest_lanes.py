"""Ingest lanes benchmark: does the apply stage scale with ``ingest.processes``?

The apply stage alone, without broker, MQTT client or API (those are in bench/ingest.py): a
gateway-sized stream of K gateways (10 samples per telemetry message, a job event every ten) is
split by unit the way the worker splits it, and N processes, each started and applying its shares
as the ingest child does (``cloud.ingest.applier``), apply their shares at once (200-message
batches, so N shares of 200 / N messages). The baseline is one process applying the whole stream,
as with the default
``ingest.processes: 1``. Every case runs on a fresh database, SQLite and (when
GLONET_TEST_POSTGRES_URL is set) PostgreSQL, alternating the lane counts, ``--repeat`` times.

Prints a table, writes JSON and a chart to bench/results/.

    python bench/ingest_lanes.py [--gateways 4] [--messages 8000] [--lanes 1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ingest as bench  # bench/ingest.py: database set-up and the gateways' stream
from _harness.cpu import server_cpu
from _harness.databases import case_databases, drop, fresh_url
from _harness.report import Column, Table, grouped_bars, pyplot, save, write_results

from cloud.config import load_settings
from cloud.ingest import applier
from cloud.ingest.worker import UnitLanes
from cloud.messaging.mqtt import InboundMessage
from cloud.services import ingest_hooks

BATCH = 200


@dataclass(frozen=True)
class Result:
    database: str
    lanes: int
    runs: int
    messages: int
    seconds: float
    messages_per_s: int
    speedup: float
    child_cpu_us_per_message: float
    database_cpu_us_per_message: float


def _shares(stream: list[tuple[str, bytes]], lanes: int) -> list[list[list[tuple[str, bytes]]]]:
    """Per lane, its shares of the stream's 200-message batches, as the worker splits them."""
    splitter = UnitLanes(lanes)
    per_lane: list[list[list[tuple[str, bytes]]]] = [[] for _ in range(lanes)]
    for start in range(0, len(stream), BATCH):
        batch = [InboundMessage(t, p, 0, 0, False) for t, p in stream[start : start + BATCH]]
        for lane, share in splitter.split(batch):
            per_lane[lane].append([(m.topic, m.payload) for m in share])
    return per_lane


def _lane(
    url: str, shares: list[list[tuple[str, bytes]]], ready: Any, go: Any, out: Any, finish: Any
) -> None:
    """One lane: start as the ingest child starts, wait for the start, apply the shares in order
    as the child does; keep the connection (the server's backend, whose CPU is counted) until
    told to finish."""
    settings = load_settings(
        None, network=bench.NETWORK, database_url=url, data_dir=tempfile.mkdtemp()
    )
    applier._child_start(settings, ingest_hooks(settings))
    ready.put(os.getpid())
    go.wait()
    cpu = time.process_time()
    for share in shares:
        result = applier._child_apply(share)
        if result.error is not None:
            raise RuntimeError(result.error)
    out.put((sum(len(share) for share in shares), time.process_time() - cpu))
    finish.wait()


def run_case(
    kind: str, template: str, lanes: int, stream: list[tuple[str, bytes]], case: str
) -> tuple[int, float, float, float]:
    """(messages, wall seconds, child CPU seconds, database server CPU seconds)."""
    url = fresh_url(kind, template, case)
    try:
        bench._prepare_database(url, sorted({topic.split("/")[3] for topic, _ in stream}))
        context = multiprocessing.get_context("spawn")
        ready, out = context.Queue(), context.Queue()
        go, finish = context.Event(), context.Event()
        processes = [
            context.Process(target=_lane, args=(url, shares, ready, go, out, finish))
            for shares in _shares(stream, lanes)
        ]
        for process in processes:
            process.start()
        for _ in processes:  # imports and start-up done: every lane waits for the start
            ready.get(timeout=120)
        database_cpu = server_cpu()
        started = time.perf_counter()
        go.set()
        done = [out.get(timeout=600) for _ in processes]
        seconds = time.perf_counter() - started
        database_cpu = server_cpu() - database_cpu
        finish.set()
        for process in processes:
            process.join()
        return sum(d[0] for d in done), seconds, sum(d[1] for d in done), database_cpu
    finally:
        drop(kind, url)


TABLE = Table(
    [
        Column("database", 12, lambda r: r.database, "<"),
        Column("lanes", 6, lambda r: r.lanes),
        Column("runs", 6, lambda r: r.runs),
        Column("msgs", 8, lambda r: r.messages),
        Column("seconds", 9, lambda r: r.seconds),
        Column("msg/s", 9, lambda r: r.messages_per_s, spec=","),
        Column("x 1 lane", 10, lambda r: r.speedup),
        Column("child CPU µs/msg", 18, lambda r: r.child_cpu_us_per_message),
        Column("PG CPU µs/msg", 15, lambda r: r.database_cpu_us_per_message),
    ]
)


def chart(results: list[Result], path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    databases = sorted({r.database for r in results})
    lanes = sorted({r.lanes for r in results})
    rates = [
        (
            f"{count} lane{'s' if count > 1 else ''}",
            [
                next((r.messages_per_s for r in results if r.database == d and r.lanes == count), 0)
                for d in databases
            ],
        )
        for count in lanes
    ]
    grouped_bars(axis, rates)
    axis.set_xticks(range(len(databases)), databases)
    axis.set_ylabel("gateway-sized messages/s applied")
    axis.set_title(f"Ingest apply stage by lanes ({os.cpu_count()} CPUs)")
    axis.legend()
    save(figure, path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateways", type=int, default=4)
    parser.add_argument("--messages", type=int, default=8000, help="telemetry messages per gateway")
    parser.add_argument("--lanes", type=lambda t: [int(n) for n in t.split(",")], default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    per_gateway = [bench._payloads(f"gw-{i}", args.messages, 10) for i in range(args.gateways)]
    stream = [message for group in zip(*per_gateway, strict=True) for message in group]
    databases = case_databases()
    cases = len(databases) * len(args.lanes) * args.repeat
    results: list[Result] = []
    done = 0
    for kind, template in databases:
        runs: dict[int, list[tuple[int, float, float, float]]] = {n: [] for n in args.lanes}
        for run in range(args.repeat):
            for lanes in args.lanes:  # alternating, so drift of a shared machine hits all alike
                measured = run_case(kind, template, lanes, stream, f"lanes{lanes}r{run}")
                runs[lanes].append(measured)
                done += 1
                messages, seconds, _, _ = measured
                print(
                    f"[{done}/{cases}] {kind} {lanes} lane(s), run {run + 1}:"
                    f" {messages / seconds:,.0f} msg/s",
                    flush=True,
                )
        base = statistics.median(m / s for m, s, _, _ in runs[args.lanes[0]])
        for lanes, lane_runs in runs.items():
            rate = statistics.median(m / s for m, s, _, _ in lane_runs)
            messages = lane_runs[0][0]
            results.append(
                Result(
                    database=kind,
                    lanes=lanes,
                    runs=len(lane_runs),
                    messages=messages,
                    seconds=round(statistics.median(s for _, s, _, _ in lane_runs), 2),
                    messages_per_s=round(rate),
                    speedup=round(rate / base, 2),
                    child_cpu_us_per_message=round(
                        statistics.median(c / m * 1e6 for m, _, c, _ in lane_runs)
                    ),
                    database_cpu_us_per_message=round(
                        statistics.median(d / m * 1e6 for m, _, _, d in lane_runs)
                    )
                    if kind == "postgresql"
                    else 0,
                )
            )
    print()
    TABLE.print(results)
    parameters = {
        "gateways": args.gateways,
        "messages": args.messages,
        "lanes": args.lanes,
        "repeat": args.repeat,
    }
    write_results(
        "ingest-lanes",
        parameters=parameters,
        results=results,
        draw=lambda path: chart(results, path),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
