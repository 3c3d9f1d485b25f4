"""GloNet's own processes started for a benchmark run, and waiting until they serve.

The broker is ``glonet.broker.MosquittoBroker``; the coordinator (``glonet cloud serve`` /
``ingest``) and the edge gateway (``glonet edge``) run as separate processes, as in production,
so that their CPU is theirs and not the load generator's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def start_glonet(*arguments: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``glonet --log-level WARNING ARGUMENTS`` as its own process; its output in ``log``
    (discarded without one)."""
    command = [sys.executable, "-m", "glonet", "--log-level", "WARNING", *arguments]
    if log is None:
        return subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)


def http_get(port: int, path: str, timeout: float = 2) -> tuple[int, str]:
    """Status and body of ``GET http://127.0.0.1:PORT/PATH`` (an error status keeps its body;
    0 when nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:  # 503 while degraded still has the document
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def wait_coordinator_healthy(http_port: int, timeout: float = 30) -> None:
    """Until the coordinator's ``/healthz`` answers 200 (a busy one may take seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_get(http_port, "/healthz", timeout=5)[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("the coordinator did not become healthy")


def gateway_health(health_port: int) -> dict[str, Any]:
    """The gateway's health document (empty while it does not answer)."""
    status, body = http_get(health_port, "/healthz")
    return json.loads(body) if status else {}


def wait_gateway_connected(health_port: int, timeout: float = 60) -> None:
    """Until the gateway's broker link and every machine's OPC UA session are up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = gateway_health(health_port)
        machines = status.get("machines", {}).values()
        if status.get("broker", {}).get("connected") and all(m["connected"] for m in machines):
            return
        time.sleep(0.2)
    raise TimeoutError("the gateway did not connect")
