"""Local threshold rules: minimum duration, hysteresis, and state kept across restarts."""

from edge.config import RuleConfig
from edge.rules import Rule, RuleEngine
from protocols.enums import AlarmState
from tests.edge.fakes import Queue

HOT = {"name": "hot", "machine": "mill-1", "metric": "temp", "code": "overheat"}


def test_raise_after_min_duration_and_clear_with_hysteresis():
    rule = Rule(RuleConfig(**HOT, above=80, clear_at=75, min_duration_s=5), active=False)
    assert rule.observe(85, now=0) is None
    assert rule.observe(90, now=4) is None
    assert rule.check(now=4.9) is None
    assert rule.check(now=5.0) is AlarmState.RAISED
    assert rule.observe(78, now=6) is None  # between clear_at and the threshold: still active
    assert rule.observe(75, now=7) is AlarmState.CLEARED
    assert rule.observe(79, now=8) is None


def test_a_short_breach_does_not_raise():
    rule = Rule(RuleConfig(**HOT, above=80, clear_at=75, min_duration_s=5), active=False)
    rule.observe(85, now=0)
    rule.observe(70, now=3)
    assert rule.check(now=10) is None
    rule.observe(85, now=11)
    assert rule.check(now=15) is None and rule.check(now=16) is AlarmState.RAISED


def test_below_rule():
    rule = Rule(RuleConfig(**HOT, below=10, clear_at=12), active=False)
    assert rule.observe(9, now=0) is AlarmState.RAISED
    assert rule.observe(11, now=1) is None
    assert rule.observe(12, now=2) is AlarmState.CLEARED


def test_engine_sends_alarms_and_remembers_active_rules(tmp_path):
    queue = Queue(tmp_path)
    rules = [RuleConfig(**HOT, above=80, clear_at=75)]
    engine = RuleEngine(rules, queue.uplink, queue.outbox)
    engine.observe("mill-1", "temp", 90)
    engine.observe("mill-1", "other", 90)
    engine.observe("mill-1", "temp", "not a number")
    raised = queue.bodies()[-1]
    assert raised.state is AlarmState.RAISED and raised.value == 90
    assert raised.source.value == "gateway_rule" and raised.alarm_id == "mill-1/rule/hot"
    queue.reopen()
    engine = RuleEngine(rules, queue.uplink, queue.outbox)
    engine.observe("mill-1", "temp", 85)
    engine.observe("mill-1", "temp", 70)
    assert [b.state for b in queue.bodies()] == [AlarmState.RAISED, AlarmState.CLEARED]
