"""Role checks shared by every domain's service functions."""

from __future__ import annotations

from cloud.auth.models import Actor, Role
from cloud.exceptions import PermissionDenied


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse (403) an actor whose role may never use the operation."""
    if actor.role not in roles:
        raise PermissionDenied(f"the {actor.role.value} role may not do this")
