"""Encode and decode messages with a size limit; every failure is a :class:`ProtocolError`."""

from __future__ import annotations

import json
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from protocols.errors import ProtocolError, RejectReason
from protocols.messages import (
    ALLOW_UNKNOWN_FIELDS,
    MESSAGE_TYPES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
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
from protocols.topics import TopicKind

DEFAULT_MAX_PAYLOAD = 256 * 1024
M = TypeVar("M", bound=Envelope)

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
        return message_type.model_validate(data, context={ALLOW_UNKNOWN_FIELDS: newer_minor})
    except ValidationError as exc:
        raise ProtocolError(RejectReason.INVALID, _summarise(exc)) from exc


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


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error["loc"]) or "message"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
