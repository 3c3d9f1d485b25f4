"""Serve a coordinator app with a real uvicorn on a free port, for page and HTTP tests."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from cloud.config import Settings, load_settings
from cloud.main import server_options
from tests.waiting import wait_until


def page_settings(data_dir: Path, network: str, **overrides: Any) -> Settings:
    """A served page test's coordinator: SQLite in ``data_dir``, no ingest and no event bus
    unless ``overrides`` say otherwise."""
    values: dict[str, Any] = {
        "network": network,
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'coordinator.sqlite'}",
        "ingest": {"enabled": False},
        "events": {"bus": "off"},
    }
    return load_settings(None, **(values | overrides))


@contextmanager
def serve(app: Any, ready_within: float = 60.0) -> Iterator[str]:
    """Run ``app`` in a thread; yield its base URL once /healthz answers (up and subscribed).

    The socket is bound here, before the app starts: uvicorn binds only after the lifespan,
    whose connections (database, broker, the ingest child's) take ephemeral local ports — one
    of them took a port picked free beforehand, once, and the server could not bind."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    options = server_options(app.state.context.settings)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        # Starting takes a second when quiet, but tens of seconds on a loaded CI machine (a
        # module's whole fixture errors if this gives up); a healthy coordinator returns at once.
        wait_until(lambda: _healthy(base_url), ready_within, f"{base_url} healthy")
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stream_events(
    base_url: str,
    headers: dict[str, str],
    *,
    once_connected: Callable[[], None],
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """Open ``/api/events``, call ``once_connected`` (publish something), and return the events
    that arrive up to and including the first one ``until`` accepts."""
    seen: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{base_url}/api/events", headers=headers, timeout=timeout) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        once_connected()
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
                if until(seen[-1]):
                    break
    return seen


def capacity_events_for_plant_a(
    base_url: str,
    headers: dict[str, str],
    gateways: Callable[[str], Any],
    *,
    before: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """The events a stream opened with ``headers`` gets when plant-b, then plant-a report
    capacity (``before`` runs once the stream is open), up to plant-a's."""

    def publish() -> None:
        before()
        gateways("plant-b").capacity("m1", state="Executing")
        gateways("plant-a").capacity("m1", state="NotExecuting")

    return stream_events(
        base_url, headers, once_connected=publish, until=lambda e: e["unit_id"] == "plant-a"
    )
