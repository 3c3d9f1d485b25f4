"""Role checks shared by every domain's service functions."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from cloud.auth.models import Actor, Role
from cloud.exceptions import PermissionDenied

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse (403) an actor whose role may never use the operation."""
    if actor.role not in roles:
        raise PermissionDenied(f"the {actor.role.value} role may not do this")


def own_unit_only(query: _Query, unit_column: InstrumentedAttribute[Any], actor: Actor) -> _Query:
    """The query as a plant may run it: confined to the rows of its own unit (other roles
    run it unchanged)."""
    if actor.role is Role.PLANT:
        return query.where(unit_column == actor.unit_id)
    return query
