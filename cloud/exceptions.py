"""The coordinator's exception tree; third-party errors are translated into these at the boundary.

Each API-facing error carries the HTTP status and a stable ``code`` that the error handler in
:mod:`cloud.main` turns into a JSON body ``{"error": code, "message": ...}``.
"""

from __future__ import annotations


class CloudError(Exception):
    """Base of every coordinator error."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(CloudError):
    code = "configuration_error"


class DatabaseError(CloudError):
    code = "database_error"
    status_code = 503

    def __init__(self, message: str, *, transient: bool = True, contended: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        """False when the same statements with the same values would fail again (a constraint
        or a value the database refuses), True when a retry may succeed (connection lost,
        lock timeout, deadlock)."""
        self.contended = contended
        """The transaction lost to another one (a deadlock victim, a serialization failure, a
        database busy past its timeout): the database is there, and a retry may go at once."""


class MigrationRefused(CloudError):
    """A downgrade that would lose data the older schema cannot hold: refused before anything
    changed, saying what and how many."""

    code = "migration_refused"


class BrokerConnectionError(CloudError):
    code = "broker_error"


class TelemetrySinkError(CloudError):
    code = "telemetry_sink_error"


class NotAuthenticated(CloudError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(CloudError):
    status_code = 403
    code = "forbidden"


class NotFound(CloudError):
    status_code = 404
    code = "not_found"


class Conflict(CloudError):
    status_code = 409
    code = "conflict"


class InvalidInput(CloudError):
    status_code = 422
    code = "invalid_input"


class TooManyAttempts(CloudError):
    """Too many failed attempts (sign-in): refused until ``retry_after_s`` has passed."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
