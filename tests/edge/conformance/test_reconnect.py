"""A server killed and restarted on the same port: data flows again within the backoff."""

from __future__ import annotations

import time
from typing import Any

import pytest

from protocols import messages
from tests.edge.conformance.servers import ServerUnderTest
from tests.edge.support import Coordinator, GatewayProcess
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", ["node-opcua", "firmware-sim"], indirect=True),
]
CONNECT_S = 10.0
"""Connecting, binding and subscribing again, on a busy machine."""
BACKOFF = {"reconnect_min_s": 0.2, "reconnect_max_s": 3.0}
RECONNECT_MAX_S = BACKOFF["reconnect_max_s"]
"""The configured longest wait between two connection attempts."""


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    return {"opcua": BACKOFF}


def samples(observer: Coordinator, server: ServerUnderTest) -> list[messages.Sample]:
    return [
        sample
        for message in observer.messages(messages.Telemetry)
        for sample in message.body.samples
        if sample.machine == server.machine and sample.metric == server.metric
    ]


def test_a_killed_and_restarted_server_delivers_data_again_within_the_backoff(
    server: ServerUnderTest, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server.set_metric(111.0)
    wait_until(lambda: any(s.value == 111.0 for s in samples(observer, server)), 30, "data")
    server.kill()
    wait_until(
        lambda: not gateway.health()["machines"][server.machine]["connected"], 20, "the loss"
    )
    server.start()
    restarted = time.monotonic()
    server.set_metric(222.0)
    wait_until(
        lambda: any(s.value == 222.0 for s in samples(observer, server)),
        RECONNECT_MAX_S + CONNECT_S,
        "data from the restarted server",
    )
    assert time.monotonic() - restarted <= RECONNECT_MAX_S + CONNECT_S
    assert gateway.health()["machines"][server.machine]["connected"]
    assert gateway.metric("opcua_reconnects_total") >= 1
