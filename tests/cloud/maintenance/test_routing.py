from datetime import UTC, datetime, timedelta

import pytest

from cloud.maintenance.routing import (
    MAX_PATTERN_LENGTH,
    Matcher,
    RoutingError,
    RuleBudget,
    RuleBudgetExceeded,
    SeverityLevel,
    Silence,
    fingerprint,
    inhibited_by,
    joins_incident,
    maintenance_silence,
    severity_level,
    silenced_by,
)

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)


def labels(**extra):
    base = {"network": "n", "unit": "cut-co", "asset": "laser-1", "code": "overheat"}
    return {**base, "severity": "major", **extra}


def test_fingerprint_is_stable_per_asset_and_code():
    assert fingerprint("n", "u", "laser-1", "oh") == fingerprint("n", "u", "laser-1", "oh")
    assert fingerprint("n", "u", "laser-1", "oh") != fingerprint("n", "u", "laser-2", "oh")
    assert fingerprint("n", "u1", "laser-1", "oh") != fingerprint("n", "u2", "laser-1", "oh")
    assert fingerprint("n", "u", "a", "bc") != fingerprint("n", "u", "ab", "c")


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (1000, SeverityLevel.CRITICAL),
        (700, SeverityLevel.MAJOR),
        (450, SeverityLevel.MINOR),
        (300, SeverityLevel.WARNING),
        (1, SeverityLevel.INFO),
    ],
)
def test_opc_ua_severity_maps_to_levels(severity, level):
    assert severity_level(severity) is level


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ('unit="cut-co"', True),
        ("unit!=cut-co", False),
        ('asset=~"laser-.*"', True),
        ('asset=~"laser"', False),  # anchored, as in Alertmanager
        ('code!~"over.*"', False),
        ("missing=", True),  # an absent label matches the empty string
    ],
)
def test_matchers(text, hit):
    assert Matcher.parse(text).matches(labels()) is hit


@pytest.mark.parametrize("bad", ["", "=x", "unit", 'asset=~"("'])
def test_bad_matchers_are_refused(bad):
    with pytest.raises(RoutingError):
        Matcher.parse(bad)


def test_silence_applies_only_inside_its_window():
    silence = Silence((Matcher.parse("asset=laser-1"),), T0, T0 + timedelta(hours=1))
    assert silenced_by(labels(), [silence], T0 + timedelta(minutes=5)) is silence
    assert silenced_by(labels(), [silence], T0 + timedelta(hours=1)) is None
    assert silenced_by(labels(asset="laser-2"), [silence], T0) is None


def test_silence_needs_matchers_and_a_positive_window():
    with pytest.raises(RoutingError):
        Silence((), T0, T0 + timedelta(hours=1))
    with pytest.raises(RoutingError):
        Silence((Matcher.parse("a=b"),), T0, T0)


def test_maintenance_window_silences_its_asset_only():
    silence = maintenance_silence(
        unit="cut-co", asset="laser-1", starts_at=T0, ends_at=T0 + timedelta(hours=2), reason="PM"
    )
    assert silence.silences(labels(), T0 + timedelta(minutes=1))
    assert not silence.silences(labels(asset="press-1"), T0 + timedelta(minutes=1))


def test_unit_offline_inhibits_that_units_machine_alerts():
    offline = labels(asset="cut-co", code="unit_offline", severity="critical")
    rule = inhibited_by(labels(), [offline])
    assert rule is not None and rule.name == "unit-offline-inhibits-its-assets"
    assert inhibited_by(labels(unit="weld-co"), [offline]) is None
    assert inhibited_by(offline, [offline]) is None


def test_breakdown_inhibits_warnings_but_not_critical_alerts_of_that_machine():
    breakdown = labels(code="breakdown", severity="critical")
    assert inhibited_by(labels(code="high_vibration", severity="warning"), [breakdown])
    assert inhibited_by(labels(code="emergency_stop", severity="critical"), [breakdown]) is None
    other = labels(asset="laser-2", code="high_vibration", severity="warning")
    assert inhibited_by(other, [breakdown]) is None


def test_grouping_window():
    assert joins_incident(T0, T0 + timedelta(minutes=9))
    assert not joins_incident(T0, T0 + timedelta(minutes=11))
    assert not joins_incident(None, T0)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("stars", range(20, 27))
def test_a_backtracking_pattern_runs_in_linear_time(stars):
    """``.*`` 20-26 times then ``!`` took Python's ``re`` minutes on a label without ``!``."""
    matcher = Matcher.parse(f'asset=~"{".*" * stars}!"')
    assert not matcher.matches(labels(asset="x" * 64))
    assert matcher.matches(labels(asset="x" * 63 + "!"))


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("laser-(?=1)", "RE2 syntax"),
        ("(a)\\1", "RE2 syntax"),
        ("\\pL{1000}", "too large"),
        ("a" * (MAX_PATTERN_LENGTH + 1), f"longer than {MAX_PATTERN_LENGTH}"),
    ],
)
def test_patterns_re2_cannot_run_cheaply_are_refused(pattern, reason):
    with pytest.raises(RoutingError, match=reason):
        Matcher.build("asset", "=~", pattern)


class Exploding:
    """A matcher that must never run."""

    def matches(self, labels):
        raise AssertionError("a member's pattern ran on another unit's alert")


def test_a_members_silence_is_scoped_to_its_unit_before_any_pattern_runs():
    silence = Silence((Exploding(),), T0, T0 + timedelta(hours=1), unit="cut-co")
    assert not silence.silences(labels(unit="weld-co"), T0)
    with pytest.raises(AssertionError):
        silence.silences(labels(unit="cut-co"), T0)


class SteppingClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_routing_stops_when_it_runs_over_its_budget():
    never = Silence((Matcher.parse("code=other"),), T0, T0 + timedelta(hours=1))
    budget = RuleBudget(timedelta(milliseconds=50), clock=SteppingClock(0.02))
    with pytest.raises(RuleBudgetExceeded, match="over its 50 ms budget"):
        silenced_by(labels(), [never] * 10, T0, budget)
    roomy = RuleBudget(timedelta(seconds=10), clock=SteppingClock(0.02))
    assert silenced_by(labels(), [never] * 10, T0, roomy) is None
    firing = [labels(code="breakdown", severity="critical")] * 10
    tight = RuleBudget(timedelta(milliseconds=50), clock=SteppingClock(0.02))
    with pytest.raises(RuleBudgetExceeded):
        inhibited_by(labels(code="x", severity="warning"), firing, budget=tight)
