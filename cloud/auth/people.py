"""People: invitations, passwords, sign-in and its throttle, resets of access.

The coordinator invites a person (a principal with a username and no password yet); the
invitation's link sets the password once before it expires. A reset of access ends the
person's sessions, clears the password and issues a new invitation. Failed sign-ins are
counted per username and per address; past ``max_failures`` within the window, sign-ins are
refused (429) before any password is checked, so that guessing costs the guesser time.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from cloud.auth import passwords, sessions
from cloud.auth import service as auth_service
from cloud.auth.config import AccountSettings
from cloud.auth.models import (
    Actor,
    Invitation,
    PersonCreate,
    PersonRead,
    PersonStatus,
    Principal,
    PrincipalRead,
    Role,
    SignInFailure,
)
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput, NotAuthenticated, NotFound, TooManyAttempts

WRONG_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True)
class IssuedInvitation:
    principal: Principal
    token: str
    expires_at: datetime


def invite_person(
    *,
    session: Session,
    actor: Actor,
    spec: PersonCreate,
    settings: AccountSettings,
    now: datetime,
) -> IssuedInvitation:
    """A new person with the spec's role and scope, and their first invitation."""
    require_role(actor, Role.COORDINATOR)
    auth_service.require_scope(
        session=session, unit_id=spec.unit_id, technician_id=spec.technician_id
    )
    taken = session.scalar(select(Principal.id).where(Principal.username == spec.username))
    if taken is not None:
        raise Conflict(f"the username {spec.username!r} is taken")
    principal = auth_service.add_principal(
        session=session, spec=spec, username=spec.username, email=spec.email
    )
    return _invite(session=session, principal=principal, settings=settings, now=now)


def list_people(*, session: Session, actor: Actor, now: datetime) -> list[PersonRead]:
    """Every person (a principal with a username) with where their access stands."""
    require_role(actor, Role.COORDINATOR)
    waiting = (
        select(Invitation.principal_id, func.max(Invitation.expires_at).label("expires_at"))
        .where(Invitation.used_at.is_(None))
        .group_by(Invitation.principal_id)
        .subquery()
    )
    rows = session.execute(
        select(Principal, waiting.c.expires_at)
        .outerjoin(waiting, waiting.c.principal_id == Principal.id)
        .where(Principal.username.is_not(None))
        .order_by(Principal.id)
    ).all()
    return [
        PersonRead(
            **PrincipalRead.model_validate(principal).model_dump(),
            status=_status(principal, expires_at, now),
            invitation_expires_at=expires_at if principal.password_hash is None else None,
        )
        for principal, expires_at in rows
    ]


def _status(
    principal: Principal, invitation_expires_at: datetime | None, now: datetime
) -> PersonStatus:
    if not principal.active:
        return PersonStatus.REVOKED
    if principal.password_hash is not None:
        return PersonStatus.ACTIVE
    if invitation_expires_at is not None and now < invitation_expires_at:
        return PersonStatus.INVITED
    return PersonStatus.INVITATION_EXPIRED


def reset_access(
    *,
    session: Session,
    actor: Actor,
    principal_id: int,
    settings: AccountSettings,
    now: datetime,
) -> IssuedInvitation:
    """End the person's sessions, clear their password and invite them again."""
    require_role(actor, Role.COORDINATOR)
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFound(f"principal {principal_id} does not exist")
    if principal.username is None:
        raise Conflict("this principal is an API key, not a person: revoke it and make another")
    sessions.end_sessions_of(session=session, principal_id=principal.id)
    principal.password_hash = None
    principal.active = True
    return _invite(session=session, principal=principal, settings=settings, now=now)


def _invite(
    *, session: Session, principal: Principal, settings: AccountSettings, now: datetime
) -> IssuedInvitation:
    session.execute(delete(Invitation).where(Invitation.principal_id == principal.id))
    token = f"inv_{secrets.token_urlsafe(32)}"
    expires_at = now + settings.invitation
    session.add(
        Invitation(
            token_hash=sessions.digest(token),
            principal_id=principal.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedInvitation(principal, token, expires_at)


def accept_invitation(*, session: Session, token: str, password: str, now: datetime) -> Principal:
    """Set the invited person's password; the invitation is then used up."""
    invitation = session.get(Invitation, sessions.digest(token))
    principal = session.get(Principal, invitation.principal_id) if invitation else None
    if (
        invitation is None
        or invitation.used_at is not None
        or now >= invitation.expires_at
        or principal is None
        or not principal.active
    ):
        raise NotAuthenticated(
            "this invitation is unknown, used or expired: ask the coordinator for a new one"
        )
    if principal.username and principal.username in password.lower():
        raise InvalidInput("the password must not contain the username")
    principal.password_hash = passwords.hash_password(password)
    invitation.used_at = now
    sessions.end_sessions_of(session=session, principal_id=principal.id)
    return principal


def change_password(
    *, session: Session, actor: Actor, current: str, new: str, keep: str | None
) -> bool:
    """Set the signed-in person's new password if ``current`` is their present one (``False``
    if not, with nothing changed: the caller counts the failure as a sign-in's); every other
    session of theirs ends, the one of the token ``keep`` stays open."""
    principal = session.get(Principal, actor.principal_id)
    if principal is None or principal.username is None:
        raise Conflict(
            "only a person who signs in with a password can change it: "
            "this is an API key, which the coordinator replaces"
        )
    if not passwords.verify(principal.password_hash, current):
        return False
    if principal.username in new.lower():
        raise InvalidInput("the password must not contain the username")
    if new == current:
        raise InvalidInput("the new password is the present one")
    principal.password_hash = passwords.hash_password(new)
    sessions.end_sessions_of(session=session, principal_id=principal.id, keep=keep)
    forget_failures(session=session, username=principal.username)
    return True


def throttle(
    *,
    session: Session,
    username: str | None,
    address: str,
    settings: AccountSettings,
    now: datetime,
) -> None:
    """Refuse (429) while the username or the address has too many recent failures."""
    since = now - settings.failure_window
    recent = SignInFailure.at > since
    counts = [session.scalar(select(func.count()).where(recent, SignInFailure.address == address))]
    if username is not None:
        counts.append(
            session.scalar(select(func.count()).where(recent, SignInFailure.username == username))
        )
    if max(count or 0 for count in counts) < settings.max_failures:
        return
    oldest = session.scalar(
        select(func.min(SignInFailure.at)).where(
            recent,
            or_(SignInFailure.address == address, SignInFailure.username == username),
        )
    )
    wait = (oldest + settings.failure_window - now).total_seconds() if oldest else 1.0
    raise TooManyAttempts(
        "too many failed sign-ins: try again later", retry_after_s=max(1, math.ceil(wait))
    )


def check_password(*, session: Session, username: str, password: str) -> Principal | None:
    """The active person with these credentials, or ``None``; an outdated hash is renewed."""
    principal = session.scalar(select(Principal).where(Principal.username == username))
    password_hash = principal.password_hash if principal is not None else None
    if not passwords.verify(password_hash, password) or principal is None:
        return None
    if not principal.active:
        return None
    assert password_hash is not None
    if passwords.needs_rehash(password_hash):
        principal.password_hash = passwords.hash_password(password)
    return principal


def record_failure(
    *,
    session: Session,
    username: str | None,
    address: str,
    settings: AccountSettings,
    now: datetime,
) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.at <= now - settings.failure_window))
    session.add(SignInFailure(username=username, address=address[:64], at=now))


def forget_failures(*, session: Session, username: str) -> None:
    """A successful sign-in clears its username's count (not its address's)."""
    session.execute(delete(SignInFailure).where(SignInFailure.username == username))
