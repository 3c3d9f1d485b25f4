"""Basic256Sha256 endpoints: the right certificate gets in; anonymous and untrusted do not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from asyncua import Client, ua

from firmware_sim.plant import SecurityMode
from firmware_sim.security import ensure_certificate
from firmware_sim.server import PlantServer
from tests.firmware_sim.conftest import machine, machine_handle, make_plant, options

pytestmark = pytest.mark.integration

Start = Callable[..., Awaitable[PlantServer]]
CLIENT_URI = "urn:glonet:test:gateway"


async def client_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    return await ensure_certificate(directory, name, CLIENT_URI, client=True)


async def read_state(client: Client) -> str:
    async with client:
        return await (await machine_handle(client, "mill-1")).state()


async def secure_client(endpoint: str, cert: Path, key: Path, mode: str) -> Client:
    client = Client(endpoint, timeout=2)
    client.application_uri = CLIENT_URI
    await client.set_security_string(f"Basic256Sha256,{mode},{cert},{key}")
    return client


async def test_sign_and_encrypt_admits_only_the_trusted_certificate(
    running: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = await client_certificate(tmp_path / "client", "gateway")
    stranger, stranger_key = await client_certificate(tmp_path / "stranger", "stranger")
    server = await running(
        make_plant(machine("mill-1")),
        options(
            security=SecurityMode.SIGN_AND_ENCRYPT,
            cert_dir=tmp_path / "server",
            trusted_certs=(cert,),
        ),
    )
    client = await secure_client(server.endpoint, cert, key, "SignAndEncrypt")
    assert await read_state(client) == "NotExecuting"

    untrusted = await secure_client(server.endpoint, stranger, stranger_key, "SignAndEncrypt")
    with pytest.raises(ua.uaerrors.BadCertificateUntrusted):
        await read_state(untrusted)

    with pytest.raises(ua.UaError, match="No matching endpoints"):
        await read_state(Client(server.endpoint, timeout=2))

    # A client that ignores the endpoint list and insists on policy None gets no session.
    monkeypatch.setattr(Client, "find_endpoint", staticmethod(lambda endpoints, *_: endpoints[0]))
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await read_state(Client(server.endpoint, timeout=2))


async def test_sign_only_endpoint(running: Start, tmp_path: Path) -> None:
    cert, key = await client_certificate(tmp_path / "client", "gateway")
    server = await running(
        make_plant(machine("mill-1")),
        options(security=SecurityMode.SIGN, cert_dir=tmp_path / "server"),
    )
    client = await secure_client(server.endpoint, cert, key, "Sign")
    assert await read_state(client) == "NotExecuting"
    with pytest.raises(ua.UaError, match="No matching endpoints"):
        await read_state(await secure_client(server.endpoint, cert, key, "SignAndEncrypt"))
