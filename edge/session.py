"""Opening an asyncua client on an endpoint with a machine's security settings."""

from __future__ import annotations

from asyncua import Client

from edge.config import SecurityConfig

REQUEST_TIMEOUT = 5.0


async def open_client(endpoint: str, security: SecurityConfig) -> Client:
    """A client configured with ``security`` (policy, certificates, user), not yet connected."""
    client = Client(endpoint, timeout=REQUEST_TIMEOUT)
    if security.security_string is not None:
        await client.set_security_string(security.security_string)
    if security.username is not None:
        client.set_user(security.username)
        password = security.password
        client.set_password(password.get_secret_value() if password else "")
    return client
