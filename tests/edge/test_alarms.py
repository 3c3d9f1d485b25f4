"""Standard OPC UA condition events → alarm messages: ids, codes, state changes, refresh."""

from datetime import UTC, datetime

from asyncua import ua

from edge.alarms import STANDARD_FIELDS, ConditionTracker, event_fields, event_filter, nsu, slug
from edge.config import AlarmsMapping

NAMESPACES = ["http://opcfoundation.org/UA/", "urn:other", "urn:acme-machines:press"]
CONDITION = ua.NodeId(1018, 2)
SOURCE = ua.NodeId(1010, 2)


def condition_event(active, acked=False, event_id=b"e1", **extra):
    return {
        "EventId": event_id,
        "EventType": ua.NodeId(ua.ObjectIds.ExclusiveLimitAlarmType),
        "SourceNode": SOURCE,
        "ConditionId": CONDITION,
        "ConditionName": "High Temperature",
        "ActiveState/Id": active,
        "AckedState/Id": acked,
        "Severity": 700,
        "Message": ua.LocalizedText("Ram temperature 95.0 °C above 80 °C"),
        "Time": datetime(2026, 12, 6, 14),
        **extra,
    }


def tracker():
    sent = []
    conditions = ConditionTracker(sent.append)
    conditions.connected(None, NAMESPACES, {SOURCE: "temperature"})
    return conditions, sent


def test_a_standard_condition_needs_no_field_names():
    conditions, _ = tracker()
    alarm = conditions.event("press-7", condition_event(True))
    assert alarm.code == "high_temperature" and alarm.state.value == "raised"
    assert alarm.alarm_id == "nsu=urn:acme-machines:press;i=1018"
    assert alarm.severity == 700 and alarm.metric == "temperature"
    assert alarm.text.startswith("Ram temperature") and alarm.occurred_at.tzinfo is UTC


def test_only_state_changes_are_news():
    conditions, _ = tracker()
    assert conditions.event("press-7", condition_event(False)) is None  # never active: no news
    assert conditions.event("press-7", condition_event(True)).state.value == "raised"
    # The acknowledgement's event, and a refresh of the same state, change nothing.
    assert conditions.event("press-7", condition_event(True, acked=True, event_id=b"e2")) is None
    assert conditions.event("press-7", condition_event(False, event_id=b"e3")).state.value == (
        "cleared"
    )


def test_a_condition_gone_from_the_refresh_after_a_reconnect_is_cleared():
    conditions, sent = tracker()
    conditions.event("press-7", condition_event(True))
    refresh_start = {"EventType": ua.NodeId(ua.ObjectIds.RefreshStartEventType)}
    refresh_end = {"EventType": ua.NodeId(ua.ObjectIds.RefreshEndEventType)}
    assert conditions.event("press-7", refresh_start) is None
    assert conditions.event("press-7", refresh_end) is None
    assert [(a.code, a.state.value, a.alarm_id) for a in sent] == [
        ("high_temperature", "cleared", "nsu=urn:acme-machines:press;i=1018")
    ]


def test_vendor_event_fields_serve_servers_that_raise_plain_events():
    conditions, _ = tracker()
    fields = {
        "vendor:code": "overheat",
        "vendor:active": False,
        "vendor:metric": "SpindleTemperature",
        "vendor:value": 91.5,
        "SourceNode": ua.NodeId("mill-1", 2),
        "Severity": 5000,
    }
    alarm = conditions.event("mill-1", fields)
    assert (alarm.code, alarm.state.value, alarm.severity) == ("overheat", "cleared", 1000)
    assert alarm.metric == "spindle_temperature" and alarm.value == 91.5
    assert alarm.alarm_id == "nsu=urn:acme-machines:press;s=mill-1/overheat"


def test_odd_fields_get_safe_defaults():
    conditions, _ = tracker()
    alarm = conditions.event("mill-1", {"vendor:code": "bad code!", "vendor:value": float("nan")})
    assert alarm.code == "alarm" and alarm.state.value == "raised" and alarm.value is None
    assert alarm.alarm_id == "mill-1/alarm" and alarm.severity == 500


def test_condition_names_become_codes():
    assert slug("High Temperature") == "high_temperature"
    assert slug("  Door-Open (safety) ") == "door_open_safety"
    assert slug("SpindleOverheat") == "spindle_overheat"
    assert slug("42 bar") == "alarm_42_bar"
    assert slug("!!!") is None


def test_node_ids_are_written_with_their_namespace_uri():
    assert nsu(ua.NodeId("Temp", 2), NAMESPACES) == "nsu=urn:acme-machines:press;s=Temp"
    assert nsu(ua.NodeId(2253, 0), NAMESPACES) == "i=2253"


def test_the_filter_selects_standard_browse_paths_and_the_condition_node():
    mapping = AlarmsMapping(code_field="sim:AlarmCode")
    fields = event_fields(mapping, lambda segment: ua.QualifiedName(segment, 4))
    evfilter = event_filter(fields, ua.NodeId(ua.ObjectIds.ConditionType))
    paths = ["/".join(q.Name for q in c.BrowsePath) for c in evfilter.SelectClauses]
    assert paths[: len(STANDARD_FIELDS)] == [
        "EventId", "EventType", "SourceNode", "SourceName", "Time", "Message", "Severity",
        "", "ConditionName", "Retain", "AckedState/Id", "ActiveState/Id",
    ]  # fmt: skip
    condition_id = evfilter.SelectClauses[7]
    assert condition_id.AttributeId == ua.AttributeIds.NodeId
    assert condition_id.TypeDefinitionId == ua.NodeId(ua.ObjectIds.ConditionType)
    assert evfilter.SelectClauses[-1].BrowsePath == [ua.QualifiedName("sim:AlarmCode", 4)]
