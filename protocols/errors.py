"""The single exception of the protocols package, its reject reasons, and how a validation error
reads in one."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ValidationError


class RejectReason(StrEnum):
    """Why a payload or a topic was refused; receivers count rejects by these codes."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_SCHEMA = "missing_schema"
    UNKNOWN_SCHEMA = "unknown_schema"
    WRONG_SCHEMA = "wrong_schema"
    BAD_VERSION = "bad_version"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID = "invalid"
    BAD_TOPIC = "bad_topic"
    BAD_IDENTIFIER = "bad_identifier"


class ProtocolError(ValueError):
    """A topic or payload that does not follow the GloNet contract.

    ``reason`` is a stable code for counting; ``detail`` is a human-readable explanation.
    """

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def summarise(
    exc: ValidationError, *, limit: int = 5, whole: str = "message", more: str = "and {} more"
) -> str:
    """``exc``'s first ``limit`` errors on one line, each ``location: message`` (``whole`` for
    the top level), then ``more`` with how many were left out."""
    parts = []
    for error in exc.errors()[:limit]:
        location = ".".join(str(part) for part in error["loc"]) or whole
        parts.append(f"{location}: {error['msg']}")
    left_out = exc.error_count() - len(parts)
    if left_out > 0:
        parts.append(more.format(left_out))
    return "; ".join(parts)
