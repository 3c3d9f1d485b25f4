"""Standard Alarms & Conditions (OPC 10000-9), seen from a plain asyncua client: the condition
types and fields, Acknowledge, and ConditionRefresh on a subscription."""

from __future__ import annotations

from typing import Any

import pytest
from asyncua import Client, ua

from tests.firmware_sim.conftest import Collector, alarm_code, asset, is_active, machine_handle
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="package")]

REFRESH_START = ua.NodeId(ua.ObjectIds.RefreshStartEventType)
REFRESH_END = ua.NodeId(ua.ObjectIds.RefreshEndEventType)


async def test_conditions_are_instances_of_the_standard_types(client: Client) -> None:
    m = await machine_handle(client, "mill-1")
    overheat = await m.child("Alarms", "Overheat")
    limit_type = ua.NodeId(ua.ObjectIds.ExclusiveLimitAlarmType)
    assert await overheat.read_type_definition() == limit_type
    assert await (await overheat.get_child("0:ConditionName")).read_value() == "Overheat"
    high_limit = await (await overheat.get_child("0:HighLimit")).read_value()
    temperature = await m.child("Monitoring", "SpindleTemperature")
    assert await (await overheat.get_child("0:InputNode")).read_value() == temperature.nodeid
    assert high_limit > await temperature.read_value()
    sources = await temperature.get_referenced_nodes(ua.ObjectIds.HasCondition)
    assert overheat.nodeid in [n.nodeid for n in sources]

    estop = await m.child("Alarms", "EmergencyStop")
    assert await estop.read_type_definition() == ua.NodeId(ua.ObjectIds.OffNormalAlarmType)
    flag = await m.child("Status", "EmergencyStop")
    assert await (await estop.get_child("0:InputNode")).read_value() == flag.nodeid
    normal = await (await estop.get_child("0:NormalState")).read_value()
    assert await client.get_node(normal).read_value() is False
    assert await (await estop.get_child(["0:EnabledState", "0:Id"])).read_value() is True
    assert await (await estop.get_child(["0:ActiveState", "0:Id"])).read_value() is False
    assert await (await estop.get_child("0:Retain")).read_value() is False


async def test_acknowledge_and_condition_refresh(client: Client) -> None:
    m = await machine_handle(client, "mill-alarm")
    events = Collector()
    subscription = await client.create_subscription(20, events)
    alarm_type = client.get_node(ua.NodeId(ua.ObjectIds.AlarmConditionType))
    item = await subscription.subscribe_events(m.node, [alarm_type])
    assert await m.call("Maintenance", "InjectFault", "emergency_stop", 0.0)

    def estop() -> list[Any]:
        return [e for e in events.events if alarm_code(e) == "emergency_stop"]

    async def raised() -> bool:
        return bool(estop()) and is_active(estop()[-1])

    await eventually(raised, what="the emergency stop raised")
    first = estop()[-1]
    assert asset(first) == "mill-alarm" and first.Severity == 900 and first.Retain is True
    assert getattr(first, "AckedState/Id") is False and first.Message.Text
    condition = client.get_node(first.NodeId)
    assert (await condition.read_browse_name()).Name == "EmergencyStop"
    acknowledge = ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)
    comment = ua.LocalizedText("on my way")

    with pytest.raises(ua.uaerrors.BadEventIdUnknown):
        await condition.call_method(acknowledge, b"not an event", comment)
    await condition.call_method(acknowledge, first.EventId, comment)

    async def acked() -> bool:
        return getattr(estop()[-1], "AckedState/Id") is True

    await eventually(acked, what="the acknowledgement's event")
    ack_event = estop()[-1]
    assert ack_event.EventId != first.EventId and is_active(ack_event) and ack_event.Retain
    assert await (await condition.get_child(["0:AckedState", "0:Id"])).read_value() is True
    assert (await (await condition.get_child("0:Comment")).read_value()).Text == "on my way"
    with pytest.raises(ua.uaerrors.BadConditionBranchAlreadyAcked):
        await condition.call_method(acknowledge, ack_event.EventId, comment)

    # ConditionRefresh: Start, the retained conditions the item would get, End.
    before = len(events.events)
    refresh = ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh)
    server_object = client.nodes.server
    await server_object.call_method(
        refresh, ua.Variant(subscription.subscription_id, ua.VariantType.UInt32)
    )

    async def refreshed() -> bool:
        return any(e.EventType == REFRESH_END for e in events.events[before:])

    await eventually(refreshed, what="the refresh")
    framed = events.events[before:]
    assert framed[0].EventType == REFRESH_START and framed[-1].EventType == REFRESH_END
    resent = framed[1:-1]
    assert [alarm_code(e) for e in resent] == ["emergency_stop"]
    assert resent[0].EventId == ack_event.EventId

    assert await m.call("Maintenance", "Repair") is True

    async def cleared() -> bool:
        return not is_active(estop()[-1])

    await eventually(cleared, what="the emergency stop cleared")
    assert estop()[-1].Retain is False  # inactive and acknowledged: nothing to retain
    before = len(events.events)
    await server_object.call_method(
        refresh, ua.Variant(subscription.subscription_id, ua.VariantType.UInt32)
    )
    await eventually(refreshed, what="the second refresh")
    assert [e.EventType for e in events.events[before:]] == [REFRESH_START, REFRESH_END]
    with pytest.raises(ua.uaerrors.BadSubscriptionIdInvalid):
        await server_object.call_method(refresh, ua.Variant(9999, ua.VariantType.UInt32))

    # Raised again: the instance's own Acknowledge method works too, and ConditionRefresh2
    # refreshes one monitored item.
    assert await m.call("Maintenance", "InjectFault", "emergency_stop", 0.0)
    await eventually(raised, what="the emergency stop raised again")
    await condition.call_method("0:Acknowledge", estop()[-1].EventId, comment)
    await eventually(acked, what="the second acknowledgement")
    before = len(events.events)
    refresh2 = ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh2)
    ids = (subscription.subscription_id, item)
    await server_object.call_method(refresh2, *(ua.Variant(i, ua.VariantType.UInt32) for i in ids))
    await eventually(refreshed, what="the refresh of one item")
    assert [alarm_code(e) for e in events.events[before:][1:-1]] == ["emergency_stop"]
    assert await m.call("Maintenance", "Repair") is True
    await subscription.delete()
