"""A third-party OPC UA machine for the conformance tests: ``server.js`` (node-opcua, the
official NodeSets, its own vendor namespace) run as a child process and driven through its
stdin control channel.

``AcmePress(port).start()`` waits until the server listens; ``set``, ``alarm``, ``jobs``,
``finish``, ``abort`` and ``configure`` are the control operations documented in server.js;
``kill()`` and ``start()`` again restart it on the same port.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from glonet.broker import free_port

HERE = Path(__file__).resolve().parent
NAMESPACE = "urn:acme-machines:press"
MACHINE = "Press7"
START_TIMEOUT_S = 90.0
"""Loading the NodeSets takes a few seconds, much longer on a busy machine."""
REPLY_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """The node-opcua server could not start, or refused a control operation."""


class AcmePress:
    """``node server.js --port PORT``: one press, ``Press7``, in the ``acme`` namespace."""

    def __init__(self, port: int | None = None, *, job_seconds: float = 1.0) -> None:
        self.port = port or free_port()
        self.job_seconds = job_seconds
        self.process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lines: list[str] = []
        self._next_id = 0
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "node-opcua").is_dir():
            raise ServerError(f"needs Node.js and `npm ci` in {HERE} (make venv does it)")
        # Each process has its own queue: the reader of a killed one may still be finishing,
        # and its "exited" must not reach the new process's start.
        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._replies = replies
        self.process = subprocess.Popen(
            [node, "server.js", "--port", str(self.port), "--job-seconds", str(self.job_seconds)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, args=(self.process, replies), daemon=True).start()
        try:
            ready = self._replies.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            self.kill()
            output = self.output()
            raise ServerError(f"no ready line in {START_TIMEOUT_S:.0f} s:\n{output}") from None
        if ready.get("event") != "ready":
            self.kill()
            raise ServerError(f"the server did not start:\n{self.output()}")

    def _read(self, process: subprocess.Popen[str], replies: queue.Queue[dict[str, Any]]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._lines.append(line)
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    replies.put(json.loads(line))
        replies.put({"event": "exited"})

    def output(self) -> str:
        """Everything the server printed (its log and the control answers)."""
        return "".join(self._lines[-200:])

    def request(self, op: str, **fields: Any) -> Any:
        with self._lock:
            if not self.running:
                raise ServerError("the server is not running")
            assert self.process is not None and self.process.stdin is not None
            self._next_id += 1
            self.process.stdin.write(json.dumps({"id": self._next_id, "op": op, **fields}) + "\n")
            self.process.stdin.flush()
            reply = self._replies.get(timeout=REPLY_TIMEOUT_S)
        if not reply.get("ok"):
            raise ServerError(f"{op} {fields}: {reply.get('error') or reply}")
        return reply.get("result")

    def set(self, name: str, value: Any, status: str = "Good") -> None:
        """Set a variable's value and StatusCode (``value=None``: a null value)."""
        self.request("set", name=name, value=value, status=status)

    def alarm(self, name: str) -> dict[str, Any]:
        return dict(self.request("alarm", name=name))

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.request("jobs"))

    def finish(self, job: str, quantity: int | None = None) -> None:
        self.request("finish", job=job, quantity=quantity)

    def abort(self, job: str) -> None:
        self.request("abort", job=job)

    def configure(self, **settings: Any) -> None:
        self.request("configure", **settings)

    def kill(self) -> None:
        """SIGKILL, as a crashed controller; ``start()`` brings it back on the same port."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the server shuts down when its stdin closes
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
