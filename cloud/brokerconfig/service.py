"""Mosquitto credentials and ACLs generated from the registry.

Passwords use Mosquitto 2's own format (``mosquitto_passwd``): ``user:$7$<iterations>$<base64
salt>$<base64 PBKDF2-HMAC-SHA512 digest>``. The ACL lets each gateway publish only under its own
unit and read only its own ``cmd`` topic; a technician's device (user ``technician/<id>``, which
no unit id can spell) reads only its own alerts and writes only its own replies; the coordinator
reads everything in the network and writes commands, technician alerts and its own state.

Broker identity: the generated ``mosquitto.conf`` part has two listeners. On the members' one a
client's id is its user name (``use_username_as_clientid``), so a credential can hold only its
own session; the coordinator's listener admits the coordinator's credential alone, and there its
processes (ingest workers, event buses) keep the client ids they are configured with. Client ids
are one namespace across listeners, so no unit id may spell a coordinator's client id.
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
COORDINATOR_PASSWORD_FILE = "coordinator-passwd"
ACL_FILE = "acl"
CONF_FILE = "glonet.conf"
DEFAULT_MEMBERS_PORT = 1883


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
    gateways: Sequence[GatewayCredential],
    technicians: Sequence[TechnicianCredential] = (),
) -> str:
    """The members' listener's users: gateways (user name = unit id) and technicians' devices."""
    lines = [f"{g.unit_id}:{g.password_hash}" for g in gateways]
    lines.extend(f"{technician_user(t.technician_id)}:{t.password_hash}" for t in technicians)
    return "".join(f"{line}\n" for line in lines)


def coordinator_password_file(*, coordinator_user: str, coordinator_hash: str) -> str:
    """The coordinator's listener's only user."""
    return f"{coordinator_user}:{coordinator_hash}\n"


@dataclass(frozen=True, slots=True)
class Listener:
    port: int
    bind: str | None = None

    def line(self) -> str:
        return f"listener {self.port}" + (f" {self.bind}" if self.bind else "")


def listener_config(*, members: Listener, coordinator: Listener, directory: Path) -> str:
    """The ``mosquitto.conf`` part that ties client ids to credentials (see the module doc)."""
    folder = directory.resolve()
    return f"""# Written by `glonet cloud broker-config`; regenerate it, do not edit it.
per_listener_settings true

# Gateways and technicians' devices: a client's id is its user name, whatever it asks for, so
# no credential can take over another client's session.
{members.line()}
allow_anonymous false
use_username_as_clientid true
password_file {folder / PASSWORD_FILE}
acl_file {folder / ACL_FILE}

# The coordinator's processes, each with its own client id; no other credential gets in here.
{coordinator.line()}
allow_anonymous false
password_file {folder / COORDINATOR_PASSWORD_FILE}
acl_file {folder / ACL_FILE}
"""


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


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    passwd: Path
    coordinator_passwd: Path
    acl: Path
    conf: Path


def write_files(out_dir: Path, *, texts: dict[str, str]) -> BrokerFiles:
    """Write the files (owner-readable only), named by ``texts``' keys, and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text)
        path.chmod(0o600)
    return BrokerFiles(
        passwd=out_dir / PASSWORD_FILE,
        coordinator_passwd=out_dir / COORDINATOR_PASSWORD_FILE,
        acl=out_dir / ACL_FILE,
        conf=out_dir / CONF_FILE,
    )
