"""Encode and decode messages with a size limit; every failure is a :class:`ProtocolError`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from protocols.enums import Quality
from protocols.errors import ProtocolError, RejectReason, summarise
from protocols.ids import new_message_id
from protocols.messages import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_STATUS_NAME,
    MESSAGE_TYPES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    PROTOCOL_VERSION,
    SAMPLE_INTEGER_END,
    SAMPLE_INTEGER_MIN,
    STATUS_CODE_END,
    Alarm,
    Capacity,
    Command,
    CoordinatorState,
    Envelope,
    JobStatus,
    TechnicianAlert,
    TechnicianReply,
    Telemetry,
    UnitBirth,
    UnitState,
)
from protocols.topics import IDENTIFIER_PATTERN, TopicKind

DEFAULT_MAX_PAYLOAD = 256 * 1024
MAX_TEXT_VALUE = 200
MAX_SAMPLES = 20000
M = TypeVar("M", bound=Envelope)
SampleStatus = tuple[int, str]
"""An OPC UA StatusCode as ``(number, symbolic name)``, e.g. ``(0x808D0000, "BadOutOfService")``."""
SampleRow = tuple[str, str, bool | int | float | str | None, datetime, Quality, SampleStatus | None]
"""``(machine, metric, value, source_time, quality, status)``: one sample for
:func:`encode_telemetry`; ``status`` is ``None`` for a plain Good."""


MESSAGE_FOR_TOPIC: dict[TopicKind, type[Envelope]] = {
    TopicKind.UNIT_STATE: UnitState,
    TopicKind.BIRTH: UnitBirth,
    TopicKind.COMMAND: Command,
    TopicKind.CAPACITY: Capacity,
    TopicKind.TELEMETRY: Telemetry,
    TopicKind.JOB: JobStatus,
    TopicKind.ALARM: Alarm,
    TopicKind.COORDINATOR_STATE: CoordinatorState,
    TopicKind.TECHNICIAN_ALERTS: TechnicianAlert,
    TopicKind.TECHNICIAN_REPLIES: TechnicianReply,
}


def encode(message: Envelope, *, max_size: int = DEFAULT_MAX_PAYLOAD) -> bytes:
    """The message as compact UTF-8 JSON; refuses payloads over ``max_size`` bytes."""
    payload = message.model_dump_json(by_alias=True).encode()
    if len(payload) > max_size:
        raise ProtocolError(
            RejectReason.TOO_LARGE, f"{len(payload)} bytes exceeds the limit of {max_size}"
        )
    return payload


def encode_telemetry(
    *,
    unit: str,
    seq: int,
    samples: Sequence[SampleRow],
    max_size: int = DEFAULT_MAX_PAYLOAD,
) -> bytes:
    """A ``telemetry`` message straight from sample rows, without a model object per sample.

    For gateways that publish thousands of samples a second: it checks each row as the
    ``Sample`` model would (identifiers, finite numbers, short strings, aware times) and gives
    JSON that :func:`decode` turns into the same ``Telemetry`` message as
    ``encode(Telemetry.create(...))`` would, at a fraction of the cost. Raises
    :class:`ProtocolError` (``invalid`` or ``too_large``) like :func:`encode`.
    """
    if not 1 <= len(samples) <= MAX_SAMPLES or not IDENTIFIER_PATTERN.fullmatch(unit):
        raise ProtocolError(RejectReason.INVALID, "a telemetry batch needs 1-20000 samples")
    if seq < 0 or seq >= 2**63:
        raise ProtocolError(RejectReason.INVALID, f"seq {seq} is out of range")
    checked: set[str] = set()
    rows = [_sample_json(row, checked) for row in samples]
    envelope = {
        "schema": Telemetry.SCHEMA,
        "version": PROTOCOL_VERSION,
        "id": new_message_id(),
        "unit": unit,
        "seq": seq,
        "sent_at": datetime.now(UTC).isoformat(),
        "body": {"samples": rows},
    }
    payload = json.dumps(envelope, separators=(",", ":"), allow_nan=False).encode()
    if len(payload) > max_size:
        raise ProtocolError(
            RejectReason.TOO_LARGE, f"{len(payload)} bytes exceeds the limit of {max_size}"
        )
    return payload


def _sample_json(row: SampleRow, checked: set[str]) -> dict[str, Any]:
    machine, metric, value, source_time, quality, status = row
    for identifier in (machine, metric):
        if identifier not in checked:
            if not isinstance(identifier, str) or not IDENTIFIER_PATTERN.fullmatch(identifier):
                raise ProtocolError(RejectReason.INVALID, f"bad identifier {identifier!r}")
            checked.add(identifier)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError(RejectReason.INVALID, f"{metric}: {value} is not a finite number")
    if isinstance(value, str) and (len(value) > MAX_TEXT_VALUE or "\x00" in value):
        raise ProtocolError(RejectReason.INVALID, f"{metric}: text over 200 characters or NUL")
    if not isinstance(value, bool | int | float | str | None):
        raise ProtocolError(RejectReason.INVALID, f"{metric}: unsupported value {value!r}")
    if isinstance(value, int) and not SAMPLE_INTEGER_MIN <= value < SAMPLE_INTEGER_END:
        raise ProtocolError(RejectReason.INVALID, f"{metric}: integer out of the 64-bit range")
    if not isinstance(source_time, datetime) or source_time.utcoffset() is None:
        raise ProtocolError(RejectReason.INVALID, f"{metric}: source_time must be aware")
    if not EARLIEST_TIME <= source_time <= LATEST_TIME:
        raise ProtocolError(RejectReason.INVALID, f"{metric}: source_time out of range")
    if not isinstance(quality, Quality):
        raise ProtocolError(RejectReason.INVALID, f"{metric}: quality must be a Quality")
    sample = {
        "machine": machine,
        "metric": metric,
        "value": value,
        "source_time": source_time.isoformat(),
        "quality": quality.value,
    }
    if status is not None:
        code, name = status
        if not (isinstance(code, int) and 0 <= code < STATUS_CODE_END):
            raise ProtocolError(RejectReason.INVALID, f"{metric}: status code {code!r}")
        if not isinstance(name, str) or len(name) > MAX_STATUS_NAME:
            raise ProtocolError(RejectReason.INVALID, f"{metric}: status name {name!r}")
        sample["status_code"], sample["status"] = code, name
    return sample


@overload
def decode(
    payload: bytes | bytearray | memoryview | str,
    *,
    expected: type[M],
    max_size: int = DEFAULT_MAX_PAYLOAD,
) -> M: ...


@overload
def decode(
    payload: bytes | bytearray | memoryview | str,
    *,
    expected: None = None,
    max_size: int = DEFAULT_MAX_PAYLOAD,
) -> Envelope: ...


def decode(
    payload: bytes | bytearray | memoryview | str,
    *,
    expected: type[Envelope] | None = None,
    max_size: int = DEFAULT_MAX_PAYLOAD,
) -> Envelope:
    """Decode any byte string into a valid message, or raise :class:`ProtocolError`.

    ``expected`` restricts the message type (e.g. to what a topic carries). No other exception
    escapes, whatever the input.
    """
    try:
        if expected is not None:
            fast = _decode_expected(payload, expected, max_size)
            if fast is not None:
                return fast
        return _decode(payload, expected, max_size)
    except ProtocolError:
        raise
    except Exception as exc:  # the contract: only ProtocolError leaves this function
        raise ProtocolError(RejectReason.INVALID, f"undecodable payload: {exc!r}") from exc


def decode_for_topic(
    kind: TopicKind,
    payload: bytes | bytearray | memoryview | str,
    *,
    max_size: int = DEFAULT_MAX_PAYLOAD,
) -> Envelope:
    """Decode a payload received on a topic of ``kind``, refusing any other message type."""
    return decode(payload, expected=MESSAGE_FOR_TOPIC[kind], max_size=max_size)


def _decode_expected(
    payload: bytes | bytearray | memoryview | str, expected: type[M], max_size: int
) -> M | None:
    """The fast path for a known message type: pydantic-core parses and validates the JSON in
    one pass, with no Python object per sample. Only a valid message of our major version comes
    back; anything else gives None and goes the careful way of :func:`_decode`, which finds the
    reason (or accepts the unknown fields of a newer minor version)."""
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > max_size:
        return None
    try:
        message = expected.model_validate_json(raw)
    except ValidationError:
        return None
    major = message.version.partition(".")[0]
    return message if int(major) == PROTOCOL_MAJOR else None


def _decode(
    payload: bytes | bytearray | memoryview | str,
    expected: type[Envelope] | None,
    max_size: int,
) -> Envelope:
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > max_size:
        raise ProtocolError(
            RejectReason.TOO_LARGE, f"{len(raw)} bytes exceeds the limit of {max_size}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(RejectReason.NOT_UTF8, str(exc)) from exc
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(RejectReason.NOT_JSON, str(exc)[:200]) from exc
    if not isinstance(data, dict):
        raise ProtocolError(RejectReason.NOT_AN_OBJECT, f"got JSON {type(data).__name__}")
    schema = data.get("schema")
    if not isinstance(schema, str):
        raise ProtocolError(RejectReason.MISSING_SCHEMA, "no 'schema' string in the envelope")
    message_type = MESSAGE_TYPES.get(schema)
    if message_type is None:
        raise ProtocolError(RejectReason.UNKNOWN_SCHEMA, f"unknown schema {schema[:64]!r}")
    if expected is not None and message_type is not expected:
        raise ProtocolError(
            RejectReason.WRONG_SCHEMA, f"expected {expected.SCHEMA!r}, got {schema!r}"
        )
    newer_minor = _check_version(data.get("version"))
    try:
        # From the bytes again, not from ``data``: pydantic's JSON parser refuses what
        # ``json.loads`` lets through (lone surrogates such as "\ud800", which no database
        # stores), and checks the values as the fast path does.
        return message_type.model_validate_json(raw, extra="ignore" if newer_minor else "forbid")
    except ValidationError as exc:
        raise ProtocolError(RejectReason.INVALID, summarise(exc)) from exc


def _check_version(version: Any) -> bool:
    """Accept our major version; return whether the minor version is newer than ours."""
    if not isinstance(version, str):
        raise ProtocolError(RejectReason.BAD_VERSION, "no 'version' string in the envelope")
    major_text, _, minor_text = version.partition(".")
    if not (major_text.isdigit() and minor_text.isdigit()) or len(version) > 9:
        raise ProtocolError(RejectReason.BAD_VERSION, f"malformed version {version[:16]!r}")
    if int(major_text) != PROTOCOL_MAJOR:
        raise ProtocolError(
            RejectReason.UNSUPPORTED_VERSION,
            f"major version {major_text} is not supported (this side speaks {PROTOCOL_MAJOR}.x)",
        )
    return int(minor_text) > PROTOCOL_MINOR


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
