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
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ingest as bench  # bench/ingest.py: database set-up and the gateways' stream

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
    url = bench._fresh_url(kind, template, case)
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
        database_cpu = bench.server_cpu()
        started = time.perf_counter()
        go.set()
        done = [out.get(timeout=600) for _ in processes]
        seconds = time.perf_counter() - started
        database_cpu = bench.server_cpu() - database_cpu
        finish.set()
        for process in processes:
            process.join()
        return sum(d[0] for d in done), seconds, sum(d[1] for d in done), database_cpu
    finally:
        bench._drop(kind, url)


def print_table(results: list[Result]) -> None:
    header = (
        f"{'database':<12}{'lanes':>6}{'runs':>6}{'msgs':>8}{'seconds':>9}{'msg/s':>9}"
        f"{'x 1 lane':>10}{'child CPU µs/msg':>18}{'PG CPU µs/msg':>15}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.database:<12}{r.lanes:>6}{r.runs:>6}{r.messages:>8}{r.seconds:>9}"
            f"{r.messages_per_s:>9,}{r.speedup:>10}{r.child_cpu_us_per_message:>18}"
            f"{r.database_cpu_us_per_message:>15}"
        )


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    databases = sorted({r.database for r in results})
    lanes = sorted({r.lanes for r in results})
    width = 0.8 / len(lanes)
    for index, count in enumerate(lanes):
        rates = [
            next((r.messages_per_s for r in results if r.database == d and r.lanes == count), 0)
            for d in databases
        ]
        positions = [i + (index - (len(lanes) - 1) / 2) * width for i in range(len(databases))]
        axis.bar(positions, rates, width, label=f"{count} lane{'s' if count > 1 else ''}")
    axis.set_xticks(range(len(databases)), databases)
    axis.set_ylabel("gateway-sized messages/s applied")
    axis.set_title(f"Ingest apply stage by lanes ({os.cpu_count()} CPUs)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateways", type=int, default=4)
    parser.add_argument("--messages", type=int, default=8000, help="telemetry messages per gateway")
    parser.add_argument("--lanes", type=lambda t: [int(n) for n in t.split(",")], default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    per_gateway = [bench._payloads(f"gw-{i}", args.messages, 10) for i in range(args.gateways)]
    stream = [message for group in zip(*per_gateway, strict=True) for message in group]
    databases = bench._databases()
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
    print_table(results)
    bench.RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "parameters": {
            "gateways": args.gateways,
            "messages": args.messages,
            "lanes": args.lanes,
            "repeat": args.repeat,
        },
        "cpus": os.cpu_count(),
        "results": [asdict(r) for r in results],
    }
    (bench.RESULTS / f"ingest-lanes-{stamp}.json").write_text(json.dumps(payload, indent=2))
    chart(results, bench.RESULTS / f"ingest-lanes-{stamp}.png")
    print(f"\nwrote {bench.RESULTS}/ingest-lanes-{stamp}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
