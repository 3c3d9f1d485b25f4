"""Account settings (part of the coordinator's settings): page sessions, invitations and the
sign-in throttle."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

DEFAULT_SESSION_IDLE_S = 30 * 60
DEFAULT_SESSION_LIFETIME_S = 12 * 3600
DEFAULT_INVITATION_S = 72 * 3600
DEFAULT_MAX_FAILURES = 5
DEFAULT_FAILURE_WINDOW_S = 15 * 60


class AccountSettings(BaseModel):
    session_idle_s: float = Field(
        default=DEFAULT_SESSION_IDLE_S,
        gt=0,
        description="a page session unused for this long is over (sign in again)",
    )
    session_lifetime_s: float = Field(
        default=DEFAULT_SESSION_LIFETIME_S,
        gt=0,
        description="a page session is over this long after sign-in, however busy",
    )
    invitation_s: float = Field(
        default=DEFAULT_INVITATION_S, gt=0, description="how long an invitation link is valid"
    )
    max_failures: int = Field(
        default=DEFAULT_MAX_FAILURES,
        ge=1,
        description="failed sign-ins, per username and per address, before further attempts"
        " are refused (429) until the window has passed",
    )
    failure_window_s: float = Field(default=DEFAULT_FAILURE_WINDOW_S, gt=0)

    @property
    def session_idle(self) -> timedelta:
        return timedelta(seconds=self.session_idle_s)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(seconds=self.session_lifetime_s)

    @property
    def invitation(self) -> timedelta:
        return timedelta(seconds=self.invitation_s)

    @property
    def failure_window(self) -> timedelta:
        return timedelta(seconds=self.failure_window_s)
