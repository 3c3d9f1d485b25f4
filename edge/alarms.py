"""OPC UA Alarms & Conditions → alarm messages, on any compliant server.

The event filter selects the standard event fields by their browse paths (OPC 10000-5/-9):
EventId, EventType, SourceNode, Time, Message, Severity, and for conditions ConditionId (the
NodeId of the ConditionType node), ConditionName, Retain, ActiveState/Id and AckedState/Id. A
mapping may name vendor event fields too (a code, an active flag, a metric, a value), for servers
that raise plain events instead of conditions. From these:

- ``alarm_id`` is the ConditionId in ``nsu=`` form, stable across restarts of the server;
- ``code`` is the vendor code, else ConditionName slugged ("High Temperature" →
  ``high_temperature``);
- ``severity`` is the event's Severity (1 to 1000);
- the condition's state changes (raised, cleared) become messages once; repeats, such as the
  event an acknowledgement causes, do not.

After every (re)connect the gateway calls ConditionRefresh, so that conditions already active
are reported, and a condition reported active before that is gone from the refresh is cleared.
The last EventId of each condition is kept so that a coordinator's acknowledgement can call the
condition's Acknowledge method (:meth:`ConditionTracker.acknowledge`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua

from edge.config import AlarmsMapping
from edge.errors import MachineError
from edge.nodes import NETWORK_ERRORS, metric_name
from protocols import messages
from protocols.enums import AlarmSource, AlarmState
from protocols.topics import IDENTIFIER_PATTERN

_LOGGER = logging.getLogger(__name__)

DEFAULT_SEVERITY = 500


def _ns0(identifier: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier))


_BASE_EVENT = _ns0(ua.ObjectIds.BaseEventType)
_CONDITION = _ns0(ua.ObjectIds.ConditionType)
_ACKNOWLEDGEABLE = _ns0(ua.ObjectIds.AcknowledgeableConditionType)
_ALARM = _ns0(ua.ObjectIds.AlarmConditionType)
_REFRESH_START = _ns0(ua.ObjectIds.RefreshStartEventType)
_REFRESH_END = _ns0(ua.ObjectIds.RefreshEndEventType)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class EventField:
    """One select clause: a browse path under an event type, or its NodeId (ConditionId)."""

    name: str
    type_definition: ua.NodeId
    path: tuple[ua.QualifiedName, ...]
    attribute: ua.AttributeIds = ua.AttributeIds.Value

    def operand(self) -> ua.SimpleAttributeOperand:
        return ua.SimpleAttributeOperand(
            TypeDefinitionId=self.type_definition,
            BrowsePath=list(self.path),
            AttributeId=self.attribute,
        )


def _standard(name: str, type_definition: ua.NodeId) -> EventField:
    return EventField(name, type_definition, tuple(ua.QualifiedName(p, 0) for p in name.split("/")))


STANDARD_FIELDS = (
    _standard("EventId", _BASE_EVENT),
    _standard("EventType", _BASE_EVENT),
    _standard("SourceNode", _BASE_EVENT),
    _standard("SourceName", _BASE_EVENT),
    _standard("Time", _BASE_EVENT),
    _standard("Message", _BASE_EVENT),
    _standard("Severity", _BASE_EVENT),
    EventField("ConditionId", _CONDITION, (), ua.AttributeIds.NodeId),
    _standard("ConditionName", _CONDITION),
    _standard("Retain", _CONDITION),
    _standard("AckedState/Id", _ACKNOWLEDGEABLE),
    _standard("ActiveState/Id", _ALARM),
)
VENDOR_FIELDS = ("code", "active", "metric", "value")
"""The optional vendor event fields of an :class:`AlarmsMapping` (``{name}_field``)."""


def event_fields(
    mapping: AlarmsMapping, qualified: Callable[[str], ua.QualifiedName]
) -> tuple[EventField, ...]:
    """The standard fields plus the mapping's vendor fields (``prefix:Name[/prefix:Name]``)."""
    vendor = []
    for name in VENDOR_FIELDS:
        path = getattr(mapping, f"{name}_field")
        if path:
            segments = tuple(qualified(segment) for segment in path.split("/"))
            vendor.append(EventField(f"vendor:{name}", _BASE_EVENT, segments))
    return (*STANDARD_FIELDS, *vendor)


def event_filter(fields: tuple[EventField, ...], event_type: ua.NodeId) -> ua.EventFilter:
    """Select ``fields`` from events of ``event_type`` (and its subtypes), and from the
    RefreshStart/RefreshEnd events that frame a ConditionRefresh (servers may apply the where
    clause to those too)."""
    where = ua.ContentFilter()
    where.Elements = [
        _element(ua.FilterOperator.Or, ua.ElementOperand(1), ua.ElementOperand(2)),
        _element(ua.FilterOperator.OfType, ua.LiteralOperand(Value=ua.Variant(event_type))),
        *_refresh_elements(3),
    ]
    return ua.EventFilter(SelectClauses=[f.operand() for f in fields], WhereClause=where)


def refresh_filter() -> ua.EventFilter:
    """The standard fields of RefreshStart/RefreshEnd events only."""
    where = ua.ContentFilter(Elements=_refresh_elements(1))
    return ua.EventFilter(SelectClauses=[f.operand() for f in STANDARD_FIELDS], WhereClause=where)


def frames_refresh(fields: Mapping[str, Any]) -> bool:
    return fields.get("EventType") in (_REFRESH_START, _REFRESH_END)


def _refresh_elements(first: int) -> list[ua.ContentFilterElement]:
    """``OfType(RefreshStart) or OfType(RefreshEnd)``, its first element at index ``first - 1``."""
    return [
        _element(ua.FilterOperator.Or, ua.ElementOperand(first), ua.ElementOperand(first + 1)),
        _element(ua.FilterOperator.OfType, ua.LiteralOperand(Value=ua.Variant(_REFRESH_START))),
        _element(ua.FilterOperator.OfType, ua.LiteralOperand(Value=ua.Variant(_REFRESH_END))),
    ]


def _element(operator: ua.FilterOperator, *operands: Any) -> ua.ContentFilterElement:
    return ua.ContentFilterElement(FilterOperator=operator, FilterOperands=list(operands))


def nsu(node_id: ua.NodeId, namespaces: list[str]) -> str:
    """``nsu=urn:vendor;s=Temp``: a node id that does not depend on namespace indexes."""
    text = node_id.to_string()
    if node_id.NamespaceIndex == 0 or node_id.NamespaceIndex >= len(namespaces):
        return text
    return f"nsu={namespaces[node_id.NamespaceIndex]};{text.split(';', 1)[1]}"


def slug(text: str) -> str | None:
    """``"High Temperature"`` → ``high_temperature``; ``None`` if nothing is left."""
    words = _NOT_SLUG.sub("_", metric_name(text.strip())).strip("_")
    candidate = words[:64].rstrip("_")
    if candidate and not candidate[0].isalpha():
        candidate = f"alarm_{candidate}"[:64]
    return candidate if candidate and IDENTIFIER_PATTERN.fullmatch(candidate) else None


@dataclass
class Condition:
    """What the gateway last saw of one condition on one machine."""

    node_id: ua.NodeId
    event_id: bytes | None
    active: bool
    acked: bool | None


@dataclass
class MachineConditions:
    by_code: dict[str, Condition] = field(default_factory=dict)
    refreshed: set[str] = field(default_factory=set)


class ConditionTracker:
    """One endpoint's conditions: decodes events, refreshes, acknowledges.

    ``metric_of`` tells which metric a SourceNode is (a limit alarm's source is the variable it
    watches), so the alarm names its metric without any vendor field.
    """

    def __init__(self, send: Callable[[messages.AlarmEvent], None]) -> None:
        self._send = send
        self._machines: dict[str, MachineConditions] = {}
        self._namespaces: list[str] = []
        self._metric_of: Mapping[ua.NodeId, str] = {}
        self._client: Client | None = None
        self._refreshing = False

    def connected(
        self, client: Client, namespaces: list[str], metric_of: Mapping[ua.NodeId, str]
    ) -> None:
        self._client = client
        self._namespaces = namespaces
        self._metric_of = metric_of

    def disconnected(self) -> None:
        self._client = None

    # Events -------------------------------------------------------------------------------

    def event(self, machine: str, fields: Mapping[str, Any]) -> messages.AlarmEvent | None:
        """The alarm message for one event, or None when nothing changed for the coordinator."""
        event_type = fields.get("EventType")
        if event_type == _REFRESH_START:
            self._refresh_started()
            return None
        if event_type == _REFRESH_END:
            self._refresh_ended()
            return None
        body = self._alarm(machine, fields)
        state = self._machines.setdefault(machine, MachineConditions())
        condition_id = fields.get("ConditionId")
        if not isinstance(condition_id, ua.NodeId) or condition_id.is_null():
            return body  # a plain event: every one is news
        active = body.state is AlarmState.RAISED
        previous = state.by_code.get(body.code)
        acked = fields.get("AckedState/Id")
        state.by_code[body.code] = Condition(
            condition_id,
            _bytes(fields.get("EventId")),
            active,
            acked if isinstance(acked, bool) else None,
        )
        if self._refreshing:
            state.refreshed.add(body.code)
        if previous is not None and previous.active == active:
            return None
        if previous is None and not active:
            return None  # a condition seen for the first time while inactive: nothing to clear
        return body

    def _alarm(self, machine: str, fields: Mapping[str, Any]) -> messages.AlarmEvent:
        code = (
            _identifier(fields.get("vendor:code"))
            or slug(_text(fields.get("ConditionName")))
            or "alarm"
        )
        active = fields.get("ActiveState/Id")
        if not isinstance(active, bool):
            active = fields.get("vendor:active")
        source = fields.get("SourceNode")
        metric = _identifier(metric_name(str(fields.get("vendor:metric") or "")))
        if metric is None and isinstance(source, ua.NodeId):
            metric = self._metric_of.get(source)
        return messages.AlarmEvent(
            asset=machine,
            alarm_id=self._alarm_id(machine, code, fields)[:200],
            code=code,
            state=AlarmState.CLEARED if active is False else AlarmState.RAISED,
            severity=_severity(fields.get("Severity")),
            text=_text(fields.get("Message"))[:2000] or code,
            source=AlarmSource.OPCUA_EVENT,
            metric=metric,
            value=_finite(fields.get("vendor:value")),
            occurred_at=_time(fields.get("Time")),
        )

    def _alarm_id(self, machine: str, code: str, fields: Mapping[str, Any]) -> str:
        condition_id = fields.get("ConditionId")
        if isinstance(condition_id, ua.NodeId) and not condition_id.is_null():
            return nsu(condition_id, self._namespaces)
        source = fields.get("SourceNode")
        if isinstance(source, ua.NodeId) and not source.is_null():
            return f"{nsu(source, self._namespaces)}/{code}"
        return f"{machine}/{code}"

    # ConditionRefresh ---------------------------------------------------------------------

    async def refresh(self, subscription_id: int) -> None:
        """Ask the server to send every retained condition again (OPC 10000-9 ConditionRefresh)."""
        if self._client is None:
            return
        condition_type = self._client.get_node(_CONDITION)
        method = _ns0(ua.ObjectIds.ConditionType_ConditionRefresh)
        try:
            await condition_type.call_method(
                method, ua.Variant(subscription_id, ua.VariantType.UInt32)
            )
        except NETWORK_ERRORS as exc:
            _LOGGER.info("ConditionRefresh refused (%s): only new alarm events are reported", exc)

    def _refresh_started(self) -> None:
        self._refreshing = True
        for state in self._machines.values():
            state.refreshed.clear()

    def _refresh_ended(self) -> None:
        """Conditions active before that the refresh did not send again have cleared meanwhile."""
        self._refreshing = False
        for machine, state in self._machines.items():
            for code, condition in list(state.by_code.items()):
                if condition.active and code not in state.refreshed:
                    del state.by_code[code]
                    self._send(self._cleared(machine, code, condition))

    def _cleared(self, machine: str, code: str, condition: Condition) -> messages.AlarmEvent:
        return messages.AlarmEvent(
            asset=machine,
            alarm_id=nsu(condition.node_id, self._namespaces)[:200],
            code=code,
            state=AlarmState.CLEARED,
            severity=DEFAULT_SEVERITY,
            text=f"{code} no longer active after a reconnect",
            source=AlarmSource.OPCUA_EVENT,
            occurred_at=datetime.now(UTC),
        )

    # Acknowledge --------------------------------------------------------------------------

    async def acknowledge(self, machine: str, code: str, comment: str) -> None:
        """Call the condition's Acknowledge with the EventId last seen for it.

        Raises :class:`MachineError` saying why when the server has no such condition, the
        gateway is not connected, or the server refuses (e.g. BadConditionBranchAlreadyAcked).
        """
        condition = self._machines.get(machine, MachineConditions()).by_code.get(code)
        if condition is None or condition.event_id is None:
            raise MachineError(f"{machine} has reported no condition {code!r} since it connected")
        if condition.acked:
            raise MachineError(f"{machine}: condition {code!r} is already acknowledged")
        if self._client is None:
            raise MachineError(f"{machine} is not connected")
        node = self._client.get_node(condition.node_id)
        method = _ns0(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)
        try:
            await node.call_method(
                method,
                ua.Variant(condition.event_id, ua.VariantType.ByteString),
                ua.Variant(ua.LocalizedText(comment), ua.VariantType.LocalizedText),
            )
        except NETWORK_ERRORS as exc:
            raise MachineError(f"{machine}: Acknowledge of {code!r} failed: {exc}") from exc
        condition.acked = True


def _identifier(value: Any) -> str | None:
    if isinstance(value, str) and IDENTIFIER_PATTERN.fullmatch(value):
        return value
    return None


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray) and value else None


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
