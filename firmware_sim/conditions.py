"""OPC UA Alarms & Conditions (OPC 10000-9) of the simulated assets, from the standard types.

asyncua instantiates condition types and delivers events, but keeps no condition state, has no
Acknowledge, and its own ConditionRefresh (``Server.iserver.bind_condition_methods``) sends
RefreshStart/RefreshEnd only to items monitoring the Server object and re-sends one stored
event per condition, whatever node it was raised from. This module does the rest:

- an ``ExclusiveLimitAlarmType`` per threshold rule of the asset's profile (its source and
  InputNode the monitored variable, HighLimit the raise threshold, LimitState ``High`` while
  active), and an ``OffNormalAlarmType`` for the emergency stop and the breakdown (source and
  InputNode a Boolean flag under ``Status``, NormalState the ``Status/NormalValue`` False);
- ConditionName is the alarm code in words (``high_vibration`` → "High Vibration"), so a
  client that slugs it gets the code back; Severity, Message, Time, Retain, EnabledState,
  ActiveState, AckedState, Quality, LastSeverity, Comment and ClientUserId are kept in the
  condition's nodes and sent in every event, each event with a fresh EventId;
- ``Acknowledge`` (AcknowledgeableConditionType, ``i=9111``, or the instance's own method)
  takes the EventId of the condition's last event, sets AckedState, Comment and Retain, and
  fires an event;
- ``ConditionRefresh`` (``i=3875``) and ``ConditionRefresh2`` (``i=12912``) send, to the
  calling subscription only, a RefreshStartEvent to each of its event items, the retained
  conditions each item would have received, then a RefreshEndEvent to each; Refresh events
  pass whatever the item's where clause says (OPC 10000-9 4.5);
- events are delivered here, not through asyncua's ``trigger_event``, because asyncua's where
  clause takes ``OfType`` as "exactly this type", so a client asking for ConditionType (as
  OPC 10000-4 7.7.3 allows: the type or any subtype) would get nothing.

Not implemented: Enable/Disable (conditions are always enabled), AddComment, Confirm,
shelving, suppression, branches and the audit events.

Every event is raised on its condition's emitters: the asset's object, the ``Machines`` folder
and the Server object (asyncua has no notifier hierarchy to propagate events up).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common import event_objects
from asyncua.common.ua_utils import get_node_supertypes
from asyncua.server.monitored_item_service import MonitoredItemService, WhereClauseEvaluator

from firmware_sim.alarms import AlarmEvent
from firmware_sim.profiles import SEVERITY, AlarmRule

_LOGGER = logging.getLogger(__name__)

EMERGENCY_STOP = "emergency_stop"
BREAKDOWN = "breakdown"
FLAGS = {EMERGENCY_STOP: "EmergencyStop", BREAKDOWN: "Broken"}
"""The OffNormal conditions of every asset, and their input flag under ``Status``."""
REFRESH_SEVERITY = 100
_LOGGER_WHERE = logging.getLogger(f"{__name__}.where")


def _ns0(identifier: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier))


ACKNOWLEDGE = _ns0(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)
CONDITION_REFRESH = _ns0(ua.ObjectIds.ConditionType_ConditionRefresh)
CONDITION_REFRESH2 = _ns0(ua.ObjectIds.ConditionType_ConditionRefresh2)
REFRESH_START = _ns0(ua.ObjectIds.RefreshStartEventType)
REFRESH_END = _ns0(ua.ObjectIds.RefreshEndEventType)
LIMIT_ALARM_TYPE = _ns0(ua.ObjectIds.ExclusiveLimitAlarmType)
OFF_NORMAL_ALARM_TYPE = _ns0(ua.ObjectIds.OffNormalAlarmType)
PROCESS_CLASS = (_ns0(ua.ObjectIds.ProcessConditionClassType), "Process")
SAFETY_CLASS = (_ns0(ua.ObjectIds.SafetyConditionClassType), "Safety")
MAINTENANCE_CLASS = (_ns0(ua.ObjectIds.MaintenanceConditionClassType), "Maintenance")

# The condition's fields mirrored into its nodes (``ActiveState/Id`` → ``<id>.ActiveState.Id``).
STATE_FIELDS = (
    "EventId",
    "SourceNode",
    "SourceName",
    "Time",
    "ReceiveTime",
    "Message",
    "Severity",
    "ConditionClassId",
    "ConditionClassName",
    "ConditionName",
    "Retain",
    "Quality",
    "LastSeverity",
    "Comment",
    "ClientUserId",
    "EnabledState",
    "EnabledState/Id",
    "ActiveState",
    "ActiveState/Id",
    "AckedState",
    "AckedState/Id",
    "InputNode",
    "SuppressedOrShelved",
    "HighLimit",
    "NormalState",
    "LimitState/CurrentState",
)


class ConditionKind(StrEnum):
    LIMIT = "ExclusiveLimitAlarmType"
    OFF_NORMAL = "OffNormalAlarmType"


def condition_name(code: str) -> str:
    """``high_vibration`` → "High Vibration": the ConditionName a client slugs back to the code."""
    return code.replace("_", " ").title()


def browse_name(code: str) -> str:
    return condition_name(code).replace(" ", "")


@dataclass
class SimCondition:
    """One condition instance: its nodes, the emitters of its events, and its current state."""

    code: str
    machine_id: str
    node_id: ua.NodeId
    path: str
    """Its node id's string; its children's are ``<path>.<BrowseName>``."""
    emitters: tuple[ua.NodeId, ...]
    event: Any
    """The condition's current state, as its next event (or refresh) carries it."""
    mirrored: dict[str, ua.NodeId] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(getattr(self.event, "ActiveState/Id"))

    @property
    def acked(self) -> bool:
        return bool(getattr(self.event, "AckedState/Id"))

    @property
    def retained(self) -> bool:
        return bool(self.event.Retain)

    def set_active(self, active: bool, severity: int, message: str, now: datetime) -> None:
        ev = self.event
        setattr(ev, "ActiveState/Id", active)
        ev.ActiveState = ua.LocalizedText("Active" if active else "Inactive")
        if active:
            self._set_acked(False)
        if hasattr(ev, "LimitState/CurrentState"):
            setattr(ev, "LimitState/CurrentState", ua.LocalizedText("High" if active else ""))
        ev.LastSeverity, ev.Severity = ev.Severity, severity
        ev.Message = ua.LocalizedText(message)
        ev.Time = now
        ev.Retain = active or not self.acked

    def acknowledge(self, comment: ua.LocalizedText, user: str) -> None:
        self._set_acked(True)
        self.event.Comment = comment
        self.event.ClientUserId = user
        self.event.Time = datetime.now(UTC)
        self.event.Retain = self.active

    def _set_acked(self, acked: bool) -> None:
        setattr(self.event, "AckedState/Id", acked)
        self.event.AckedState = ua.LocalizedText("Acknowledged" if acked else "Unacknowledged")


class ConditionBook:
    """The conditions of one server, its Acknowledge and ConditionRefresh methods."""

    def __init__(self, server: Server, idx: int) -> None:
        self.server = server
        self.idx = idx
        self.by_node: dict[ua.NodeId, SimCondition] = {}
        self.by_code: dict[tuple[str, str], SimCondition] = {}
        self._supertypes: dict[ua.NodeId, frozenset[ua.NodeId]] = {}

    async def install(self, emitters: Sequence[Node]) -> None:
        """Bind the standard methods, and let clients subscribe to events on ``emitters``."""
        session = self.server.iserver.isession
        session.add_method_callback(ACKNOWLEDGE, self._acknowledge)
        session.add_method_callback(CONDITION_REFRESH, self._refresh)
        session.add_method_callback(CONDITION_REFRESH2, self._refresh)
        for emitter in emitters:
            await emitter.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
        for type_id in (LIMIT_ALARM_TYPE, OFF_NORMAL_ALARM_TYPE, REFRESH_START, REFRESH_END):
            types = await get_node_supertypes(self.server.get_node(type_id), includeitself=True)
            self._supertypes[type_id] = frozenset(t.nodeid for t in types)

    # Building ---------------------------------------------------------------------------------

    async def add_limit_alarm(
        self, parent: Node, machine: Node, mid: str, rule: AlarmRule, source: Node, folder: Node
    ) -> SimCondition:
        condition = await self._instantiate(
            parent, machine, mid, rule.code, ConditionKind.LIMIT, source, folder
        )
        await self._property(condition, "HighLimit", rule.raise_above, ua.VariantType.Double)
        condition.event.HighLimit = rule.raise_above
        class_id, class_name = MAINTENANCE_CLASS if rule.code == "tool_wear" else PROCESS_CLASS
        self._classify(condition, class_id, class_name)
        return condition

    async def add_off_normal_alarm(
        self,
        parent: Node,
        machine: Node,
        mid: str,
        code: str,
        flag: Node,
        normal: Node,
        folder: Node,
    ) -> SimCondition:
        condition = await self._instantiate(
            parent, machine, mid, code, ConditionKind.OFF_NORMAL, flag, folder
        )
        condition.event.NormalState = normal.nodeid
        class_id, class_name = SAFETY_CLASS if code == EMERGENCY_STOP else MAINTENANCE_CLASS
        self._classify(condition, class_id, class_name)
        return condition

    async def _instantiate(
        self,
        parent: Node,
        machine: Node,
        mid: str,
        code: str,
        kind: ConditionKind,
        source: Node,
        folder: Node,
    ) -> SimCondition:
        name = browse_name(code)
        path = f"{mid}.Alarms.{name}"
        type_id = LIMIT_ALARM_TYPE if kind is ConditionKind.LIMIT else OFF_NORMAL_ALARM_TYPE
        node = await parent.add_object(
            self._id(path),
            ua.QualifiedName(name, self.idx),
            objecttype=type_id,
            instantiate_optional=False,
        )
        # The source points at its condition (HasCondition), the asset at the source.
        await source.add_reference(node.nodeid, ua.ObjectIds.HasCondition)
        if source.nodeid != machine.nodeid:
            await machine.add_reference(source.nodeid, ua.ObjectIds.HasEventSource)
        event = _initial_event(kind, node.nodeid, source.nodeid, code)
        event.SourceName = (await source.read_browse_name()).Name
        emitters = (machine.nodeid, folder.nodeid, _server_id())
        condition = SimCondition(code, mid, node.nodeid, path, emitters, event)
        for field_name in STATE_FIELDS:
            node_id = self._id(f"{path}.{field_name.replace('/', '.')}")
            if node_id in self.server.iserver.aspace:
                condition.mirrored[field_name] = node_id
        self.server.iserver.isession.add_method_callback(
            self._id(f"{path}.Acknowledge"), self._acknowledge
        )
        self.by_node[node.nodeid] = condition
        self.by_code[(mid, code)] = condition
        return condition

    def _id(self, path: str) -> ua.NodeId:
        return ua.NodeId(ua.String(path), ua.Int16(self.idx))

    def _classify(self, condition: SimCondition, class_id: ua.NodeId, class_name: str) -> None:
        condition.event.ConditionClassId = class_id
        condition.event.ConditionClassName = ua.LocalizedText(class_name)

    async def _property(self, condition: SimCondition, name: str, value: Any, vtype: Any) -> None:
        node = self.server.get_node(condition.node_id)
        prop = await node.add_property(
            self._id(f"{condition.path}.{name}"),
            ua.QualifiedName(name, 0),
            ua.Variant(value, vtype),
        )
        condition.mirrored[name] = prop.nodeid

    async def restore(self, machine_id: str, active: Sequence[AlarmEvent]) -> None:
        """The conditions of an asset in a fresh address space: its active alarms (it may have
        run on while the server was away) unacknowledged, without events (nobody is
        subscribed yet)."""
        for alarm in active:
            condition = self.by_code.get((alarm.machine_id, alarm.code))
            if condition is not None:
                condition.set_active(True, alarm.severity, alarm.message, alarm.time)
        for condition in self.by_node.values():
            if condition.machine_id == machine_id:
                await self._mirror(condition)

    # Raising and clearing ---------------------------------------------------------------------

    async def update(self, alarm: AlarmEvent) -> None:
        """An alarm raised or cleared by the simulation: the condition's new state, an event."""
        condition = self.by_code.get((alarm.machine_id, alarm.code))
        if condition is None:
            _LOGGER.warning("%s: no condition %s", alarm.machine_id, alarm.code)
            return
        condition.set_active(alarm.active, alarm.severity, alarm.message, alarm.time)
        await self._fire(condition)

    async def _fire(self, condition: SimCondition) -> None:
        condition.event.EventId = _event_id()
        condition.event.ReceiveTime = datetime.now(UTC)
        await self._mirror(condition)
        for subscription in list(self.server.iserver.subscription_service.subscriptions.values()):
            items: MonitoredItemService = subscription.monitored_item_srv
            for emitter in condition.emitters:
                for mid in list(items._monitored_events.get(emitter, ())):
                    await self._deliver(items, condition.event, emitter, mid)

    async def _mirror(self, condition: SimCondition) -> None:
        for name, node_id in condition.mirrored.items():
            value = getattr(condition.event, name, None)
            vtype = condition.event.data_types.get(name)
            if value is None or not isinstance(vtype, ua.VariantType):
                continue
            await self.server.write_attribute_value(node_id, ua.DataValue(ua.Variant(value, vtype)))

    # Acknowledge ------------------------------------------------------------------------------

    async def _acknowledge(self, object_id: ua.NodeId, *args: ua.Variant) -> Any:
        """AcknowledgeableConditionType.Acknowledge(EventId, Comment), OPC 10000-9 5.7.3."""
        condition = self.by_node.get(object_id)
        if condition is None:
            return _status(ua.StatusCodes.BadNodeIdInvalid)
        if len(args) < 2:
            return _status(ua.StatusCodes.BadArgumentsMissing)
        if len(args) > 2:
            return _status(ua.StatusCodes.BadTooManyArguments)
        event_id, comment = args[0].Value, args[1].Value
        if not isinstance(event_id, bytes) or not isinstance(comment, ua.LocalizedText | None):
            return _status(ua.StatusCodes.BadInvalidArgument)
        if event_id != condition.event.EventId:
            return _status(ua.StatusCodes.BadEventIdUnknown)
        if condition.acked:
            return _status(ua.StatusCodes.BadConditionBranchAlreadyAcked)
        condition.acknowledge(comment or ua.LocalizedText(""), "")
        _LOGGER.info("%s: condition %s acknowledged", condition.machine_id, condition.code)
        await self._fire(condition)
        return []

    # ConditionRefresh -------------------------------------------------------------------------

    async def _refresh(self, object_id: ua.NodeId, *args: ua.Variant) -> Any:
        """ConditionRefresh(SubscriptionId) and ConditionRefresh2(SubscriptionId,
        MonitoredItemId), OPC 10000-9 5.5.7 and 5.5.8."""
        if not args:
            return _status(ua.StatusCodes.BadArgumentsMissing)
        subscriptions = self.server.iserver.subscription_service.subscriptions
        subscription = subscriptions.get(args[0].Value)
        if subscription is None:
            return _status(ua.StatusCodes.BadSubscriptionIdInvalid)
        items: MonitoredItemService = subscription.monitored_item_srv
        # asyncua keeps no public list of a subscription's event items: these are its own.
        targets = [(node, mid) for node, mids in items._monitored_events.items() for mid in mids]
        if len(args) > 1:
            targets = [(node, mid) for node, mid in targets if mid == args[1].Value]
            if not targets:
                return _status(ua.StatusCodes.BadMonitoredItemIdInvalid)
        await self._frame(items, targets, event_objects.RefreshStartEvent())
        for condition in list(self.by_node.values()):
            if not condition.retained:
                continue
            for node, mid in targets:
                if node in condition.emitters:
                    await self._deliver(items, condition.event, node, mid)
        await self._frame(items, targets, event_objects.RefreshEndEvent())
        return []

    async def _frame(
        self,
        items: MonitoredItemService,
        targets: list[tuple[ua.NodeId, int]],
        event: Any,
    ) -> None:
        """A RefreshStart/End event for every item, whatever its where clause selects."""
        event.SourceNode = _server_id()
        event.SourceName = "Server"
        event.Severity = REFRESH_SEVERITY
        event.Time = event.ReceiveTime = datetime.now(UTC)
        event.Message = ua.LocalizedText(type(event).__name__)
        for node, mid in targets:
            event.EventId = _event_id()
            await self._deliver(items, event, node, mid, where=False)

    async def _deliver(
        self,
        items: MonitoredItemService,
        event: Any,
        emitter: ua.NodeId,
        mid: int,
        *,
        where: bool = True,
    ) -> None:
        """Queue ``event``, raised on ``emitter``, in monitored item ``mid`` if its filter
        selects it (asyncua's own ``_trigger_event``, with a standard OfType)."""
        item = items._monitored_items.get(mid)
        if item is None or not isinstance(item.filter, ua.EventFilter):
            return
        raised = _raised_on(event, emitter)
        if where:
            supertypes = self._supertypes.get(event.EventType, frozenset({event.EventType}))
            clause = _WhereClause(self.server.iserver.aspace, item.filter.WhereClause, supertypes)
            if not clause.eval(raised):
                return
        fields = ua.EventFieldList(
            ClientHandle=item.client_handle,
            EventFields=raised.to_event_fields(item.filter.SelectClauses),
        )
        await items.isub.enqueue_event(mid, fields, item.queue_size)


class _WhereClause(WhereClauseEvaluator):
    """asyncua's where clause evaluator, with ``OfType`` true for the event's type and every
    supertype of it (OPC 10000-4 7.7.3), not for its exact type only."""

    def __init__(self, aspace: Any, clause: ua.ContentFilter, supertypes: frozenset[ua.NodeId]):
        super().__init__(_LOGGER_WHERE, aspace, clause)
        self._supertypes = supertypes

    def _eval_el(self, index: int, event: Any) -> Any:
        element = self.elements[index]
        if element.FilterOperator == ua.FilterOperator.OfType:
            return self._eval_op(element.FilterOperands[0], event) in self._supertypes
        return super()._eval_el(index, event)


def _initial_event(kind: ConditionKind, node: ua.NodeId, source: ua.NodeId, code: str) -> Any:
    """A condition's state at start: enabled, inactive, acknowledged, not retained."""
    event: Any = (
        event_objects.ExclusiveLimitAlarm()
        if kind is ConditionKind.LIMIT
        else event_objects.OffNormalAlarm()
    )
    event.add_property("NodeId", node, ua.VariantType.NodeId)  # the ConditionId
    if kind is ConditionKind.LIMIT:
        event.add_property("LimitState/CurrentState", None, ua.VariantType.LocalizedText)
    event.SourceNode = event.InputNode = source
    event.ConditionName = condition_name(code)
    event.BranchId = ua.NodeId()
    event.Quality = _status(ua.StatusCodes.Good)
    event.SuppressedOrShelved = False
    event.EnabledState = ua.LocalizedText("Enabled")
    setattr(event, "EnabledState/Id", True)
    event.Severity = event.LastSeverity = SEVERITY.get(code, 500)
    event.Comment = ua.LocalizedText("")
    event.ClientUserId = ""
    event.Message = ua.LocalizedText("")
    event.Time = event.ReceiveTime = datetime.now(UTC)
    event.EventId = _event_id()
    event.Retain = False
    setattr(event, "ActiveState/Id", False)
    event.ActiveState = ua.LocalizedText("Inactive")
    setattr(event, "AckedState/Id", True)
    event.AckedState = ua.LocalizedText("Acknowledged")
    return event


def _raised_on(event: Any, emitter: ua.NodeId) -> Any:
    raised = copy.copy(event)
    raised.emitting_node = emitter
    return raised


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


def _event_id() -> bytes:
    return os.urandom(16)


def _server_id() -> ua.NodeId:
    return _ns0(ua.ObjectIds.Server)
