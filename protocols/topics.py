"""MQTT topic names: the only place that knows them.

Layout (Unified-Namespace style, versioned)::

    glonet/v1/{network}/{unit}/state|birth|cmd
    glonet/v1/{network}/{unit}/{machine}/capacity|telemetry|job|alarm
    glonet/v1/{network}/coordinator/state
    glonet/v1/{network}/technicians/{technician}/alerts|replies

and, outside the network's tree (so the ingest never receives it), the coordinator processes'
own live-event bus::

    glonet/coordinator/v1/{network}/events/{origin}
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from protocols.errors import ProtocolError, RejectReason

ROOT = "glonet"
VERSION = "v1"
COORDINATOR = "coordinator"
TECHNICIANS = "technicians"
RESERVED_UNIT_IDS = frozenset({COORDINATOR, TECHNICIANS})
MAX_IDENTIFIER_LENGTH = 64
IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TopicKind(StrEnum):
    UNIT_STATE = "state"
    BIRTH = "birth"
    COMMAND = "cmd"
    CAPACITY = "capacity"
    TELEMETRY = "telemetry"
    JOB = "job"
    ALARM = "alarm"
    COORDINATOR_STATE = "coordinator_state"
    TECHNICIAN_ALERTS = "alerts"
    TECHNICIAN_REPLIES = "replies"


UNIT_KINDS = frozenset({TopicKind.UNIT_STATE, TopicKind.BIRTH, TopicKind.COMMAND})
TECHNICIAN_KINDS = frozenset({TopicKind.TECHNICIAN_ALERTS, TopicKind.TECHNICIAN_REPLIES})
MACHINE_KINDS = frozenset({TopicKind.CAPACITY, TopicKind.TELEMETRY, TopicKind.JOB, TopicKind.ALARM})


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic; fields that do not apply to its kind are ``None``."""

    kind: TopicKind
    network: str
    unit: str | None = None
    machine: str | None = None
    technician: str | None = None

    def __str__(self) -> str:
        return build(self)


def validate_identifier(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is a valid network, unit, machine or technician id."""
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise ProtocolError(
            RejectReason.BAD_IDENTIFIER,
            f"{what} {value!r} must be 1-{MAX_IDENTIFIER_LENGTH} characters of letters, digits,"
            " '_', '.', '-', starting with a letter or digit",
        )
    return value


def _unit_id(unit: str) -> str:
    validate_identifier(unit, "unit id")
    if unit in RESERVED_UNIT_IDS:
        raise ProtocolError(RejectReason.BAD_IDENTIFIER, f"unit id {unit!r} is reserved")
    return unit


def _base(network: str) -> str:
    return f"{ROOT}/{VERSION}/{validate_identifier(network, 'network id')}"


def unit_state(network: str, unit: str) -> str:
    return f"{_base(network)}/{_unit_id(unit)}/state"


def birth(network: str, unit: str) -> str:
    return f"{_base(network)}/{_unit_id(unit)}/birth"


def command(network: str, unit: str) -> str:
    return f"{_base(network)}/{_unit_id(unit)}/cmd"


def _machine_topic(network: str, unit: str, machine: str, kind: TopicKind) -> str:
    machine_id = validate_identifier(machine, "machine id")
    return f"{_base(network)}/{_unit_id(unit)}/{machine_id}/{kind.value}"


def capacity(network: str, unit: str, machine: str) -> str:
    return _machine_topic(network, unit, machine, TopicKind.CAPACITY)


def telemetry(network: str, unit: str, machine: str) -> str:
    return _machine_topic(network, unit, machine, TopicKind.TELEMETRY)


def job(network: str, unit: str, machine: str) -> str:
    return _machine_topic(network, unit, machine, TopicKind.JOB)


def alarm(network: str, unit: str, machine: str) -> str:
    return _machine_topic(network, unit, machine, TopicKind.ALARM)


def coordinator_state(network: str) -> str:
    return f"{_base(network)}/{COORDINATOR}/state"


def coordinator_events(network: str, origin: str) -> str:
    """Where one coordinator process shares its live events with the others (``origin`` names
    the process, so that it can skip its own); not under :func:`network_filter`."""
    return f"{_events_base(network)}/{validate_identifier(origin, 'event origin')}"


def _events_base(network: str) -> str:
    return f"{ROOT}/{COORDINATOR}/{VERSION}/{validate_identifier(network, 'network id')}/events"


def _technician_topic(network: str, technician: str, kind: TopicKind) -> str:
    technician_id = validate_identifier(technician, "technician id")
    return f"{_base(network)}/{TECHNICIANS}/{technician_id}/{kind.value}"


def technician_alerts(network: str, technician: str) -> str:
    return _technician_topic(network, technician, TopicKind.TECHNICIAN_ALERTS)


def technician_replies(network: str, technician: str) -> str:
    """Where a technician's device answers (acknowledge, start, resolve a ticket)."""
    return _technician_topic(network, technician, TopicKind.TECHNICIAN_REPLIES)


def build(topic: Topic) -> str:
    """The topic string of a parsed :class:`Topic` (inverse of :func:`parse`)."""
    kind = topic.kind
    if kind is TopicKind.COORDINATOR_STATE:
        return coordinator_state(topic.network)
    if kind in TECHNICIAN_KINDS:
        return _technician_topic(topic.network, _required(topic.technician, "technician"), kind)
    unit = _required(topic.unit, "unit")
    if kind in MACHINE_KINDS:
        return _machine_topic(topic.network, unit, _required(topic.machine, "machine"), kind)
    return f"{_base(topic.network)}/{_unit_id(unit)}/{kind.value}"


def _required(value: str | None, what: str) -> str:
    if value is None:
        raise ProtocolError(RejectReason.BAD_TOPIC, f"a topic of this kind needs a {what}")
    return value


def parse(topic: str) -> Topic:
    """Parse a GloNet topic; anything else raises :class:`ProtocolError` (``bad_topic``)."""
    if not isinstance(topic, str):
        raise ProtocolError(RejectReason.BAD_TOPIC, f"not a GloNet topic: {topic!r}")
    return _parse(topic)


@functools.lru_cache(maxsize=4096)
def _parse(topic: str) -> Topic:
    """Parsed topics are immutable and a network's topics repeat with every message: the
    coordinator parses each distinct one once (refused topics are not cached)."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT:
        raise ProtocolError(RejectReason.BAD_TOPIC, f"not a GloNet topic: {topic!r}")
    if parts[1] != VERSION:
        raise ProtocolError(RejectReason.BAD_TOPIC, f"unsupported topic version {parts[1]!r}")
    network = validate_identifier(parts[2], "network id")
    rest = parts[3:]
    if rest == [COORDINATOR, "state"]:
        return Topic(TopicKind.COORDINATOR_STATE, network)
    if len(rest) == 3 and rest[0] == TECHNICIANS:
        return Topic(
            _kind(rest[2], TECHNICIAN_KINDS, topic),
            network,
            technician=validate_identifier(rest[1], "technician id"),
        )
    if len(rest) == 2:
        kind = _kind(rest[1], UNIT_KINDS, topic)
        return Topic(kind, network, unit=_unit_id(rest[0]))
    if len(rest) == 3:
        kind = _kind(rest[2], MACHINE_KINDS, topic)
        machine = validate_identifier(rest[1], "machine id")
        return Topic(kind, network, unit=_unit_id(rest[0]), machine=machine)
    raise ProtocolError(RejectReason.BAD_TOPIC, f"unknown topic layout: {topic!r}")


def _kind(suffix: str, allowed: frozenset[TopicKind], topic: str) -> TopicKind:
    for kind in allowed:
        if kind.value == suffix:
            return kind
    raise ProtocolError(RejectReason.BAD_TOPIC, f"unknown topic suffix {suffix!r} in {topic!r}")


# Subscription filters -----------------------------------------------------------------------


def network_filter(network: str) -> str:
    """Everything in one network (what the coordinator's ingest subscribes to)."""
    return f"{_base(network)}/#"


def coordinator_events_filter(network: str) -> str:
    """Every coordinator process's live events."""
    return f"{_events_base(network)}/+"


def unit_filter(network: str, unit: str) -> str:
    """Everything one unit publishes or receives."""
    return f"{_base(network)}/{_unit_id(unit)}/#"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 / Mosquitto shared subscription of ``topic_filter`` for the worker ``group``."""
    return f"$share/{validate_identifier(group, 'share group')}/{topic_filter}"


# Delivery policy ------------------------------------------------------------------------------

QOS = 1
"""Every GloNet message is published with QoS 1 (at least once; receivers de-duplicate by id)."""

RETAINED_KINDS = frozenset(
    {TopicKind.UNIT_STATE, TopicKind.BIRTH, TopicKind.CAPACITY, TopicKind.COORDINATOR_STATE}
)


def is_retained(kind: TopicKind) -> bool:
    """Whether messages on topics of ``kind`` are published retained (last value for newcomers)."""
    return kind in RETAINED_KINDS
