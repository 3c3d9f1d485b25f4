"""Registry operations that reach into other domains."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Principal
from cloud.dispatch import service as dispatch_service
from cloud.network import service as network_service
from cloud.registry import service
from cloud.registry.models import OperatorSet, PlantCalendar, PlantCalendarSet, PlantOperator


def offboard_unit(*, session: Session, actor: Actor, unit_id: str) -> None:
    """Remove a unit, its live state, and revoke the API keys scoped to it."""
    service.remove_unit(session=session, actor=actor, unit_id=unit_id)
    network_service.forget_unit(session=session, unit_id=unit_id)
    session.execute(update(Principal).where(Principal.unit_id == unit_id).values(active=False))


def set_calendar(
    *, session: Session, actor: Actor, unit_id: str, spec: PlantCalendarSet
) -> PlantCalendar:
    """Set a plant's calendar and have the plan follow it."""
    row = service.set_calendar(session=session, actor=actor, unit_id=unit_id, spec=spec)
    _replan(session, unit_id, "calendar changed")
    return row


def remove_calendar(*, session: Session, actor: Actor, unit_id: str) -> None:
    service.remove_calendar(session=session, actor=actor, unit_id=unit_id)
    _replan(session, unit_id, "calendar removed")


def set_operator(
    *, session: Session, actor: Actor, unit_id: str, operator_id: str, spec: OperatorSet
) -> PlantOperator:
    """Set a plant's operator and have the plan follow their skills and roster."""
    row = service.set_operator(
        session=session, actor=actor, unit_id=unit_id, operator_id=operator_id, spec=spec
    )
    _replan(session, unit_id, f"operator {operator_id} changed")
    return row


def remove_operator(*, session: Session, actor: Actor, unit_id: str, operator_id: str) -> None:
    service.remove_operator(session=session, actor=actor, unit_id=unit_id, operator_id=operator_id)
    _replan(session, unit_id, f"operator {operator_id} removed")


def _replan(session: Session, unit_id: str, why: str) -> None:
    unit = service.get_unit_row(session=session, unit_id=unit_id)
    dispatch_service.request_replan(
        session=session, network_id=unit.network_id, reason=f"{why}: {unit_id}"
    )
