"""Registry operations that reach into other domains."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Principal
from cloud.network import service as network_service
from cloud.registry import service


def offboard_unit(*, session: Session, actor: Actor, unit_id: str) -> None:
    """Remove a unit, its live state, and revoke the API keys scoped to it."""
    service.remove_unit(session=session, actor=actor, unit_id=unit_id)
    network_service.forget_unit(session=session, unit_id=unit_id)
    session.execute(update(Principal).where(Principal.unit_id == unit_id).values(active=False))
