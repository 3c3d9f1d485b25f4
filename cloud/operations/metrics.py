"""A small Prometheus registry (text exposition format 0.0.4), one per application.

Counters, gauges and histograms with labels; thread-safe because the paho thread, the ingest
and the request handlers all update them.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Labels = tuple[tuple[str, str], ...]
MetricsDelta = dict[str, Any]
"""What :meth:`Metrics.drain` took from a registry (picklable), for :meth:`Metrics.merge`."""
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _render_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Counter:
    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._values: dict[Labels, float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, amount: float = 1, **labels: str) -> None:
        with self._lock:
            self._values[_labels(labels)] += amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(_labels(labels), 0.0)

    def drain(self) -> dict[Labels, float]:
        """Take the counts so far, leaving zero (a child process reports increments)."""
        with self._lock:
            values, self._values = self._values, defaultdict(float)
        return values

    def merge(self, values: dict[Labels, float]) -> None:
        with self._lock:
            for key, amount in values.items():
                self._values[key] += amount

    def samples(self) -> list[str]:
        with self._lock:
            items = list(self._values.items())
        return [f"{self.name}{_render_labels(k)} {v}" for k, v in items]


class Gauge(Counter):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, read: Callable[[], float] | None = None) -> None:
        super().__init__(name, help_text)
        self._read = read

    def set_reader(self, read: Callable[[], float] | None) -> None:
        """Read the value from ``read`` whenever the gauge is rendered."""
        self._read = read

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[_labels(labels)] = value

    def samples(self) -> list[str]:
        if self._read is not None:
            self.set(self._read())
        return super().samples()


class Histogram:
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = DEFAULT_BUCKETS):
        self.name, self.help, self.buckets = name, help_text, buckets
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = defaultdict(float)
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sums[key] += value

    def drain(self) -> tuple[dict[Labels, list[int]], dict[Labels, float]]:
        with self._lock:
            drained = (self._counts, self._sums)
            self._counts, self._sums = {}, defaultdict(float)
        return drained

    def merge(self, drained: tuple[dict[Labels, list[int]], dict[Labels, float]]) -> None:
        counts, sums = drained
        with self._lock:
            for key, added in counts.items():
                mine = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
                for index, count in enumerate(added):
                    mine[index] += count
            for key, total in sums.items():
                self._sums[key] += total

    def samples(self) -> list[str]:
        lines = []
        with self._lock:
            items = [(k, list(v), self._sums[k]) for k, v in self._counts.items()]
        for key, counts, total in items:
            cumulative = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f"{self.name}_bucket{_render_labels(key, (('le', le),))} {cumulative}")
            lines.append(f"{self.name}_sum{_render_labels(key)} {total}")
            lines.append(f"{self.name}_count{_render_labels(key)} {cumulative}")
        return lines


RULE_BUDGET_EXCEEDED = Counter(
    "glonet_maintenance_rule_budget_exceeded_total",
    "alerts whose silences and inhibition rules ran over their time budget (routed unsuppressed)",
)
"""Counted where alerts are routed (in the ingest, wherever it runs); every registry reports it,
and an ingest child's drain carries it to the serving process like any other counter."""


class Metrics:
    """The coordinator's metrics; one instance per application, passed to who updates them."""

    def __init__(self) -> None:
        self.messages = Counter("glonet_ingest_messages_total", "MQTT messages applied, by kind")
        self.samples = Counter("glonet_ingest_samples_total", "telemetry samples accepted")
        self.rejects = Counter("glonet_ingest_rejects_total", "messages rejected, by reason")
        self.ignored = Counter(
            "glonet_ingest_ignored_total", "messages without effect (duplicate, stale), by reason"
        )
        self.db_latency = Histogram(
            "glonet_db_batch_seconds", "time to apply one ingest batch in the database"
        )
        self.sink_latency = Histogram(
            "glonet_sink_write_seconds", "time to hand one batch to the telemetry sink"
        )
        self.sink_writes = Counter(
            "glonet_sink_writes_total", "telemetry sink batch outcomes, by sink and result"
        )
        self.event_bus = Counter(
            "glonet_event_bus_events_total",
            "live events shared with the other coordinator processes, by direction"
            " (sent, lost while the broker was away, received for this process's listeners)",
        )
        self.event_bus_connected = Gauge(
            "glonet_event_bus_connected", "1 while the live-event bus is connected and subscribed"
        )
        self.sse_clients = Gauge("glonet_sse_clients", "connected server-sent-event clients")
        self.http_requests = Histogram(
            "glonet_http_request_seconds", "HTTP request latency, by method and status class"
        )
        self.mqtt_connected = Gauge(
            "glonet_mqtt_connected", "1 while the ingest is connected and subscribed"
        )
        self.rule_budget_exceeded = RULE_BUDGET_EXCEEDED
        self.ingest_oldest_unacked = Gauge(
            "glonet_ingest_oldest_unacked_seconds",
            "age of the oldest message the ingest received and has not acknowledged (0: none)",
        )
        self.ingest_retries = Counter(
            "glonet_ingest_retries_total", "batch shares applied again after the database was away"
        )
        self.outbox_attempts = Counter(
            "glonet_outbox_attempts_total",
            "attempts to deliver an outbox message, by channel and outcome (sent, failed)",
        )
        self.outbox_messages = Gauge(
            "glonet_outbox_messages", "outbox messages not sent, by status (pending, failed)"
        )
        self.task_restarts = Counter(
            "glonet_task_restarts_total", "background tasks that failed and were restarted, by task"
        )

    def drain(self) -> MetricsDelta:
        """Counters and histograms taken from this registry (gauges describe the process that
        holds them and stay)."""
        return {
            name: metric.drain()
            for name, metric in vars(self).items()
            if not isinstance(metric, Gauge)
        }

    def merge(self, delta: MetricsDelta) -> None:
        """Add what another process's registry drained."""
        for name, drained in delta.items():
            getattr(self, name).merge(drained)

    def render(self) -> str:
        lines = []
        for metric in vars(self).values():
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"
