"""The coordinator's Prometheus metrics (``prometheus_client``), one registry per application.

Each metric declares its label names; updates name the labels as keywords
(``metrics.messages.inc(1, kind="telemetry")``). An ingest child process and a batch's tally count
in registries of their own and hand their counts to the serving process's registry
(:meth:`Metrics.drain`, :meth:`Metrics.merge`), so a batch applied again counts once and a child's
counts reach ``/metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest

# One sample per series: the ``_created`` companions would double the exposition and no
# dashboard reads them.
prometheus_client.disable_created_metrics()

Labels = tuple[tuple[str, str], ...]
MetricsDelta = dict[str, Any]
"""What :meth:`Metrics.drain` took from a registry (picklable), for :meth:`Metrics.merge`."""
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


class _Metric:
    """A ``prometheus_client`` metric behind the keyword-label calls the coordinator makes."""

    def __init__(self, metric: Any, label_names: tuple[str, ...]) -> None:
        self.metric = metric
        self.label_names = label_names
        # Held across an update and a drain, so that no increment falls between the two.
        self._lock = threading.Lock()
        # Set by every update, cleared by a drain: most metrics change in no given batch, and
        # collecting one that did not is most of a drain's cost (drained once per batch).
        self._touched = False

    def _series(self, labels: dict[str, str]) -> Any:
        return self.metric.labels(**labels) if self.label_names else self.metric

    def value(self, **labels: str) -> float:
        """The series with exactly these labels (0 when it has none yet)."""
        wanted = {key: str(value) for key, value in labels.items()}
        for family in self.metric.collect():
            for sample in family.samples:
                if sample.name in (family.name, f"{family.name}_total") and sample.labels == wanted:
                    return float(sample.value)
        return 0.0


class Counter(_Metric):
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        super().__init__(prometheus_client.Counter(name, help_text, labels, registry=None), labels)

    def inc(self, amount: float = 1, **labels: str) -> None:
        with self._lock:
            self._series(labels).inc(amount)
            self._touched = True

    def drain(self) -> dict[Labels, float]:
        """Take the counts so far, leaving zero (a child process reports increments)."""
        with self._lock:
            if not self._touched:
                return {}
            self._touched = False
            counts = {
                _key(sample.labels): sample.value
                for family in self.metric.collect()
                for sample in family.samples
                if sample.name.endswith("_total") and sample.value
            }
            if self.label_names:
                self.metric.clear()
            else:
                self.metric.reset()
        return counts

    def merge(self, counts: dict[Labels, float]) -> None:
        for key, amount in counts.items():
            self.inc(amount, **dict(key))


class Gauge(_Metric):
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        super().__init__(prometheus_client.Gauge(name, help_text, labels, registry=None), labels)

    def set_reader(self, read: Callable[[], float]) -> None:
        """Read the value from ``read`` whenever the gauge is rendered."""
        self.metric.set_function(read)

    def set(self, value: float, **labels: str) -> None:
        self._series(labels).set(value)

    def inc(self, amount: float = 1, **labels: str) -> None:
        self._series(labels).inc(amount)


class Histogram(_Metric):
    """A histogram; in a registry that reports to another (``forwarded``) it also keeps each
    observation until :meth:`drain`, because bucket counts cannot be added to a
    ``prometheus_client`` histogram, only observations."""

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: tuple[str, ...] = (),
        *,
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
        forwarded: bool = False,
    ) -> None:
        histogram = prometheus_client.Histogram(
            name, help_text, labels, registry=None, buckets=buckets
        )
        super().__init__(histogram, labels)
        self._pending: list[tuple[Labels, float]] | None = [] if forwarded else None

    def observe(self, value: float, **labels: str) -> None:
        with self._lock:
            self._series(labels).observe(value)
            self._touched = True
            if self._pending is not None:
                self._pending.append((_key(labels), value))

    def drain(self) -> list[tuple[Labels, float]]:
        """The observations since the last drain (only a ``forwarded`` histogram keeps them)."""
        assert self._pending is not None, "only a forwarded registry is drained"
        with self._lock:
            if not self._touched:
                return []
            self._touched = False
            drained, self._pending = self._pending, []
            if self.label_names:
                self.metric.clear()
        return drained

    def merge(self, observations: list[tuple[Labels, float]]) -> None:
        for key, value in observations:
            self.observe(value, **dict(key))


RULE_BUDGET_EXCEEDED = Counter(
    "glonet_maintenance_rule_budget_exceeded_total",
    "alerts whose silences and inhibition rules ran over their time budget (routed unsuppressed)",
)
"""Counted where alerts are routed (in the ingest, wherever it runs); every registry reports it,
and an ingest child's drain carries it to the serving process like any other counter."""


class Metrics:
    """The coordinator's metrics; one instance per application, passed to who updates them.

    ``forwarded``: this registry's counts are drained into another (an ingest child's, a batch's
    tally).
    """

    def __init__(self, *, forwarded: bool = False) -> None:
        def histogram(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Histogram:
            return Histogram(name, help_text, labels, forwarded=forwarded)

        self.messages = Counter(
            "glonet_ingest_messages_total", "MQTT messages applied, by kind", ("kind",)
        )
        self.samples = Counter("glonet_ingest_samples_total", "telemetry samples accepted")
        self.rejects = Counter(
            "glonet_ingest_rejects_total", "messages rejected, by reason", ("reason",)
        )
        self.clock_skew = Counter(
            "glonet_ingest_clock_skew_total",
            "alarms, job events and capacity reports kept with their times moved back (their"
            " sender's clock ahead by more than ingest.max_future_skew_s), by kind",
            ("kind",),
        )
        self.ignored = Counter(
            "glonet_ingest_ignored_total",
            "messages without effect (duplicate, stale), by reason",
            ("reason",),
        )
        self.db_latency = histogram(
            "glonet_db_batch_seconds", "time to apply one ingest batch in the database"
        )
        self.sink_latency = histogram(
            "glonet_sink_write_seconds", "time to hand one batch to the telemetry sink", ("sink",)
        )
        self.sink_writes = Counter(
            "glonet_sink_writes_total",
            "telemetry sink batch outcomes, by sink and result",
            ("sink", "result"),
        )
        self.event_bus = Counter(
            "glonet_event_bus_events_total",
            "live events shared with the other coordinator processes, by direction"
            " (sent, lost while the broker was away, received for this process's listeners)",
            ("direction",),
        )
        self.event_bus_connected = Gauge(
            "glonet_event_bus_connected", "1 while the live-event bus is connected and subscribed"
        )
        self.sse_clients = Gauge("glonet_sse_clients", "connected server-sent-event clients")
        self.http_requests = histogram(
            "glonet_http_request_seconds",
            "HTTP request latency, by method and status class",
            ("method", "status"),
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
            ("channel", "outcome"),
        )
        self.outbox_messages = Gauge(
            "glonet_outbox_messages",
            "outbox messages not sent, by status (pending, failed)",
            ("status",),
        )
        self.outbox_pruned = Counter(
            "glonet_outbox_pruned_total",
            "sent outbox messages deleted after outbox.keep_sent_s",
        )
        self.task_restarts = Counter(
            "glonet_task_restarts_total",
            "background tasks that failed and were restarted, by task",
            ("task",),
        )
        self._registry: CollectorRegistry | None = None

    def _metrics(self) -> dict[str, _Metric]:
        return {name: metric for name, metric in vars(self).items() if isinstance(metric, _Metric)}

    def drain(self) -> MetricsDelta:
        """Counters and histograms taken from this registry (gauges describe the process that
        holds them and stay)."""
        return {
            name: metric.drain()
            for name, metric in self._metrics().items()
            if isinstance(metric, Counter | Histogram)
        }

    def merge(self, delta: MetricsDelta) -> None:
        """Add what another process's registry drained."""
        for name, drained in delta.items():
            getattr(self, name).merge(drained)

    def render(self) -> str:
        """The text exposition format 0.0.4."""
        if self._registry is None:  # built on the first scrape: a batch's tally is never scraped
            self._registry = CollectorRegistry(auto_describe=True)
            for metric in self._metrics().values():
                self._registry.register(metric.metric)
        return generate_latest(self._registry).decode()
