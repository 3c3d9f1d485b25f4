"""The gateway against a Mosquitto that wants credentials, or TLS with client certificates."""

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.config import BrokerConfig, TlsConfig
from edge.health import Metrics
from edge.mqtt import MqttLink, OutgoingMessage, SessionMessages
from protocols import messages
from tests.edge.support import MILL, Coordinator, GatewayProcess, SimPlant, gateway_config
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

# No OPC UA server behind it: these tests are about the MQTT side only.
MACHINES = [
    {"id": "mill-1", "endpoint": "opc.tcp://127.0.0.1:1/glonet/none", "mapping": "firmware-sim"}
]


def _config(tmp_path, broker, broker_section):
    from tests.edge.support import NETWORK, UNIT, free_port

    return {
        "network": NETWORK,
        "unit": UNIT,
        "broker": {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **broker_section},
        "buffer": {"path": str(tmp_path / "outbox.sqlite")},
        "health": {"port": free_port()},
        "machines": MACHINES,
    }


def _connects(tmp_path, broker, section, coordinator, *, what):
    """A gateway with the broker ``section`` connects: the coordinator hears its birth."""
    gateway = GatewayProcess(tmp_path, _config(tmp_path, broker, section))
    gateway.start()
    try:
        wait_until(lambda: coordinator.messages(messages.UnitBirth), what=what)
        assert gateway.health()["broker"]["connected"]
    finally:
        gateway.stop()
        coordinator.close()


@pytest.fixture(scope="module")
def password_broker(mosquitto_factory, tmp_path_factory):
    folder = tmp_path_factory.mktemp("passwords")
    password_file = folder / "passwords"
    for user, password in (("gateway", "s3cret"), ("coordinator", "c00rd")):
        flags = ["-b"] if password_file.exists() else ["-c", "-b"]
        subprocess.run(["mosquitto_passwd", *flags, str(password_file), user, password], check=True)
    password_file.chmod(0o600)
    return mosquitto_factory(f"allow_anonymous false\npassword_file {password_file}")


def test_username_and_password(tmp_path, password_broker):
    coordinator = Coordinator(password_broker, credentials=("coordinator", "c00rd"))
    section = {"url": password_broker.url, "username": "gateway", "password": "s3cret"}
    _connects(tmp_path, password_broker, section, coordinator, what="the birth")


def test_wrong_credentials_give_a_clear_error_and_retry(tmp_path, password_broker):
    section = {"url": password_broker.url, "username": "gateway", "password": "wrong"}
    gateway = GatewayProcess(tmp_path, _config(tmp_path, password_broker, section))
    gateway.start()
    try:
        wait_until(lambda: gateway.health()["broker"]["auth_failures"] >= 3, what="retries")
        broker = gateway.health()["broker"]
        assert not broker["connected"]
        assert "refused the credentials" in broker["last_error"]
        assert "broker.username" in broker["last_error"]
        assert gateway.log().count("refused the credentials") == 1  # said once, not per retry
        assert gateway.metric("mqtt_auth_failures_total") >= 3
    finally:
        assert gateway.stop() == 0


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject, key, issuer=None, issuer_key=None, ca=False, server=False):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(
            issuer.subject
            if issuer
            else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write(folder: Path, name: str, cert, key) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _certificate("GloNet test CA", ca_key, ca=True)
    ca_path, _ = _write(folder, "ca", ca, ca_key)
    paths = {"ca": ca_path}
    for name, server in (("server", True), ("gateway", False), ("coordinator", False)):
        key = _key()
        cert = _certificate(name, key, issuer=ca, issuer_key=ca_key, server=server)
        paths[name], paths[f"{name}_key"] = _write(folder, name, cert, key)
    return paths


def test_tls_with_client_certificates(tmp_path, mosquitto_factory, pki):
    broker = mosquitto_factory(
        f"cafile {pki['ca']}\ncertfile {pki['server']}\nkeyfile {pki['server_key']}\n"
        "require_certificate true\ntls_version tlsv1.2"
    )
    coordinator = Coordinator(
        broker,
        tls={
            "ca_certs": str(pki["ca"]),
            "certfile": str(pki["coordinator"]),
            "keyfile": str(pki["coordinator_key"]),
        },
    )
    section = {
        "url": f"mqtts://127.0.0.1:{broker.port}",
        "tls": {"ca": str(pki["ca"]), "cert": str(pki["gateway"]), "key": str(pki["gateway_key"])},
    }
    _connects(tmp_path, broker, section, coordinator, what="the birth over TLS")


def test_tls_refuses_a_broker_it_cannot_verify(tmp_path, mosquitto_factory, pki):
    broker = mosquitto_factory(
        f"cafile {pki['ca']}\ncertfile {pki['server']}\nkeyfile {pki['server_key']}"
    )
    section = {"url": f"mqtts://127.0.0.1:{broker.port}", "tls": {"ca": str(pki["gateway"])}}
    gateway = GatewayProcess(tmp_path, _config(tmp_path, broker, section))
    gateway.start()
    try:
        wait_until(lambda: gateway.health()["broker"]["last_error"], what="a TLS error")
        assert "certificate" in gateway.health()["broker"]["last_error"].lower()
        assert not gateway.health()["broker"]["connected"]
    finally:
        gateway.stop()


def test_opcua_sign_and_encrypt_with_a_trusted_certificate(tmp_path, running_mosquitto):
    from firmware_sim.plant import SecurityMode
    from firmware_sim.security import ensure_certificate

    cert, key = asyncio.run(
        ensure_certificate(tmp_path / "pki", "gateway", "urn:glonet:edge:plant-a", client=True)
    )
    plant = SimPlant(
        [MILL],
        security=SecurityMode.SIGN_AND_ENCRYPT,
        cert_dir=tmp_path / "server-pki",
        trusted_certs=(cert,),
    )
    plant.start()
    security = {
        "policy": "Basic256Sha256",
        "mode": "SignAndEncrypt",
        "certificate": str(cert),
        "private_key": str(key),
    }
    config = gateway_config(tmp_path, running_mosquitto, plant)
    config["machines"][0]["security"] = security
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.start()
        wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"], 30)
        wait_until(lambda: gateway.metric("data_changes_total") > 0)
    finally:
        gateway.stop()
        plant.close()


def test_opcua_server_refusing_the_certificate_is_reported(tmp_path, running_mosquitto):
    from firmware_sim.plant import SecurityMode
    from firmware_sim.security import ensure_certificate

    trusted, _ = asyncio.run(ensure_certificate(tmp_path / "a", "other", "urn:x", client=True))
    cert, key = asyncio.run(ensure_certificate(tmp_path / "b", "gw", "urn:y", client=True))
    plant = SimPlant(
        [MILL],
        security=SecurityMode.SIGN_AND_ENCRYPT,
        cert_dir=tmp_path / "server-pki",
        trusted_certs=(trusted,),
    )
    plant.start()
    config = gateway_config(tmp_path, running_mosquitto, plant)
    config["machines"][0]["security"] = {
        "policy": "Basic256Sha256",
        "mode": "Sign",
        "certificate": str(cert),
        "private_key": str(key),
    }
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.start()
        machine = wait_until(
            lambda: (m := gateway.health()["machines"]["mill-1"])["last_error"] and m, 30
        )
        assert not machine["connected"]
        assert gateway.process.poll() is None
    finally:
        gateway.stop()
        plant.close()


def _scripted_tls_broker(pki, replies: bytes) -> tuple[int, threading.Thread]:
    """A TLS listener that answers the CONNECT with ``replies`` in one write (one TLS record),
    then stays silent: what the client does not read at once, it only reads at the keepalive."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"], pki["server_key"])
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, context.wrap_socket(listener.accept()[0], server_side=True) as conn:
            conn.recv(4096)  # the CONNECT
            conn.sendall(replies)
            with contextlib.suppress(OSError):
                while conn.recv(4096):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def _publish_packet(topic: str, payload: bytes) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + payload
    return bytes([0x30, len(body)]) + body


async def test_tls_reads_every_packet_of_one_record_at_once(pki):
    # CONNACK and three PUBLISHes in one TLS record: reading the CONNACK decrypts them all into
    # the SSL socket's buffer, where they raise no readiness event on the raw socket.
    connack = bytes([0x20, 2, 0, 0])
    topics_sent = [f"glonet/v1/testnet/coordinator/x{i}" for i in range(3)]
    replies = connack + b"".join(_publish_packet(t, b"x") for t in topics_sent)
    port, server = _scripted_tls_broker(pki, replies)
    received: list[str] = []
    all_received = asyncio.Event()

    async def on_message(topic: str, _payload: bytes) -> None:
        received.append(topic)
        if len(received) == len(topics_sent):
            all_received.set()

    link = MqttLink(
        BrokerConfig(url=f"mqtts://127.0.0.1:{port}", tls=TlsConfig(ca=pki["ca"])),
        client_id="tls-drain",
        subscriptions=[],
        session_messages=lambda: SessionMessages(OutgoingMessage("glonet/v1/t/u/state", b""), ()),
        on_message=on_message,
        on_connected=lambda: None,
        on_subscribed=lambda _topic_filter: None,
        on_disconnected=lambda: None,
        max_inflight=10,
        metrics=Metrics(),
    )
    task = asyncio.create_task(link.run())
    try:
        # Far below the 30 s keepalive, which is when the stalled bytes would otherwise be read.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_received.wait(), 5)
        assert link.connected and received == topics_sent
    finally:
        await link.stop()
        task.cancel()
        server.join(5)
