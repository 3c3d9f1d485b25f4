"""Run a private Mosquitto broker: for the demo, the benchmarks and the tests.

The broker gets its own directory (config, persistence, log) and a fixed port, so it can be
stopped, killed and started again on the same port while clients reconnect.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_START_TIMEOUT = 10.0


class BrokerError(RuntimeError):
    """The broker could not be started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class MosquittoBroker:
    """A Mosquitto process on ``127.0.0.1:port`` with its files in ``workdir``.

    ``extra_config`` is appended to the generated listener configuration (e.g. password file,
    ACL file, TLS settings). ``allow_anonymous`` is true unless ``extra_config`` sets it. Without
    ``own_listener``, ``extra_config`` brings the listeners (``port`` must be one of them), as
    the file ``glonet cloud broker-config`` writes does.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    host: str = "127.0.0.1"
    executable: str = "mosquitto"
    own_listener: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            *([f"listener {self.port} {self.host}"] if self.own_listener else []),
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
            # At least three coordinator ingest batches (ingest.batch_size, 200 by default): two
            # being applied and one gathering; with 100 the ingest's batches never filled.
            "max_inflight_messages 1000",
        ]
        if os.geteuid() == 0:
            # Started as root, Mosquitto would switch to the "mosquitto" user, which cannot
            # write this private directory.
            lines.append("user root")
        if self.own_listener and "allow_anonymous" not in self.extra_config:
            lines.append("allow_anonymous true")
        lines.append(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n")
        return self.config_path

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        if self.running:
            return
        executable = shutil.which(self.executable) or shutil.which(
            self.executable, path="/usr/sbin:/usr/local/sbin"
        )
        if executable is None:
            raise BrokerError("mosquitto is not installed (make installs it with apt)")
        self.write_config()
        self.process = subprocess.Popen(
            [executable, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if not wait_for_port(self.host, self.port, timeout):
            self._reap()
            raise BrokerError(f"mosquitto did not listen on port {self.port}: {self.last_log()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop gracefully (SIGTERM): Mosquitto saves its persistence file first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reap()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reap()

    def restart(self, downtime: float = 0.0) -> None:
        self.stop()
        if downtime:
            time.sleep(downtime)
        self.start()

    def last_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def _reap(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
