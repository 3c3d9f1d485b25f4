"""Passwords hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_DECOY = _HASHER.hash("a password nobody has")
"""Verified against when the username is unknown, so that the answer takes as long as for a
known one and does not tell which usernames exist."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such person, or no password set yet) never
    does, after the same work as a real check."""
    try:
        return _HASHER.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at sign-in."""
    return _HASHER.check_needs_rehash(password_hash)
