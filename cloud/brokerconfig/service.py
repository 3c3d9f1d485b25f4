"""Mosquitto credentials and ACLs generated from the registry.

Passwords use Mosquitto 2's own format (``mosquitto_passwd``): ``user:$7$<iterations>$<base64
salt>$<base64 PBKDF2-HMAC-SHA512 digest>``. The ACL lets each gateway publish only under its own
unit and read only its own ``cmd`` topic; a technician's device (user ``technician/<id>``, which
no unit id can spell) reads only its own alerts and writes only its own replies; the coordinator
reads everything in the network and writes commands, technician alerts and its own state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protocols import topics

PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_FILE = "passwd"
ACL_FILE = "acl"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The Mosquitto 2 ``$7$`` hash of ``password``."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${PBKDF2_ITERATIONS}${encoded_salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, password_hash: str) -> bool:
    _, kind, iterations, salt, digest = password_hash.split("$")
    if kind != "7":
        return False
    computed = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


def new_password() -> str:
    return secrets.token_urlsafe(24)


def technician_user(technician_id: str) -> str:
    """The MQTT user name of a technician's device."""
    return f"technician/{technician_id}"


@dataclass(frozen=True, slots=True)
class GatewayCredential:
    unit_id: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class TechnicianCredential:
    technician_id: str
    password_hash: str


def password_file(
    *,
    coordinator_user: str,
    coordinator_hash: str,
    gateways: Sequence[GatewayCredential],
    technicians: Sequence[TechnicianCredential] = (),
) -> str:
    lines = [f"{coordinator_user}:{coordinator_hash}"]
    lines.extend(f"{g.unit_id}:{g.password_hash}" for g in gateways)
    lines.extend(f"{technician_user(t.technician_id)}:{t.password_hash}" for t in technicians)
    return "\n".join(lines) + "\n"


def acl_file(
    *,
    network: str,
    coordinator_user: str,
    unit_ids: Sequence[str],
    technician_ids: Sequence[str] = (),
    technician_users: Sequence[str] = (),
) -> str:
    """Per-user ACL blocks; a gateway's MQTT user name is its unit id.

    The coordinator may alert every technician in ``technician_ids``; ``technician_users`` are
    those whose devices have broker credentials and get their own block.
    """
    blocks = [
        "\n".join(
            [
                f"user {coordinator_user}",
                f"topic read {topics.network_filter(network)}",
                f"topic write {topics.coordinator_state(network)}",
                f"topic readwrite {topics.coordinator_events_filter(network)}",
                *(f"topic write {topics.command(network, unit)}" for unit in unit_ids),
                *(f"topic write {topics.technician_alerts(network, t)}" for t in technician_ids),
            ]
        )
    ]
    for unit in unit_ids:
        blocks.append(
            "\n".join(
                [
                    f"user {unit}",
                    f"topic write {topics.unit_filter(network, unit)}",
                    f"topic read {topics.command(network, unit)}",
                    f"topic read {topics.coordinator_state(network)}",
                ]
            )
        )
    for technician in technician_users:
        blocks.append(
            "\n".join(
                [
                    f"user {technician_user(technician)}",
                    f"topic read {topics.technician_alerts(network, technician)}",
                    f"topic write {topics.technician_replies(network, technician)}",
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"


def write_files(out_dir: Path, *, passwd: str, acl: str) -> tuple[Path, Path]:
    """Write both files (owner-readable only) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / PASSWORD_FILE, out_dir / ACL_FILE)
    for path, text in zip(paths, (passwd, acl), strict=True):
        path.write_text(text)
        path.chmod(0o600)
    return paths
