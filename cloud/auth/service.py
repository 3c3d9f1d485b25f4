"""API keys: creation, hashing and authentication of principals; page sessions are checked
here too (:mod:`cloud.auth.sessions`), so that every caller authenticates in one place.

A key is ``glo_<key id>_<secret>`` with 256 random bits; only its SHA-256 digest is stored (a
random secret of that length needs no slow hash), and the key id finds the row.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from cloud.auth import sessions
from cloud.auth.models import Actor, Principal, PrincipalCreate, Role
from cloud.auth.permissions import require_role
from cloud.database import utcnow
from cloud.exceptions import NotAuthenticated, NotFound
from cloud.registry import service as registry_service

KEY_PREFIX = "glo"


def require_scope(*, session: Session, unit_id: str | None, technician_id: str | None) -> None:
    """Refuse (404) a principal scoped to a unit or a technician the registry does not hold."""
    if unit_id is not None:
        registry_service.get_unit_row(session=session, unit_id=unit_id)
    if technician_id is not None:
        registry_service.get_technician_row(session=session, technician_id=technician_id)


def create_principal(*, session: Session, spec: PrincipalCreate) -> tuple[Principal, str]:
    """A new principal and its API key (the only time the key exists in clear)."""
    require_scope(session=session, unit_id=spec.unit_id, technician_id=spec.technician_id)
    key_id = secrets.token_hex(6)
    api_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    principal = add_principal(
        session=session, spec=spec, key_id=key_id, key_hash=sessions.digest(api_key)
    )
    return principal, api_key


def add_principal(
    *, session: Session, spec: PrincipalCreate, **credentials: str | None
) -> Principal:
    """An active principal with the spec's name, role and scope, and ``credentials``: an API
    key's id and hash, or a person's username and email."""
    fields = spec.model_dump(include=set(PrincipalCreate.model_fields))  # a person's too
    principal = Principal(**fields, active=True, **credentials)
    session.add(principal)
    session.flush()
    return principal


_PRINCIPALS = Principal.__table__.c
_BY_KEY_ID = select(
    _PRINCIPALS.id,
    _PRINCIPALS.name,
    _PRINCIPALS.role,
    _PRINCIPALS.unit_id,
    _PRINCIPALS.technician_id,
    _PRINCIPALS.customer_id,
    _PRINCIPALS.key_hash,
    _PRINCIPALS.active,
).where(_PRINCIPALS.key_id == bindparam("key_id"))
"""Built once: every API request runs it, and building and caching an ORM query each time cost
more than the lookup itself."""


def actor_of(principal: Principal | Row[*tuple[Any, ...]]) -> Actor:
    """The actor of a principal, its row or the columns :data:`_BY_KEY_ID` selects of it."""
    return Actor(
        principal_id=principal.id,
        name=principal.name,
        role=principal.role,
        unit_id=principal.unit_id,
        technician_id=principal.technician_id,
        customer_id=principal.customer_id,
    )


def authenticate(*, session: Session, api_key: str, now: datetime | None = None) -> Actor:
    """The actor owning ``api_key`` or, for a page session's token, the session's; a wrong,
    unknown, expired or revoked one is NotAuthenticated."""
    if sessions.is_session_token(api_key):
        principal = sessions.principal_of(session=session, token=api_key, now=now or utcnow())
        return actor_of(principal)
    prefix, _, rest = api_key.partition("_")
    key_id, _, _ = rest.partition("_")
    row = None
    if prefix == KEY_PREFIX and key_id:
        row = session.connection().execute(_BY_KEY_ID, {"key_id": key_id}).first()
    if (
        row is None
        or not row.active
        or not hmac.compare_digest(row.key_hash or "", sessions.digest(api_key))
    ):
        raise NotAuthenticated("invalid or revoked API key")
    return actor_of(row)


def list_principals(*, session: Session, actor: Actor) -> list[Principal]:
    require_role(actor, Role.COORDINATOR)
    return list(session.scalars(select(Principal).order_by(Principal.id)))


def revoke_principal(*, session: Session, actor: Actor, principal_id: int) -> Principal:
    require_role(actor, Role.COORDINATOR)
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFound(f"principal {principal_id} does not exist")
    principal.active = False
    sessions.end_sessions_of(session=session, principal_id=principal.id)
    return principal


def known_customers(*, session: Session) -> list[str]:
    """The customers the network knows: the ids of its active customer principals (keys and
    people), sorted. A configuration, quote or order is only ever for one of them."""
    query = (
        select(Principal.customer_id)
        .where(
            Principal.role == Role.CUSTOMER.value,
            Principal.active.is_(True),
            Principal.customer_id.is_not(None),
        )
        .distinct()
    )
    return sorted(c for c in session.scalars(query) if c is not None)


def is_known_customer(*, session: Session, customer_id: str) -> bool:
    query = select(Principal.id).where(
        Principal.role == Role.CUSTOMER.value,
        Principal.active.is_(True),
        Principal.customer_id == customer_id,
    )
    return session.scalars(query.limit(1)).first() is not None
