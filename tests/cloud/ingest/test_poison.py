"""A poison corpus: no message a member can send stops the ingest.

One real coordinator (API + ingest in a child process, as deployed) per database, shared by the
whole module. Each poison message is published on a real Mosquitto, followed by a fresh valid
message, which must be applied within seconds; the poison must end as what the corpus says
(rejected with its counted reason, or applied without harm). The corpus covers the review's
findings (H1, H2) and, for every inbound kind, each field class: ids, times, numbers, strings.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cloud.config import load_settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.ingest.models import SeenMessage
from cloud.main import create_app
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketEvent
from cloud.network import service as network_service
from cloud.network.models import ActiveAlarm
from cloud.telemetry.models import LatestMetric
from glonet.broker import MosquittoBroker
from protocols import PROTOCOL_VERSION, codec, messages, topics
from protocols.ids import new_message_id
from tests.cloud.conftest import Gateway, mqtt_settings, populate
from tests.cloud.conftest import coordinator as coordinator_actor
from tests.cloud.serving import serve
from tests.conftest import fresh_postgres_database
from tests.waiting import wait_until

NETWORK = "poison-net"
UNIT = "plant-a"
TECHNICIAN = "tech-plant-a"
WITHIN = 15.0
"""Seconds a valid message may take to be applied after a poison one (a shared machine)."""


@dataclass
class Coordinator:
    context: AppContext
    url: str
    gateway: Gateway
    device: Gateway
    """The technician's phone, publishing on its reply topic."""
    ticket_id: int


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def coordinator(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoBroker,
) -> Iterator[Coordinator]:
    mosquitto.start()
    tmp = tmp_path_factory.mktemp("poison")
    with _database(request.param, tmp) as url:
        settings = load_settings(
            None,
            network=NETWORK,
            data_dir=tmp,
            database_url=url,
            mqtt=mqtt_settings(mosquitto, f"coord-poison-{request.param}"),
            ingest={"batch_size": 50, "isolation": "process"},
            events={"bus": "off"},
            orders={"dispatch_enabled": False},
        )
        app = create_app(settings)
        context: AppContext = app.state.context
        populate(context)
        ticket_id = _assigned_ticket(context)
        with serve(app) as base_url:
            gateway = Gateway(mosquitto, UNIT, network=NETWORK)
            device = Gateway(mosquitto, TECHNICIAN, network=NETWORK)
            try:
                yield Coordinator(context, base_url, gateway, device, ticket_id)
            finally:
                gateway.close()
                device.close()


@pytest.fixture
def live(coordinator: Coordinator, mosquitto: MosquittoBroker) -> Coordinator:
    mosquitto.start()  # another module's test may have left it stopped: not this module's
    return coordinator


class _database:
    def __init__(self, kind: str, tmp: Path) -> None:
        self._kind, self._tmp = kind, tmp
        self._postgres: Any = None

    def __enter__(self) -> str:
        if self._kind == "sqlite":
            return f"sqlite:///{self._tmp / 'coordinator.sqlite'}"
        self._postgres = fresh_postgres_database()
        return str(self._postgres.__enter__())

    def __exit__(self, *exc: Any) -> None:
        if self._postgres is not None:
            self._postgres.__exit__(*exc)


def _assigned_ticket(context: AppContext) -> int:
    now = datetime.now(UTC)
    ticket = MaintenanceTicket(
        kind="corrective",
        status="assigned",
        priority="P2",
        severity=700,
        title="spindle overheating",
        network_id=NETWORK,
        unit_id=UNIT,
        asset="m1",
        service_level="standard",
        skill="milling",
        assignee_id=TECHNICIAN,
        previous_assignees=[],
        opened_at=now,
        failed_at=now,
        last_alert_at=now,
        due_at=now + timedelta(hours=4),
        escalation_started_at=now,
    )
    with transaction(context.session_factory) as session:
        session.add(ticket)
        session.flush()
        return ticket.id


# The corpus -----------------------------------------------------------------------------------

_SEQ = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _bodies() -> dict[str, tuple[str, str | None, dict[str, Any]]]:
    """A valid body of every inbound kind: (schema, machine of its topic, body)."""
    now = _now()
    return {
        "unit_state": ("unit_state", None, {"state": "online", "reason": "up"}),
        "unit_birth": (
            "unit_birth",
            None,
            {
                "gateway_version": "t-1",
                "machines": [
                    {
                        "machine": "m1",
                        "name": "Mill",
                        "max_job_orders": 2,
                        "capabilities": [{"process": "milling", "parameters": {"max_rpm": 8000}}],
                    }
                ],
            },
        ),
        "capacity": (
            "capacity",
            "m1",
            {
                "machine": "m1",
                "available": True,
                "state": "NotExecuting",
                "mode": "Processing",
                "free_slots": 2,
                "queue_free_at": now,
                "reported_at": now,
            },
        ),
        "telemetry": (
            "telemetry",
            "m1",
            {
                "samples": [
                    {"machine": "m1", "metric": "rpm", "value": 1.0, "source_time": now},
                    {"machine": "m1", "metric": "mode", "value": "auto", "source_time": now},
                ]
            },
        ),
        "job_status": (
            "job_status",
            "m1",
            {
                "machine": "m1",
                "job_order_id": "job-1",
                "event": "progress",
                "progress": 0.5,
                "produced_quantity": 3,
                "return_status": 0,
                "occurred_at": now,
            },
        ),
        "alarm": (
            "alarm",
            "m1",
            {
                "asset": "m1",
                "alarm_id": "a-1",
                "code": "overheat",
                "state": "raised",
                "severity": 500,
                "text": "hot",
                "source": "opcua_event",
                "value": 81.5,
                "occurred_at": now,
            },
        ),
        "technician_reply": (
            "technician_reply",
            None,
            {"ticket_id": "777777", "action": "start", "note": ""},
        ),
    }


def _topic(schema: str, machine: str | None) -> str:
    if schema == "technician_reply":
        return topics.technician_replies(NETWORK, TECHNICIAN)
    build: dict[str, Callable[..., str]] = {
        "unit_state": topics.unit_state,
        "unit_birth": topics.birth,
        "capacity": topics.capacity,
        "telemetry": topics.telemetry,
        "job_status": topics.job,
        "alarm": topics.alarm,
    }
    return build[schema](NETWORK, UNIT, *([machine] if machine else []))


def _envelope(kind: str) -> tuple[str, dict[str, Any]]:
    schema, machine, body = _bodies()[kind]
    sender = TECHNICIAN if schema == "technician_reply" else UNIT
    envelope = {
        "schema": schema,
        "version": PROTOCOL_VERSION,
        "id": new_message_id(),
        "unit": sender,
        "seq": next(_SEQ),
        "sent_at": _now(),
        "body": body,
    }
    return _topic(schema, machine), envelope


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return changed


@dataclass(frozen=True)
class Poison:
    name: str
    kind: str
    outcome: str
    """The reject reason it is counted under, "applied" (accepted without harm), or
    :data:`CLOCK_SKEW` (applied, its times moved back, counted)."""
    path: str = ""
    value: Any = None
    raw: bytes | None = None
    """Bytes sent as they are, replacing the JSON (on the kind's topic)."""
    raw_json: str | None = None
    """JSON text spliced in at ``path`` as it is (NaN, 1e400, escapes json.dumps won't write)."""
    topic: str | None = None

    def build(self) -> tuple[str, bytes]:
        topic, envelope = _envelope(self.kind)
        topic = self.topic or topic
        if self.raw is not None:
            return topic, self.raw
        if self.raw_json is not None:
            marker = "__POISON__"
            text = json.dumps(_set(envelope, self.path, marker))
            return topic, text.replace(f'"{marker}"', self.raw_json).encode()
        return topic, json.dumps(_set(envelope, self.path, self.value)).encode()


CLOCK_SKEW = "clock_skew"
FAR_LATE = "9999-12-31T23:59:59-14:00"
FAR_EARLY = "0001-01-01T00:00:00+14:00"
FAR_AHEAD = "2200-01-01T00:00:00+00:00"
SAMPLE = "body.samples.0"
CORPUS = [
    # H1: "²".isdigit() is true, int("²") fails.
    Poison("h1-superscript-ticket-id", "technician_reply", "invalid", "body.ticket_id", "²"),
    Poison("ticket-id-arabic-digit", "technician_reply", "invalid", "body.ticket_id", "٣"),
    Poison("ticket-id-too-long", "technician_reply", "invalid", "body.ticket_id", "9" * 19),
    Poison("ticket-id-beyond-column", "technician_reply", "applied", "body.ticket_id", "9" * 12),
    Poison("ticket-id-unknown", "technician_reply", "applied", "body.ticket_id", "777777"),
    Poison("reply-from-other-sender", "technician_reply", "unit_mismatch", "unit", "tech-plant-b"),
    # H2: times that overflow once converted to UTC.
    Poison("h2-sample-late", "telemetry", "invalid", f"{SAMPLE}.source_time", FAR_LATE),
    Poison("h2-sample-early", "telemetry", "invalid", f"{SAMPLE}.source_time", FAR_EARLY),
    Poison("h2-queue-free-late", "capacity", "invalid", "body.queue_free_at", FAR_LATE),
    Poison("h2-queue-free-early", "capacity", "invalid", "body.queue_free_at", FAR_EARLY),
    Poison("reported-at-late", "capacity", "invalid", "body.reported_at", FAR_LATE),
    Poison("job-occurred-early", "job_status", "invalid", "body.occurred_at", FAR_EARLY),
    Poison("job-actual-end-late", "job_status", "invalid", "body.actual_end", FAR_LATE),
    Poison("alarm-occurred-late", "alarm", "invalid", "body.occurred_at", FAR_LATE),
    Poison("state-sent-at-early", "unit_state", "invalid", "sent_at", FAR_EARLY),
    Poison("birth-sent-at-late", "unit_birth", "invalid", "sent_at", FAR_LATE),
    Poison("reply-sent-at-late", "technician_reply", "invalid", "sent_at", FAR_LATE),
    Poison("time-naive", "telemetry", "invalid", f"{SAMPLE}.source_time", "2026-01-01T00:00:00"),
    Poison("time-not-a-time", "alarm", "invalid", "body.occurred_at", "yesterday"),
    Poison(
        "sample-before-1970",
        "telemetry",
        "invalid",
        f"{SAMPLE}.source_time",
        "1969-12-31T23:59:59Z",
    ),
    Poison(
        "sample-far-future",
        "telemetry",
        "future_time",
        f"{SAMPLE}.source_time",
        "2200-01-01T00:00:00+00:00",
    ),
    # Observed times ahead of the coordinator's clock: kept, moved back and counted (an alarm
    # lost is worse than a wrong time); a forecast beyond the horizon is refused.
    Poison("job-occurred-far-future", "job_status", CLOCK_SKEW, "body.occurred_at", FAR_AHEAD),
    Poison("job-actual-end-far-future", "job_status", CLOCK_SKEW, "body.actual_end", FAR_AHEAD),
    Poison("alarm-occurred-far-future", "alarm", CLOCK_SKEW, "body.occurred_at", FAR_AHEAD),
    Poison("capacity-reported-far-future", "capacity", CLOCK_SKEW, "body.reported_at", FAR_AHEAD),
    Poison("queue-free-beyond-horizon", "capacity", "future_time", "body.queue_free_at", FAR_AHEAD),
    # A sample of another machine on this machine's topic.
    Poison("sample-of-other-machine", "telemetry", "machine_mismatch", f"{SAMPLE}.machine", "m2"),
    Poison("capacity-of-other-machine", "capacity", "machine_mismatch", "body.machine", "m2"),
    Poison("alarm-of-other-asset", "alarm", "machine_mismatch", "body.asset", "m2"),
    # Numbers: non-finite, huge.
    Poison("sample-nan", "telemetry", "not_json", f"{SAMPLE}.value", raw_json="NaN"),
    Poison("sample-infinity", "telemetry", "not_json", f"{SAMPLE}.value", raw_json="-Infinity"),
    Poison("sample-1e400", "telemetry", "invalid", f"{SAMPLE}.value", raw_json="1e400"),
    Poison("alarm-value-nan", "alarm", "not_json", "body.value", raw_json="NaN"),
    Poison("progress-1e400", "job_status", "invalid", "body.progress", raw_json="1e400"),
    # An integer beyond 64 bits is no reading: it is refused as an integer, and taken as the
    # (finite) float it also is.
    Poison("sample-int-2-64", "telemetry", "applied", f"{SAMPLE}.value", 2**64),
    Poison("sample-int-huge", "telemetry", "invalid", f"{SAMPLE}.value", raw_json="9" * 4000),
    Poison("free-slots-2-40", "capacity", "invalid", "body.free_slots", 2**40),
    Poison("free-slots-negative", "capacity", "invalid", "body.free_slots", -1),
    Poison("produced-10-30", "job_status", "invalid", "body.produced_quantity", 10**30),
    Poison("return-status-2-64", "job_status", "invalid", "body.return_status", 2**64),
    Poison("severity-huge", "alarm", "invalid", "body.severity", 10**20),
    Poison("max-job-orders-2-31", "unit_birth", "invalid", "body.machines.0.max_job_orders", 2**31),
    Poison(
        "parameter-10-30",
        "unit_birth",
        "applied",
        "body.machines.0.capabilities.0.parameters.max_rpm",
        10**30,
    ),
    Poison("seq-2-63", "unit_state", "invalid", "seq", 2**63),
    Poison("seq-float", "unit_state", "invalid", "seq", 1.5),
    # Strings: lone surrogates, NUL, too long.
    Poison(
        "sample-lone-surrogate",
        "telemetry",
        "invalid",
        "body.samples.1.value",
        raw_json='"\\ud800"',
    ),
    Poison("alarm-text-surrogate", "alarm", "invalid", "body.text", raw_json='"x\\udfff"'),
    Poison(
        "reply-note-surrogate", "technician_reply", "invalid", "body.note", raw_json='"\\ud83d"'
    ),
    Poison("sample-text-nul", "telemetry", "invalid", "body.samples.1.value", "a\x00b"),
    Poison("alarm-text-nul", "alarm", "invalid", "body.text", "hot\x00"),
    Poison("state-reason-nul", "unit_state", "invalid", "body.reason", "\x00"),
    Poison("birth-name-nul", "unit_birth", "invalid", "body.machines.0.name", "Mill\x00"),
    Poison("reply-note-nul", "technician_reply", "invalid", "body.note", "done\x00"),
    Poison("sample-text-201", "telemetry", "invalid", "body.samples.1.value", "x" * 201),
    Poison("alarm-text-2001", "alarm", "invalid", "body.text", "x" * 2001),
    Poison("reply-note-2001", "technician_reply", "invalid", "body.note", "x" * 2001),
    Poison("job-reason-2001", "job_status", "invalid", "body.reason", "x" * 2001),
    Poison("payload-invalid-utf8", "alarm", "not_utf8", raw=b'{"schema":"alarm","x":"\xff\xfe"}'),
    # Ids.
    Poison("message-id-bad", "alarm", "invalid", "id", "not-a-ulid"),
    Poison("message-id-lowercase", "capacity", "invalid", "id", new_message_id().lower()),
    Poison("unit-id-bad", "unit_state", "invalid", "unit", "Plant A"),
    Poison("machine-id-bad", "telemetry", "invalid", f"{SAMPLE}.machine", "../m1"),
    Poison("job-order-id-bad", "job_status", "invalid", "body.job_order_id", "job 1\x00"),
    Poison("metric-id-long", "telemetry", "invalid", f"{SAMPLE}.metric", "m" * 1000),
    Poison("unit-unknown", "unit_state", "unit_mismatch", "unit", "plant-z"),
    Poison(
        "unknown-unit-topic",
        "unit_state",
        "unknown_unit",
        "unit",
        "plant-z",
        topic=topics.unit_state(NETWORK, "plant-z"),
    ),
    # Envelopes and encodings.
    Poison("not-json", "telemetry", "not_json", raw=b"{not json"),
    Poison("json-array", "alarm", "not_an_object", raw=b"[]"),
    Poison("deep-nesting", "alarm", "not_json", raw=b"[" * 100_000 + b"]" * 100_000),
    Poison("too-large", "telemetry", "too_large", raw=b" " * (300 * 1024)),
    Poison("empty", "technician_reply", "not_json", raw=b""),
    Poison("no-schema", "capacity", "missing_schema", "schema", None),
    Poison("unknown-schema", "capacity", "unknown_schema", "schema", "teleportation"),
    Poison("wrong-schema", "telemetry", "wrong_schema", "schema", "alarm"),
    Poison("version-2", "job_status", "unsupported_version", "version", "2.0"),
    Poison("version-garbage", "unit_birth", "bad_version", "version", "v1"),
    Poison("version-missing", "technician_reply", "bad_version", "version", None),
    Poison("unknown-field", "alarm", "invalid", "body.colour", "red"),
    Poison(
        "bad-topic",
        "telemetry",
        "bad_identifier",
        topic=f"glonet/v1/{NETWORK}/{UNIT}/M 1/telemetry",
    ),
]


def _count(context: AppContext, outcome: str) -> float:
    if outcome == CLOCK_SKEW:
        kinds = (topics.TopicKind.JOB, topics.TopicKind.ALARM, topics.TopicKind.CAPACITY)
        return sum(context.metrics.clock_skew.value(kind=kind.value) for kind in kinds)
    return context.metrics.rejects.value(reason=outcome)


def _seen(context: AppContext, message_id: str) -> bool:
    with transaction(context.session_factory) as session:
        return session.get(SeenMessage, message_id) is not None


def _latest(context: AppContext, metric: str) -> Any:
    with transaction(context.session_factory) as session:
        row = session.scalars(
            select(LatestMetric).where(
                LatestMetric.unit_id == UNIT,
                LatestMetric.machine == "m1",
                LatestMetric.metric == metric,
            )
        ).first()
        return None if row is None else (row.value_number, row.time)


def _send_valid(live: Coordinator, value: float) -> messages.Envelope:
    return live.gateway.telemetry("m1", [value], metric="rpm")


@pytest.mark.parametrize("poison", CORPUS, ids=[poison.name for poison in CORPUS])
def test_a_poison_message_is_refused_and_the_next_one_applied(
    live: Coordinator, poison: Poison
) -> None:
    context = live.context
    before = _count(context, poison.outcome)
    topic, payload = poison.build()
    sender = live.device if poison.kind == "technician_reply" else live.gateway
    sender.client.publish(topic, payload, qos=1).wait_for_publish(5)
    valid = _send_valid(live, float(next(_SEQ)))

    wait_until(lambda: _seen(context, valid.id), WITHIN)
    if poison.outcome in ("applied", CLOCK_SKEW):
        poison_id = json.loads(payload)["id"]
        wait_until(lambda: _seen(context, poison_id), WITHIN)
    if poison.outcome != "applied":
        wait_until(lambda: _count(context, poison.outcome) == before + 1, WITHIN)
    assert context.metrics.rejects.value(reason="unprocessable") == 0


def test_the_corpus_leaves_the_ingest_healthy_with_nothing_waiting(live: Coordinator) -> None:
    health = httpx.get(f"{live.url}/healthz", timeout=5)
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["ingest"] == "ok"
    metrics = httpx.get(f"{live.url}/metrics", timeout=5).text
    (age,) = [
        line
        for line in metrics.splitlines()
        if line.startswith("glonet_ingest_oldest_unacked_seconds ")
    ]
    assert float(age.split()[1]) < 5
    assert "glonet_task_restarts_total" in metrics  # declared even while nothing restarted


def test_a_far_future_sample_does_not_pin_the_latest_value(live: Coordinator) -> None:
    context = live.context
    now = datetime.now(UTC)
    future = live.gateway.envelope(
        messages.Telemetry,
        {
            "samples": [
                {
                    "machine": "m1",
                    "metric": "temp",
                    "value": 999.0,
                    "source_time": now + timedelta(days=3),
                }
            ]
        },
    )
    live.gateway.send(topics.telemetry(NETWORK, UNIT, "m1"), future)
    present = live.gateway.telemetry("m1", [20.0], metric="temp")
    wait_until(lambda: _seen(context, present.id), WITHIN)
    live.gateway.telemetry("m1", [21.0], metric="temp")
    wait_until(lambda: (_latest(context, "temp") or (None,))[0] == 21.0, WITHIN)
    assert not _seen(context, future.id)


def test_an_alarm_from_a_clock_ahead_is_kept_at_its_receive_time_and_shown(
    live: Coordinator,
) -> None:
    """A plant whose clock runs ten minutes fast: its alarm is kept (not lost as future_time),
    at the time it arrived, counted, and the unit's clock skew is in the overview; a telemetry
    sample from the same clock is still refused."""
    context = live.context
    sent = datetime.now(UTC)
    body = _bodies()["alarm"][2] | {
        "alarm_id": "skewed-1",
        "occurred_at": (sent + timedelta(minutes=10)).isoformat(),
    }
    alarm = live.gateway.envelope(messages.Alarm, body)
    skewed_sample = live.gateway.envelope(
        messages.Telemetry,
        {
            "samples": [
                {
                    "machine": "m1",
                    "metric": "rpm",
                    "value": 5.0,
                    "source_time": sent + timedelta(minutes=10),
                }
            ]
        },
    )
    before = _count(context, CLOCK_SKEW), _count(context, "future_time")
    live.gateway.send(topics.alarm(NETWORK, UNIT, "m1"), alarm)
    live.gateway.send(topics.telemetry(NETWORK, UNIT, "m1"), skewed_sample)
    wait_until(lambda: _seen(context, alarm.id), WITHIN)
    wait_until(lambda: _count(context, "future_time") == before[1] + 1, WITHIN)
    assert _count(context, CLOCK_SKEW) == before[0] + 1
    assert not _seen(context, skewed_sample.id)

    with transaction(context.session_factory) as session:
        stored = session.get(ActiveAlarm, (UNIT, "skewed-1"))
        assert stored is not None
        assert sent <= stored.occurred_at <= datetime.now(UTC)
        overview = network_service.overview(
            session=session, actor=coordinator_actor(), network_id=NETWORK
        )
    (unit,) = [u for u in overview.units if u.unit_id == UNIT]
    assert unit.clock_skew is not None
    assert 9 * 60 < unit.clock_skew.ahead_s <= 10 * 60
    assert unit.clock_skew.last_seen_at >= sent


def test_a_redelivered_reply_records_its_note_once(live: Coordinator) -> None:
    """Replies go through the ingest's de-duplication: a phone that sends again (no PUBACK
    before it lost its connection) does not write its note twice."""
    context = live.context
    reply = live.device.envelope(
        messages.TechnicianReply,
        {"ticket_id": str(live.ticket_id), "action": "acknowledge", "note": "on my way"},
    )
    topic = topics.technician_replies(NETWORK, TECHNICIAN)
    live.device.send(topic, reply)
    live.device.send(topic, codec.encode(reply))  # the same message id again
    after = _send_valid(live, 7.0)
    wait_until(lambda: _seen(context, after.id), WITHIN)

    def notes() -> list[str]:
        with transaction(context.session_factory) as session:
            return list(
                session.scalars(
                    select(TicketEvent.detail).where(
                        TicketEvent.ticket_id == live.ticket_id, TicketEvent.kind == "note"
                    )
                )
            )

    assert wait_until(notes, WITHIN) == ["on my way"]
    with transaction(context.session_factory) as session:
        ticket = session.get(MaintenanceTicket, live.ticket_id)
        assert ticket is not None and ticket.status == "acknowledged"
    wait_until(lambda: context.metrics.ignored.value(reason="duplicate") >= 1, WITHIN)


def test_the_corpus_covers_every_inbound_kind_and_field_class() -> None:
    kinds = {poison.kind for poison in CORPUS}
    assert kinds == set(_bodies())
    print(f"poison corpus: {len(CORPUS)} messages")
