"""OPC UA security for the simulated servers: generated certificates and a client trust list.

A secured server offers only Basic256Sha256 endpoints (Sign or SignAndEncrypt). asyncua still
accepts a secure channel with policy None (clients need one to read the endpoint list), so the
server also refuses to activate a session on a channel that carries no client certificate:
an anonymous client can discover the endpoints and nothing else. The server's
certificate is generated on first start into the certificate directory and reused afterwards.
When trusted client certificates are given, only those may open a session; otherwise any client
that presents a valid certificate may (the demo default).
"""

from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.uacrypto import load_certificate
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from firmware_sim.errors import ServerError

_LOGGER = logging.getLogger(__name__)


async def ensure_certificate(
    directory: Path, name: str, app_uri: str, *, client: bool = False
) -> tuple[Path, Path]:
    """Create (once) a self-signed application certificate; return (cert.der, key.pem) paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}-cert.der", directory / f"{name}-key.pem"
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    await setup_self_signed_certificate(
        key_path,
        cert_path,
        app_uri,
        socket.gethostname(),
        [usage],
        {"commonName": name, "organizationName": "GloNet"},
    )
    return cert_path, key_path


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


class TrustList:
    """A certificate validator that accepts only the client certificates it was given."""

    def __init__(self, fingerprints: set[str]) -> None:
        self.fingerprints = fingerprints

    @classmethod
    async def load(cls, paths: list[Path]) -> TrustList:
        fingerprints = set()
        for path in paths:
            try:
                fingerprints.add(_fingerprint(await load_certificate(str(path))))
            except (OSError, ValueError) as exc:
                raise ServerError(f"cannot load trusted certificate {path}: {exc}") from exc
        return cls(fingerprints)

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        if _fingerprint(cert) not in self.fingerprints:
            _LOGGER.warning("refused untrusted client certificate of %s", app.ApplicationUri)
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)


class CertificateHolders(UserManager):
    """asyncua user manager: a session needs a channel signed with a client certificate."""

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if not certificate:  # policy None gives an empty certificate, not None
            _LOGGER.warning("refused a session without a client certificate")
            return None
        return User(role=UserRole.User)
