"""Message identifiers that sort by time (ULID layout: 48-bit milliseconds + 80 random bits)."""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MESSAGE_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


def new_message_id(now_ms: int | None = None) -> str:
    """A 26-character Crockford base32 id; ids made later sort after earlier ones."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def message_id_time_ms(message_id: str) -> int:
    """The creation time (Unix milliseconds) encoded in a message id."""
    value = 0
    for char in message_id[:10]:
        value = value * 32 + _CROCKFORD.index(char)
    return value
