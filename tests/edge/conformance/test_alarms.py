"""Alarms & Conditions on any compliant server: active at connect, raised, cleared, acknowledged."""

from __future__ import annotations

import pytest

from protocols import messages
from tests.edge.conformance.servers import ServerUnderTest
from tests.edge.support import Coordinator, GatewayProcess, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", ["node-opcua"], indirect=True),
]


def alarms(observer: Coordinator, server: ServerUnderTest) -> list[messages.AlarmEvent]:
    return [
        m.body
        for m in observer.messages(messages.Alarm)
        if m.body.asset == server.machine and m.body.code == server.alarm_code
    ]


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
    wait_until(lambda: alarms(observer, server)[-1].state.value == "cleared", 10, "cleared")
    server.raise_alarm()
    wait_until(lambda: alarms(observer, server)[-1].state.value == "raised", 10, "raised again")
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
