"""Restart and chaos: the coordinator killed mid-batch, the broker stopped, the database
connection cut. Each ends with every message the broker acknowledged to the gateway applied
exactly once: nothing lost, nothing twice.

Every message carries one sample whose value is its number, so the embedded store's values
say both: all numbers there, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from cloud.config import load_settings
from cloud.context import AppContext
from cloud.main import build_context
from cloud.services import make_ingest
from glonet.broker import MosquittoBroker
from tests.cloud.conftest import (
    Gateway,
    mqtt_settings,
    onboard,
    retained_coordinator_state,
    stored_samples,
)
from tests.cloud.test_cli import _worker_with_plant_a
from tests.waiting import eventually

METRIC = "n"


def _send(gateway: Gateway, numbers: range) -> None:
    for number in numbers:
        gateway.telemetry("mill-1", [float(number)], metric=METRIC)


def _numbers(context: AppContext) -> list[float]:
    return sorted(sample[4] for sample in stored_samples(context.session_factory, METRIC))


def _all_once(context: AppContext, count: int) -> Callable[[], bool]:
    def check() -> bool:
        numbers = _numbers(context)
        assert len(numbers) == len(set(numbers)), "a message was applied twice"
        return numbers == [float(n) for n in range(count)]

    return check


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_a_coordinator_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, db_url: str, running_mosquitto: MosquittoBroker, network: str
) -> None:
    """SIGKILL of the ``glonet cloud ingest`` process while it applies small batches; its
    child process does not outlive it; a new process applies the rest."""
    config, context = _worker_with_plant_a(
        tmp_path, db_url, network, running_mosquitto, "kill", ingest={"batch_size": 10}
    )
    command = [sys.executable, "-m", "glonet", "cloud", "ingest", "--config", str(config)]
    gateway = Gateway(running_mosquitto, "plant-a", network=network)
    log = (tmp_path / "ingest.log").open("ab")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    online = retained_coordinator_state
    try:  # online once subscribed: from then on its session keeps what it has not applied
        await eventually(lambda: online(running_mosquitto, network, 1) == "online", timeout=60)
        await asyncio.to_thread(_send, gateway, range(0, 1))
        await eventually(lambda: _numbers(context), timeout=30)  # up and applying
        children = _children(process.pid)
        assert children, "the ingest applies in a child process by default"
        sending = asyncio.create_task(asyncio.to_thread(_send, gateway, range(1, 400)))
        await eventually(lambda: len(_numbers(context)) >= 60, timeout=30)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await sending
        # The orphaned child notices its parent is gone and ends (it would hold the database).
        await eventually(lambda: not any(_alive(child) for child in children), timeout=15)
        applied = len(_numbers(context))
        assert applied < 400, "killed after everything was applied: not mid-stream"
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await eventually(_all_once(context, 400), timeout=60)
    finally:
        gateway.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        context.engine.dispose()


async def test_a_broker_stopped_mid_stream_loses_nothing_and_applies_nothing_twice(
    ingest_context: AppContext,
    gateways: Callable[[str], Gateway],
    running_mosquitto: MosquittoBroker,
) -> None:
    """The broker goes away while the ingest applies what it delivered: the acknowledgements of
    that batch are lost with the connection, the broker delivers it again (persistent session),
    and de-duplication keeps it to one effect."""
    _send(gateways("plant-a"), range(0, 200))
    await eventually(lambda: _numbers(ingest_context), timeout=30)
    await asyncio.to_thread(running_mosquitto.stop)
    await asyncio.to_thread(running_mosquitto.start)
    _send(gateways("plant-a"), range(200, 300))  # a gateway of the same id, reconnected
    await eventually(_all_once(ingest_context, 300), timeout=60)


class TcpProxy:
    """Forwards local connections to ``target``; :meth:`cut` drops them all and refuses new
    ones until :meth:`restore`, as a lost network would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = True
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def cut(self) -> None:
        self._open = False
        for writer in list(self._writers):
            transport: Any = writer.transport
            transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self._open = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def _proxied(url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    parsed = make_url(url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    try:
        yield (
            proxy,
            parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
    finally:
        await proxy.stop()


async def test_a_cut_database_connection_is_retried_and_loses_nothing(
    postgres_url: str,
    tmp_path: Path,
    network: str,
    running_mosquitto: MosquittoBroker,
    gateways: Callable[[str], Gateway],
) -> None:
    """PostgreSQL behind a TCP proxy; the proxy drops every connection mid-stream and refuses
    new ones for a while. The ingest retries with backoff, says it is stalled meanwhile, and
    applies everything exactly once when the database is back."""
    async with _proxied(postgres_url) as (proxy, proxied_url):
        settings = load_settings(
            None,
            network=network,
            data_dir=tmp_path,
            database_url=proxied_url,
            mqtt=mqtt_settings(running_mosquitto, f"coord-cut-{network}"),
            ingest={"batch_size": 10, "stall_after_s": 1.0},
            events={"bus": "off"},
        )
        # Off the loop: the proxy runs on it.
        context = await asyncio.to_thread(build_context, settings)
        await asyncio.to_thread(onboard, context, "plant-a")
        context.ingest = await asyncio.to_thread(make_ingest, context)
        await context.ingest.start()
        try:
            assert await context.ingest.wait_subscribed()
            gateway = gateways("plant-a")
            await asyncio.to_thread(_send, gateway, range(0, 100))
            await eventually(lambda: len(_numbers(context)) >= 10, timeout=30)
            proxy.cut()
            await asyncio.to_thread(_send, gateway, range(100, 200))
            ingest = context.ingest
            await eventually(ingest.stalled, timeout=30)
            assert context.metrics.ingest_retries.value() >= 1
            proxy.restore()
            await eventually(_all_once(context, 200), timeout=90)
            await eventually(lambda: not ingest.stalled(), timeout=30)
            assert context.metrics.rejects.value(reason="unprocessable") == 0
        finally:
            proxy.restore()
            await context.ingest.stop()
            await asyncio.to_thread(context.engine.dispose)
