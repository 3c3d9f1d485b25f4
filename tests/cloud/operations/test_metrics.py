"""The coordinator's ``/metrics`` exposition: every family's name, type, help and label names,
as the hand-built registry wrote them before ``prometheus_client`` took over (issue 24)."""

from __future__ import annotations

from cloud.operations.metrics import Metrics
from tests.exposition import families, sample

EXPECTED = {
    "glonet_ingest_messages_total": ("counter", "MQTT messages applied, by kind", {"kind"}),
    "glonet_ingest_samples_total": ("counter", "telemetry samples accepted", set()),
    "glonet_ingest_rejects_total": ("counter", "messages rejected, by reason", {"reason"}),
    "glonet_ingest_clock_skew_total": (
        "counter",
        "alarms, job events and capacity reports kept with their times moved back (their sender's"
        " clock ahead by more than ingest.max_future_skew_s), by kind",
        {"kind"},
    ),
    "glonet_ingest_ignored_total": (
        "counter",
        "messages without effect (duplicate, stale), by reason",
        {"reason"},
    ),
    "glonet_db_batch_seconds": (
        "histogram",
        "time to apply one ingest batch in the database",
        {"le"},
    ),
    "glonet_sink_write_seconds": (
        "histogram",
        "time to hand one batch to the telemetry sink",
        {"sink", "le"},
    ),
    "glonet_sink_writes_total": (
        "counter",
        "telemetry sink batch outcomes, by sink and result",
        {"sink", "result"},
    ),
    "glonet_event_bus_events_total": (
        "counter",
        "live events shared with the other coordinator processes, by direction (sent, lost while"
        " the broker was away, received for this process's listeners)",
        {"direction"},
    ),
    "glonet_event_bus_connected": (
        "gauge",
        "1 while the live-event bus is connected and subscribed",
        set(),
    ),
    "glonet_sse_clients": ("gauge", "connected server-sent-event clients", set()),
    "glonet_http_request_seconds": (
        "histogram",
        "HTTP request latency, by method and status class",
        {"method", "status", "le"},
    ),
    "glonet_mqtt_connected": ("gauge", "1 while the ingest is connected and subscribed", set()),
    "glonet_maintenance_rule_budget_exceeded_total": (
        "counter",
        "alerts whose silences and inhibition rules ran over their time budget (routed"
        " unsuppressed)",
        set(),
    ),
    "glonet_ingest_oldest_unacked_seconds": (
        "gauge",
        "age of the oldest message the ingest received and has not acknowledged (0: none)",
        set(),
    ),
    "glonet_ingest_retries_total": (
        "counter",
        "batch shares applied again after the database was away",
        set(),
    ),
    "glonet_outbox_attempts_total": (
        "counter",
        "attempts to deliver an outbox message, by channel and outcome (sent, failed)",
        {"channel", "outcome"},
    ),
    "glonet_outbox_messages": (
        "gauge",
        "outbox messages not sent, by status (pending, failed)",
        {"status"},
    ),
    "glonet_outbox_pruned_total": (
        "counter",
        "sent outbox messages deleted after outbox.keep_sent_s",
        set(),
    ),
    "glonet_task_restarts_total": (
        "counter",
        "background tasks that failed and were restarted, by task",
        {"task"},
    ),
}


def exercised(*, forwarded: bool = False) -> Metrics:
    """A registry with every metric updated the way the coordinator updates it."""
    metrics = Metrics(forwarded=forwarded)
    metrics.messages.inc(1, kind="telemetry")
    metrics.samples.inc(3)
    metrics.rejects.inc(1, reason="unknown_unit")
    metrics.clock_skew.inc(1, kind="alarm")
    metrics.ignored.inc(2, reason="duplicate")
    metrics.db_latency.observe(0.004)
    metrics.sink_latency.observe(0.02, sink="embedded")
    metrics.sink_writes.inc(1, sink="embedded", result="ok")
    metrics.event_bus.inc(2, direction="sent")
    metrics.event_bus_connected.set(1)
    metrics.sse_clients.inc(1)
    metrics.http_requests.observe(0.01, method="GET", status="2xx")
    metrics.mqtt_connected.set(1)
    metrics.rule_budget_exceeded.inc()
    metrics.ingest_oldest_unacked.set_reader(lambda: 1.5)
    metrics.ingest_retries.inc(1)
    metrics.outbox_attempts.inc(1, channel="command", outcome="sent")
    metrics.outbox_messages.set(2, status="pending")
    metrics.outbox_pruned.inc(1)
    metrics.task_restarts.inc(1, task="ingest")
    return metrics


def test_every_family_keeps_its_name_type_help_and_labels() -> None:
    assert families(exercised().render()) == EXPECTED


def test_a_drained_registry_merges_into_another_exactly() -> None:
    child, parent = exercised(forwarded=True), Metrics()
    parent.merge(child.drain())
    assert parent.messages.value(kind="telemetry") == 1
    assert parent.samples.value() == 3
    assert parent.ignored.value(reason="duplicate") == 2
    assert child.messages.value(kind="telemetry") == 0  # drained: the counts moved
    text = parent.render()
    assert sample(text, "glonet_sink_write_seconds_count", sink="embedded") == 1
    assert sample(text, "glonet_sink_write_seconds_sum", sink="embedded") == 0.02
    assert sample(text, "glonet_sink_write_seconds_bucket", sink="embedded", le="0.01") == 0
    assert sample(text, "glonet_sink_write_seconds_bucket", sink="embedded", le="0.025") == 1
    assert sample(text, "glonet_db_batch_seconds_count") == 1
    assert parent.event_bus_connected.value() == 0  # gauges describe their own process
