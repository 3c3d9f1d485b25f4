"""Ingest benchmark: K simulated gateways publish telemetry batches and job events to Mosquitto.

Four workloads, each published by K gateway processes at once (one job event per ten
telemetry messages):

- bulk: 200 samples per telemetry message (what a gateway sends after an outage, or from a
  machine with many fast metrics), flat out -- measures samples per second;
- gateway: 10 samples per message, what the edge gateway sends in normal operation (one message
  per machine every 100 ms batch window), flat out -- measures messages per second;
- paced: gateway-sized messages at 20,000 samples/s in all (the per-worker target), for ten
  seconds -- does one worker keep up (lag after the last publish), and how fast does the API
  answer under that load;
- drain: gateway-sized messages published first, queued by the broker for the subscribers'
  persistent sessions, then consumed -- the subscribers' capacity, measured between 10 % and
  90 % of the backlog, apart from the publishers (in the flat-out workloads publishers and
  subscribers share the cores, and a subscriber that keeps up is timed by its publishers).

For each flat-out or drain workload, in the same run: first the baseline alone, a raw paho
subscriber that only counts (what one Python MQTT client receives of the same stream; the median
of three runs); then, on SQLite and (when GLONET_TEST_POSTGRES_URL is set) PostgreSQL, with the
embedded telemetry sink, three topologies: one coordinator process (`glonet cloud serve`: API +
ingest); the same plus a second ingest process (`glonet cloud ingest`) sharing
`$share/ingest/...`; and an API-only process beside one separate ingest process. p50/p99 latency
of `GET /api/machines` on the API process is measured while the ingest runs. CPU per message is
measured for the coordinator's processes (with their children), the baseline subscriber's
network thread and the PostgreSQL server (Linux /proc).

Prints a table, writes JSON and a chart to bench/results/. Targets (issue 5): >= 20,000 samples/s
per worker, >= 0.5 x the raw subscriber's message rate, API p99 <= 50 ms.

    python bench/ingest.py [--gateways 4] [--workloads bulk:300x200,drain:15000x10@drain]
        [--topologies 0,1,2] [--databases sqlite,postgresql] [--raw-runs 3] [--repeat 1]
        [--processes 1]

``--processes N`` runs every ingest worker with N child processes (lanes, ``ingest.processes``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import yaml
from _harness.cpu import server_cpu, thread_cpu, tree_cpu
from _harness.databases import case_databases, drop, fresh_url
from _harness.report import Column, Table, dash, grouped_bars, pyplot, save, write_results
from _harness.services import start_glonet, wait_coordinator_healthy
from sqlalchemy import Engine, create_engine, func, select

from cloud.auth import service as auth_service
from cloud.auth.models import Actor, PrincipalCreate, Role
from cloud.database import make_engine, make_session_factory, migrate, transaction
from cloud.ingest.models import SeenMessage
from cloud.registry import service as registry_service
from cloud.registry.models import UnitCreate
from glonet.broker import MosquittoBroker, free_port
from protocols import codec, messages, topics
from protocols.enums import Quality

NETWORK = "bench"
JOB_EVERY = 10


@dataclass(frozen=True)
class Workload:
    name: str
    batches: int
    samples: int
    rate: float | None = None
    """Messages/s each gateway publishes; None: as fast as it can."""
    drain: bool = False
    """Publish everything first (the broker queues it for the subscriber's persistent session),
    then consume: the subscriber's capacity, apart from the publishers sharing the cores."""


@dataclass
class Result:
    workload: str
    samples_per_message: int
    offered_messages_per_s: float | None
    """All gateways together, for a paced workload; None: flat out."""
    database: str
    topology: str
    workers: int
    messages: int
    samples: int
    seconds: float
    lag_s: float
    """How long after the last publish the last message was applied (kept up: about 0)."""
    messages_per_s: float
    samples_per_s: float
    samples_per_s_per_worker: float
    raw_messages_per_s: float | None
    """None for a paced workload: the baseline measures capacity, flat out."""
    ratio_to_raw: float | None
    cpu_us_per_message: float
    """CPU of the coordinator's processes (API, ingest workers, their children) per message."""
    raw_cpu_us_per_message: float | None
    database_cpu_us_per_message: float
    """CPU of the PostgreSQL server per message (0 for SQLite, which runs in the coordinator)."""
    api_p50_ms: float
    api_p99_ms: float
    api_requests: int
    runs: int = 1
    """Runs of the case; each measured figure is their median (see ``--repeat``)."""


_MEASURED = (
    "seconds",
    "lag_s",
    "messages_per_s",
    "samples_per_s",
    "samples_per_s_per_worker",
    "ratio_to_raw",
    "cpu_us_per_message",
    "database_cpu_us_per_message",
    "api_p50_ms",
    "api_p99_ms",
    "api_requests",
)


def median_result(runs: list[Result]) -> Result:
    """One case run several times: the median of each measured figure (a shared machine's
    noise moves a single run's rates by up to a third)."""
    medians: dict[str, Any] = {}
    for name in _MEASURED:
        values = [getattr(run, name) for run in runs]
        if None not in values:
            median = statistics.median(values)
            medians[name] = round(median, 2) if isinstance(values[0], float) else round(median)
    return replace(runs[0], runs=len(runs), **medians)


# Simulated gateways (separate processes) -----------------------------------------------------


def _payloads(unit: str, batches: int, samples: int) -> list[tuple[str, bytes]]:
    """The gateway's stream; telemetry encoded as ``glonet edge`` encodes it
    (:func:`protocols.codec.encode_telemetry`: a Good sample leaves its status out, where
    ``codec.encode`` of a model would spell out ``"status_code":null,"status":null``)."""
    start = datetime.now(UTC)
    out = []
    for index in range(batches):
        machine = f"m{index % 4}"
        at = start + timedelta(milliseconds=index)
        rows = [
            (machine, f"metric_{k % 8}", float(k), at, Quality.GOOD, None) for k in range(samples)
        ]
        payload = codec.encode_telemetry(unit=unit, seq=2 * index + 1, samples=rows)
        out.append((topics.telemetry(NETWORK, unit, machine), payload))
        if index % JOB_EVERY == 0:
            job = {
                "machine": machine,
                "job_order_id": f"job-{index}",
                "event": "progress",
                "state": "Running",
                "progress": 0.5,
                "occurred_at": at,
            }
            event = messages.JobStatus.create(unit=unit, seq=2 * index + 2, body=job)
            out.append((topics.job(NETWORK, unit, machine), codec.encode(event)))
    return out


def _gateway(port: int, unit: str, batches: int, samples: int, rate: float | None, go: Any) -> None:
    # Real gateways run on other machines: on this one the load generator yields the cores to
    # what is measured (the same for the raw baseline and for the coordinator).
    os.nice(10)
    payloads = _payloads(unit, batches, samples)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{unit}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    go.wait()  # a barrier: every gateway ready, then all publish at once
    infos, started = [], time.perf_counter()
    for index, (topic, payload) in enumerate(payloads):
        if rate is not None:  # paced: the index-th message is due index / rate s after the start
            time.sleep(max(0.0, started + index / rate - time.perf_counter()))
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def message_count(batches: int) -> int:
    return batches + len(range(0, batches, JOB_EVERY))


# Baseline subscriber -----------------------------------------------------------------------


class RawCounter:
    """A paho subscriber that only counts what it receives (QoS 1, acknowledged by paho)."""

    def __init__(self, port: int, client_id: str | None = None, window: int = 0) -> None:
        """``client_id``: resume that persistent session (a drain); ``window``: the message
        count whose 10 % and 90 % marks are timed (time and CPU), for the drain rate."""
        self.count = 0
        self.last = 0.0
        self.ready = threading.Event()
        self.marks: dict[int, tuple[float, float]] = {}
        self._marks = {int(0.1 * window), int(0.9 * window)} if window else set()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"raw-{uuid.uuid4().hex[:6]}",
            clean_session=client_id is None,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.network_filter(NETWORK), qos=1)
        self.client.loop_start()

    def _on_message(self, *_args: object) -> None:
        self.count += 1
        self.last = time.perf_counter()
        if self.count in self._marks:
            self.marks[self.count] = (self.last, self.cpu())

    def wait_for(self, total: int) -> None:
        """Until ``total`` messages arrived; an error if they stop coming."""
        deadline = time.perf_counter() + STALL_SECONDS
        while self.count < total and time.perf_counter() < deadline:
            time.sleep(0.01)
        if self.count < total:
            raise RuntimeError(f"the raw subscriber got {self.count} of {total} messages")

    def cpu(self) -> float:
        """CPU seconds of paho's network thread, where this subscriber does all its work."""
        thread = self.client._thread  # paho exposes no thread id otherwise
        assert thread is not None and thread.native_id is not None
        return thread_cpu(thread.native_id)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# Coordinator processes ---------------------------------------------------------------------


def _prepare_database(url: str, units: list[str]) -> str:
    engine = make_engine(url)
    migrate(engine)
    factory = make_session_factory(engine)
    actor = Actor(principal_id=0, name="bench", role=Role.COORDINATOR)
    with transaction(factory) as session:
        registry_service.ensure_network(session=session, network_id=NETWORK)
        for unit in units:
            spec = UnitCreate(id=unit, network_id=NETWORK, company=unit, latitude=45, longitude=9)
            registry_service.onboard_unit(session=session, actor=actor, spec=spec)
            machines = [{"machine": f"m{i}", "name": f"Machine {i}"} for i in range(4)]
            registry_service.record_birth(session=session, unit_id=unit, machines=machines)
        _, key = auth_service.create_principal(
            session=session, spec=PrincipalCreate(name="bench", role=Role.COORDINATOR)
        )
    engine.dispose()
    return key


def _config(
    directory: Path,
    url: str,
    port: int,
    http_port: int,
    client_id: str,
    share: bool,
    processes: int,
    ingest: bool = True,
) -> Path:
    config = {
        "network": NETWORK,
        "database_url": url,
        "listen_port": http_port,
        "mqtt": {"port": port, "client_id": client_id, "share_group": "ingest" if share else None},
        "ingest": {"batch_size": 200, "enabled": ingest, "processes": processes},
    }
    path = directory / f"{client_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _drop_session(port: int, client_id: str) -> None:
    """Discard the broker's stored session of ``client_id`` (a clean-session connect does): a
    worker of an earlier case left one behind, and the broker queues every later message for
    it -- a later case's worker with that id would start on that backlog."""
    connected = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError(f"could not connect as {client_id}")
    client.disconnect()
    client.loop_stop()


def _precreate_session(port: int, client_id: str, share: bool) -> None:
    """Subscribe once with the worker's client id and a persistent session, so the broker queues
    messages for it from now on, however long the worker process takes to start."""
    _drop_session(port, client_id)
    subscribed = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    network_filter = topics.network_filter(NETWORK)
    client.subscribe(topics.shared("ingest", network_filter) if share else network_filter, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError(f"could not subscribe as {client_id}")
    client.disconnect()
    client.loop_stop()


class OnlineWatch:
    """Counts live (not retained) coordinator "online" announcements: one per connected worker."""

    def __init__(self, port: int) -> None:
        self.online = 0
        self.changed = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.coordinator_state(NETWORK), qos=1)
        self.client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: paho.MQTTMessage) -> None:
        state = codec.decode(message.payload).body.state
        if not message.retain and state == "online":
            with self.changed:
                self.online += 1
                self.changed.notify_all()

    def wait_for(self, workers: int, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.online >= workers, timeout):
                raise RuntimeError(f"only {self.online} of {workers} ingest workers connected")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _applied(engine: Engine) -> int:
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(SeenMessage)).scalar_one()
    return int(count)


class ApiProbe(threading.Thread):
    """GET /api/machines in a loop, recording latencies, until stopped."""

    def __init__(self, http_port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{http_port}/api/machines"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.latencies: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client() as client:
            while not self.stopped.is_set():
                started = time.perf_counter()
                client.get(self.url, headers=self.headers).raise_for_status()
                self.latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)


# (label, ingest workers, whether the API process runs one of them)
TOPOLOGIES = [
    ("api+ingest", 1, True),
    ("api+ingest, +1 shared", 2, True),
    ("api | ingest", 1, False),
]


STALL_SECONDS = 60


def _release_gateways(
    broker: MosquittoBroker, units: list[str], workload: Workload
) -> list[multiprocessing.Process]:
    """Start one publisher process per unit; return once all are connected and ready."""
    go = multiprocessing.Barrier(len(units) + 1)
    gateways = [
        multiprocessing.Process(
            target=_gateway,
            args=(broker.port, unit, workload.batches, workload.samples, workload.rate, go),
        )
        for unit in units
    ]
    for process in gateways:
        process.start()
    go.wait()  # every gateway connected with its payloads encoded
    return gateways


@dataclass(frozen=True)
class Baseline:
    messages_per_s: float
    cpu_us_per_message: float
    runs: list[float]


def measure_raw(broker: MosquittoBroker, gateways: int, workload: Workload, runs: int) -> Baseline:
    """The baseline, alone on the machine: messages/s a counting paho subscriber receives, and
    the CPU its network thread spends per message; the median of ``runs`` runs (a shared
    machine's noise moves a single run by a third)."""
    rates, cpus = [], []
    for _ in range(runs):
        rate, cpu = _raw_once(broker, gateways, workload)
        rates.append(rate)
        cpus.append(cpu)
    return Baseline(statistics.median(rates), statistics.median(cpus), [round(r) for r in rates])


def _raw_once(broker: MosquittoBroker, gateways: int, workload: Workload) -> tuple[float, float]:
    if workload.drain:
        return _raw_drain(broker, gateways, workload)
    units = [f"gw-{i}" for i in range(gateways)]
    raw = RawCounter(broker.port)
    raw.ready.wait(5)
    total = message_count(workload.batches) * len(units)
    try:
        processes = _release_gateways(broker, units, workload)
        started, cpu = time.perf_counter(), raw.cpu()
        raw.wait_for(total)
        cpu = raw.cpu() - cpu
        for process in processes:
            process.join()
    finally:
        raw.stop()
    return total / (raw.last - started), cpu / total * 1e6


def _raw_drain(broker: MosquittoBroker, gateways: int, workload: Workload) -> tuple[float, float]:
    """The bare subscriber drains the whole workload, queued for its session beforehand; rate
    and CPU between its 10 % and 90 % marks."""
    units = [f"gw-{i}" for i in range(gateways)]
    total = message_count(workload.batches) * len(units)
    client_id = f"raw-drain-{uuid.uuid4().hex[:6]}"
    _precreate_session(broker.port, client_id, share=False)
    for process in _release_gateways(broker, units, workload):
        process.join()
    raw = RawCounter(broker.port, client_id=client_id, window=total)
    try:
        raw.wait_for(total)
    finally:
        raw.stop()
        _drop_session(broker.port, client_id)
    (start, cpu_start), (end, cpu_end) = (raw.marks[k] for k in sorted(raw.marks))
    counted = int(0.9 * total) - int(0.1 * total)
    return counted / (end - start), (cpu_end - cpu_start) / counted * 1e6


@dataclass
class Measured:
    seconds: float
    """From the gateways' release until every message is applied."""
    lag: float
    """From the last gateway's last acknowledged publish until every message is applied."""
    cpu: float
    database_cpu: float
    probe: ApiProbe
    messages: int
    """The messages ``seconds`` and the CPU figures cover."""


def _measure(
    broker: MosquittoBroker,
    url: str,
    units: list[str],
    workload: Workload,
    http_port: int,
    key: str,
    coordinator: list[int],
) -> Measured:
    """Release the gateways together; time until every message is applied, and the CPU seconds
    the ``coordinator`` processes (with their children) and the PostgreSQL server used
    meanwhile."""
    gateways = _release_gateways(broker, units, workload)
    probe = ApiProbe(http_port, key)
    cpu, database_cpu = tree_cpu(coordinator), server_cpu()
    probe.start()
    total = message_count(workload.batches) * len(units)
    # One pooled connection for the progress polls: a new PostgreSQL backend per poll would be
    # load of the benchmark's own making.
    engine = create_engine(url, pool_size=1)
    started = time.perf_counter()
    applied, progressed, published = 0, started, None
    try:
        while applied < total:
            time.sleep(0.05)
            if published is None and not any(process.is_alive() for process in gateways):
                published = time.perf_counter()
            count = _applied(engine)
            if count > applied:
                applied, progressed = count, time.perf_counter()
            elif time.perf_counter() - progressed > STALL_SECONDS:
                raise RuntimeError(f"ingest stalled at {applied} of {total} messages")
    finally:
        engine.dispose()
    done = time.perf_counter()
    cpu, database_cpu = tree_cpu(coordinator) - cpu, server_cpu() - database_cpu
    probe.stopped.set()
    probe.join()
    for process in gateways:
        process.join()
    published = published or done
    return Measured(done - started, max(0.0, done - published), cpu, database_cpu, probe, total)


def _measure_drain(
    url: str, total: int, http_port: int, key: str, coordinator: list[int]
) -> Measured:
    """The workers drain the workload queued for them: rate and CPU between the first polls at
    or past 10 % and 90 % of the messages applied (start-up and the tail left out)."""
    probe = ApiProbe(http_port, key)
    probe.start()
    engine = create_engine(url, pool_size=1)
    marks: list[tuple[float, int, float, float]] = []
    applied, progressed = 0, time.perf_counter()
    try:
        while applied < total:
            count, now = _applied(engine), time.perf_counter()
            if count > applied:
                applied, progressed = count, now
            elif now - progressed > STALL_SECONDS:
                raise RuntimeError(f"ingest stalled at {applied} of {total} messages")
            if len(marks) < 2 and count >= (0.1, 0.9)[len(marks)] * total:
                marks.append((now, count, tree_cpu(coordinator), server_cpu()))
            time.sleep(0.05)
    finally:
        engine.dispose()
        probe.stopped.set()
        probe.join()
    (start, first, cpu, database_cpu), (end, last, cpu_end, database_end) = marks
    if first >= 0.5 * total:
        raise RuntimeError("the drain was half over before it was timed: use more messages")
    return Measured(
        end - start, 0.0, cpu_end - cpu, database_end - database_cpu, probe, last - first
    )


def run_case(
    args: argparse.Namespace,
    broker: MosquittoBroker,
    workload: Workload,
    raw: Baseline | None,
    database: str,
    url: str,
    topology: tuple[str, int, bool],
) -> Result:
    label, workers, api_ingests = topology
    if args.processes > 1:
        label += f" ({args.processes} lanes)"
    units = [f"gw-{i}" for i in range(args.gateways)]
    key = _prepare_database(url, units)
    directory = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    http_port = free_port()
    share = workers > 1
    separate = workers - 1 if api_ingests else workers
    for index in range(0 if api_ingests else 1, separate + 1):
        _precreate_session(broker.port, f"coord-{index}", share)
    api_config = _config(
        directory, url, broker.port, http_port, "coord-0", share, args.processes, api_ingests
    )
    total = message_count(workload.batches) * len(units)
    if workload.drain:  # everything queued for the workers' sessions before they start
        for gateway in _release_gateways(broker, units, workload):
            gateway.join()
    watch = OnlineWatch(broker.port)
    processes = [start_glonet("cloud", "serve", "--config", str(api_config))]
    try:
        # All at once: the first worker to connect starts on the queued backlog of a drain, and a
        # second one started only once the API answers would miss the start of the timed window.
        for index in range(1, separate + 1):
            config = _config(
                directory, url, broker.port, free_port(), f"coord-{index}", share, args.processes
            )
            # Beside an API-only process, one ingest process runs the dispatcher and the
            # maintenance worker, as a deployment would.
            services = ("--services",) if not api_ingests and index == 1 else ()
            processes.append(start_glonet("cloud", "ingest", "--config", str(config), *services))
        wait_coordinator_healthy(http_port)
        watch.wait_for(workers)
        pids = [process.pid for process in processes]
        if workload.drain:
            measured = _measure_drain(url, total, http_port, key, pids)
        else:
            measured = _measure(broker, url, units, workload, http_port, key, pids)
    finally:
        watch.stop()
        for process in processes:
            process.terminate()
            process.wait(30)
        for index in range(separate + 1):
            _drop_session(broker.port, f"coord-{index}")

    samples = workload.batches * workload.samples * len(units) * measured.messages // total
    total = measured.messages
    seconds = measured.seconds
    latencies = sorted(measured.probe.latencies)
    return Result(
        workload=workload.name,
        samples_per_message=workload.samples,
        offered_messages_per_s=workload.rate * len(units) if workload.rate else None,
        database=database,
        topology=label,
        workers=workers,
        messages=total,
        samples=samples,
        seconds=round(seconds, 2),
        lag_s=round(measured.lag, 2),
        messages_per_s=round(total / seconds),
        samples_per_s=round(samples / seconds),
        samples_per_s_per_worker=round(samples / seconds / workers),
        raw_messages_per_s=round(raw.messages_per_s) if raw else None,
        ratio_to_raw=round(total / seconds / raw.messages_per_s, 2) if raw else None,
        cpu_us_per_message=round(measured.cpu / total * 1e6),
        raw_cpu_us_per_message=round(raw.cpu_us_per_message) if raw else None,
        database_cpu_us_per_message=round(measured.database_cpu / total * 1e6)
        if database == "postgresql"
        else 0,
        api_p50_ms=round(statistics.median(latencies), 1),
        api_p99_ms=round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        api_requests=len(latencies),
    )


# Report ------------------------------------------------------------------------------------


def _label(result: Result) -> str:
    """e.g. ``gateway (10)``, or ``paced (10) @2000/s`` for a paced workload."""
    label = f"{result.workload} ({result.samples_per_message})"
    if result.offered_messages_per_s:
        label += f" @{result.offered_messages_per_s:.0f}/s"
    return label


TABLE = Table(
    [
        Column("workload", 22, _label, "<"),
        Column("database", 11, lambda r: r.database, "<"),
        Column("topology", 32, lambda r: r.topology, "<"),
        Column("msgs", 7, lambda r: r.messages),
        Column("seconds", 9, lambda r: r.seconds),
        Column("lag s", 7, lambda r: r.lag_s),
        Column("msg/s", 8, lambda r: r.messages_per_s),
        Column("samples/s", 11, lambda r: r.samples_per_s),
        Column("per worker", 12, lambda r: r.samples_per_s_per_worker),
        Column("raw msg/s", 11, lambda r: dash(r.raw_messages_per_s)),
        Column("x raw", 7, lambda r: dash(r.ratio_to_raw)),
        Column("CPU µs/msg", 12, lambda r: r.cpu_us_per_message),
        Column("raw", 6, lambda r: dash(r.raw_cpu_us_per_message)),
        Column("PG", 6, lambda r: r.database_cpu_us_per_message),
        Column("API p50", 10, lambda r: f"{r.api_p50_ms}ms"),
        Column("API p99", 9, lambda r: f"{r.api_p99_ms}ms"),
        Column("runs", 6, lambda r: r.runs),
    ]
)


def chart(results: list[Result], path: Path) -> None:
    plt = pyplot()
    labels = [f"{_label(r)}/{r.database}: {r.topology}" for r in results]
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(20, 6.5))
    positions = range(len(results))
    rates = [
        ("ingest", [r.messages_per_s for r in results]),
        ("raw paho subscriber", [r.raw_messages_per_s or float("nan") for r in results]),
    ]
    grouped_bars(left, rates)
    left.set_yscale("log")
    left.set_ylabel("messages/s")
    left.legend()
    middle.bar(list(positions), [r.samples_per_s_per_worker for r in results], 0.5)
    middle.axhline(20_000, color="red", linestyle="--", label="target per worker")
    middle.set_ylabel("samples/s per worker")
    middle.legend()
    right.bar(list(positions), [r.api_p99_ms for r in results], 0.5, color="tab:green")
    right.axhline(50, color="red", linestyle="--", label="target p99")
    right.set_ylabel("GET /api/machines p99 during the ingest (ms)")
    right.legend()
    for axis in (left, middle, right):
        axis.set_xticks(list(positions), labels, rotation=35, ha="right", fontsize=7)
    figure.suptitle("GloNet coordinator ingest (embedded sink)")
    save(figure, path, dpi=110)


def _workloads(text: str) -> list[Workload]:
    """``name:BATCHESxSAMPLES[@RATE|@drain],...`` -> workloads (RATE: messages/s per gateway;
    ``drain``: publish first, then consume the backlog)."""
    found = []
    for item in text.split(","):
        name, _, spec = item.partition(":")
        size, _, rate = spec.partition("@")
        batches, _, samples = size.partition("x")
        drain = rate == "drain"
        paced = float(rate) if rate and not drain else None
        found.append(Workload(name, int(batches), int(samples), paced, drain))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateways", type=int, default=4)
    parser.add_argument(
        "--workloads",
        type=_workloads,
        default=_workloads("bulk:300x200,gateway:10000x10,paced:5000x10@550,drain:15000x10@drain"),
        help="name:MESSAGESxSAMPLES[@RATE|@drain] per gateway, comma-separated; RATE"
        " (messages/s per gateway) paces the publishers, e.g. at the per-worker target; drain"
        " publishes everything before the subscribers consume it",
    )
    parser.add_argument(
        "--topologies",
        type=lambda text: [TOPOLOGIES[int(i)] for i in text.split(",")],
        default=TOPOLOGIES,
        help="comma-separated indexes into "
        + ", ".join(f"{i}={label!r}" for i, (label, _, _) in enumerate(TOPOLOGIES)),
    )
    parser.add_argument(
        "--databases",
        type=lambda text: text.split(","),
        default=["sqlite", "postgresql"],
        help="sqlite,postgresql (PostgreSQL only when GLONET_TEST_POSTGRES_URL is set)",
    )
    parser.add_argument(
        "--raw-runs", type=int, default=3, help="runs of the raw baseline (the median counts)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of every case (the medians are reported)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="child processes (lanes) each ingest worker applies its batches in",
    )
    args = parser.parse_args()
    databases = [(kind, url) for kind, url in case_databases() if kind in args.databases]

    results = []
    cases = len(args.workloads) * len(databases) * len(args.topologies) * args.repeat
    done = 0
    with tempfile.TemporaryDirectory() as workdir:
        # Acknowledgements wait for the commit: the broker's in-flight window must hold a batch;
        # a drain's whole workload waits in the broker's queue for the subscriber.
        config = "max_inflight_messages 1000\nmax_queued_messages 0"
        broker = MosquittoBroker(Path(workdir), extra_config=config)
        broker.start()
        try:
            for workload in args.workloads:
                raw = None
                if workload.rate is None:
                    raw = measure_raw(broker, args.gateways, workload, args.raw_runs)
                    print(
                        f"{workload.name}: raw paho subscriber alone"
                        f" {raw.messages_per_s:,.0f} msg/s (median of {raw.runs}),"
                        f" {raw.cpu_us_per_message:.0f} µs CPU per message"
                    )
                for kind, template in databases:
                    for index, topology in enumerate(args.topologies):
                        runs = []
                        for run in range(args.repeat):
                            url = fresh_url(kind, template, f"{workload.name}{index}-{run}")
                            try:
                                runs.append(
                                    run_case(args, broker, workload, raw, kind, url, topology)
                                )
                            finally:
                                drop(kind, url)
                            done += 1
                            print(f"[{done}/{cases}] run {run + 1} of {args.repeat}:", end=" ")
                            TABLE.print(runs[-1:])
                        results.append(median_result(runs))
        finally:
            broker.stop()
    print()
    TABLE.print(results)
    parameters = {
        "gateways": args.gateways,
        "repeat": args.repeat,
        "processes": args.processes,
        "workloads": [asdict(w) for w in args.workloads],
    }
    write_results(
        "ingest", parameters=parameters, results=results, draw=lambda path: chart(results, path)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
