"""When to remind and escalate a ticket that nobody acknowledges.

An :class:`EscalationPolicy` turns the time since assignment into due actions: a reminder to the
assignee every ``remind_every``; after ``escalate_after`` the next technician in the chain; after
``coordinator_after`` the network coordinator. The decisions depend only on the timestamps and the
clock passed in, so tests use an injectable clock instead of sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class EscalationAction(StrEnum):
    REMIND = "remind"
    ESCALATE_TO_NEXT = "escalate_to_next"
    ESCALATE_TO_COORDINATOR = "escalate_to_coordinator"


@dataclass(frozen=True)
class EscalationPolicy:
    remind_every: timedelta = timedelta(minutes=15)
    escalate_after: timedelta = timedelta(minutes=30)
    coordinator_after: timedelta = timedelta(minutes=60)

    def __post_init__(self) -> None:
        if self.remind_every <= timedelta(0):
            raise ValueError("remind_every must be positive")
        if not timedelta(0) < self.escalate_after <= self.coordinator_after:
            raise ValueError("escalate_after must be positive and not after coordinator_after")


@dataclass(frozen=True)
class EscalationState:
    """What a ticket has had so far, since its current assignment."""

    assigned_at: datetime
    acknowledged_at: datetime | None = None
    reminders_sent: int = 0
    escalated_to_next: bool = False
    escalated_to_coordinator: bool = False


def due_actions(
    state: EscalationState, now: datetime, policy: EscalationPolicy
) -> list[EscalationAction]:
    """The actions due at ``now`` that have not been taken yet (none once acknowledged)."""
    if state.acknowledged_at is not None:
        return []
    waited = now - state.assigned_at
    actions = []
    if not state.escalated_to_coordinator and waited >= policy.coordinator_after:
        actions.append(EscalationAction.ESCALATE_TO_COORDINATOR)
    if not state.escalated_to_next and waited >= policy.escalate_after:
        actions.append(EscalationAction.ESCALATE_TO_NEXT)
    if not actions and int(waited / policy.remind_every) > state.reminders_sent:
        actions.append(EscalationAction.REMIND)
    return actions
