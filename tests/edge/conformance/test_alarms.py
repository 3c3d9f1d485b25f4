"""Alarms & Conditions on any compliant server: active at connect, raised, cleared, acknowledged."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    return {"opcua": {"reconnect_min_s": 0.2, "reconnect_max_s": 2.0}}


def alarms(observer: Coordinator, server: ServerUnderTest) -> list[messages.AlarmEvent]:
    return [
        m.body
        for m in observer.messages(messages.Alarm)
        if m.body.asset == server.machine and m.body.code == server.alarm_code
    ]


def last_state(observer: Coordinator, server: ServerUnderTest) -> str | None:
    reported = alarms(observer, server)
    return reported[-1].state.value if reported else None


@pytest.fixture(scope="module")
def active_at_connect(server: ServerUnderTest) -> ServerUnderTest:
    """The alarm is already active when the gateway connects."""
    server.raise_alarm()
    return server


def test_an_alarm_active_at_connect_is_reported(
    active_at_connect: ServerUnderTest, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server = active_at_connect
    first = wait_until(lambda: alarms(observer, server), 30, "the alarm active at connect")[0]
    assert first.state.value == "raised" and first.source.value == "opcua_event"
    assert first.severity == server.alarm_severity
    assert first.alarm_id.startswith("nsu=") and first.text


def test_cleared_raised_and_acknowledged_with_its_code(
    active_at_connect: ServerUnderTest, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server = active_at_connect
    wait_until(lambda: alarms(observer, server), 30, "the alarm active at connect")
    server.clear_alarm()
    wait_until(lambda: last_state(observer, server) == "cleared", 10, "cleared")
    server.raise_alarm()
    wait_until(lambda: last_state(observer, server) == "raised", 10, "raised again")
    states = [a.state.value for a in alarms(observer, server)]
    assert states == ["raised", "cleared", "raised"], states
    assert len({a.alarm_id for a in alarms(observer, server)}) == 1

    observer.send(
        messages.AcknowledgeCommand(
            machine=server.machine, codes=[server.alarm_code], ticket_id="17", comment="on my way"
        )
    )
    wait_until(server.alarm_acknowledged, 10, "the condition acknowledged at the server")
    wait_until(
        lambda: gateway.metric("alarm_acknowledgements_total", result="acknowledged") == 1, 5
    )
    # The acknowledgement changed no state the coordinator tracks: no new alarm message.
    assert [a.state.value for a in alarms(observer, server)] == states


def test_an_acknowledgement_the_machine_cannot_take_is_reported(
    server: ServerUnderTest, observer: Coordinator, gateway: GatewayProcess
) -> None:
    observer.send(
        messages.AcknowledgeCommand(machine=server.machine, codes=["no_such_alarm"], ticket_id="18")
    )
    wait_until(lambda: gateway.metric("alarm_acknowledgements_total", result="failed") == 1, 10)
    assert "no condition 'no_such_alarm'" in gateway.log()


def test_an_alarm_gone_while_the_gateway_was_away_is_cleared_after_the_refresh(
    active_at_connect: ServerUnderTest, observer: Coordinator, gateway: GatewayProcess
) -> None:
    server = active_at_connect
    server.raise_alarm()
    wait_until(lambda: last_state(observer, server) == "raised", 30, "raised")
    server.kill()
    server.start()  # a fresh server: its alarm is not active, so the refresh does not send it
    wait_until(lambda: last_state(observer, server) == "cleared", 30, "cleared")
    last = alarms(observer, server)[-1]
    assert last.alarm_id == alarms(observer, server)[0].alarm_id
