"""Page sessions: a random token in an HttpOnly cookie, its digest and lifetimes in the database.

A session ends after ``idle`` without a request, at its absolute ``expires_at``, at sign-out,
when the coordinator resets the person's access, and when the principal is revoked. Every check
takes ``now``, so tests move the clock instead of waiting.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from cloud.auth.config import AccountSettings
from cloud.auth.models import Principal, WebSession
from cloud.exceptions import NotAuthenticated

TOKEN_PREFIX = "ses"
TOUCH_EVERY = timedelta(seconds=60)
"""The longest a session's last-seen time lags behind (a write per request is not needed)."""


def digest(token: str) -> str:
    """What is stored of a session token, an invitation token or an API key: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_session_token(credential: str) -> bool:
    return credential.startswith(f"{TOKEN_PREFIX}_")


def open_session(
    *, session: Session, principal_id: int, settings: AccountSettings, now: datetime
) -> str:
    """A new session for the principal; the token (the only time it exists in clear)."""
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = f"{TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"
    session.add(
        WebSession(
            token_hash=digest(token),
            principal_id=principal_id,
            created_at=now,
            last_seen_at=now,
            idle_s=settings.session_idle_s,
            expires_at=now + settings.session_lifetime,
        )
    )
    return token


def principal_of(*, session: Session, token: str, now: datetime) -> Principal:
    """The active principal a live session belongs to; its last-seen time moves to ``now``."""
    row = session.get(WebSession, digest(token))
    if row is None:
        raise NotAuthenticated("not signed in, or signed out")
    idle = timedelta(seconds=row.idle_s)
    if now >= row.expires_at or now >= row.last_seen_at + idle:
        raise NotAuthenticated("the session has expired: sign in again")
    principal = session.get(Principal, row.principal_id)
    if principal is None or not principal.active:
        raise NotAuthenticated("invalid or revoked principal")
    if now - row.last_seen_at >= min(TOUCH_EVERY, idle / 10):
        row.last_seen_at = now
    return principal


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


def end_sessions_of(*, session: Session, principal_id: int, keep: str | None = None) -> None:
    """End every session of the principal, but the one of the token ``keep`` if given."""
    ended = delete(WebSession).where(WebSession.principal_id == principal_id)
    if keep is not None:
        ended = ended.where(WebSession.token_hash != digest(keep))
    session.execute(ended)
