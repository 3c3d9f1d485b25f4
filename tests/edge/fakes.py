"""Unit-test plumbing built on the real classes: a real outbox and uplink in a temp dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.binding import MachineControl
from edge.config import parse_config
from edge.health import Metrics
from edge.job_control import CallOutcome
from edge.outbox import Outbox
from edge.uplink import Uplink
from protocols import codec, topics
from protocols.enums import ReturnStatus
from protocols.messages import JobOrder

CONFIG = {
    "network": "net-1",
    "unit": "plant-a",
    "machines": [
        {
            "id": "mill-1",
            "endpoint": "opc.tcp://127.0.0.1:4840/glonet/plant-a",
            "mapping": "firmware-sim",
        }
    ],
}


class Queue:
    """A real outbox and uplink; ``sent()`` decodes what is waiting to be published."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.path = tmp_path / "outbox.sqlite"
        self.config = parse_config({**CONFIG, **config})
        self.metrics = Metrics()
        self.outbox = Outbox(self.path, quota_bytes=10**8)
        self.uplink = Uplink(self.config, self.outbox, self.metrics, on_written=lambda: None)

    def sent(self) -> list[Any]:
        return [
            codec.decode_for_topic(topics.parse(row.topic).kind, row.payload)
            for row in self.outbox.fetch(0, 100_000)
        ]

    def bodies(self) -> list[Any]:
        return [message.body for message in self.sent()]

    def reopen(self) -> None:
        self.outbox.close()
        self.outbox = Outbox(self.path, quota_bytes=10**8)
        self.uplink = Uplink(self.config, self.outbox, self.metrics, on_written=lambda: None)


class FakeMachine(MachineControl):
    """A machine control answering method calls from a script instead of an OPC UA server.

    A scripted result is a ReturnStatus (int) or a :class:`CallOutcome`."""

    def __init__(self, machine: str, results: dict[str, Any] | None = None) -> None:
        super().__init__(machine)
        self.results = results or {}
        self.calls: list[tuple[str, JobOrder | str]] = []
        self.mark_ready()

    async def job_call(self, method: str, target: JobOrder | str) -> CallOutcome:
        self.calls.append((method, target))
        result = self.results.get(method, 1)
        if isinstance(result, CallOutcome):
            return result
        return CallOutcome.of_status(ReturnStatus(result))

    async def repair(self) -> Any:
        self.calls.append(("repair", ()))
        return self.results.get("repair", True)
