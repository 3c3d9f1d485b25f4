from datetime import UTC, datetime, timedelta

import pytest

from cloud.maintenance.escalation import (
    EscalationAction,
    EscalationPolicy,
    EscalationState,
    due_actions,
)
from cloud.maintenance.figures import Failure, reliability, within_service_level

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
POLICY = EscalationPolicy(
    remind_every=timedelta(minutes=10),
    escalate_after=timedelta(minutes=30),
    coordinator_after=timedelta(minutes=60),
)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_reminders_then_escalation_then_coordinator():
    state = EscalationState(assigned_at=T0)
    assert due_actions(state, at(5), POLICY) == []
    assert due_actions(state, at(10), POLICY) == [EscalationAction.REMIND]
    assert due_actions(EscalationState(T0, reminders_sent=1), at(15), POLICY) == []
    assert due_actions(EscalationState(T0, reminders_sent=2), at(30), POLICY) == [
        EscalationAction.ESCALATE_TO_NEXT
    ]
    late = EscalationState(T0, reminders_sent=2, escalated_to_next=True)
    assert due_actions(late, at(60), POLICY) == [EscalationAction.ESCALATE_TO_COORDINATOR]


def test_acknowledged_tickets_are_left_alone():
    assert due_actions(EscalationState(T0, acknowledged_at=at(1)), at(600), POLICY) == []


def test_policy_validation():
    with pytest.raises(ValueError):
        EscalationPolicy(escalate_after=timedelta(hours=2), coordinator_after=timedelta(hours=1))


def test_reliability_figures_from_intervals():
    failures = [
        Failure(at(60), at(120)),  # 60 min repair
        Failure(at(600), at(630)),  # 30 min repair
    ]
    figures = reliability(failures, period_start=T0, period_end=at(1440))
    assert figures.failures == 2
    assert figures.mttr_minutes == 45.0
    assert figures.downtime == timedelta(minutes=90)
    assert figures.availability == pytest.approx((1440 - 90) / 1440, abs=1e-5)
    assert figures.mtbf_hours == pytest.approx((1440 - 90) / 60 / 2, abs=0.01)


def test_overlapping_and_open_failures():
    failures = [Failure(at(0), at(60)), Failure(at(30), at(90)), Failure(at(1400), None)]
    figures = reliability(failures, period_start=T0, period_end=at(1440))
    assert figures.downtime == timedelta(minutes=90 + 40)
    assert figures.mttr_minutes == 60.0  # only resolved failures count towards MTTR


def test_no_failures_means_full_availability():
    figures = reliability([], period_start=T0, period_end=at(60))
    assert figures.availability == 1.0
    assert figures.mtbf_hours is None and figures.mttr_minutes is None


def test_service_level_share():
    assert within_service_level([(at(60), at(30)), (at(60), at(90)), (at(60), None)]) == 0.3333
    assert within_service_level([]) is None
