"""The policy tables (service levels, the skill an alarm needs) are settings: the values they
had in code are the defaults, and a deployment may change them."""

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from cloud.maintenance.config import DEFAULT_POLICY, MaintenanceSettings
from cloud.maintenance.routing import SeverityLevel
from cloud.maintenance.tickets.models import MaintenanceTicket, Priority
from cloud.maintenance.tickets.service import due_after, priority_for
from tests.cloud.maintenance.conftest import alarm

HOURS = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def test_the_defaults_are_the_tables_that_were_in_the_code():
    assert MaintenanceSettings().policy() == DEFAULT_POLICY
    due = {
        level: [due_after(service_level=level, priority=p) for p in Priority]
        for level in ("premium", "standard", "basic")
    }
    hours = {level: [d / timedelta(hours=1) for d in times] for level, times in due.items()}
    assert hours == {
        "premium": [4, 8, 24, 72],
        "standard": [8, 24, 72, 168],
        "basic": [24, 72, 168, 336],
    }
    assert due_after(service_level="no such level", priority=Priority.P1) == timedelta(hours=8)
    shifted = [
        priority_for(level=SeverityLevel.MAJOR, service_level=level)
        for level in ("premium", "standard", "basic")
    ]
    assert shifted == [Priority.P1, Priority.P2, Priority.P3]
    assert DEFAULT_POLICY.skill_for("emergency_stop") == "electrical"
    assert DEFAULT_POLICY.skill_for("overheat") == "mechanical"
    assert DEFAULT_POLICY.skill_for("anything else") == "mechanical"


def test_service_levels_and_skills_come_from_the_settings():
    policy = MaintenanceSettings(
        service_levels={
            "standard": {"due_hours": HOURS},
            "gold": {"due_hours": {**HOURS, "P1": 0.5}, "priority_shift": -2},
        },
        skill_by_code={"overheat": "cooling"},
        default_skill="general",
    ).policy()
    assert due_after(service_level="gold", priority=Priority.P1, policy=policy) == timedelta(
        minutes=30
    )
    # premium is no longer a level: its assets get the standard one
    assert due_after(service_level="premium", priority=Priority.P3, policy=policy) == timedelta(
        hours=3
    )
    assert priority_for(level=SeverityLevel.MINOR, service_level="gold", policy=policy) == "P1"
    assert priority_for(level=SeverityLevel.MINOR, service_level="premium", policy=policy) == "P3"
    assert policy.skill_for("overheat") == "cooling"
    assert policy.skill_for("emergency_stop") == "general"


@pytest.mark.parametrize(
    "levels",
    [
        {"gold": {"due_hours": HOURS}},  # no standard level for assets that name none
        {"standard": {"due_hours": {"P1": 1, "P2": 2, "P4": 4}}},  # P3 missing
        {"standard": {"due_hours": {**HOURS, "P2": 0}}},
        {"standard": {"due_hours": {**HOURS, "P5": 5}}},
        {"standard": {"due_hours": HOURS, "priority_shift": 9}},
    ],
)
def test_bad_service_levels_are_refused(levels):
    with pytest.raises(ValidationError):
        MaintenanceSettings(service_levels=levels)


def test_an_alarm_ticket_follows_the_configured_tables(harness):
    policy = MaintenanceSettings(
        service_levels={"standard": {"due_hours": HOURS}}, skill_by_code={"overheat": "cooling"}
    ).policy()
    harness.ingest(alarm("laser-1"), policy=policy)
    with harness.session() as session:
        [ticket] = session.scalars(select(MaintenanceTicket))
    assert ticket.priority == "P2" and ticket.service_level == "standard"
    assert ticket.due_at - ticket.opened_at == timedelta(hours=2)
    assert ticket.skill == "cooling"
