"""OPC UA alarm events → alarm messages, through the mapping's field names."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from edge.config import AlarmsMapping
from edge.nodes import metric_name
from protocols import messages
from protocols.enums import AlarmSource, AlarmState
from protocols.topics import IDENTIFIER_PATTERN

DEFAULT_SEVERITY = 500


def alarm_from_event(
    machine: str, mapping: AlarmsMapping, fields: Mapping[str, Any]
) -> messages.AlarmEvent:
    """The alarm message for one event; missing or odd fields get safe defaults."""
    code = _identifier(fields.get(mapping.code_field)) or "alarm"
    active = fields.get(mapping.active_field)
    condition = fields.get(mapping.condition_field)
    metric = fields.get(mapping.metric_field)
    return messages.AlarmEvent(
        asset=machine,
        alarm_id=str(condition or f"{machine}/{code}")[:200],
        code=code,
        state=AlarmState.CLEARED if active is False else AlarmState.RAISED,
        severity=_severity(fields.get("Severity")),
        text=_text(fields.get("Message"))[:2000] or code,
        source=AlarmSource.OPCUA_EVENT,
        metric=_identifier(metric_name(metric)) if isinstance(metric, str) and metric else None,
        value=_finite(fields.get(mapping.value_field)),
        occurred_at=_time(fields.get("Time")),
    )


def _identifier(value: Any) -> str | None:
    if isinstance(value, str) and IDENTIFIER_PATTERN.fullmatch(value):
        return value
    return None


def _severity(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return min(1000, max(1, value))
    return DEFAULT_SEVERITY


def _text(value: Any) -> str:
    text = getattr(value, "Text", value)
    return text if isinstance(text, str) else ""


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
